# Sample and gene QC (alsig.stages.qc): scanpy QC metrics, filterByExpr-like gene filter, MAD/PCA
# sample outliers, XIST/chrY sex check and the qc.sex_mismatch decision, optional replicate
# collapsing, PC-covariate R2; size factors, normalised counts and a DESeq2-style VST of all genes;
# the BRETIGEA cell-type marker indices of every kept sample.
# Settings: the qc: section (defaults in the config schema). Output <output_dir>/{dataset}/qc/filtered.h5ad
# is read by DE, scoring and subtypes; alsig_*_mqc.tsv are MultiQC custom content.


rule qc:
    input:
        h5ad=out("{dataset}/counts.h5ad"),
    output:
        h5ad=out("{dataset}/qc/filtered.h5ad"),
        samples=report(
            out("{dataset}/qc/sample_qc.tsv"),
            caption="../report/qc_samples.rst",
            category="{dataset}",
            subcategory="QC",
            labels={"dataset": "{dataset}", "table": "sample QC"},
        ),
        genes=out("{dataset}/qc/gene_filter.tsv"),
        summary=out("{dataset}/qc/summary.json"),
        library_sizes=report(
            out("{dataset}/qc/library_sizes.png"),
            caption="../report/qc_library_sizes.rst",
            category="{dataset}",
            subcategory="QC",
            labels={"dataset": "{dataset}", "figure": "library sizes"},
        ),
        pca=report(
            out("{dataset}/qc/pca.png"),
            caption="../report/qc_pca.rst",
            category="{dataset}",
            subcategory="QC",
            labels={"dataset": "{dataset}", "figure": "PCA"},
        ),
        sex_check=report(
            out("{dataset}/qc/sex_check.png"),
            caption="../report/qc_sex_check.rst",
            category="{dataset}",
            subcategory="QC",
            labels={"dataset": "{dataset}", "figure": "sex check"},
        ),
        pc_covariates=report(
            out("{dataset}/qc/pc_covariates.tsv"),
            caption="../report/qc_pc_covariates.rst",
            category="{dataset}",
            subcategory="QC",
            labels={"dataset": "{dataset}", "table": "PC covariates"},
        ),
        pc_covariates_figure=report(
            out("{dataset}/qc/pc_covariates.png"),
            caption="../report/qc_pc_covariates.rst",
            category="{dataset}",
            subcategory="QC",
            labels={"dataset": "{dataset}", "figure": "PC covariates"},
        ),
        # cell-type marker indices (alsig.stages.qc.cell_indices): one definition for the
        # composition share, singscore_adjusted and the axis tests' cell_mix rows
        cell_indices=out("{dataset}/qc/cell_indices.parquet"),
        cell_indices_tsv=report(
            out("{dataset}/qc/cell_indices.tsv"),
            caption="../report/qc_cell_indices.rst",
            category="{dataset}",
            subcategory="QC",
            labels={"dataset": "{dataset}", "table": "cell-type indices"},
        ),
        cell_markers=out("{dataset}/qc/cell_markers.tsv"),
        cell_indices_figure=report(
            out("{dataset}/qc/cell_indices.png"),
            caption="../report/qc_cell_indices.rst",
            category="{dataset}",
            subcategory="QC",
            labels={"dataset": "{dataset}", "figure": "cell-type indices"},
        ),
        # MultiQC custom content: `multiqc <output_dir>/` picks these up by their _mqc suffix
        multiqc_general_stats=out("{dataset}/qc/alsig_general_stats_mqc.tsv"),
        multiqc_pca=out("{dataset}/qc/alsig_pca_mqc.tsv"),
    log:
        out("{dataset}/logs/qc.log"),
    benchmark:
        out("{dataset}/benchmarks/qc.tsv")
    priority: PRIORITY_CHAIN_HEAD
    conda:
        "../envs/alsig.yaml"
    # 2 from 20 M samples x genes (planning.QC_PARALLEL_CELLS), else 1
    threads: matrix_threads(planning.QC_MOST_THREADS, planning.QC_PARALLEL_CELLS)
    resources:
        mem_mb=lambda wc, input, attempt: planning.matrix_mem_mb(
            input.h5ad, attempt, **planning.QC_MEMORY
        ),
        runtime=lambda wc, input, attempt: attempt * planning.qc_runtime_min(input.h5ad),
    params:
        settings=lambda wc: stage_params(wc.dataset, "qc"),
        dataset=lambda wc: wc.dataset,
        # sha256 of the shipped cell-type markers: an upgrade with other markers reruns QC
        shipped=lambda wc: alsig_resources.hidden_inputs_digest("qc"),
    script:
        "../scripts/qc.py"
