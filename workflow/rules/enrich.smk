# Pathway enrichment per contrast (alsig.stages.enrich): GSEA preranked (enrich.engine: alsig's
# positions-based engine or gseapy), camera (the significance of the prerank sets, allowing for
# the correlation between a set's genes: residuals of the contrast's samples from the QC'd
# AnnData, chosen by the de: settings as the DE job chose them) + over-representation on offline
# gene-set collections (resources/genesets/manifest.tsv and enrich.extra_gmt). Inputs: the DE
# tables <output_dir>/{dataset}/de/{contrast}.parquet and qc/filtered.h5ad. Targets come from
# alsig.planning.


rule enrich:
    input:
        de=out("{dataset}/de/{contrast}.parquet"),
        h5ad=out("{dataset}/qc/filtered.h5ad"),
        gmt=lambda wc: planning.collection_files(SETTINGS[wc.dataset].enrich)[
            wc.collection
        ],
    output:
        parquet=out("{dataset}/enrich/{contrast}/{collection}.parquet"),
        tsv=report(
            out("{dataset}/enrich/{contrast}/{collection}.tsv"),
            caption="../report/enrich_table.rst",
            category="{dataset}",
            subcategory="Enrichment: {contrast}",
            labels={
                "dataset": "{dataset}",
                "contrast": "{contrast}",
                "collection": "{collection}",
            },
        ),
        coverage=out("{dataset}/enrich/{contrast}/{collection}.coverage.tsv"),
        json=out("{dataset}/enrich/{contrast}/{collection}.run.json"),
    log:
        out("{dataset}/logs/enrich/{contrast}/{collection}.log"),
    benchmark:
        out("{dataset}/benchmarks/enrich/{contrast}/{collection}.tsv")
    wildcard_constraints:
        contrast=r"[^/]+",
        collection=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    priority: PRIORITY_LONG  # GO BP: 15-20 s per contrast
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, input, attempt: planning.enrich_mem_mb(
            SETTINGS[wc.dataset].enrich,
            wc.collection,
            attempt,
            input.de,
            input.h5ad,
            cell_mix=SETTINGS[wc.dataset].de.adjust_cell_mix,
        ),
        runtime=lambda wc, input, attempt: attempt
        * planning.enrich_runtime_min(
            SETTINGS[wc.dataset].enrich, wc.collection, input.de
        ),
    params:
        settings=lambda wc: stage_params(wc.dataset, "enrich"),
        # which samples and design the contrast was fitted on (camera's residuals)
        de=lambda wc: SETTINGS.de_params_without_null(wc.dataset),
        dataset=lambda wc: wc.dataset,
        contrast=lambda wc: wc.contrast,
        collection=lambda wc: wc.collection,
    script:
        "../scripts/enrich.py"


rule enrich_report:
    input:
        unpack(
            lambda wc: planning.enrich_report_inputs(
                OUTPUT_DIR, wc.dataset, wc.contrast, SETTINGS[wc.dataset].enrich
            )
        ),
    output:
        dotplot=report(
            out("{dataset}/enrich/{contrast}/dotplot.png"),
            caption="../report/enrich_dotplot.rst",
            category="{dataset}",
            subcategory="Enrichment: {contrast}",
            labels={
                "dataset": "{dataset}",
                "contrast": "{contrast}",
                "figure": "dot plot",
            },
        ),
        provenance=out("{dataset}/enrich/{contrast}/provenance.json"),
    log:
        out("{dataset}/logs/enrich/{contrast}/report.log"),
    wildcard_constraints:
        contrast=r"[^/]+",
    conda:
        "../envs/alsig.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: planning.job_mem_mb(1000, attempt),
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        settings=lambda wc: stage_params(wc.dataset, "enrich"),
        dataset=lambda wc: wc.dataset,
        contrast=lambda wc: wc.contrast,
    script:
        "../scripts/enrich_report.py"
