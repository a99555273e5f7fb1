# Per-sample signature scores (alsig.stages.score): singscore / ssGSEA / composition-adjusted
# singscore of the shipped and user signatures on the QC'd VST, TE signatures as log2 CPM,
# z scores against each sample's reference stratum of controls; the condition effect per axis
# under the DE design (axis_tests); and, over all datasets of the run, the score catalog and the
# cohort meta-analysis. Targets: alsig.planning.dataset_targets / all_targets.
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
        references=report(
            "results/{dataset}/scores/reference_strata.tsv",
            caption="../report/score_references.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "table": "control reference strata"},
        ),
        composition=report(
            "results/{dataset}/scores/composition.tsv",
            caption="../report/score_composition.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "table": "composition share"},
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


rule axis_tests:
    input:
        scores="results/{dataset}/scores/signature_scores.parquet",
        h5ad="results/{dataset}/qc/filtered.h5ad",
    output:
        parquet="results/{dataset}/scores/axis_tests.parquet",
        tsv=report(
            "results/{dataset}/scores/axis_tests.tsv",
            caption="../report/axis_tests_table.rst",
            category="{dataset}",
            subcategory="Axis tests",
            labels={"dataset": "{dataset}", "table": "axis tests"},
        ),
        forest=report(
            "results/{dataset}/scores/axis_forest.png",
            caption="../report/axis_forest.rst",
            category="{dataset}",
            subcategory="Axis tests",
            labels={"dataset": "{dataset}", "figure": "forest plot"},
        ),
    log:
        "results/{dataset}/logs/axis_tests.log",
    benchmark:
        "results/{dataset}/benchmarks/axis_tests.tsv"
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: planning.input_mem_mb(
            input, attempt, factor=3
        ),
        runtime=20,
    params:
        settings=lambda wc: stage_settings(wc.dataset, "score"),
        dataset=lambda wc: wc.dataset,
        de=lambda wc: stage_settings(wc.dataset, "de"),
    script:
        "../scripts/axis_tests.py"


rule axis_meta:
    input:
        tests=expand("results/{dataset}/scores/axis_tests.parquet", dataset=DATASETS),
    output:
        parquet=f"{planning.AXIS_META}.parquet",
        tsv=report(
            f"{planning.AXIS_META}.tsv",
            caption="../report/axis_meta_table.rst",
            category="Cohorts compared",
            labels={"table": "axis meta-analysis"},
        ),
        figure=report(
            f"{planning.AXIS_META}.png",
            caption="../report/axis_meta.rst",
            category="Cohorts compared",
            labels={"figure": "axes x datasets"},
        ),
    log:
        "results/catalog/logs/axis_meta.log",
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/axis_meta.py"


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
