"""Per-sample signature scores: singscore, ssGSEA, axis composites, z vs controls, composition.

Methods (``score.methods``; several may run in one pass):

``singscore`` (default)
    Foroutan et al. 2018 (BMC Bioinformatics, R package singscore ``simpleScore``). Genes are
    ranked within each sample (ties: ``min``, the singscore default). For a gene set of ``k``
    present genes in a universe of ``N`` genes the mean rank is scaled to [0, 1] between its
    theoretical minimum ``(k + 1) / 2`` and maximum ``(2N - k + 1) / 2`` and centred
    (``- 0.5``). A down set is scored the same way and enters as ``0.5 - score``, so a signature
    with up and down genes scores ``up + down`` in [-1, 1] (up-only or down-only: [-0.5, 0.5]).
    Dispersion is the singscore default ``mad`` (median absolute deviation, R's 1.4826 constant)
    of the set genes' ranks, summed over up and down parts, divided by ``N`` so that it is
    comparable between gene universes (multiply by ``N`` to get singscore's number). A sample's
    score depends only on that sample's expression: adding or removing samples never changes it.
    Difference from the R package: the bounds use the genes *present* (``n_genes_used``), whereas
    singscore uses the declared set size even when genes are missing; both agree when every gene is
    present.

``ssgsea``
    Barbie et al. 2009 single-sample GSEA as implemented by gseapy 1.3.1 ``gseapy.ssgsea`` with its
    defaults (``sample_norm_method='rank'``, ``correl_norm_type='rank'``, ``weight=0.25``): the
    enrichment score of each set (ES) is the sum of the running walk and equals gseapy's ``ES``;
    the reported ``score`` is gseapy's ``NES`` = ES divided by the range (max - min) of all ES of
    the run (every sample x every gene set of the dataset). **NES is cohort-dependent**: it changes
    when samples or signatures are added. Signatures with a down part score ``NES_up - NES_dn``.
    ``dispersion`` is null.

``singscore_adjusted``
    Composition-adjusted singscore: within a dataset, each non-cell-type signature and axis
    composite is regressed (least squares with intercept) on the cell-type marker scores
    (axis ``cell_type``), and the residual is reported. It removes the part of a score that is a
    *linear* function of the marker-estimated neuron / glia / endothelial content of the
    samples in this dataset. It does not remove non-linear composition effects, composition
    changes the markers miss (cell subtypes, e.g. motor neurons), or true biology that is
    correlated with composition (it removes that too: e.g. microglial activation that comes with
    microgliosis). Residuals are centred on the dataset (mean 0), so they are cohort-dependent and
    not comparable between datasets. ``dispersion`` is null; cell-type rows are not repeated.

Axis composites: one row per axis and method with ``signature = "axis:<axis>"``, the mean of the
scores of the axis's scored (unflagged) signatures; ``n_genes``/``n_genes_used`` count the distinct
genes of those signatures; ``dispersion`` is null. The ``cell_type`` axis has no composite.

``z_vs_control``: ``(score - mean of control samples) / sd of control samples`` (sd with n - 1),
per dataset, method and signature. Controls are samples whose ``condition`` equals
``score.control_label``. Null when the dataset has fewer than 3 controls with a score (the reason
is logged) or the controls' sd is 0.

Coverage: a signature whose present genes are fewer than ``min_coverage`` (default 0.5) of its
genes, or whose up or down part has no present gene, is flagged: logged as a warning, written to
``signature_coverage.tsv`` with ``flagged = true`` and a reason, and its score is null.

Implementation: samples are processed in chunks; each chunk is ranked once
(``scipy.stats.rankdata`` along genes) and all gene sets are scored together through a sparse
gene x set indicator matrix. No Python loop over samples.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import scipy.sparse as sp
from scipy.stats import rankdata

from alsig.errors import AlsigError
from alsig.stages.score.signatures import CELL_TYPE_AXIS, DN_SUFFIX, UP_SUFFIX, Signature

log = logging.getLogger(__name__)

METHODS = ("singscore", "ssgsea", "singscore_adjusted")
AXIS_PREFIX = "axis:"
MIN_CONTROLS = 3
MAD_CONSTANT = 1.4826  # R stats::mad default

DEFAULTS: dict[str, Any] = {
    "methods": ["singscore"],
    "layer": "vst",
    "min_coverage": 0.5,
    "control_label": "control",
    "control_column": "condition",
    "extra_signatures": [],
    "replace_signatures": False,
    "harmonise_symbols": True,
    "ssgsea_weight": 0.25,
    "chunk_size": 256,
}


def with_defaults(settings: dict | None) -> dict:
    """The ``score:`` settings of a dataset with every key filled in; checks the values."""
    merged = {**DEFAULTS, **(settings or {})}
    methods = merged["methods"]
    if isinstance(methods, str):
        methods = [methods]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise AlsigError(
            f"config key score.methods: {bad or methods} not known; choose from {', '.join(METHODS)}."
        )
    merged["methods"] = list(dict.fromkeys(methods))
    if not 0 < float(merged["min_coverage"]) <= 1:
        raise AlsigError("config key score.min_coverage must be in (0, 1].")
    return merged


# --------------------------------------------------------------------------------------------
# gene sets -> sparse indicator
# --------------------------------------------------------------------------------------------
def gene_set_matrix(
    genes: Sequence[str], sets: dict[str, Sequence[str]]
) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray]:
    """Sparse ``genes x sets`` 0/1 matrix, declared set sizes and present set sizes."""
    index = {g: i for i, g in enumerate(genes)}
    rows, cols = [], []
    n_declared = np.zeros(len(sets), dtype=np.int64)
    for j, members in enumerate(sets.values()):
        unique = list(dict.fromkeys(members))
        n_declared[j] = len(unique)
        hit = [index[g] for g in unique if g in index]
        rows.extend(hit)
        cols.extend([j] * len(hit))
    data = np.ones(len(rows), dtype=np.float64)
    matrix = sp.csc_matrix((data, (rows, cols)), shape=(len(genes), len(sets)))
    n_used = np.asarray(matrix.sum(axis=0)).ravel().astype(np.int64)
    return matrix, n_declared, n_used


def _dense_rows(X: Any, start: int, stop: int) -> np.ndarray:
    block = X[start:stop]
    if sp.issparse(block):
        block = block.toarray()
    return np.asarray(block, dtype=np.float64)


def _chunks(n: int, chunk_size: int):
    step = max(1, int(chunk_size))
    for start in range(0, n, step):
        yield start, min(n, start + step)


def _set_members(indicator: sp.csc_matrix) -> list[np.ndarray]:
    return [
        indicator.indices[indicator.indptr[j] : indicator.indptr[j + 1]]
        for j in range(indicator.shape[1])
    ]


# --------------------------------------------------------------------------------------------
# singscore
# --------------------------------------------------------------------------------------------
def singscore_sets(
    X: Any,
    genes: Sequence[str],
    sets: dict[str, Sequence[str]],
    *,
    chunk_size: int = 256,
    dispersion: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Uncentred singscore of every set in every sample, and the MAD of the set genes' ranks.

    ``X`` is samples x genes. Returns ``(score, mad)``, both samples x sets: ``score`` is the mean
    rank scaled to [0, 1] between its minimum and maximum for the set's present genes; ``mad`` is
    R ``mad()`` of the ranks (not divided by the number of genes). Sets without a present gene
    (or with every gene present) are NaN.
    """
    n_samples, n_genes = X.shape
    indicator, _, k = gene_set_matrix(genes, sets)
    members = _set_members(indicator) if dispersion else []
    score = np.full((n_samples, len(sets)), np.nan)
    mad = np.full((n_samples, len(sets)), np.nan)
    ok = (k > 0) & (k < n_genes)
    low = (k + 1) / 2.0
    span = np.where(ok, n_genes - k, 1).astype(np.float64)
    for start, stop in _chunks(n_samples, chunk_size):
        ranks = rankdata(_dense_rows(X, start, stop), method="min", axis=1)
        mean_rank = (ranks @ indicator) / np.where(k > 0, k, 1)
        score[start:stop, ok] = ((mean_rank - low) / span)[:, ok]
        for j in np.flatnonzero(ok) if dispersion else ():
            sub = ranks[:, members[j]]
            med = np.median(sub, axis=1, keepdims=True)
            mad[start:stop, j] = MAD_CONSTANT * np.median(np.abs(sub - med), axis=1)
        log.debug("singscore: samples %d-%d of %d", start + 1, stop, n_samples)
    return score, mad


def signature_parts(signatures: Sequence[Signature]) -> dict[str, list[str]]:
    """``{<sig>_UP: genes, <sig>_DN: genes}`` for the non-empty parts of each signature."""
    parts: dict[str, list[str]] = {}
    for sig in signatures:
        if sig.up:
            parts[sig.name + UP_SUFFIX] = list(sig.up)
        if sig.down:
            parts[sig.name + DN_SUFFIX] = list(sig.down)
    return parts


def _combine_parts(
    signatures: Sequence[Signature],
    part_names: list[str],
    part_values: np.ndarray,
    up_fn,
    down_fn,
) -> np.ndarray:
    col = {name: j for j, name in enumerate(part_names)}
    out = np.zeros((part_values.shape[0], len(signatures)))
    for i, sig in enumerate(signatures):
        if sig.up:
            out[:, i] += up_fn(part_values[:, col[sig.name + UP_SUFFIX]])
        if sig.down:
            out[:, i] += down_fn(part_values[:, col[sig.name + DN_SUFFIX]])
    return out


def singscore(
    X: Any,
    genes: Sequence[str],
    signatures: Sequence[Signature],
    *,
    chunk_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """singscore ``TotalScore`` and dispersion (``TotalDispersion / N``), samples x signatures."""
    parts = signature_parts(signatures)
    names = list(parts)
    score, mad = singscore_sets(X, genes, parts, chunk_size=chunk_size)
    total = _combine_parts(signatures, names, score, lambda s: s - 0.5, lambda s: 0.5 - s)
    spread = _combine_parts(signatures, names, mad, lambda m: m, lambda m: m) / X.shape[1]
    return total, spread


# --------------------------------------------------------------------------------------------
# ssGSEA (gseapy 1.3.1 definition)
# --------------------------------------------------------------------------------------------
def ssgsea_es(
    X: Any,
    genes: Sequence[str],
    sets: dict[str, Sequence[str]],
    *,
    weight: float = 0.25,
    chunk_size: int = 256,
) -> np.ndarray:
    """gseapy ``ssgsea`` enrichment scores (``ES``), samples x sets.

    gseapy ranks each sample (average ties), scales ranks to ``10000 * rank / N``, weights genes by
    that value to the power ``weight``, orders genes by it (ties in input order) and sums the
    running enrichment walk. In closed form, with ``a_i`` the ascending position of set gene ``i``
    (ties broken by gene order, i.e. ordinal ranks) and ``w_i`` its weight:
    ``ES = sum(w_i a_i) / sum(w_i) - (N (N + 1) / 2 - sum(a_i)) / (N - k)``.
    """
    n_samples, n_genes = X.shape
    indicator, _, k = gene_set_matrix(genes, sets)
    es = np.full((n_samples, len(sets)), np.nan)
    ok = (k > 0) & (k < n_genes)
    total = n_genes * (n_genes + 1) / 2.0
    miss = np.where(ok, n_genes - k, 1).astype(np.float64)
    for start, stop in _chunks(n_samples, chunk_size):
        block = _dense_rows(X, start, stop)
        position = rankdata(block, method="ordinal", axis=1).astype(np.float64)
        w = rankdata(block, method="average", axis=1)
        del block
        w *= 10000.0 / n_genes
        np.power(w, weight, out=w)
        sum_w = w @ indicator
        w *= position
        sum_wa = w @ indicator
        del w
        sum_a = position @ indicator
        with np.errstate(invalid="ignore", divide="ignore"):
            chunk_es = sum_wa / sum_w - (total - sum_a) / miss
        es[start:stop, ok] = chunk_es[:, ok]
    return es


def ssgsea_nes(es: np.ndarray) -> np.ndarray:
    """gseapy's ssGSEA normalisation: ES / (max ES - min ES) over the whole run (cohort-dependent)."""
    finite = es[np.isfinite(es)]
    if finite.size == 0:
        return es.copy()
    spread = finite.max() - finite.min()
    return es / spread if spread > 0 else np.full_like(es, np.nan)


def ssgsea(
    X: Any,
    genes: Sequence[str],
    signatures: Sequence[Signature],
    *,
    weight: float = 0.25,
    chunk_size: int = 256,
) -> np.ndarray:
    """ssGSEA NES per signature (``NES_up - NES_dn``), samples x signatures."""
    parts = signature_parts(signatures)
    nes = ssgsea_nes(ssgsea_es(X, genes, parts, weight=weight, chunk_size=chunk_size))
    return _combine_parts(signatures, list(parts), nes, lambda s: s, lambda s: -s)


# --------------------------------------------------------------------------------------------
# coverage, composites, z-scores, composition adjustment
# --------------------------------------------------------------------------------------------
def signature_coverage(
    genes: Sequence[str], signatures: Sequence[Signature], *, min_coverage: float = 0.5
) -> pl.DataFrame:
    """One row per signature: genes declared / present (overall, up, down), fraction, flag, reason."""
    present = set(genes)
    rows = []
    for sig in signatures:
        up_used = sum(g in present for g in sig.up)
        dn_used = sum(g in present for g in sig.down)
        all_genes = sig.genes
        used = sum(g in present for g in all_genes)
        fraction = used / len(all_genes) if all_genes else 0.0
        reasons = []
        if fraction < min_coverage:
            reasons.append(f"{used} of {len(all_genes)} genes present (< {min_coverage:g})")
        if sig.up and up_used == 0:
            reasons.append("no up gene present")
        if sig.down and dn_used == 0:
            reasons.append("no down gene present")
        if used >= len(present):
            reasons.append("signature covers the whole gene universe")
        rows.append(
            {
                "signature": sig.name,
                "axis": sig.axis,
                "n_genes": len(all_genes),
                "n_genes_used": used,
                "n_up": len(sig.up),
                "n_up_used": up_used,
                "n_down": len(sig.down),
                "n_down_used": dn_used,
                "coverage": round(fraction, 4),
                "flagged": bool(reasons),
                "reason": "; ".join(reasons),
            }
        )
    return pl.DataFrame(rows, schema_overrides={"n_genes": pl.Int32, "n_genes_used": pl.Int32})


def axis_composites(
    scores: np.ndarray,
    signatures: Sequence[Signature],
    genes: Sequence[str],
    flagged: Sequence[bool],
) -> tuple[np.ndarray, list[str], list[str], list[int], list[int]]:
    """Mean score of each axis's unflagged signatures (``cell_type`` has no composite).

    Returns ``(matrix samples x axes, names 'axis:<a>', axes, n_genes, n_genes_used)``.
    """
    present = set(genes)
    axes = list(dict.fromkeys(s.axis for s in signatures if s.axis != CELL_TYPE_AXIS))
    matrix = np.full((scores.shape[0], len(axes)), np.nan)
    n_genes, n_used = [], []
    for j, axis in enumerate(axes):
        members = [i for i, s in enumerate(signatures) if s.axis == axis]
        scored = [i for i in members if not flagged[i]]
        genes_all = {g for i in members for g in signatures[i].genes}
        genes_scored = {g for i in scored for g in signatures[i].genes if g in present}
        n_genes.append(len(genes_all))
        n_used.append(len(genes_scored))
        if scored:
            matrix[:, j] = scores[:, scored].mean(axis=1)
    return matrix, [AXIS_PREFIX + a for a in axes], axes, n_genes, n_used


def z_vs_control(
    scores: np.ndarray, is_control: np.ndarray, *, min_controls: int = MIN_CONTROLS
) -> tuple[np.ndarray, str | None]:
    """``(score - mean(controls)) / sd(controls)`` per column; NaN where < ``min_controls``
    controls have a score or their sd is 0. Returns ``(z, reason or None)``."""
    z = np.full(scores.shape, np.nan)
    is_control = np.asarray(is_control, dtype=bool)
    n_controls = int(is_control.sum())
    if n_controls < min_controls:
        return z, (
            f"{n_controls} control sample(s) (< {min_controls}): z_vs_control is null for every "
            "signature of this dataset"
        )
    ctrl = scores[is_control]
    valid = np.isfinite(ctrl)
    n_valid = valid.sum(axis=0)
    usable = n_valid >= min_controls
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(np.where(valid, ctrl, 0.0), axis=0) / np.maximum(n_valid, 1)
        sq = np.nansum(np.where(valid, (ctrl - mean) ** 2, 0.0), axis=0)
        sd = np.sqrt(sq / np.maximum(n_valid - 1, 1))
    usable &= sd > 0
    z[:, usable] = (scores[:, usable] - mean[usable]) / sd[usable]
    return z, None


def composition_residuals(scores: np.ndarray, cell_scores: np.ndarray) -> np.ndarray:
    """Residuals of each column of ``scores`` after least squares on ``[1, cell_scores]``, fitted
    on the samples where the column is finite. Columns with too few samples are NaN."""
    design_full = np.column_stack([np.ones(cell_scores.shape[0]), cell_scores])
    out = np.full(scores.shape, np.nan)
    for j in range(scores.shape[1]):  # loop over signatures, not samples
        y = scores[:, j]
        rows = np.isfinite(y) & np.isfinite(design_full).all(axis=1)
        if rows.sum() <= design_full.shape[1]:
            continue
        design = design_full[rows]
        coef, *_ = np.linalg.lstsq(design, y[rows], rcond=None)
        out[rows, j] = y[rows] - design @ coef
    return out


# --------------------------------------------------------------------------------------------
# AnnData -> long table
# --------------------------------------------------------------------------------------------
@dataclass
class ScoreResult:
    """Everything one scoring pass produces for a dataset."""

    long: pl.DataFrame  # the public long table (alsig.tables.COLUMNS)
    coverage: pl.DataFrame  # signature_coverage() + dataset column
    wide: dict[str, pd.DataFrame]  # method -> samples x signatures (obsm export)
    notes: list[str]  # reasons for nulls (also logged)


def expression_matrix(adata, layer: str | None) -> Any:
    if layer in (None, "X"):
        return adata.X
    if layer not in adata.layers:
        raise AlsigError(
            f"layer '{layer}' is not in the AnnData (layers: {', '.join(adata.layers) or 'none'}); "
            "set score.layer to an existing layer or 'X'."
        )
    return adata.layers[layer]


def _obs_column(adata, column: str, default: Sequence[str] | None) -> list[str | None]:
    if column in adata.obs:
        return [None if pd.isna(v) else str(v) for v in adata.obs[column]]
    return list(default) if default is not None else [None] * adata.n_obs


def score_anndata(
    adata,
    signatures: Sequence[Signature],
    *,
    methods: Sequence[str] = ("singscore",),
    layer: str | None = "vst",
    min_coverage: float = 0.5,
    control_label: str = "control",
    control_column: str = "condition",
    dataset: str | None = None,
    ssgsea_weight: float = 0.25,
    chunk_size: int = 256,
) -> ScoreResult:
    """Score every sample of ``adata`` (obs = samples, var index = gene symbols)."""
    from alsig import __version__
    from alsig.tables import COLUMNS, SCHEMA, SCHEMA_VERSION

    methods = with_defaults({"methods": list(methods), "min_coverage": min_coverage})["methods"]
    dataset = dataset or str(adata.uns.get("dataset", "dataset"))
    genes = [str(g) for g in adata.var_names]
    X = expression_matrix(adata, layer)
    samples = [str(s) for s in adata.obs_names]
    notes: list[str] = []

    coverage = signature_coverage(genes, signatures, min_coverage=min_coverage)
    flagged = coverage["flagged"].to_list()
    for row in coverage.filter(pl.col("flagged")).iter_rows(named=True):
        msg = f"dataset {dataset}: signature '{row['signature']}' not scored: {row['reason']}"
        log.warning(msg)
        notes.append(msg)
    scored = [s for s, f in zip(signatures, flagged, strict=True) if not f]
    scored_idx = [i for i, f in enumerate(flagged) if not f]

    condition = _obs_column(adata, control_column, None)
    if control_column not in adata.obs:
        msg = f"dataset {dataset}: obs has no column '{control_column}'; z_vs_control is null"
        log.warning(msg)
        notes.append(msg)
    is_control = np.array([c == control_label for c in condition])
    subject = _obs_column(adata, "subject", samples)
    condition_out = _obs_column(adata, "condition", None)

    n_sig = len(signatures)
    sig_n_genes = coverage["n_genes"].to_list()
    sig_n_used = coverage["n_genes_used"].to_list()
    per_method: dict[
        str, tuple[np.ndarray, np.ndarray, list[str], list[str], list[int], list[int]]
    ] = {}

    def full(values: np.ndarray) -> np.ndarray:
        out = np.full((len(samples), n_sig), np.nan)
        out[:, scored_idx] = values
        return out

    base_singscore = None
    for method in methods:
        log.info("dataset %s: scoring %d signatures with %s", dataset, len(scored), method)
        if method in ("singscore", "singscore_adjusted") and base_singscore is None:
            s, d = (
                singscore(X, genes, scored, chunk_size=chunk_size)
                if scored
                else (
                    np.empty((len(samples), 0)),
                    np.empty((len(samples), 0)),
                )
            )
            base_singscore = (full(s), full(d))
        if method == "singscore":
            sig_scores, sig_disp = base_singscore
        elif method == "ssgsea":
            s = (
                ssgsea(X, genes, scored, weight=ssgsea_weight, chunk_size=chunk_size)
                if scored
                else np.empty((len(samples), 0))
            )
            sig_scores, sig_disp = full(s), np.full((len(samples), n_sig), np.nan)
        else:  # singscore_adjusted
            sig_scores, sig_disp = base_singscore
        comp, comp_names, comp_axes, comp_n, comp_used = axis_composites(
            sig_scores, signatures, genes, flagged
        )
        values = np.column_stack([sig_scores, comp])
        disp = np.column_stack([sig_disp, np.full(comp.shape, np.nan)])
        names = [s.name for s in signatures] + comp_names
        axes = [s.axis for s in signatures] + comp_axes
        n_genes = sig_n_genes + comp_n
        n_used = sig_n_used + comp_used
        if method == "singscore_adjusted":
            cell_cols = [i for i, s in enumerate(signatures) if s.is_cell_type and not flagged[i]]
            keep = [i for i, a in enumerate(axes) if a != CELL_TYPE_AXIS]
            if not cell_cols:
                msg = (
                    f"dataset {dataset}: no cell-type signature scored; singscore_adjusted is null"
                )
                log.warning(msg)
                notes.append(msg)
                adjusted = np.full((len(samples), len(keep)), np.nan)
            else:
                adjusted = composition_residuals(values[:, keep], values[:, cell_cols])
                if np.isnan(adjusted).all():
                    msg = (
                        f"dataset {dataset}: {len(samples)} samples are too few to regress on "
                        f"{len(cell_cols)} cell-type scores; singscore_adjusted is null"
                    )
                    log.warning(msg)
                    notes.append(msg)
            values = adjusted
            disp = np.full(adjusted.shape, np.nan)
            names = [names[i] for i in keep]
            axes = [axes[i] for i in keep]
            n_genes = [n_genes[i] for i in keep]
            n_used = [n_used[i] for i in keep]
        per_method[method] = (values, disp, names, axes, n_genes, n_used)

    frames = []
    wide: dict[str, pd.DataFrame] = {}
    for method, (values, disp, names, axes, n_genes, n_used) in per_method.items():
        z, reason = z_vs_control(values, is_control)
        if reason:
            msg = f"dataset {dataset}, method {method}: {reason}"
            log.warning(msg)
            notes.append(msg)
        n_s, n_k = values.shape
        frames.append(
            pl.DataFrame(
                {
                    "schema_version": [SCHEMA_VERSION] * (n_s * n_k),
                    "alsig_version": [__version__] * (n_s * n_k),
                    "dataset": [dataset] * (n_s * n_k),
                    "sample": np.repeat(samples, n_k).tolist(),
                    "subject": np.repeat(np.array(subject, dtype=object), n_k).tolist(),
                    "condition": np.repeat(np.array(condition_out, dtype=object), n_k).tolist(),
                    "signature": names * n_s,
                    "axis": axes * n_s,
                    "method": [method] * (n_s * n_k),
                    "score": _nullable(values.ravel()),
                    "dispersion": _nullable(disp.ravel()),
                    "z_vs_control": _nullable(z.ravel()),
                    "n_genes": n_genes * n_s,
                    "n_genes_used": n_used * n_s,
                },
                schema=SCHEMA,
            )
        )
        wide[method] = pd.DataFrame(values, index=pd.Index(samples, name="sample"), columns=names)
    long = pl.concat(frames).select(COLUMNS) if frames else pl.DataFrame(schema=SCHEMA)
    coverage = coverage.with_columns(pl.lit(dataset).alias("dataset")).select(
        "dataset", *coverage.columns
    )
    return ScoreResult(long=long, coverage=coverage, wide=wide, notes=notes)


def _nullable(values: np.ndarray) -> pl.Series:
    """Float64 series with NaN turned into null (nulls are the documented 'no value')."""
    return pl.Series(values, dtype=pl.Float64, nan_to_null=True)


# --------------------------------------------------------------------------------------------
# Snakemake entry point
# --------------------------------------------------------------------------------------------
def run_score_rule(smk) -> None:
    """``rule score``: input ``h5ad``; outputs ``long``, ``wide``, ``coverage``, ``h5ad``."""
    import anndata as ad

    from alsig.stages.score.signatures import configured_signatures, harmonise_signatures
    from alsig.tables import write_coverage, write_long, write_scores_h5ad, write_wide

    settings = with_defaults(dict(smk.params.settings))
    dataset = smk.wildcards.dataset
    signatures = configured_signatures(
        settings["extra_signatures"], replace=bool(settings["replace_signatures"])
    )
    if settings["harmonise_symbols"]:
        harmonise_signatures(signatures)
    log.info("dataset %s: %d signatures from the config", dataset, len(signatures))
    adata = ad.read_h5ad(smk.input.h5ad)
    log.info("dataset %s: %d samples x %d genes", dataset, adata.n_obs, adata.n_vars)
    result = score_anndata(
        adata,
        signatures,
        methods=settings["methods"],
        layer=settings["layer"],
        min_coverage=float(settings["min_coverage"]),
        control_label=str(settings["control_label"]),
        control_column=str(settings["control_column"]),
        dataset=dataset,
        ssgsea_weight=float(settings["ssgsea_weight"]),
        chunk_size=int(settings["chunk_size"]),
    )
    write_long(result.long, smk.output.long)
    write_wide(result.long, smk.output.wide)
    write_coverage(result.coverage, smk.output.coverage)
    write_scores_h5ad(adata, result, smk.output.h5ad, layer=settings["layer"])
    log.info("dataset %s: wrote %d score rows", dataset, result.long.height)
