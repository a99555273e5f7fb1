"""Sample and gene QC: metrics, expression filter, outliers, sex check, normalisation, VST.

Input: the ingest AnnData (samples x genes, integer counts). Output (:func:`run_qc`): the kept
samples with ALL ingested genes and

- ``obs``: QC metrics (``total_counts``, ``n_genes_detected``, ``pct_mito``, ``pct_ribo``,
  ``pct_top50``), ``size_factor``, outlier flags, sex check (``sex_inferred``, ``sex_mismatch``),
  ``qc_reasons`` (``;``-joined) and ``qc_kept``;
- ``var["expressed"]``: edgeR ``filterByExpr``-like filter (used by DE and enrichment);
- layers ``normalized`` (counts / size factor) and ``vst`` (DESeq2-style blind variance
  stabilising transformation, all genes), both float32.

Normalisation follows DESeq2: median-of-ratios size factors (``poscounts`` when no gene is free of
zeros). The VST is DESeq2's ``vst()``: a parametric dispersion-mean trend ``a0 + a1/mu`` is fitted
blind (intercept-only design) on a subset of ``vst_n_genes`` genes spread over the mean range
(DESeq2's ``nsub``; 0 = all genes) with pydeseq2's estimators, then the closed-form transform is
applied to every gene. If the parametric fit fails, the mean-dispersion transform is used (as
DESeq2/pydeseq2 do) and the log says so.

Outliers (flag only unless ``exclude_outliers``): a sample is flagged when a metric lies more than
``outlier_nmads`` scaled MADs from the median on the bad side (low log library size, low log
detected genes, high % mitochondrial counts, the latter only above ``mito_min_pct`` %) or when it
is isolated in expression space: its (log) distance to its k-th nearest neighbour on the first
``pca_components`` principal components of the VST of the ``pca_n_genes`` most variable expressed
genes lies more than ``outlier_nmads`` MADs above the median (:func:`knn_distance`; clusters such
as condition, region or batch are not flagged, isolated samples are).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import scipy.sparse as sp

from alsig.errors import AlsigError

log = logging.getLogger(__name__)

#: Defaults of the ``qc:`` config section.
DEFAULT_SETTINGS: dict[str, Any] = {
    "group_column": "condition",
    "min_count": 10,
    "min_total_count": 15,
    "large_n": 10,
    "min_prop": 0.7,
    "outlier_nmads": 3.0,
    "mito_min_pct": 1.0,
    "pca_n_genes": 500,
    "pca_components": 3,
    "exclude_outliers": False,
    "sex_mismatch": "exclude",
    "pca_exclude_sex_chromosomes": True,
    "sex_check": True,
    "collapse_by": None,
    "vst_n_genes": 1000,
    "pca_colour_by": ["condition", "sex", "region", "batch"],
}

XIST = "XIST"
Y_GENES = ("RPS4Y1", "DDX3Y", "UTY", "KDM5D", "EIF1AY")
#: |mean log2 CPM(Y genes) - log2 CPM(XIST)| below this: sex not inferred ("ambiguous")
SEX_MARGIN = 1.0
#: inferred sex when XIST and the Y genes do not tell clearly
AMBIGUOUS = "ambiguous"
SEX_MISMATCH_MODES = ("exclude", "use_inferred", "keep")
#: obs column: why QC leaves a sample out of DE and of the control references (empty: it does not)
EXCLUSION_COLUMN = "qc_exclusion"
#: obs column: the QC flags a sample carries into the score tables
FLAG_COLUMN = "qc_flag"
#: chromosomes left out of the QC PCA (qc.pca_exclude_sex_chromosomes): otherwise PC2 is sex
SEX_CHROMOSOMES = {"X", "Y", "X;Y", "CHRX", "CHRY"}
MAD_SCALE = 1.4826


def with_defaults(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``qc:`` settings with :data:`DEFAULT_SETTINGS` filled in for missing keys."""
    merged = {**DEFAULT_SETTINGS, **{k: v for k, v in (settings or {}).items() if v is not None}}
    if "collapse_by" in (settings or {}):
        merged["collapse_by"] = settings["collapse_by"]
    unknown = sorted(set(merged) - set(DEFAULT_SETTINGS))
    if unknown:
        raise AlsigError(
            f"config section qc: unknown key(s) {unknown}; allowed: {sorted(DEFAULT_SETTINGS)}."
        )
    for key in ("outlier_nmads", "min_prop"):
        if float(merged[key]) <= 0:
            raise AlsigError(f"config key qc.{key} must be > 0 (got {merged[key]}).")
    if isinstance(merged["pca_colour_by"], str):
        merged["pca_colour_by"] = [merged["pca_colour_by"]]
    return merged


def dense_counts(adata: ad.AnnData) -> np.ndarray:
    """``adata.X`` as a dense integer numpy array (CSR or dense input)."""
    x = adata.X
    if sp.issparse(x):
        x = x.toarray()
    return np.asarray(x)


# --------------------------------------------------------------------------------------------
# Replicates
# --------------------------------------------------------------------------------------------
def replicate_counts(obs: pd.DataFrame, column: str = "subject") -> pd.Series:
    """Number of samples sharing each sample's ``column`` value (1 = no replicate)."""
    if column not in obs:
        return pd.Series(1, index=obs.index)
    return obs.groupby(column, observed=True)[column].transform("size").astype(int)


def collapse_replicates(adata: ad.AnnData, by: str) -> ad.AnnData:
    """Sum counts of samples sharing ``obs[by]`` (e.g. technical replicates of a subject).

    The result has one sample per ``by`` value (index = that value). obs columns constant within
    a group keep their value; others become the sorted unique values joined by ``;``.
    ``n_collapsed`` and ``collapsed_samples`` record what was summed.
    """
    if by not in adata.obs:
        raise AlsigError(
            f"config key qc.collapse_by: '{by}' is not a sample column; available: "
            f"{sorted(map(str, adata.obs.columns))}."
        )
    keys = adata.obs[by]
    if keys.isna().any():
        missing = adata.obs_names[keys.isna().to_numpy()].tolist()
        raise AlsigError(
            f"config key qc.collapse_by: column '{by}' is empty for samples {missing[:10]}; "
            "fill it in the sample sheet or unset collapse_by."
        )
    keys = keys.astype(str)
    groups = list(dict.fromkeys(keys))
    counts = dense_counts(adata)
    codes = pd.Categorical(keys, categories=groups).codes
    indicator = sp.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(len(groups), len(codes))
    )
    summed = np.asarray(indicator @ counts.astype(np.int64))
    if summed.max(initial=0) > np.iinfo(np.int32).max:
        raise AlsigError(f"collapsing by '{by}' overflows 32-bit counts; do not collapse.")
    rows = {}
    for group, frame in adata.obs.groupby(keys.to_numpy(), sort=False, observed=True):
        row = {}
        for column in adata.obs.columns:
            values = frame[column]
            uniq = pd.unique(values.dropna().astype(str))
            if values.nunique(dropna=False) <= 1:
                row[column] = values.iloc[0]
            else:
                row[column] = ";".join(sorted(uniq))
        row["n_collapsed"] = len(frame)
        row["collapsed_samples"] = ";".join(map(str, frame.index))
        rows[group] = row
    obs = pd.DataFrame.from_dict(rows, orient="index").loc[groups]
    obs.index = obs.index.astype(str)
    obs.index.name = None
    out = ad.AnnData(X=summed.astype(np.int32), obs=obs, var=adata.var.copy(), uns=dict(adata.uns))
    if "te_counts" in adata.obsm:  # the TE block is summed the same way
        te = adata.obsm["te_counts"]
        out.obsm["te_counts"] = pd.DataFrame(
            np.asarray(indicator @ te.to_numpy(dtype=np.int64)), index=out.obs_names,
            columns=te.columns,
        )  # fmt: skip
    log.info("collapsed %d samples into %d by '%s'", adata.n_obs, out.n_obs, by)
    return out


# --------------------------------------------------------------------------------------------
# Metrics and gene filter
# --------------------------------------------------------------------------------------------
def gene_masks(var: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(mitochondrial, ribosomal) gene masks: chromosome MT or ``MT-`` symbols; ``RPS``/``RPL``
    ribosomal protein genes (not pseudo/mito ``MRPS``/``MRPL``)."""
    names = var.index.to_series().astype(str).str.upper()
    mito = names.str.startswith("MT-").to_numpy()
    if "chromosome" in var:
        mito |= var["chromosome"].astype(str).str.upper().isin(["MT", "M", "CHRM"]).to_numpy()
    ribo = names.str.match(r"^RP[SL]\d+[A-Z]?\d*$|^RPLP[0-2]$|^RPSA$").to_numpy()
    return mito, ribo


def compute_metrics(adata: ad.AnnData) -> pd.DataFrame:
    """Per-sample QC metrics with scanpy ``calculate_qc_metrics``."""
    import scanpy as sc

    mito, ribo = gene_masks(adata.var)
    tmp = ad.AnnData(
        X=dense_counts(adata).astype(np.float32), obs=pd.DataFrame(index=adata.obs_names)
    )
    tmp.var_names = adata.var_names
    tmp.var["mito"] = mito
    tmp.var["ribo"] = ribo
    n_top = min(50, adata.n_vars)
    obs, _ = sc.pp.calculate_qc_metrics(
        tmp, qc_vars=["mito", "ribo"], percent_top=[n_top], inplace=False, log1p=False
    )
    metrics = pd.DataFrame(index=adata.obs_names)
    metrics["total_counts"] = obs["total_counts"].astype(np.int64)
    metrics["n_genes_detected"] = obs["n_genes_by_counts"].astype(np.int64)
    metrics["pct_mito"] = obs["pct_counts_mito"].astype(float)
    metrics["pct_ribo"] = obs["pct_counts_ribo"].astype(float)
    metrics["pct_top50"] = obs[f"pct_counts_in_top_{n_top}_genes"].astype(float)
    return metrics


def filter_by_expr(
    counts: np.ndarray,
    groups: Sequence[object] | None = None,
    *,
    min_count: float = 10,
    min_total_count: float = 15,
    large_n: int = 10,
    min_prop: float = 0.7,
) -> np.ndarray:
    """edgeR ``filterByExpr`` (design-free form): a gene is kept when its CPM reaches
    ``min_count`` / median library size (in millions) in at least ``h`` samples, ``h`` = the
    smallest group size (reduced to ``large_n + (h - large_n) * min_prop`` for large groups), and
    its total count reaches ``min_total_count``. ``counts`` is samples x genes."""
    counts = np.asarray(counts, dtype=float)
    lib = counts.sum(axis=1)
    if groups is None:
        h = counts.shape[0]
    else:
        sizes = pd.Series(list(groups)).dropna().value_counts()
        sizes = sizes[sizes > 0]
        h = int(sizes.min()) if len(sizes) else counts.shape[0]
    h = float(h)
    if h > large_n:
        h = large_n + (h - large_n) * min_prop
    median_lib = float(np.median(lib))
    if median_lib <= 0:
        return np.zeros(counts.shape[1], dtype=bool)
    cpm_cutoff = min_count / median_lib * 1e6
    safe_lib = np.where(lib > 0, lib, 1.0)
    cpm = counts / safe_lib[:, None] * 1e6
    tol = 1e-14
    keep_cpm = (cpm >= cpm_cutoff).sum(axis=0) >= h - tol
    keep_total = counts.sum(axis=0) >= min_total_count - tol
    return keep_cpm & keep_total


# --------------------------------------------------------------------------------------------
# Normalisation and VST (pydeseq2, isolated)
# --------------------------------------------------------------------------------------------
def _pydeseq2():
    """Import pydeseq2 without letting it silence FutureWarnings for the whole process."""
    with warnings.catch_warnings():
        from pydeseq2.dds import DeseqDataSet
        from pydeseq2.default_inference import DefaultInference
    return DeseqDataSet, DefaultInference


def shutdown_workers() -> None:
    """Stop the joblib (loky) worker processes pydeseq2 leaves behind."""
    try:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    except Exception:  # pragma: no cover - best effort cleanup
        log.debug("could not shut down joblib workers", exc_info=True)


def size_factors(counts: np.ndarray) -> tuple[np.ndarray, str]:
    """DESeq2 median-of-ratios size factors (samples x genes counts); ``poscounts`` (DESeq2's
    variant using positive counts only) when every gene has a zero in some sample."""
    counts = np.asarray(counts, dtype=float)
    if counts.shape[1] == 0 or (counts.sum(axis=1) == 0).any():
        empty = np.flatnonzero(counts.sum(axis=1) == 0).tolist()
        raise AlsigError(
            f"samples at positions {empty[:10]} have no counts at all; remove them from the "
            "sample sheet (or check the count matrix columns)."
        )
    with np.errstate(divide="ignore"):
        logs = np.log(counts)
    all_positive = np.isfinite(logs).all(axis=0)
    if all_positive.any():
        logmeans = logs[:, all_positive].mean(axis=0)
        sf = np.exp(np.median(logs[:, all_positive] - logmeans, axis=1))
        method = "ratio"
    else:
        log_pos = np.where(counts > 0, logs, 0.0)
        logmeans = log_pos.mean(axis=0)
        usable = logmeans > 0
        sf = np.empty(counts.shape[0])
        for i in range(counts.shape[0]):
            m = usable & (counts[i] > 0)
            sf[i] = np.exp(np.median(logs[i, m] - logmeans[m]))
        sf = sf / np.exp(np.mean(np.log(sf)))
        method = "poscounts"
    return sf, method


def _vst_genes(normed: np.ndarray, n_genes: int) -> np.ndarray:
    """Indices of the genes used to fit the VST trend: DESeq2 ``vst(nsub=)`` uses genes with
    mean normalised count > 5; here they are picked evenly over the ranked means (deterministic)."""
    means = normed.mean(axis=0)
    nonzero = np.flatnonzero(means > 0)
    if n_genes <= 0 or len(nonzero) <= n_genes:
        return nonzero
    eligible = np.flatnonzero(means > 5)
    if len(eligible) < n_genes:
        eligible = nonzero
    order = eligible[np.argsort(means[eligible], kind="stable")]
    picks = np.unique(np.linspace(0, len(order) - 1, n_genes).round().astype(int))
    return np.sort(order[picks])


def vst(
    counts: np.ndarray,
    sf: np.ndarray,
    *,
    n_genes: int = 1000,
    n_cpus: int = 1,
) -> tuple[np.ndarray, dict[str, Any]]:
    """DESeq2-style blind VST of all genes (samples x genes); returns (vst, fit info)."""
    DeseqDataSet, DefaultInference = _pydeseq2()
    counts = np.asarray(counts)
    normed = counts / sf[:, None]
    genes = _vst_genes(normed, n_genes)
    if len(genes) < 3:
        raise AlsigError(
            f"only {len(genes)} genes have any counts; the variance stabilising transformation "
            "needs more genes (check the count matrix)."
        )
    sub_counts = pd.DataFrame(
        counts[:, genes].astype(int),
        index=[f"s{i}" for i in range(counts.shape[0])],
        columns=[f"g{j}" for j in range(len(genes))],
    )
    meta = pd.DataFrame(index=sub_counts.index)
    design = pd.DataFrame(1.0, index=sub_counts.index, columns=["Intercept"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dds = DeseqDataSet(
            counts=sub_counts,
            metadata=meta,
            design=design,
            inference=DefaultInference(n_cpus=n_cpus),
            quiet=True,
        )
        # size factors come from all genes, not the fitting subset
        dds.obs["size_factors"] = sf
        dds.obsm["size_factors"] = sf
        dds.layers["normed_counts"] = normed[:, genes]
        dds.var["_normed_means"] = normed[:, genes].mean(axis=0)
        dds.logmeans = np.zeros(len(genes))
        dds.filtered_genes = np.ones(len(genes), dtype=bool)
        dds.vst_fit_type = "parametric"
        dds.vst_fit(use_design=False)
    for w in caught:
        log.info("pydeseq2 (vst): %s", w.message)
    info: dict[str, Any] = {"vst_fit_genes": int(len(genes))}
    if "vst_trend_coeffs" in dds.uns:
        a0, a1 = (float(v) for v in dds.uns["vst_trend_coeffs"])
        out = np.log2(
            (1 + a1 + 2 * a0 * normed + 2 * np.sqrt(a0 * normed * (1 + a1 + a0 * normed)))
            / (4 * a0)
        )
        info.update(vst_fit_type="parametric", vst_a0=a0, vst_a1=a1)
    else:
        from scipy.stats import trim_mean

        disp = dds.var["vst_genewise_dispersions"].to_numpy(dtype=float)
        disp = disp[np.isfinite(disp) & (disp > 10 * dds.min_disp)]
        mean_disp = float(trim_mean(disp, proportiontocut=0.001))
        out = (
            2 * np.arcsinh(np.sqrt(mean_disp * normed)) - np.log(mean_disp) - np.log(4)
        ) / np.log(2)
        info.update(vst_fit_type="mean", vst_mean_dispersion=mean_disp)
        log.warning("VST: parametric dispersion trend did not converge; used the mean dispersion")
    return out, info


def normalise(adata: ad.AnnData, *, vst_n_genes: int = 1000, n_cpus: int = 1) -> ad.AnnData:
    """Add ``obs["size_factor"]`` and layers ``normalized`` and ``vst`` (float32, all genes)."""
    counts = dense_counts(adata)
    sf, method = size_factors(counts)
    log.info("size factors (%s): %.3g-%.3g", method, sf.min(), sf.max())
    adata.obs["size_factor"] = sf
    adata.layers["normalized"] = (counts / sf[:, None]).astype(np.float32)
    log.info("VST on %d samples x %d genes", adata.n_obs, adata.n_vars)
    transformed, info = vst(counts, sf, n_genes=vst_n_genes, n_cpus=n_cpus)
    adata.layers["vst"] = transformed.astype(np.float32)
    adata.uns["qc_normalisation"] = {"size_factor_method": method, **info}
    return adata


# --------------------------------------------------------------------------------------------
# Outliers and sex check
# --------------------------------------------------------------------------------------------
def mad_outliers(values: Sequence[float], nmads: float, side: str) -> tuple[np.ndarray, float]:
    """Flags for values more than ``nmads`` scaled MADs from the median on ``side`` ("lower",
    "higher" or "both"); returns (flags, threshold). A MAD of 0 flags nothing."""
    x = np.asarray(values, dtype=float)
    med = float(np.nanmedian(x))
    mad = float(np.nanmedian(np.abs(x - med))) * MAD_SCALE
    if not np.isfinite(mad) or mad == 0:
        return np.zeros(len(x), dtype=bool), float("nan")
    low, high = med - nmads * mad, med + nmads * mad
    if side == "lower":
        return x < low, low
    if side == "higher":
        return x > high, high
    return (x < low) | (x > high), high


def pca(
    matrix: np.ndarray, n_genes: int = 500, n_components: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """PCA of samples x genes on the ``n_genes`` most variable genes; returns (scores,
    explained variance ratio)."""
    m = np.asarray(matrix, dtype=float)
    var = m.var(axis=0)
    top = np.argsort(-var, kind="stable")[: min(n_genes, m.shape[1])]
    sub = m[:, top] - m[:, top].mean(axis=0)
    k = max(1, min(n_components, *sub.shape))
    u, s, _ = np.linalg.svd(sub, full_matrices=False)
    scores = u[:, :k] * s[:k]
    total = (s**2).sum()
    ratio = (s[:k] ** 2) / total if total > 0 else np.zeros(k)
    return scores, ratio


def knn_distance(scores: np.ndarray, n_components: int, k: int | None = None) -> np.ndarray:
    """Euclidean distance of each sample to its ``k``-th nearest other sample on the first
    ``n_components`` PCs (unscaled, so each PC keeps its weight).

    A kNN distance flags isolated samples but not groups of samples: condition, region or batch
    clusters (even small ones) have near neighbours, while a distance-from-the-median rule would
    flag every member of a minority cluster. ``k`` defaults to ``min(10, max(2, n // 10))``, so a
    pair of technical replicates that is far from everything else is still caught.
    """
    sub = np.asarray(scores[:, : max(1, min(n_components, scores.shape[1]))], dtype=float)
    n = sub.shape[0]
    if n < 3:
        return np.zeros(n)
    if k is None:
        k = min(10, max(2, n // 10))
    k = max(1, min(k, n - 1))
    sq = (sub**2).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * sub @ sub.T, 0.0)
    np.fill_diagonal(d2, np.inf)
    nearest = np.partition(d2, k - 1, axis=1)[:, :k]
    nearest.sort(axis=1)
    return np.sqrt(nearest[:, -1])


def infer_sex(
    normalized_log: pd.DataFrame, margin: float = SEX_MARGIN
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Infer sex from log2 CPM of XIST and the Y genes (columns of ``normalized_log``).

    ``sex_score`` = mean Y-gene log2 CPM - XIST log2 CPM; > ``margin``: male, < -``margin``:
    female, otherwise "ambiguous" (neither clearly; never used to judge or replace a label). Returns a frame (xist, y_mean, sex_score, sex_inferred) and info.
    """
    ys = [g for g in Y_GENES if g in normalized_log.columns]
    has_xist = XIST in normalized_log.columns
    out = pd.DataFrame(index=normalized_log.index)
    info = {"xist_present": has_xist, "y_genes_used": ys}
    if not has_xist or not ys:
        out["sex_xist"] = np.nan
        out["sex_y_mean"] = np.nan
        out["sex_score"] = np.nan
        out["sex_inferred"] = None
        return out, info
    out["sex_xist"] = normalized_log[XIST].astype(float)
    out["sex_y_mean"] = normalized_log[ys].astype(float).mean(axis=1)
    out["sex_score"] = out["sex_y_mean"] - out["sex_xist"]
    out["sex_inferred"] = np.where(
        out["sex_score"] > margin,
        "male",
        np.where(out["sex_score"] < -margin, "female", AMBIGUOUS),
    )
    return out, info


def _reported_sex(values: pd.Series) -> pd.Series:
    norm = values.astype("string").str.strip().str.lower()
    mapping = {"f": "female", "female": "female", "m": "male", "male": "male"}
    return norm.map(lambda v: mapping.get(v) if isinstance(v, str) else None)


# --------------------------------------------------------------------------------------------
# The QC stage
# --------------------------------------------------------------------------------------------
def run_qc(
    adata: ad.AnnData, settings: Mapping[str, Any] | None = None, *, n_cpus: int = 1
) -> tuple[ad.AnnData, pd.DataFrame, dict[str, Any]]:
    """QC of an ingest AnnData; returns (filtered AnnData, sample table, summary dict).

    The sample table has one row per (possibly collapsed) sample with metrics, flags, reasons
    and ``qc_kept``; the filtered AnnData holds the kept samples and all genes.
    """
    s = with_defaults(settings)
    adata = adata.copy()
    adata.X = dense_counts(adata)
    summary: dict[str, Any] = {"n_samples_input": int(adata.n_obs), "n_genes": int(adata.n_vars)}

    reps = replicate_counts(adata.obs, "subject")
    n_repeated = int((reps > 1).sum())
    summary["n_samples_with_replicates"] = n_repeated
    if s["collapse_by"]:
        adata = collapse_replicates(adata, str(s["collapse_by"]))
    elif n_repeated:
        log.warning(
            "%d samples share a subject with another sample (%d subjects); DE treats them as "
            "independent. Set qc.collapse_by: subject to sum them.",
            n_repeated,
            int(adata.obs.loc[reps > 1, "subject"].nunique()),
        )
    summary["n_samples_after_collapse"] = int(adata.n_obs)
    adata.obs["n_samples_of_subject"] = replicate_counts(adata.obs, "subject").to_numpy()

    metrics = compute_metrics(adata)
    for column in metrics:
        adata.obs[column] = metrics[column].to_numpy()

    flags = _flag_samples(adata, s, n_cpus=n_cpus)
    table = flags
    kept = table["qc_kept"].to_numpy()
    summary["n_samples_flagged"] = int((table["qc_reasons"] != "").sum())
    summary["n_samples_excluded"] = int((~kept).sum())
    summary["n_samples_kept"] = int(kept.sum())
    if kept.sum() < 2:
        raise AlsigError(
            f"QC would keep {int(kept.sum())} sample(s); set qc.exclude_outliers: false or "
            "raise qc.outlier_nmads."
        )

    out = adata[kept].copy()
    for column in table.columns:
        out.obs[column] = table.loc[out.obs_names, column].to_numpy()
    replaced = out.obs["sex_decision"].to_numpy() == "sex_replaced"
    if replaced.any():
        sex = out.obs["sex"].astype(object).to_numpy()
        sex[replaced] = out.obs["sex_inferred"].to_numpy()[replaced]
        out.obs["sex"] = pd.Categorical(sex)
        log.info("sex covariate replaced by the inferred sex for %d sample(s)", int(replaced.sum()))
    summary["sex_check"] = {
        "mode": str(s["sex_mismatch"]),
        "n_mismatch": int(table["sex_mismatch"].sum()),
        "n_excluded": int((table["qc_exclusion"] != "").sum()),
        "n_sex_replaced": int((table["sex_decision"] == "sex_replaced").sum()),
        "n_ambiguous": int((table["sex_inferred"] == AMBIGUOUS).sum()),
        "excluded": {k: v for k, v in table["qc_exclusion"].items() if v},
    }
    if (~kept).any():
        # size factors, VST and the expression filter describe the cohort that is analysed
        log.info("re-normalising the %d kept samples", out.n_obs)
        out = normalise(out, vst_n_genes=int(s["vst_n_genes"]), n_cpus=n_cpus)
        out.var["expressed"] = _expressed(out, s)
        out.obs["size_factor"] = out.obs["size_factor"].to_numpy()
    out.X = out.X.astype(np.int32)
    summary["n_genes_expressed"] = int(out.var["expressed"].sum())
    summary["n_genes_filtered_out"] = int((~out.var["expressed"]).sum())
    summary["settings"] = {k: v for k, v in s.items()}
    summary["normalisation"] = dict(out.uns["qc_normalisation"])
    out.uns["qc"] = {k: v for k, v in summary.items() if k != "settings"}
    table = table.copy()
    table.insert(0, "sample", table.index.astype(str))
    summary["pca_variance_ratio"] = [float(v) for v in adata.uns["qc_pca_variance_ratio"][:10]]
    covariates = ["condition", "subject", "sex", "region", "batch", *s["pca_colour_by"]]
    position = 1
    for column in dict.fromkeys(covariates):
        if column in adata.obs and column not in table:
            values = adata.obs[column]
            if not pd.api.types.is_numeric_dtype(values):
                values = values.astype("string")
            table.insert(position, column, values.to_numpy())
            position += 1
    return out, table, summary


def _expressed(adata: ad.AnnData, s: Mapping[str, Any]) -> np.ndarray:
    group_column = s["group_column"]
    groups = adata.obs[group_column].tolist() if group_column in adata.obs else None
    return filter_by_expr(
        dense_counts(adata),
        groups,
        min_count=float(s["min_count"]),
        min_total_count=float(s["min_total_count"]),
        large_n=int(s["large_n"]),
        min_prop=float(s["min_prop"]),
    )


def excluded_samples(obs: pd.DataFrame) -> dict[str, str]:
    """``{sample: reason}`` of the samples QC leaves out of DE and control references."""
    if EXCLUSION_COLUMN not in obs:
        return {}
    return {
        str(sample): str(reason)
        for sample, reason in obs[EXCLUSION_COLUMN].items()
        if not pd.isna(reason) and str(reason).strip()
    }


def pca_genes(adata: ad.AnnData, s: Mapping[str, Any]) -> np.ndarray:
    """Genes the QC PCA may use: the expressed ones, without chrX/chrY genes when
    ``qc.pca_exclude_sex_chromosomes`` (sex would otherwise take a leading PC); all genes
    when fewer than 10 remain."""
    use = adata.var["expressed"].to_numpy(dtype=bool).copy()
    if s["pca_exclude_sex_chromosomes"] and "chromosome" in adata.var:
        chromosome = adata.var["chromosome"].astype(str).str.upper()
        use &= ~chromosome.isin(SEX_CHROMOSOMES).to_numpy()
    return use if use.sum() >= 10 else np.ones(adata.n_vars, dtype=bool)


def sex_decisions(table: pd.DataFrame, mode: str) -> pd.DataFrame:
    """What QC does with each sex-label mismatch (``qc.sex_mismatch``).

    ``exclude``: the sample leaves DE and the control references of the scores
    (``qc_exclusion``) but is still scored, flagged (``qc_flag``); ``use_inferred``: the
    ``sex`` covariate becomes the inferred sex; ``keep``: the reported sex stays. An ambiguous
    inference is never a mismatch. Returns ``sex_decision`` and ``qc_exclusion`` per sample.
    """
    mismatch = table["sex_mismatch"].to_numpy(dtype=bool)
    labels = [
        f"sex_mismatch(reported {r}, inferred {i})"
        for r, i in zip(table["sex_reported"], table["sex_inferred"], strict=True)
    ]
    decision = {"exclude": "excluded", "use_inferred": "sex_replaced", "keep": "kept"}[mode]
    out = pd.DataFrame(index=table.index)
    out["sex_decision"] = np.where(mismatch, decision, "")
    out["qc_exclusion"] = [
        label if m and mode == "exclude" else "" for m, label in zip(mismatch, labels, strict=True)
    ]
    return out


def _flag_samples(adata: ad.AnnData, s: Mapping[str, Any], *, n_cpus: int) -> pd.DataFrame:
    """Normalise, filter genes and flag samples (in place on ``adata``); returns the QC table."""
    nmads = float(s["outlier_nmads"])
    adata.var["expressed"] = _expressed(adata, s)
    log.info("expressed genes: %d of %d", int(adata.var["expressed"].sum()), adata.n_vars)
    normalise(adata, vst_n_genes=int(s["vst_n_genes"]), n_cpus=n_cpus)

    table = pd.DataFrame(index=adata.obs_names)
    for column in ("total_counts", "n_genes_detected", "pct_mito", "pct_ribo", "pct_top50",
                   "size_factor", "n_samples_of_subject"):  # fmt: skip
        table[column] = adata.obs[column].to_numpy()
    reasons: list[list[str]] = [[] for _ in range(adata.n_obs)]

    checks = [
        ("low_library_size", np.log10(np.maximum(table["total_counts"], 1)), "lower"),
        ("low_detected_genes", np.log10(np.maximum(table["n_genes_detected"], 1)), "lower"),
        ("high_pct_mito", table["pct_mito"], "higher"),
    ]
    for name, values, side in checks:
        flags, _ = mad_outliers(values, nmads, side)
        if name == "high_pct_mito":
            # near-zero mito shares (mito genes absent from the annotation) are not a problem
            flags &= table["pct_mito"].to_numpy() > float(s["mito_min_pct"])
        table[f"outlier_{name}"] = flags
        for i in np.flatnonzero(flags):
            reasons[i].append(name)

    scores, ratio = pca(
        adata.layers["vst"][:, pca_genes(adata, s)], n_genes=int(s["pca_n_genes"]), n_components=10
    )
    for k in range(min(3, scores.shape[1])):
        table[f"PC{k + 1}"] = scores[:, k]
    adata.obsm["X_qc_pca"] = scores
    adata.uns["qc_pca_variance_ratio"] = ratio.tolist()
    dist = knn_distance(scores, int(s["pca_components"]))
    table["pca_distance"] = dist
    # distances are right-skewed: the MAD rule runs on their log
    flags, _ = mad_outliers(np.log(np.maximum(dist, 1e-12)), nmads, "higher")
    table["outlier_pca"] = flags
    for i in np.flatnonzero(flags):
        reasons[i].append("pca_distance")

    # sex check on log2 CPM
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
        _reported_sex(adata.obs["sex"])
        if "sex" in adata.obs
        else pd.Series(None, index=table.index)
    )
    table["sex_reported"] = reported.to_numpy()
    if s["sex_check"] and sex_info["xist_present"] and sex_info["y_genes_used"]:
        inferred = table["sex_inferred"].astype(object)
        mismatch = (
            reported.notna().to_numpy()
            & inferred.isin(["male", "female"]).to_numpy()
            & (inferred.to_numpy() != reported.to_numpy())
        )
    else:
        if s["sex_check"]:
            log.warning("sex check skipped: XIST or all Y genes (%s) missing", ", ".join(Y_GENES))
        mismatch = np.zeros(adata.n_obs, dtype=bool)
    table["sex_mismatch"] = mismatch
    for i in np.flatnonzero(mismatch):
        reasons[i].append(f"sex_mismatch(reported {table['sex_reported'].iloc[i]}, "
                          f"inferred {table['sex_inferred'].iloc[i]})")  # fmt: skip

    outlier = np.array([any(not r.startswith("sex_mismatch") for r in rs) for rs in reasons])
    table["qc_outlier"] = outlier
    table["qc_reasons"] = [";".join(r) for r in reasons]
    kept = np.ones(adata.n_obs, dtype=bool)
    if s["exclude_outliers"]:
        kept &= ~outlier
    table["qc_kept"] = kept
    decisions = sex_decisions(table, str(s["sex_mismatch"]))
    table["sex_decision"] = decisions["sex_decision"].to_numpy()
    table["qc_exclusion"] = decisions["qc_exclusion"].to_numpy()
    table["qc_flag"] = table["qc_reasons"].to_numpy()
    for name in table.index[table["qc_reasons"] != ""]:
        what = (
            "removed" if not table.loc[name, "qc_kept"]
            else "left out of DE and control references" if table.loc[name, "qc_exclusion"]
            else "sex covariate replaced by the inferred sex"
            if table.loc[name, "sex_decision"] == "sex_replaced"
            else "kept"
        )  # fmt: skip
        log.warning("sample %s flagged: %s (%s)", name, table.loc[name, "qc_reasons"], what)
    n_ambiguous = int((table["sex_inferred"] == AMBIGUOUS).sum())
    if n_ambiguous:
        log.warning("%d sample(s) with ambiguous inferred sex: labels kept, never judged",
                    n_ambiguous)  # fmt: skip
    return table


def gene_filter_table(adata: ad.AnnData) -> pl.DataFrame:
    """One row per gene: symbol, gene_id, mean normalised count, expressed."""
    return pl.DataFrame(
        {
            "symbol": adata.var_names.astype(str).tolist(),
            "gene_id": adata.var["gene_id"].astype(str).tolist()
            if "gene_id" in adata.var
            else adata.var_names.astype(str).tolist(),
            "mean_normalized": np.asarray(adata.layers["normalized"].mean(axis=0), dtype=float),
            "expressed": adata.var["expressed"].astype(bool).tolist(),
        }
    )


def sample_table(table: pd.DataFrame) -> pl.DataFrame:
    """The sample QC table as polars (strings for object columns)."""
    frame = table.copy()
    for column in frame.columns:
        if frame[column].dtype == object or str(frame[column].dtype) in ("string", "category"):
            frame[column] = frame[column].astype("string")
    return pl.from_pandas(frame.reset_index(drop=True))


def clean_obs(obs: pd.DataFrame) -> pd.DataFrame:
    """obs with text columns as categoricals of str (missing -> NaN), as ingest writes them:
    h5ad writing trips on mixed None/str objects and (anndata < 0.11 compatibility) refuses
    pandas' nullable string arrays."""
    obs = obs.copy()
    for column in obs.columns:
        if obs[column].dtype == object or isinstance(obs[column].dtype, pd.StringDtype):
            obs[column] = pd.Categorical([None if pd.isna(v) else str(v) for v in obs[column]])
    return obs


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------
def plot_library_sizes(table: pd.DataFrame, colour_by: str = "condition"):
    """Library size (millions) and detected genes per sample, ranked; flagged samples marked."""
    from alsig import plotting as plots

    plt = plots._pyplot()
    n = len(table)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    order = np.argsort(table["total_counts"].to_numpy())
    groups = table[colour_by] if colour_by in table else pd.Series(["all"] * n, index=table.index)
    for ax, column, label in (
        (axes[0], "total_counts", "library size (million counts)"),
        (axes[1], "n_genes_detected", "detected genes (count > 0)"),
    ):
        values = table[column].to_numpy(dtype=float)
        if column == "total_counts":
            values = values / 1e6
        ranks = np.empty(n)
        ranks[order] = np.arange(1, n + 1)
        plots.scatter_by(ax, ranks, values, groups.to_numpy(), legend_title=colour_by)
        flagged = (table["qc_reasons"] != "").to_numpy()
        if flagged.any():
            ax.scatter(ranks[flagged], values[flagged], facecolors="none", edgecolors="black",
                       s=80, linewidths=1.0, label="flagged")  # fmt: skip
            if flagged.sum() <= 15:
                for i in np.flatnonzero(flagged):
                    ax.annotate(str(table.index[i]), (ranks[i], values[i]), fontsize="x-small",
                                xytext=(4, -8), textcoords="offset points")  # fmt: skip
        ax.set_xlabel("sample rank by library size")
        ax.set_ylabel(label)
    axes[0].set_title(f"{n} samples; open circles: QC-flagged", fontsize="medium")
    return fig


def plot_pca(table: pd.DataFrame, variance_ratio: Sequence[float], colour_by: Sequence[str]):
    """PC1 vs PC2 of the VST (most variable expressed genes), one panel per colouring variable
    (columns of ``table``) plus library size and the QC outlier flag."""
    from alsig import plotting as plots

    ratio = list(variance_ratio) + [np.nan, np.nan]
    panels = [c for c in colour_by if c in table and table[c].notna().any()]
    fig, axes = plots.grid(len(panels) + 2, ncols=3)
    x, y = table["PC1"].to_numpy(), table["PC2"].to_numpy()
    for ax, column in zip(axes, panels, strict=False):
        plots.scatter_by(ax, x, y, table[column].to_numpy(),
                         title=f"coloured by {column}", legend_title=column)  # fmt: skip
    plots.scatter_by(axes[len(panels)], x, y, np.log10(table["total_counts"].to_numpy(float)),
                     continuous=True, title="coloured by library size",
                     legend_title="log10 library size")  # fmt: skip
    flag = np.where(table["qc_outlier"].to_numpy(dtype=bool), "outlier", "ok")
    plots.scatter_by(axes[len(panels) + 1], x, y, flag, title="QC outlier flag",
                     legend_title="flag")  # fmt: skip
    for ax in axes:
        ax.set_xlabel(f"PC1 ({100 * ratio[0]:.1f}% variance)")
        ax.set_ylabel(f"PC2 ({100 * ratio[1]:.1f}% variance)")
    return fig


def plot_sex_check(table: pd.DataFrame):
    """XIST vs mean Y-gene expression (log2 CPM), coloured by reported sex; mismatches circled."""
    from alsig import plotting as plots

    plt = plots._pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.2), constrained_layout=True)
    if table["sex_xist"].isna().all():
        ax.text(0.5, 0.5, "sex check not possible:\nXIST or the Y genes are not in the data",
                ha="center", va="center", transform=ax.transAxes)  # fmt: skip
        ax.set_axis_off()
        return fig
    x = table["sex_xist"].to_numpy(dtype=float)
    y = table["sex_y_mean"].to_numpy(dtype=float)
    plots.scatter_by(ax, x, y, table["sex_reported"].to_numpy(), legend_title="reported sex")
    mism = table["sex_mismatch"].to_numpy(dtype=bool)
    if mism.any():
        ax.scatter(x[mism], y[mism], facecolors="none", edgecolors="red", s=110, linewidths=1.4)
        for i in np.flatnonzero(mism)[:20]:
            ax.annotate(str(table.index[i]), (x[i], y[i]), fontsize="x-small", color="red",
                        xytext=(4, 4), textcoords="offset points")  # fmt: skip
    lim = [min(np.nanmin(x), np.nanmin(y)) - 0.5, max(np.nanmax(x), np.nanmax(y)) + 0.5]
    ax.plot(lim, lim, color="0.5", linewidth=0.7, linestyle="--")
    ax.set_xlabel("XIST log2(CPM + 1)")
    ax.set_ylabel("mean Y-gene log2(CPM + 1) (" + ", ".join(Y_GENES) + ")")
    ax.set_title(f"sex check: {int(mism.sum())} mismatch(es) circled in red", fontsize="medium")
    return fig


# --------------------------------------------------------------------------------------------
# Snakemake entry point
# --------------------------------------------------------------------------------------------
def run_qc_rule(smk: Any) -> None:
    """Rule ``qc``: input ``h5ad``; outputs ``h5ad``, ``samples`` (TSV), ``genes`` (TSV),
    ``summary`` (JSON), ``library_sizes``, ``pca``, ``sex_check`` (PNG); params ``settings``."""
    import json

    from alsig.io import save_figure, write_h5ad, write_text, write_tsv

    settings = with_defaults(dict(smk.params.get("settings") or {}))
    adata = ad.read_h5ad(smk.input["h5ad"])
    dataset = str(adata.uns.get("dataset", ""))
    log.info("QC of %s: %d samples x %d genes", dataset, adata.n_obs, adata.n_vars)
    try:
        filtered, table, summary = run_qc(adata, settings, n_cpus=int(smk.threads))
    finally:
        shutdown_workers()
    summary["dataset"] = dataset
    filtered.obs = clean_obs(filtered.obs)
    write_h5ad(filtered, smk.output["h5ad"])
    write_tsv(sample_table(table), smk.output["samples"])
    write_tsv(gene_filter_table(filtered), smk.output["genes"])
    write_text(json.dumps(summary, indent=2, default=str) + "\n", smk.output["summary"])
    indexed = table.set_index("sample")
    save_figure(plot_library_sizes(indexed), smk.output["library_sizes"])
    save_figure(
        plot_pca(indexed, summary["pca_variance_ratio"], settings["pca_colour_by"]),
        smk.output["pca"],
    )
    save_figure(plot_sex_check(indexed), smk.output["sex_check"])
    from alsig.stages.qc.covariates import pc_covariates, plot_pc_covariates

    drivers = pc_covariates(
        filtered.obsm["X_qc_pca"],
        summary["pca_variance_ratio"],
        filtered.obs,
        library_size=filtered.obs["total_counts"].to_numpy(),
    )
    write_tsv(drivers, smk.output["pc_covariates"])
    save_figure(plot_pc_covariates(drivers), smk.output["pc_covariates_figure"])
    log.info(
        "QC done: %d of %d samples kept (%d input samples), %d flagged; %d of %d genes expressed",
        summary["n_samples_kept"],
        summary["n_samples_after_collapse"],
        summary["n_samples_input"],
        summary["n_samples_flagged"],
        summary["n_genes_expressed"],
        summary["n_genes"],
    )
