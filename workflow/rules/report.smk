# The report's browsable tables (alsig.report): sortable, searchable HTML pages per dataset that
# open offline. Stage figures are made by their own rules.


rule browse_tables:
    input:
        unpack(
            lambda wc: planning.browse_inputs(
                OUTPUT_DIR, wc.dataset, SETTINGS[wc.dataset]
            )
        ),
    output:
        samples=report(
            out("{dataset}/report/samples.html"),
            caption="../report/browse_samples.rst",
            category="{dataset}",
            subcategory="Tables to browse",
            labels={"dataset": "{dataset}", "table": "samples kept / excluded"},
        ),
        de=report(
            out("{dataset}/report/de.html"),
            caption="../report/browse_de.rst",
            category="{dataset}",
            subcategory="Tables to browse",
            labels={"dataset": "{dataset}", "table": "DE top genes"},
        ),
        enrich=report(
            out("{dataset}/report/enrich.html"),
            caption="../report/browse_enrich.rst",
            category="{dataset}",
            subcategory="Tables to browse",
            labels={"dataset": "{dataset}", "table": "enrichment terms"},
        ),
        scores=report(
            out("{dataset}/report/scores.html"),
            caption="../report/browse_scores.rst",
            category="{dataset}",
            subcategory="Tables to browse",
            labels={"dataset": "{dataset}", "table": "axis scores per sample"},
        ),
    log:
        out("{dataset}/logs/browse_tables.log"),
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        dataset=lambda wc: wc.dataset,
    script:
        "../scripts/browse_tables.py"
