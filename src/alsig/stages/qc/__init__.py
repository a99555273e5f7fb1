"""Sample and gene QC: metrics, expression filter, normalisation and VST, outliers, the sex
check and its decisions, replicate collapsing, and the covariates that drive the data."""

from alsig.stages.qc.covariates import pc_covariates, plot_pc_covariates
from alsig.stages.qc.figures import plot_library_sizes, plot_pca, plot_sex_check
from alsig.stages.qc.flags import sample_flags
from alsig.stages.qc.gene_filter import expressed_genes, filter_by_expr
from alsig.stages.qc.job import run
from alsig.stages.qc.metrics import compute_metrics, dense_counts, gene_masks
from alsig.stages.qc.normalise import apply_vst, normalise, size_factors, vst
from alsig.stages.qc.outliers import (
    MAD_SCALE,
    SEX_CHROMOSOMES,
    knn_distance,
    mad_outliers,
    pca,
    pca_genes,
)
from alsig.stages.qc.pipeline import run_qc
from alsig.stages.qc.replicates import collapse_replicates, replicate_counts
from alsig.stages.qc.sex import (
    AMBIGUOUS,
    EXCLUSION_COLUMN,
    FLAG_COLUMN,
    SEX_MARGIN,
    SEX_MISMATCH_MODES,
    XIST,
    Y_GENES,
    excluded_samples,
    infer_sex,
    reported_sex,
    sex_decisions,
)
from alsig.stages.qc.tables import clean_obs, gene_filter_table, sample_table

__all__ = [
    "AMBIGUOUS",
    "EXCLUSION_COLUMN",
    "FLAG_COLUMN",
    "MAD_SCALE",
    "SEX_CHROMOSOMES",
    "SEX_MARGIN",
    "SEX_MISMATCH_MODES",
    "XIST",
    "Y_GENES",
    "apply_vst",
    "clean_obs",
    "collapse_replicates",
    "compute_metrics",
    "dense_counts",
    "excluded_samples",
    "expressed_genes",
    "filter_by_expr",
    "gene_filter_table",
    "gene_masks",
    "infer_sex",
    "knn_distance",
    "mad_outliers",
    "normalise",
    "pc_covariates",
    "pca",
    "pca_genes",
    "plot_library_sizes",
    "plot_pc_covariates",
    "plot_pca",
    "plot_sex_check",
    "replicate_counts",
    "reported_sex",
    "run",
    "run_qc",
    "sample_flags",
    "sample_table",
    "sex_decisions",
    "size_factors",
    "vst",
]
