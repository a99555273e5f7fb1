# Run level (alsig.stages.catalog): every dataset's long score table in one partitioned catalog,
# and the cohorts compared (random-effects meta-analysis of the axis tests). Targets:
# alsig.planning.all_targets.


rule catalog:
    input:
        tables=expand(
            out("{dataset}/scores/signature_scores.parquet"), dataset=DATASETS
        ),
    output:
        # The partitioned catalog folder is written as a side effect (each partition replaced
        # atomically); declaring it as output would let Snakemake delete it before the job.
        manifest=out(CATALOG_MANIFEST),
    log:
        out("catalog/logs/catalog.log"),
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: planning.input_mem_mb(
            input, attempt, factor=20
        ),
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        catalog=out(CATALOG_DIR),
    script:
        "../scripts/catalog.py"


rule axis_meta:
    input:
        tests=expand(out("{dataset}/scores/axis_tests.parquet"), dataset=DATASETS),
        # which samples two datasets share (a cohort listed twice is not two cohorts)
        samples=expand(out("{dataset}/qc/sample_qc.tsv"), dataset=DATASETS),
    output:
        parquet=out(f"{planning.AXIS_META}.parquet"),
        tsv=report(
            out(f"{planning.AXIS_META}.tsv"),
            caption="../report/axis_meta_table.rst",
            category="Cohorts compared",
            labels={"table": "axis meta-analysis"},
        ),
        figure=report(
            out(f"{planning.AXIS_META}.png"),
            caption="../report/axis_meta.rst",
            category="Cohorts compared",
            labels={"figure": "axes x datasets"},
        ),
    log:
        out("catalog/logs/axis_meta.log"),
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: planning.job_mem_mb(1000, attempt),
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        # a new version of the table (an alsig upgrade) reruns the meta-analysis once
        table_version=planning.table_version("axis_meta"),
    script:
        "../scripts/axis_meta.py"
