# Differential expression (alsig.stages.de): pydeseq2 with the design in de.design, one job per
# dataset x contrast (each contrast is its own fit: the shrunken coefficient depends on the
# contrast's reference level, and a new contrast reruns only itself). Samples QC excluded
# (qc_exclusion, e.g. a sex-label mismatch) are left out and counted in the DE summary.


rule de:
    input:
        h5ad=out("{dataset}/qc/filtered.h5ad"),
    output:
        parquet=out("{dataset}/de/{contrast}.parquet"),
        tsv=report(
            out("{dataset}/de/{contrast}.tsv"),
            caption="../report/de_table.rst",
            category="{dataset}",
            subcategory="Differential expression: {contrast}",
            labels={
                "dataset": "{dataset}",
                "contrast": "{contrast}",
                "table": "DE results",
            },
        ),
        summary=report(
            out("{dataset}/de/{contrast}.summary.tsv"),
            caption="../report/de_summary.rst",
            category="{dataset}",
            subcategory="Differential expression: {contrast}",
            labels={
                "dataset": "{dataset}",
                "contrast": "{contrast}",
                "table": "DE gene counts",
            },
        ),
        volcano=report(
            out("{dataset}/de/{contrast}.volcano.png"),
            caption="../report/de_volcano.rst",
            category="{dataset}",
            subcategory="Differential expression: {contrast}",
            labels={
                "dataset": "{dataset}",
                "contrast": "{contrast}",
                "figure": "volcano",
            },
        ),
        ma=report(
            out("{dataset}/de/{contrast}.ma.png"),
            caption="../report/de_ma.rst",
            category="{dataset}",
            subcategory="Differential expression: {contrast}",
            labels={
                "dataset": "{dataset}",
                "contrast": "{contrast}",
                "figure": "MA plot",
            },
        ),
    log:
        out("{dataset}/logs/de/{contrast}.log"),
    benchmark:
        out("{dataset}/benchmarks/de/{contrast}.tsv")
    wildcard_constraints:
        contrast=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    conda:
        "../envs/alsig.yaml"
    threads: 4
    resources:
        mem_mb=lambda wc, input, attempt: planning.matrix_mem_mb(
            input.h5ad, attempt, **planning.DE_MEMORY
        ),
        runtime=lambda wc, input: planning.de_runtime_min(input.h5ad),
    params:
        settings=lambda wc: stage_params(wc.dataset, "de"),
        dataset=lambda wc: wc.dataset,
        contrast=lambda wc: wc.contrast,
    script:
        "../scripts/de.py"
