# alsig: ALS RNA-seq -> QC -> differential expression -> enrichment -> resistance signature scores.
# Thin entry point: configuration and its validation live in workflow/rules/common.smk.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"


rule all:
    input:
        all_outputs(),
    default_target: True
