"""Per-sample cell-type marker indices from log-scale expression.

An index says how much of a cell type's marker signal a sample carries *relative to other
samples*: arbitrary units, not proportions. Bulk RNA of a cell type scales with its cell number,
its RNA per cell and its state, so an index moves with all three (reactive astrocytes raise GFAP
without new astrocytes; disease-associated microglia lower their homeostatic genes).

Four methods, fixed before validation (``bench/results/cell_indices.md``):

``rank`` (default)
    singscore's up-set score of the markers (Foroutan et al. 2018): genes are ranked within the
    sample (ties ``min``), the markers' mean rank is scaled to [0, 1] between its lowest and
    highest possible value and centred, giving [-0.5, 0.5]. Uses only the sample itself, so a
    sample's index never changes when others are added or removed; on QC's VST this holds
    exactly (size factors and the VST are monotone within a sample, ranks do not see them),
    and it needs no control samples.
``mean_z``
    mean over markers of ``(x - mean of reference) / sd of reference`` (the reference: the
    dataset's control samples). Sample-stable while the reference is fixed and the expression
    of a sample does not depend on the cohort (log CPM; QC's VST is cohort-fitted, so only
    approximately).
``median_z``
    the median of the same z-scores: a minority of markers regulated per cell rather than by
    cell number (homeostatic microglial genes fall in activated microglia, GFAP rises in
    reactive astrocytes) cannot move it.
``svd``
    BRETIGEA's surrogate proportion variable (McKenzie et al. 2018, after CellCODE, Chikina et
    al. 2015): the markers standardised over all samples, the first right singular vector,
    signed so that it correlates positively with the markers on average; standardised to SD 1.
    The comparator: cohort-relative by construction (adding samples changes every index).

All indices point the same way: higher = more of that cell type's marker signal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from alsig.blocks import GENE_BLOCK, SAMPLE_BLOCK, blocks
from alsig.cellmix.markers import N_MARKERS, MarkerLists, MarkerSelection, load_markers
from alsig.distributions import rankdata
from alsig.errors import AlsigError, name_some
from alsig.keys import EXPRESSED

METHODS = ("rank", "mean_z", "median_z", "svd")
#: chosen on the Allen validation set by the rule fixed before it was run (bench/results/cell_indices.md)
DEFAULT_METHOD = "rank"
#: methods that need reference (control) samples
REFERENCE_METHODS = ("mean_z", "median_z")
#: fewest reference samples for a z-score method (as the signature scores' z_vs_control)
MIN_REFERENCE = 3
#: fewest markers a cell type needs for an index
MIN_MARKERS = 5


@dataclass(frozen=True)
class CellIndices:
    """Cell-type marker indices of a set of samples.

    ``values``: samples x cell types (NaN where a cell type has fewer than
    :data:`MIN_MARKERS` markers); ``selection``: the markers used and their coverage;
    ``reference``: which samples the z-scores (or the SVD) are relative to.
    """

    values: pd.DataFrame
    method: str
    selection: MarkerSelection
    reference: str

    def table(self, obs: pd.DataFrame | None = None, columns: Sequence[str] = ()) -> pl.DataFrame:
        """Return the indices as a wide table.

        Parameters
        ----------
        obs
            Sample table whose ``columns`` are added (index = sample ids).
        columns
            Columns of ``obs`` to add (e.g. condition, region); ignored without ``obs``.

        Returns
        -------
        polars.DataFrame
            ``sample``, ``method``, the ``columns`` of ``obs``, then one column per cell type
            (null where a cell type has too few markers).
        """
        frame = pd.DataFrame({"sample": self.values.index.astype(str), "method": self.method})
        for column in columns:
            values = obs.loc[self.values.index, column] if obs is not None else None
            frame[column] = None if values is None else values.astype("string").to_numpy()
        for cell_type in self.values.columns:
            frame[cell_type] = self.values[cell_type].to_numpy(dtype=float)
        return pl.from_pandas(frame).fill_nan(None)


class CellIndexer:
    """The cell indices of one expression matrix, recomputable without any set of genes.

    Checks the expression and ranks it once; :meth:`indices` then gives the indices with any
    genes left out, exactly as :func:`cell_indices` on the reduced matrix would, at the cost of
    the markers only (a gene's within-sample ``min`` rank is one plus the genes below it, so
    leaving genes out lowers it by the left-out genes below it). Adjusting each of a dataset's
    signatures for the cell mix recomputed without its own genes therefore costs one ranking.

    Parameters are those of :func:`cell_indices`.
    """

    def __init__(
        self,
        expression: pd.DataFrame,
        markers: MarkerLists | None = None,
        *,
        method: str = DEFAULT_METHOD,
        reference: Sequence[bool] | pd.Series | np.ndarray | None = None,
        n_markers: int = N_MARKERS,
    ) -> None:
        if method not in METHODS:
            raise AlsigError(
                f"unknown cell index method '{method}'; use one of {', '.join(METHODS)}."
            )
        self.method = method
        self.markers = markers or load_markers()
        self.n_markers = n_markers
        data = (
            expression.loc[:, ~expression.columns.duplicated()]
            if expression.columns.has_duplicates
            else expression
        )
        self.values = data.to_numpy(dtype=float)  # a view of a float64 frame, not a copy
        if not np.isfinite(self.values).all():
            bad = name_some(data.columns[~np.isfinite(self.values).all(axis=0)])
            raise AlsigError(
                f"expression has missing or infinite values (genes {bad}); pass log-scale "
                "expression (VST or log CPM) without missing values."
            )
        self.samples = data.index
        self.genes = data.columns
        self.positions = {g: j for j, g in enumerate(self.genes)}
        self.usable = self.genes[_gene_sd(self.values) > 0]  # a constant gene has no signal
        self.is_reference, self.reference_note = _reference(reference, self.samples)
        self._ranks = _within_sample_ranks(self.values) if method == "rank" else None

    def indices(self, exclude_genes: Iterable[str] = ()) -> CellIndices:
        """Compute the indices with ``exclude_genes`` treated as not measured.

        Parameters
        ----------
        exclude_genes
            Genes to leave out (genes not in the matrix are ignored).

        Returns
        -------
        CellIndices
            What :func:`cell_indices` gives on the matrix without those genes.
        """
        excluded = [g for g in dict.fromkeys(exclude_genes) if g in self.positions]
        selection = self.markers.select(self.usable, n_markers=self.n_markers, exclude=excluded)
        out = pd.DataFrame(np.nan, index=self.samples, columns=self.markers.cell_types)
        gone = [self.positions[g] for g in excluded]
        for cell_type, genes in selection.genes.items():
            if len(genes) < MIN_MARKERS:
                continue
            columns = [self.positions[g] for g in genes]
            if self.method == "rank":
                out[cell_type] = self._rank_score(columns, gone)
            elif self.method in REFERENCE_METHODS:
                out[cell_type] = _z_score(self.values[:, columns], self.is_reference, self.method)
            else:
                out[cell_type] = _svd_score(self.values[:, columns])
        description = {
            "rank": "none (within-sample ranks)",
            "svd": f"all {len(self.samples)} samples (SVD)",
        }.get(self.method, self.reference_note)
        return CellIndices(out, self.method, selection, description)

    def _rank_score(self, columns: list[int], gone: list[int]) -> np.ndarray:
        """Singscore up-set score of ``columns`` in the universe without ``gone``."""
        assert self._ranks is not None  # __init__ ranks the expression for the rank method
        ranks = self._ranks[:, columns]
        if gone:
            markers = self.values[:, columns]
            removed = self.values[:, gone]
            ranks = ranks - (removed[:, None, :] < markers[:, :, None]).sum(axis=2)
        n_genes, k = len(self.genes) - len(gone), len(columns)
        return (ranks.mean(axis=1) - (k + 1) / 2) / (n_genes - k) - 0.5


def cell_indices(
    expression: pd.DataFrame,
    markers: MarkerLists | None = None,
    *,
    method: str = DEFAULT_METHOD,
    reference: Sequence[bool] | pd.Series | np.ndarray | None = None,
    n_markers: int = N_MARKERS,
    exclude_genes: Iterable[str] = (),
) -> CellIndices:
    """Cell-type marker indices of every sample.

    Parameters
    ----------
    expression
        Log-scale expression (QC's VST or log CPM), samples x genes, gene symbols as columns;
        pass the dataset's expressed genes (the rank universe and the genes markers are
        taken from).
    markers
        Ranked marker lists; default the shipped BRETIGEA human brain markers.
    method
        One of :data:`METHODS`.
    reference
        Per sample: a reference sample (the dataset's usable controls). Used by ``mean_z`` and
        ``median_z``; when None every sample is the reference (then the index is relative to
        the cohort, not sample-stable).
    n_markers
        Markers per cell type: the first ``n_markers`` of each list that ``expression`` has.
    exclude_genes
        Genes left out entirely, as if not measured (not markers, not in the rank universe):
        indices for adjusting a signature that shares genes with the markers are computed
        without that signature's genes; later markers of each list take their place. For many
        such sets use :class:`CellIndexer` (one ranking for all of them).

    Returns
    -------
    CellIndices

    Raises
    ------
    AlsigError
        Unknown method, non-finite expression, or fewer than :data:`MIN_REFERENCE` reference
        samples for a z-score method.
    """
    indexer = CellIndexer(
        expression, markers, method=method, reference=reference, n_markers=n_markers
    )
    return indexer.indices(exclude_genes)


def _gene_sd(values: np.ndarray) -> np.ndarray:
    """Per-gene standard deviation of samples x genes, by gene blocks (no full-size temporary).

    Column slices keep the matrix's memory order, so each gene's value is that of
    ``values.std(axis=0)`` (:mod:`alsig.blocks`).
    """
    out = np.empty(values.shape[1])
    for part in blocks(values.shape[1], GENE_BLOCK):
        out[part] = values[:, part].std(axis=0)
    return out


def _within_sample_ranks(values: np.ndarray) -> np.ndarray:
    """``min`` ranks of each sample's genes (``rankdata(values, "min", axis=1)``) as int32.

    By sample blocks: ``rankdata``'s temporaries are a block's, and int32 ranks (exact up to
    2**31 genes) take half of int64's memory.
    """
    ranks = np.empty(values.shape, dtype=np.int32)
    for rows in blocks(values.shape[0], SAMPLE_BLOCK):
        ranks[rows] = rankdata(values[rows], method="min", axis=1)
    return ranks


def _reference(reference: Any, index: pd.Index) -> tuple[np.ndarray, str]:
    if reference is None:
        return np.ones(len(index), dtype=bool), f"all {len(index)} samples"
    mask = np.asarray(reference, dtype=bool)
    if mask.shape != (len(index),):
        raise AlsigError(
            f"reference has {mask.size} values for {len(index)} samples; pass one per sample."
        )
    return mask, f"{int(mask.sum())} reference (control) samples"


def _z_score(markers: np.ndarray, is_reference: np.ndarray, method: str) -> np.ndarray:
    n_reference = int(is_reference.sum())
    if n_reference < MIN_REFERENCE:
        raise AlsigError(
            f"cell index method '{method}' needs at least {MIN_REFERENCE} reference (control) "
            f"samples; {n_reference} given. Use method 'rank', which needs none."
        )
    ref = markers[is_reference]
    sd = ref.std(axis=0, ddof=1)
    keep = sd > 0  # a marker constant in the reference has no scale
    z = (markers[:, keep] - ref[:, keep].mean(axis=0)) / sd[keep]
    return z.mean(axis=1) if method == "mean_z" else np.median(z, axis=1)


def _svd_score(markers: np.ndarray) -> np.ndarray:
    centred = markers - markers.mean(axis=0)
    scaled = centred / centred.std(axis=0, ddof=1)
    u, s, _ = np.linalg.svd(scaled, full_matrices=False)
    score = u[:, 0] * s[0]
    mean_corr = np.mean([np.corrcoef(score, scaled[:, j])[0, 1] for j in range(scaled.shape[1])])
    score = -score if mean_corr < 0 else score
    return score / score.std(ddof=1)


def expression_frame(
    adata: Any, layer: str = "vst", *, expressed_only: bool = True
) -> pd.DataFrame:
    """Return the samples x genes log-scale expression of a QC'd AnnData for :func:`cell_indices`.

    Parameters
    ----------
    adata
        QC output (layers ``vst``; ``var["expressed"]``).
    layer
        The log-scale layer.
    expressed_only
        Keep only ``var["expressed"]`` genes when that column exists.

    Returns
    -------
    pandas.DataFrame
        Index = sample names, columns = gene symbols.

    Raises
    ------
    AlsigError
        The layer does not exist.
    """
    if layer not in adata.layers:
        raise AlsigError(
            f"layer '{layer}' is not in the AnnData (layers: {', '.join(adata.layers) or 'none'})."
        )
    keep = (
        adata.var[EXPRESSED].to_numpy(dtype=bool)
        if expressed_only and EXPRESSED in adata.var
        else np.ones(adata.n_vars, dtype=bool)
    )
    matrix = adata.layers[layer][:, keep]
    matrix = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    return pd.DataFrame(
        matrix.astype(float), index=adata.obs_names.astype(str), columns=adata.var_names[keep]
    )


def log_cpm(counts: pd.DataFrame, prior_count: float = 1.0) -> pd.DataFrame:
    """Compute log counts per million, a per-sample expression that ignores the other samples.

    Parameters
    ----------
    counts
        Samples x genes counts.
    prior_count
        Added to the CPM before the log.

    Returns
    -------
    pandas.DataFrame
        ``log2(counts / library size x 1e6 + prior_count)``, samples x genes.

    Raises
    ------
    AlsigError
        A sample has no counts.
    """
    library = counts.sum(axis=1).to_numpy(dtype=float)
    if (library <= 0).any():
        empty = name_some(counts.index[library <= 0])
        raise AlsigError(f"samples {empty} have no counts; remove them before log CPM.")
    return np.log2(counts.div(library, axis=0) * 1e6 + prior_count)
