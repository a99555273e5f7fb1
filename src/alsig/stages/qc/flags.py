"""The per-sample QC table: metric outliers, PCA isolation, the sex check and its decisions.

Outliers are flagged (and removed only with ``qc.exclude_outliers``) when a metric lies more
than ``outlier_nmads`` scaled MADs from the median on the bad side (low log library size, low
log detected genes, high % mitochondrial counts, the latter only above ``mito_min_pct`` %) or
when a sample is isolated in expression space: its (log) distance to its k-th nearest neighbour
on the first ``pca_components`` PCs lies more than ``outlier_nmads`` MADs above the median
(clusters such as condition, region or batch are not flagged, isolated samples are).
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd

from alsig.counts import dense_counts
from alsig.keys import (
    QC_EXCLUSION,
    QC_FLAG,
    QC_PCA,
    QC_PCA_VARIANCE,
    SEX_DECISION,
    SEX_INFERRED,
    VST,
)
from alsig.settings import QcSettings
from alsig.stages.qc.outliers import knn_distance, mad_outliers, pca, pca_genes
from alsig.stages.qc.sex import (
    AMBIGUOUS,
    XIST,
    Y_GENES,
    infer_sex,
    reported_sex,
    sex_decisions,
)

log = logging.getLogger(__name__)

METRIC_COLUMNS = (
    "total_counts",
    "n_genes_detected",
    "pct_mito",
    "pct_ribo",
    "pct_top50",
    "size_factor",
    "n_samples_of_subject",
)


#: the flag (``qc_reasons`` / ``qc_flag``) of a library far smaller than the dataset's
LOW_LIBRARY_SIZE = "low_library_size"


def log_library_size(total_counts) -> np.ndarray:
    """Return library sizes on the scale of the :data:`LOW_LIBRARY_SIZE` rule.

    The MAD rule (:func:`~alsig.stages.qc.outliers.mad_outliers`, lower side) runs on log10 of
    the total count (at least 1); ``alsig score`` judges a new sample on the same scale.

    Parameters
    ----------
    total_counts
        Reads per sample.

    Returns
    -------
    numpy.ndarray
        log10 of each, floats.
    """
    return np.log10(np.maximum(np.asarray(total_counts, dtype=float), 1))


def metric_flags(table: pd.DataFrame, settings: QcSettings, reasons: list[list[str]]) -> None:
    """Add the ``outlier_<metric>`` columns to ``table`` and their names to ``reasons``."""
    nmads = settings.outlier_nmads
    checks = [
        (LOW_LIBRARY_SIZE, log_library_size(table["total_counts"]), "lower"),
        ("low_detected_genes", np.log10(np.maximum(table["n_genes_detected"], 1)), "lower"),
        ("high_pct_mito", table["pct_mito"], "higher"),
    ]
    for name, values, side in checks:
        flags, _ = mad_outliers(values, nmads, side)
        if name == "high_pct_mito":
            # near-zero mito shares (mito genes absent from the annotation) are not a problem
            flags &= table["pct_mito"].to_numpy() > settings.mito_min_pct
        table[f"outlier_{name}"] = flags
        for i in np.flatnonzero(flags):
            reasons[i].append(name)


def pca_flags(
    adata: ad.AnnData, table: pd.DataFrame, settings: QcSettings, reasons: list[list[str]]
) -> None:
    """Return the QC PCA (``obsm["X_qc_pca"]``, PC1-3 in ``table``) and the isolation flag."""
    scores, ratio = pca(
        adata.layers[VST],
        n_genes=settings.pca_n_genes,
        # the table shows PC1-3 and obsm keeps 10; the distance uses qc.pca_components
        n_components=max(10, settings.pca_components),
        columns=np.flatnonzero(pca_genes(adata, settings.pca_exclude_sex_chromosomes)),
    )
    if scores.shape[1] < settings.pca_components:
        log.warning(
            "qc.pca_components is %d, but %d samples x the PCA genes give %d components: the "
            "PCA distance uses those %d",
            settings.pca_components,
            scores.shape[0],
            scores.shape[1],
            scores.shape[1],
        )
    for k in range(min(3, scores.shape[1])):
        table[f"PC{k + 1}"] = scores[:, k]
    adata.obsm[QC_PCA] = scores
    adata.uns[QC_PCA_VARIANCE] = ratio.tolist()
    dist = knn_distance(scores, settings.pca_components)
    table["pca_distance"] = dist
    # distances are right-skewed: the MAD rule runs on their log
    flags, _ = mad_outliers(np.log(np.maximum(dist, 1e-12)), settings.outlier_nmads, "higher")
    table["outlier_pca"] = flags
    for i in np.flatnonzero(flags):
        reasons[i].append("pca_distance")


def sex_flags(
    adata: ad.AnnData, table: pd.DataFrame, settings: QcSettings, reasons: list[list[str]]
) -> None:
    """Inferred sex (log2 CPM of XIST and the Y genes), reported sex and mismatches."""
    lib = table["total_counts"].to_numpy(dtype=float)
    wanted = [g for g in (XIST, *Y_GENES) if g in adata.var_names]
    cols = [adata.var_names.get_loc(g) for g in wanted]
    logcpm = pd.DataFrame(
        np.log2(dense_counts(adata)[:, cols] / np.maximum(lib, 1)[:, None] * 1e6 + 1),
        index=adata.obs_names,
        columns=wanted,
    )
    sex_frame, sex_info = infer_sex(logcpm)
    for column in sex_frame:
        table[column] = sex_frame[column].to_numpy()
    reported = (
        reported_sex(adata.obs["sex"]) if "sex" in adata.obs else pd.Series(None, index=table.index)
    )
    table["sex_reported"] = reported.to_numpy()
    mismatch = np.zeros(adata.n_obs, dtype=bool)
    if settings.sex_check and sex_info["xist_present"] and sex_info["y_genes_used"]:
        inferred = table[SEX_INFERRED].astype(object)
        mismatch = (
            reported.notna().to_numpy()
            & inferred.isin(["male", "female"]).to_numpy()
            & (inferred.to_numpy() != reported.to_numpy())
        )
    elif settings.sex_check:
        log.warning("sex check skipped: XIST or all Y genes (%s) missing", ", ".join(Y_GENES))
    table["sex_mismatch"] = mismatch
    for i in np.flatnonzero(mismatch):
        reasons[i].append(
            f"sex_mismatch(reported {table['sex_reported'].iloc[i]}, "
            f"inferred {table['sex_inferred'].iloc[i]})"
        )


def decisions(table: pd.DataFrame, settings: QcSettings, reasons: list[list[str]]) -> None:
    """Add what happens to each flagged sample to ``table``; every decision is logged.

    ``qc_outlier``/``qc_kept`` (removal only with ``qc.exclude_outliers``),
    ``sex_decision``/``qc_exclusion`` (``qc.sex_mismatch``), and the ``qc_reasons``/``qc_flag``
    text.
    """
    outlier = np.array([any(not r.startswith("sex_mismatch") for r in rs) for rs in reasons])
    table["qc_outlier"] = outlier
    table["qc_reasons"] = [";".join(r) for r in reasons]
    table["qc_kept"] = ~outlier if settings.exclude_outliers else np.ones(len(table), dtype=bool)
    sex = sex_decisions(table, settings.sex_mismatch)
    table[SEX_DECISION] = sex[SEX_DECISION].to_numpy()
    table[QC_EXCLUSION] = sex[QC_EXCLUSION].to_numpy()
    table[QC_FLAG] = table["qc_reasons"].to_numpy()
    for name in table.index[table["qc_reasons"] != ""]:
        log.warning(
            "sample %s flagged: %s (%s)",
            name,
            table.loc[name, "qc_reasons"],
            _what_happens(table.loc[name]),
        )
    n_ambiguous = int((table[SEX_INFERRED] == AMBIGUOUS).sum())
    if n_ambiguous:
        log.warning(
            "%d sample(s) with ambiguous inferred sex: labels kept, never judged", n_ambiguous
        )


def _what_happens(row: pd.Series) -> str:
    if not row["qc_kept"]:
        return "removed"
    if row["qc_exclusion"]:
        return "left out of DE and control references"
    if row["sex_decision"] == "sex_replaced":
        return "sex covariate replaced by the inferred sex"
    return "kept"


def sample_flags(adata: ad.AnnData, settings: QcSettings) -> pd.DataFrame:
    """Return the QC table of ``adata`` (normalised, with ``var["expressed"]``).

    Metrics, flags, reasons and decisions, one row per sample. Adds the QC PCA to ``adata``.
    """
    table = pd.DataFrame(index=adata.obs_names)
    for column in METRIC_COLUMNS:
        table[column] = adata.obs[column].to_numpy()
    reasons: list[list[str]] = [[] for _ in range(adata.n_obs)]
    metric_flags(table, settings, reasons)
    pca_flags(adata, table, settings, reasons)
    sex_flags(adata, table, settings, reasons)
    decisions(table, settings, reasons)
    return table
