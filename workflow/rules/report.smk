# Figures of the signature scores for `snakemake --report`. Stage figures of QC, DE and
# enrichment are made by their own rules; this file adds the score overview per dataset and the
# browsable tables (sortable, searchable HTML pages that open offline).


rule score_figures:
    input:
        scores="results/{dataset}/scores/signature_scores.parquet",
        # only its obs is read: the region / sex / batch tracks of the heatmap
        obs="results/{dataset}/scores/scores.h5ad",
    output:
        heatmap=report(
            "results/{dataset}/scores/axis_heatmap.png",
            caption="../report/score_heatmap.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "figure": "axis heatmap"},
        ),
        distributions=report(
            "results/{dataset}/scores/axis_distributions.png",
            caption="../report/score_distributions.rst",
            category="{dataset}",
            subcategory="Signature scores",
            labels={"dataset": "{dataset}", "figure": "axes by condition"},
        ),
    log:
        "results/{dataset}/logs/score_figures.log",
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        dataset=lambda wc: wc.dataset,
    script:
        "../scripts/score_figures.py"


rule browse_tables:
    input:
        unpack(lambda wc: planning.browse_inputs(config, wc.dataset)),
    output:
        samples=report(
            "results/{dataset}/report/samples.html",
            caption="../report/browse_samples.rst",
            category="{dataset}",
            subcategory="Tables to browse",
            labels={"dataset": "{dataset}", "table": "samples kept / excluded"},
        ),
        de=report(
            "results/{dataset}/report/de.html",
            caption="../report/browse_de.rst",
            category="{dataset}",
            subcategory="Tables to browse",
            labels={"dataset": "{dataset}", "table": "DE top genes"},
        ),
        enrich=report(
            "results/{dataset}/report/enrich.html",
            caption="../report/browse_enrich.rst",
            category="{dataset}",
            subcategory="Tables to browse",
            labels={"dataset": "{dataset}", "table": "enrichment terms"},
        ),
        scores=report(
            "results/{dataset}/report/scores.html",
            caption="../report/browse_scores.rst",
            category="{dataset}",
            subcategory="Tables to browse",
            labels={"dataset": "{dataset}", "table": "axis scores per sample"},
        ),
    log:
        "results/{dataset}/logs/browse_tables.log",
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
