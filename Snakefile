# alsig: ALS RNA-seq -> QC -> differential expression -> enrichment -> resistance signature scores.
# Thin entry point: configuration and its validation live in workflow/rules/common.smk.


if not config:  # `--configfile` replaces the default run instead of merging into it

    configfile: "config/config.yaml"


# Base image for `--sdm conda apptainer` (each rule's conda env is built inside it); ignored otherwise.
container: "docker://condaforge/miniforge3:24.11.3-0"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/de.smk"
include: "workflow/rules/enrich.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
