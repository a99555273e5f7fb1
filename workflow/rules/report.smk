# Figures of the signature scores for `snakemake --report`. Stage figures of QC, DE and
# enrichment are made by their own rules; this file adds the score overview per dataset.


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
