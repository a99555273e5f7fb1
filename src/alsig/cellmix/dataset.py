"""The cell indices of one workflow dataset: one definition for QC, scoring, axis tests, subtypes.

QC writes a dataset's indices (``qc/cell_indices.parquet``); the score stage recomputes them
without each signature's genes for the composition diagnostics and ``singscore_adjusted``; the
axis tests adjust for them; the subtype stage can use them for its glia state. Every one of those
calls :func:`dataset_indexer`, so the indices are the same function of the same matrix
everywhere: the default method (:data:`~alsig.cellmix.DEFAULT_METHOD`, ``rank``) on QC's
expressed genes of the scored layer. For ``rank`` the layer does not matter (within a sample the
VST, the normalised counts and the counts order the genes identically), so QC's VST and the
scoring layer give the same indices.

Which indices are adjusted for. All six cell types are reported; the adjustment (axis tests,
``singscore_adjusted``, the composition share) uses :data:`ADJUSTMENT_TYPES`, the four major
types. The six-index covariate rule is not met in any real cohort (four principal components are
needed for 80 % of their variance, more than 88 donors afford); the OPC list is weak (31-35 of its
top 50 measured, clone names and DNA-repair genes) and endothelial cells are not a hypothesised
confounder of the cortex axes (``bench/results/cell_indices.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from alsig.cellmix.indices import (
    DEFAULT_METHOD,
    REFERENCE_METHODS,
    CellIndexer,
    CellIndices,
    expression_frame,
)
from alsig.cellmix.markers import CELL_TYPES
from alsig.errors import AlsigError
from alsig.keys import CONDITION, EXPRESSED, QC_EXCLUSION, VST
from alsig.tables import schemas

#: the cell types whose indices are adjusted for (the four major types)
ADJUSTMENT_TYPES = ("neurons", "astrocytes", "microglia", "oligodendrocytes")
#: the reported cell types not adjusted for, and why
NOT_ADJUSTED = {
    "endothelial": "not a hypothesised confounder of the cortex axes",
    "opcs": "weak marker list (31-35 of its top 50 measured in the real cohorts)",
}
#: the control label whose samples are the reference of the z-score methods
CONTROL_LABEL = "control"
#: fewest controls for a per-stratum z-score of an index (:func:`control_z`)
MIN_CONTROLS = 3
#: the schema of :meth:`SignatureIndices.table` (the score stage's per-signature indices)
SIGNATURE_SCHEMA = "signature_cell_indices"


def reference_samples(obs: pd.DataFrame, control_label: str = CONTROL_LABEL) -> np.ndarray:
    """Return which samples are the reference of the z-score index methods.

    Parameters
    ----------
    obs
        The QC'd sample table.
    control_label
        The ``condition`` value of controls.

    Returns
    -------
    numpy.ndarray
        Per sample: a control that QC does not exclude.
    """
    is_control = (
        obs[CONDITION].astype(str).eq(control_label).to_numpy()
        if CONDITION in obs
        else np.zeros(len(obs), dtype=bool)
    )
    if QC_EXCLUSION in obs:
        reason = obs[QC_EXCLUSION].fillna("").astype(str).str.strip()
        is_control &= reason.eq("").to_numpy()
    return is_control


def dataset_indexer(
    adata: Any, layer: str | None = VST, *, method: str = DEFAULT_METHOD
) -> CellIndexer:
    """Return the cell indexer of a QC'd dataset (its expressed genes, its kept controls).

    Parameters
    ----------
    adata
        The QC'd AnnData (``var["expressed"]``; the layer).
    layer
        The log-scale layer (``None`` or ``"X"``: ``adata.X``).
    method
        Index method; the workflow uses the default everywhere.

    Returns
    -------
    CellIndexer
        Ranks the expression once; :meth:`CellIndexer.indices` gives the indices, with any genes
        left out.

    Raises
    ------
    AlsigError
        The layer does not exist, the expression is not finite, or a z-score method lacks
        controls.
    """
    if layer in (None, "X"):
        keep = (
            adata.var[EXPRESSED].to_numpy(dtype=bool)
            if EXPRESSED in adata.var
            else np.ones(adata.n_vars, dtype=bool)
        )
        matrix = adata.X[:, keep]
        matrix = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
        expression = pd.DataFrame(
            matrix.astype(float), index=adata.obs_names.astype(str), columns=adata.var_names[keep]
        )
    else:
        expression = expression_frame(adata, layer)
    reference = reference_samples(adata.obs) if method in REFERENCE_METHODS else None
    return CellIndexer(expression, method=method, reference=reference)


@dataclass(frozen=True)
class SignatureIndices:
    """A dataset's cell indices and, per signature, the indices recomputed without its genes.

    ``base``: the indices of all expressed genes (QC's); ``by_signature``: name -> samples x
    cell types; ``markers_excluded``: name -> markers of :data:`ADJUSTMENT_TYPES` that were the
    signature's genes and were replaced by the next ones of their list.
    """

    base: CellIndices
    by_signature: Mapping[str, pd.DataFrame]
    markers_excluded: Mapping[str, int]

    def of(self, signature: str) -> pd.DataFrame:
        """Return the indices for adjusting ``signature`` (the base indices if it has none)."""
        return self.by_signature.get(signature, self.base.values)

    def table(self, dataset: str) -> pl.DataFrame:
        """Return the long table of the ``signature_cell_indices`` schema.

        Parameters
        ----------
        dataset
            The dataset id.

        Returns
        -------
        polars.DataFrame
            One row per signature x sample: dataset, signature, sample, markers_excluded and one
            column per cell type.
        """
        frames = []
        for name, values in self.by_signature.items():
            frame = pd.DataFrame(
                {
                    "dataset": dataset,
                    "signature": name,
                    "sample": values.index.astype(str),
                    "markers_excluded": self.markers_excluded.get(name, 0),
                }
            )
            for cell_type in CELL_TYPES:
                frame[cell_type] = (
                    values[cell_type].to_numpy(dtype=float) if cell_type in values else np.nan
                )
            frames.append(frame)
        if not frames:
            return schemas.empty(SIGNATURE_SCHEMA)
        table = pl.from_pandas(pd.concat(frames, ignore_index=True)).fill_nan(None)
        return schemas.validate(
            schemas.conform(table, SIGNATURE_SCHEMA), SIGNATURE_SCHEMA, "cell indices"
        )


def signature_indices(
    indexer: CellIndexer, gene_sets: Mapping[str, Iterable[str]]
) -> SignatureIndices:
    """Compute the indices for adjusting each gene set: recomputed as if its genes were not measured.

    Parameters
    ----------
    indexer
        The dataset's indexer (:func:`dataset_indexer`).
    gene_sets
        Signature (or composite) name -> its genes; genes outside the indexer's matrix are
        ignored (an empty set gives the base indices).

    Returns
    -------
    SignatureIndices
    """
    base = indexer.indices()
    by_signature: dict[str, pd.DataFrame] = {}
    excluded: dict[str, int] = {}
    cache: dict[frozenset[str], tuple[pd.DataFrame, int]] = {}
    for name, genes in gene_sets.items():
        present = frozenset(g for g in genes if g in indexer.positions)
        if present not in cache:
            if present:
                result = indexer.indices(present)
                coverage = result.selection.coverage.set_index("cell_type")
                n = int(coverage.loc[list(ADJUSTMENT_TYPES), "n_excluded"].sum())
                cache[present] = (result.values, n)
            else:
                cache[present] = (base.values, 0)
        by_signature[name], excluded[name] = cache[present]
    return SignatureIndices(base, by_signature, excluded)


def indices_from_table(table: pl.DataFrame) -> dict[str, pd.DataFrame]:
    """Read back a ``signature_cell_indices`` table.

    Parameters
    ----------
    table
        The score stage's ``cell_indices_by_signature.parquet``.

    Returns
    -------
    dict
        Signature -> samples x cell types (index = sample ids).
    """
    frame = table.to_pandas()
    types = [c for c in CELL_TYPES if c in frame.columns]
    return {
        str(name): part.set_index("sample")[types].astype(float)
        for name, part in frame.groupby("signature", sort=False)
    }


def read_cell_indices(path: str | Path) -> pd.DataFrame:
    """Read QC's ``cell_indices.parquet`` as samples x cell types.

    Parameters
    ----------
    path
        ``<output_dir>/<dataset>/qc/cell_indices.parquet``.

    Returns
    -------
    pandas.DataFrame
        Index = sample ids, one float column per cell type (NaN: too few markers measured).

    Raises
    ------
    AlsigError
        The file lacks the ``sample`` column or a cell type column.
    """
    table = pl.read_parquet(path)
    missing = [c for c in ("sample", *CELL_TYPES) if c not in table.columns]
    if missing:
        raise AlsigError(
            f"file '{path}': no column(s) {missing}; this is not an alsig cell_indices table "
            "(rule qc writes it)."
        )
    frame = table.select("sample", *CELL_TYPES).to_pandas().set_index("sample")
    frame.index = frame.index.astype(str)
    return frame.astype(float)


def control_z(
    values: pd.DataFrame,
    is_control: Sequence[bool] | np.ndarray,
    strata: Sequence[str] | pd.Series | None = None,
    *,
    min_controls: int = MIN_CONTROLS,
) -> pd.DataFrame:
    """Return each index as z-scores against the controls of the sample's stratum.

    For a per-sample score that must sit next to control-referenced signature scores (the
    subtype stage's glia state uses the microglia and astrocyte indices this way).

    Parameters
    ----------
    values
        Samples x cell types (:func:`read_cell_indices`).
    is_control
        Per sample (``values`` order): a usable control.
    strata
        Per sample: its reference stratum (e.g. region); None: one stratum.
    min_controls
        Fewest controls a stratum needs; with fewer its samples get NaN.

    Returns
    -------
    pandas.DataFrame
        Same shape as ``values``: ``(index - control mean) / control SD`` within stratum.
    """
    control = np.asarray(is_control, dtype=bool)
    labels = (
        np.asarray(strata, dtype=object) if strata is not None else np.zeros(len(values), dtype=int)
    )
    out = pd.DataFrame(np.nan, index=values.index, columns=values.columns)
    for stratum in pd.unique(labels):
        rows = labels == stratum
        reference = values.to_numpy(dtype=float)[rows & control]
        if len(reference) < min_controls:
            continue
        sd = reference.std(axis=0, ddof=1)
        sd = np.where(sd > 0, sd, np.nan)
        out.loc[rows] = (values.to_numpy(dtype=float)[rows] - reference.mean(axis=0)) / sd
    return out
