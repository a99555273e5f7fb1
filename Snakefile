# alsig: ALS RNA-seq -> QC -> differential expression -> enrichment -> resistance signature scores.
# Thin entry point: configuration and its validation live in workflow/rules/common.smk.


if not config:  # `--configfile` replaces the default run instead of merging into it

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
