"""Score every sample of a dataset.

Coverage, the chosen methods, axis composites, composition adjustment, z vs controls, and the public
long table.

Methods (``score.methods``; several may run in one pass): ``singscore`` (default;
:mod:`~alsig.stages.score.singscore`), ``ssgsea`` (:mod:`~alsig.stages.score.ssgsea`) and
``singscore_adjusted`` (singscore with its linear dependence on QC's cell-type marker indices
removed: neurons, astrocytes, microglia, oligodendrocytes, recomputed without the signature's
genes; :func:`~alsig.stages.score.composites.composition_residuals`, :mod:`alsig.cellmix`;
``dispersion`` is null and cell-type rows are not repeated). Each method's rows hold one value per signature and per axis
composite (:mod:`~alsig.stages.score.composites`); flagged signatures
(:mod:`~alsig.stages.score.coverage`) are null. Controls for ``z_vs_control`` are the samples
whose ``score.control_column`` equals ``score.control_label``; with fewer than 3 of them
``z_vs_control`` is null (the reason is logged and kept in :attr:`ScoreResult.notes`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from alsig import __version__
from alsig.cellmix import (
    ADJUSTMENT_TYPES,
    MIN_MARKERS,
    SignatureIndices,
    dataset_indexer,
    signature_indices,
)
from alsig.errors import AlsigError
from alsig.keys import library_sizes, te_block
from alsig.settings import ScoreSettings
from alsig.signatures.model import CELL_TYPE_AXIS, Signature
from alsig.stages.score.composites import AXIS_PREFIX, axis_composites, composition_residuals
from alsig.stages.score.coverage import signature_coverage
from alsig.stages.score.reference import References, reference_strata, sample_flags
from alsig.stages.score.retrotransposons import METHOD as TE_METHOD
from alsig.stages.score.retrotransposons import NO_TE_INPUT, te_coverage, te_log2cpm
from alsig.stages.score.singscore import singscore
from alsig.stages.score.ssgsea import ssgsea
from alsig.tables import COLUMNS, SCHEMA_NAME, SCHEMA_VERSION, schemas

log = logging.getLogger(__name__)

METHODS = ("singscore", "ssgsea", "singscore_adjusted")


@dataclass
class ScoreResult:
    """Everything one scoring pass produces for a dataset."""

    long: pl.DataFrame  # the public long table (alsig.tables.COLUMNS)
    coverage: pl.DataFrame  # signature_coverage() + dataset column
    wide: dict[str, pd.DataFrame]  # method -> samples x signatures (obsm export)
    notes: list[str]  # reasons for nulls (also logged)
    references: pl.DataFrame | None = None  # reference strata (reference_strata schema)
    reference_by: tuple[str, ...] = ()  # the sample columns that defined them
    # the cell indices per signature (singscore_adjusted, the composition share, axis tests)
    cell_indices: SignatureIndices | None = None


@dataclass
class MethodScores:
    """One method's values for a dataset: a column per signature, then per axis composite."""

    values: np.ndarray  # samples x columns, NaN = not scored
    dispersion: np.ndarray  # samples x columns, NaN where the method has none
    names: list[str]
    axes: list[str]
    n_genes: list[int]
    n_genes_used: list[int]

    def columns(self, keep: Sequence[int]) -> MethodScores:
        """Return the columns ``keep`` (positions), in that order."""
        return MethodScores(
            values=self.values[:, keep],
            dispersion=self.dispersion[:, keep],
            names=[self.names[i] for i in keep],
            axes=[self.axes[i] for i in keep],
            n_genes=[self.n_genes[i] for i in keep],
            n_genes_used=[self.n_genes_used[i] for i in keep],
        )


@dataclass
class ScoredSignatures:
    """The signatures of a run and which of them a dataset covers well enough to score."""

    signatures: list[Signature]
    coverage: pl.DataFrame  # signature_coverage() rows
    flagged: list[bool] = field(init=False)

    def __post_init__(self) -> None:
        """Read the flags of the coverage table."""
        self.flagged = self.coverage["flagged"].to_list()

    @property
    def scored_index(self) -> list[int]:
        """Positions of the signatures that are scored (not flagged)."""
        return [i for i, f in enumerate(self.flagged) if not f]

    @property
    def scored(self) -> list[Signature]:
        """The signatures that are scored (not flagged)."""
        return [self.signatures[i] for i in self.scored_index]

    def expand(self, values: np.ndarray) -> np.ndarray:
        """Return samples x scored signatures as samples x every signature (NaN: flagged ones)."""
        out = np.full((values.shape[0], len(self.signatures)), np.nan)
        out[:, self.scored_index] = values
        return out


@dataclass
class Samples:
    """Per-sample columns of the long table and the control flag."""

    names: list[str]
    subject: list[str | None]
    condition: list[str | None]
    references: References
    flags: list[str | None]


def check_methods(methods: Sequence[str] | str, min_coverage: float) -> list[str]:
    """Return the scoring methods, each once, in order; checks them and ``min_coverage``.

    Parameters
    ----------
    methods
        Names from :data:`METHODS` (a single name is accepted).
    min_coverage
        Must be in (0, 1].

    Returns
    -------
    list of str

    Raises
    ------
    AlsigError
        An unknown method, no method, or ``min_coverage`` out of range (naming the config key).
    """
    methods = [methods] if isinstance(methods, str) else list(methods)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise AlsigError(
            f"config key score.methods: {bad or methods} not known; choose from {', '.join(METHODS)}."
        )
    if not 0 < float(min_coverage) <= 1:
        raise AlsigError("config key score.min_coverage must be in (0, 1].")
    return list(dict.fromkeys(methods))


def expression_matrix(adata: Any, layer: str | None) -> Any:
    """Return the samples x genes matrix that is scored.

    Parameters
    ----------
    adata
        The QC'd AnnData.
    layer
        A layer name, or ``None`` / ``"X"`` for ``adata.X``.

    Returns
    -------
    numpy.ndarray or scipy.sparse matrix

    Raises
    ------
    AlsigError
        The layer does not exist (naming the layers there are).
    """
    if layer in (None, "X"):
        return adata.X
    if layer not in adata.layers:
        raise AlsigError(
            f"layer '{layer}' is not in the AnnData (layers: {', '.join(adata.layers) or 'none'}); "
            "set score.layer to an existing layer or 'X'."
        )
    return adata.layers[layer]


@dataclass
class Notes:
    """Why values of a dataset are null: each note is logged as a warning and kept."""

    dataset: str
    messages: list[str] = field(default_factory=list)

    def warn(self, message: str, method: str | None = None) -> None:
        """Log and keep ``message``, prefixed with the dataset (and method) it concerns."""
        where = f"dataset {self.dataset}" + (f", method {method}" if method else "")
        log.warning("%s: %s", where, message)
        self.messages.append(f"{where}: {message}")


def _obs_column(adata: Any, column: str, default: Sequence[str] | None) -> list[str | None]:
    if column in adata.obs:
        return [None if pd.isna(v) else str(v) for v in adata.obs[column]]
    return list(default) if default is not None else [None] * adata.n_obs


def _samples(
    adata: Any,
    control_column: str,
    control_label: str,
    reference_by: Sequence[str] | None,
    notes: Notes,
) -> Samples:
    names = [str(s) for s in adata.obs_names]
    if control_column not in adata.obs:
        notes.warn(f"obs has no column '{control_column}'; z_vs_control is null")
    references = reference_strata(
        adata.obs,
        control_column=control_column,
        control_label=control_label,
        reference_by=reference_by,
    )
    for row in references.table.filter(~pl.col("usable")).iter_rows(named=True):
        notes.warn(f"reference stratum '{row['stratum']}': {row['reason']}")
    return Samples(
        names=names,
        subject=_obs_column(adata, "subject", names),
        condition=_obs_column(adata, "condition", None),
        references=references,
        flags=sample_flags(adata.obs),
    )


def _scored_signatures(
    genes: list[str], signatures: Sequence[Signature], min_coverage: float, notes: Notes
) -> ScoredSignatures:
    coverage = signature_coverage(genes, signatures, min_coverage=min_coverage)
    for row in coverage.filter(pl.col("flagged")).iter_rows(named=True):
        notes.warn(f"signature '{row['signature']}' not scored: {row['reason']}")
    return ScoredSignatures(list(signatures), coverage)


def _with_composites(
    values: np.ndarray, dispersion: np.ndarray, sigs: ScoredSignatures, genes: list[str]
) -> MethodScores:
    comp = axis_composites(values, sigs.signatures, genes, sigs.flagged)
    return MethodScores(
        values=np.column_stack([values, comp.values]),
        dispersion=np.column_stack([dispersion, np.full(comp.values.shape, np.nan)]),
        names=[s.name for s in sigs.signatures] + comp.names,
        axes=[s.axis for s in sigs.signatures] + comp.axes,
        n_genes=sigs.coverage["n_genes"].to_list() + comp.n_genes,
        n_genes_used=sigs.coverage["n_genes_used"].to_list() + comp.n_genes_used,
    )


def _composition_adjusted(
    scores: MethodScores, cell_indices: SignatureIndices, samples: list[str], notes: Notes
) -> MethodScores:
    """``singscore_adjusted``: every non-cell-type column regressed on its cell indices.

    Each column's regressors are the indices of :data:`~alsig.cellmix.ADJUSTMENT_TYPES`
    recomputed without that signature's genes (a composite: its scored signatures' genes).
    """
    kept = scores.columns([i for i, a in enumerate(scores.axes) if a != CELL_TYPE_AXIS])
    adjusted = np.full(kept.values.shape, np.nan)
    base = cell_indices.base.values
    if not any(t in base and base[t].notna().all() for t in ADJUSTMENT_TYPES):
        notes.warn(
            f"fewer than {MIN_MARKERS} BRETIGEA markers of each of "
            f"{', '.join(ADJUSTMENT_TYPES)} are expressed (qc/cell_markers.tsv): no cell index, "
            "singscore_adjusted is null"
        )
        return replace(kept, values=adjusted, dispersion=np.full(adjusted.shape, np.nan))
    for j, name in enumerate(kept.names):
        indices = cell_indices.of(name).reindex(samples)
        usable = [t for t in ADJUSTMENT_TYPES if t in indices and indices[t].notna().all()]
        if usable:
            adjusted[:, [j]] = composition_residuals(
                kept.values[:, [j]], indices[usable].to_numpy(dtype=float)
            )
    if not np.isfinite(adjusted).any() and np.isfinite(kept.values).any():
        notes.warn(
            f"{len(samples)} samples and the cell indices do not allow the regression; "
            "singscore_adjusted is null"
        )
    return replace(kept, values=adjusted, dispersion=np.full(adjusted.shape, np.nan))


def cell_index_gene_sets(
    sigs: ScoredSignatures, te_signatures: Sequence[Signature] = ()
) -> dict[str, list[str]]:
    """Return the genes each score column leaves out of its cell indices.

    Parameters
    ----------
    sigs
        The gene signatures and which of them are scored.
    te_signatures
        The TE signatures (their features are not genes: nothing is left out).

    Returns
    -------
    dict
        Column name -> genes: a signature's own genes; an axis composite's, the union of its
        scored signatures' genes; TE signatures and their composites, none.
    """
    sets: dict[str, list[str]] = {s.name: s.genes for s in sigs.signatures}
    for i, signature in enumerate(sigs.signatures):
        if signature.is_cell_type:
            continue
        composite = sets.setdefault(AXIS_PREFIX + signature.axis, [])
        if not sigs.flagged[i]:
            composite.extend(g for g in signature.genes if g not in composite)
    for signature in te_signatures:
        sets[signature.name] = []
        sets.setdefault(AXIS_PREFIX + signature.axis, [])
    return sets


def _singscore_values(
    X: Any, genes: list[str], sigs: ScoredSignatures, chunk_size: int
) -> tuple[np.ndarray, np.ndarray]:
    if sigs.scored:
        values, dispersion = singscore(X, genes, sigs.scored, chunk_size=chunk_size)
    else:
        values = dispersion = np.empty((X.shape[0], 0))
    return sigs.expand(values), sigs.expand(dispersion)


def _ssgsea_values(
    X: Any, genes: list[str], sigs: ScoredSignatures, weight: float, chunk_size: int
) -> tuple[np.ndarray, np.ndarray]:
    values = (
        ssgsea(X, genes, sigs.scored, weight=weight, chunk_size=chunk_size)
        if sigs.scored
        else np.empty((X.shape[0], 0))
    )
    return sigs.expand(values), np.full((X.shape[0], len(sigs.signatures)), np.nan)


def _te_scores(
    adata: Any, te_signatures: Sequence[Signature], min_coverage: float, notes: Notes
) -> tuple[MethodScores, pl.DataFrame]:
    """Return the retrotransposon signatures' ``log2cpm`` scores (and composite), and coverage."""
    block = te_block(adata)
    coverage = te_coverage(block, te_signatures, min_coverage)
    sigs = ScoredSignatures(list(te_signatures), coverage)
    values = np.full((adata.n_obs, len(te_signatures)), np.nan)
    if block is None:
        notes.warn(f"{NO_TE_INPUT}: the retrotransposon signatures are not scored", TE_METHOD)
    elif sigs.scored:
        values = sigs.expand(te_log2cpm(block, library_sizes(adata), sigs.scored))
    subfamilies = [] if block is None else [c.split(":", 1)[0] for c in block.columns]
    return _with_composites(values, np.full(values.shape, np.nan), sigs, subfamilies), coverage


def _score_methods(
    X: Any,
    genes: list[str],
    sigs: ScoredSignatures,
    methods: list[str],
    ssgsea_weight: float,
    chunk_size: int,
    notes: Notes,
    cell_indices: SignatureIndices | None = None,
    samples: list[str] | None = None,
) -> dict[str, MethodScores]:
    # singscore and singscore_adjusted share one singscore pass
    base: tuple[np.ndarray, np.ndarray] | None = None
    per_method: dict[str, MethodScores] = {}
    for method in methods:
        log.info(
            "dataset %s: scoring %d signatures with %s", notes.dataset, len(sigs.scored), method
        )
        if method == "ssgsea":
            values, dispersion = _ssgsea_values(X, genes, sigs, ssgsea_weight, chunk_size)
        else:
            if base is None:
                base = _singscore_values(X, genes, sigs, chunk_size)
            values, dispersion = base
        scores = _with_composites(values, dispersion, sigs, genes)
        if method == "singscore_adjusted":
            assert cell_indices is not None and samples is not None  # score_anndata gives them
            scores = _composition_adjusted(scores, cell_indices, samples, notes)
        per_method[method] = scores
    return per_method


def _nullable(values: np.ndarray) -> pl.Series:
    """Float64 series with NaN turned into null (nulls are the documented 'no value')."""
    return pl.Series(values, dtype=pl.Float64, nan_to_null=True)


def _method_rows(
    dataset: str, method: str, scores: MethodScores, z: np.ndarray, samples: Samples
) -> pl.DataFrame:
    n_s, n_k = scores.values.shape
    n = n_s * n_k
    return pl.DataFrame(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "alsig_version": [__version__] * n,
            "dataset": [dataset] * n,
            "sample": np.repeat(samples.names, n_k).tolist(),
            "subject": np.repeat(np.array(samples.subject, dtype=object), n_k).tolist(),
            "condition": np.repeat(np.array(samples.condition, dtype=object), n_k).tolist(),
            "signature": scores.names * n_s,
            "axis": scores.axes * n_s,
            "method": [method] * n,
            "score": _nullable(scores.values.ravel()),
            "dispersion": _nullable(scores.dispersion.ravel()),
            "z_vs_control": _nullable(z.ravel()),
            "reference_stratum": np.repeat(
                np.array(samples.references.stratum, dtype=object), n_k
            ).tolist(),
            "qc_flag": np.repeat(np.array(samples.flags, dtype=object), n_k).tolist(),
            "n_genes": scores.n_genes * n_s,
            "n_genes_used": scores.n_genes_used * n_s,
        },
        schema=schemas.polars_schema(SCHEMA_NAME),
    )


def _tables(
    per_method: dict[str, MethodScores], samples: Samples, notes: Notes
) -> tuple[pl.DataFrame, dict[str, pd.DataFrame]]:
    """Return the long table (with z vs controls) and the per-method samples x signatures frames."""
    frames = []
    wide: dict[str, pd.DataFrame] = {}
    index = pd.Index(samples.names, name="sample")
    for method, scores in per_method.items():
        z = samples.references.z(scores.values)
        frames.append(_method_rows(notes.dataset, method, scores, z, samples))
        wide[method] = pd.DataFrame(scores.values, index=index, columns=scores.names)
    long = pl.concat(frames).select(COLUMNS) if frames else schemas.empty(SCHEMA_NAME)
    return long, wide


def score_anndata(
    adata: Any,
    signatures: Sequence[Signature],
    te_signatures: Sequence[Signature],
    *,
    settings: ScoreSettings,
    dataset: str | None,
    with_cell_indices: bool = False,
) -> ScoreResult:
    """Score every sample of ``adata`` with every signature.

    Parameters
    ----------
    adata
        obs = samples, var index = gene symbols (the QC'd AnnData).
    signatures
        The gene signatures of the run.
    te_signatures
        Transposable-element signatures, scored as ``log2cpm`` from ``obsm["te_counts"]``
        (:mod:`alsig.stages.score.retrotransposons`); null, flagged "no TE input", without it.
    settings
        The ``score:`` settings: methods, layer, coverage, controls, reference strata, ssGSEA
        weight and chunk size.
    dataset
        Dataset id of the rows (``None``: ``adata.uns["dataset"]``).
    with_cell_indices
        Also compute the cell indices per signature (:attr:`ScoreResult.cell_indices`; always
        done when ``singscore_adjusted`` is among the methods).

    Returns
    -------
    ScoreResult
        The long table, coverage, samples x signatures frames per method, the notes and (when
        computed) the cell indices per signature.
    """
    min_coverage = settings.min_coverage
    methods = check_methods(settings.methods, min_coverage)
    notes = Notes(dataset or str(adata.uns.get("dataset", "dataset")))
    genes = [str(g) for g in adata.var_names]
    X = expression_matrix(adata, settings.layer)
    sigs = _scored_signatures(genes, signatures, min_coverage, notes)
    samples = _samples(
        adata, settings.control_column, settings.control_label, settings.reference_by, notes
    )
    cell_indices = None
    if with_cell_indices or "singscore_adjusted" in methods:
        indexer = dataset_indexer(adata, settings.layer)
        cell_indices = signature_indices(indexer, cell_index_gene_sets(sigs, te_signatures))
    per_method = _score_methods(
        X,
        genes,
        sigs,
        methods,
        settings.ssgsea_weight,
        settings.chunk_size,
        notes,
        cell_indices,
        samples.names,
    )
    coverage = sigs.coverage
    if te_signatures:
        per_method[TE_METHOD], te_coverage_rows = _te_scores(
            adata, te_signatures, min_coverage, notes
        )
        coverage = pl.concat([coverage, te_coverage_rows])
    long, wide = _tables(per_method, samples, notes)
    coverage = coverage.with_columns(pl.lit(notes.dataset).alias("dataset"))
    coverage = coverage.select("dataset", *sigs.coverage.columns)
    return ScoreResult(
        long=long,
        coverage=coverage,
        wide=wide,
        notes=notes.messages,
        references=samples.references.table,
        reference_by=tuple(samples.references.columns),
        cell_indices=cell_indices,
    )
