"""Cell mix: per-sample cell-type marker indices and the adjustment of effects for them.

Bulk ALS tissue differs between samples largely in its cell mix: neurons are lost, microglia
and astrocytes expand (Humphrey et al. 2023). This package turns the BRETIGEA human brain
markers (McKenzie et al. 2018, ``resources/cell_markers/``) into one index per cell type and
sample (:func:`cell_indices`, :class:`CellIndexer` to recompute without given genes; relative,
arbitrary units, not proportions; :func:`dataset_indexer` is the one definition the workflow's
stages share, :func:`signature_indices` the indices without each signature's genes), chooses the
covariates a model can afford (:func:`adjustment_covariates`) and reports an effect with and
without them, with the share the cell mix accounts for (:func:`effect_with_and_without`,
:func:`share_removed`, :func:`pooled_pair`). Validation against IBA1/GFAP immunostaining:
``bench/results/cell_indices.md``.

Examples
--------
>>> from alsig.toy import toy_cohort
>>> from alsig.cellmix import cell_indices, log_cpm, marker_lists
>>> adata = toy_cohort(n_genes=400, cell_types={"neurons": 20, "microglia": 20}, cell_mix_sd=0.5)
>>> counts = adata.to_df()
>>> markers = marker_lists({t: counts.columns[adata.var["marker_of"] == t] for t in ("neurons", "microglia")})
>>> cell_indices(log_cpm(counts), markers).values.shape
(16, 2)
"""

from alsig.cellmix.adjustment import (
    AdjustedEffect,
    ShareRemoved,
    effect_with_and_without,
    pooled_pair,
    share_removed,
)
from alsig.cellmix.covariates import (
    DONORS_PER_COVARIATE,
    MAX_COVARIATES,
    MIN_VARIANCE,
    CellMixCovariates,
    adjustment_covariates,
)
from alsig.cellmix.dataset import (
    ADJUSTMENT_TYPES,
    NOT_ADJUSTED,
    SignatureIndices,
    control_z,
    dataset_indexer,
    indices_from_table,
    read_cell_indices,
    signature_indices,
)
from alsig.cellmix.indices import (
    DEFAULT_METHOD,
    METHODS,
    MIN_MARKERS,
    MIN_REFERENCE,
    CellIndexer,
    CellIndices,
    cell_indices,
    expression_frame,
    log_cpm,
)
from alsig.cellmix.markers import (
    CELL_TYPES,
    N_MARKERS,
    MarkerLists,
    MarkerSelection,
    load_markers,
    marker_lists,
)

__all__ = [
    "ADJUSTMENT_TYPES",
    "CELL_TYPES",
    "DEFAULT_METHOD",
    "DONORS_PER_COVARIATE",
    "MAX_COVARIATES",
    "METHODS",
    "MIN_MARKERS",
    "MIN_REFERENCE",
    "MIN_VARIANCE",
    "NOT_ADJUSTED",
    "N_MARKERS",
    "AdjustedEffect",
    "CellIndexer",
    "CellIndices",
    "CellMixCovariates",
    "MarkerLists",
    "MarkerSelection",
    "ShareRemoved",
    "SignatureIndices",
    "adjustment_covariates",
    "cell_indices",
    "control_z",
    "dataset_indexer",
    "effect_with_and_without",
    "expression_frame",
    "indices_from_table",
    "load_markers",
    "log_cpm",
    "marker_lists",
    "pooled_pair",
    "read_cell_indices",
    "share_removed",
    "signature_indices",
]
