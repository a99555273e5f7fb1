# The report's own outputs (alsig.report): per dataset, one sortable, searchable HTML page of its
# tables that opens offline; per run, the summary the landing page shows (workflow.rst includes
# the .rst). Both read the stage outputs as files. Stage figures are made by their own rules.


rule browse_tables:
    input:
        unpack(
            lambda wc: planning.browse_inputs(
                OUTPUT_DIR, wc.dataset, SETTINGS[wc.dataset]
            )
        ),
    output:
        tables=report(
            out("{dataset}/report/tables.html"),
            caption="../report/browse_tables.rst",
            category="{dataset}",
            subcategory="Tables to browse",
            labels={
                "dataset": "{dataset}",
                "table": "samples, DE genes, enrichment, scores",
            },
        ),
    log:
        out("{dataset}/logs/browse_tables.log"),
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: planning.job_mem_mb(1000, attempt),
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        dataset=lambda wc: wc.dataset,
    script:
        "../scripts/browse_tables.py"


rule run_summary:
    input:
        **planning.run_summary_inputs(SETTINGS),
    output:
        tsv=report(
            out(f"{planning.RUN_SUMMARY}.tsv"),
            caption="../report/run_summary_table.rst",
            category="Run summary",
            labels={"table": "run summary: samples, DE genes, subtype calls"},
        ),
        rst=out(f"{planning.RUN_SUMMARY}.rst"),
    log:
        out("logs/run_summary.log"),
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: planning.job_mem_mb(500, attempt),
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        datasets=list(DATASETS),
    script:
        "../scripts/run_summary.py"
