# Per-sample resistance-signature scores (issue 6): singscore / ssGSEA / composition-adjusted
# singscore of resources/signatures (+ score.extra_signatures) on the QC'd variance-stabilised
# expression, and the catalog of every dataset of the run. Targets for `rule all`:
# rules.score.output for each dataset, and CATALOG_MANIFEST once (see all_outputs in common.smk).
rule score:
    input:
        h5ad="results/{dataset}/qc/filtered.h5ad",
        signatures=lambda wc: planning.signature_files(config, wc.dataset),
    output:
        long="results/{dataset}/scores/signature_scores.parquet",
        wide=report(
            "results/{dataset}/scores/signature_scores_wide.tsv",
            caption="../report/score_wide.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "table": "scores (wide)"},
        ),
        coverage=report(
            "results/{dataset}/scores/signature_coverage.tsv",
            caption="../report/score_coverage.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "table": "coverage"},
        ),
        h5ad="results/{dataset}/scores/scores.h5ad",
    log:
        "results/{dataset}/logs/score.log",
    benchmark:
        "results/{dataset}/benchmarks/score.tsv"
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        # scoring holds the VST matrix, one float64 chunk and the output; measured 3.9 x the
        # (compressed) QC h5ad at 2000 x 60k (606 MB -> 2.4 GB)
        mem_mb=lambda wc, input, attempt: planning.input_mem_mb(
            input, attempt, factor=5
        ),
        runtime=30,
    params:
        settings=lambda wc: stage_settings(wc.dataset, "score"),
        dataset=lambda wc: wc.dataset,
    script:
        "../scripts/score.py"


rule catalog:
    input:
        tables=expand(
            "results/{dataset}/scores/signature_scores.parquet", dataset=DATASETS
        ),
    output:
        # The partitioned catalog folder is written as a side effect (each partition replaced
        # atomically); declaring it as output would let Snakemake delete it before the job.
        manifest=CATALOG_MANIFEST,
    log:
        "results/catalog/logs/catalog.log",
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: planning.input_mem_mb(
            input, attempt, factor=20
        ),
        runtime=10,
    params:
        catalog=CATALOG_DIR,
    script:
        "../scripts/catalog.py"
