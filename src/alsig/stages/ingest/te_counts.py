"""Transposable-element counts (TEtranscripts / TEcount) as a feature block beside the genes.

TEcount writes one table per run with gene rows and TE rows together; TE rows are named
``subfamily:family:class`` (``L1HS:L1:LINE``, ``AluSx:Alu:SINE``, ``HERVK-int:ERVK:LTR``). Both
that combined layout and a TE-only table (the rows with ``:``) are read; gene rows are ignored
here (the gene matrix is its own input). The counts are validated like the gene matrix (same
reader: integer, non-negative, every sample present) and returned samples x TEs.

Where they live: ingest stores them in the dataset's AnnData as ``obsm["te_counts"]`` (a samples x
TEs DataFrame, columns = TE ids) with the TE annotation in ``uns["te_features"]``. The gene
matrix, its QC, DE and scores are untouched; sample subsetting and replicate collapsing carry
the block along row by row, and the retrotransposon axis normalises it by the genes' library
sizes (:mod:`alsig.stages.score.retrotransposons`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from alsig.errors import AlsigError, where

OBSM_KEY = "te_counts"
FEATURES_KEY = "te_features"


def is_te_id(feature: str) -> bool:
    """True for TEcount's ``subfamily:family:class`` ids."""
    return feature.count(":") == 2 and all(feature.split(":"))


def te_annotation(te_ids: Sequence[str]) -> pd.DataFrame:
    """``te_id, subfamily, family, class`` for TE ids (a trailing ``?`` of RepeatMasker's
    uncertain classes is kept in ``class``)."""
    parts = [t.split(":") for t in te_ids]
    return pd.DataFrame(
        {
            "te_id": list(te_ids),
            "subfamily": [p[0] for p in parts],
            "family": [p[1] for p in parts],
            "class": [p[2] for p in parts],
        }
    )


def read_te_counts(
    path: str | Path, *, sample_ids: Sequence[str], gene_column: str | None = None
) -> pd.DataFrame:
    """Samples x TEs integer counts from a TEcount table, rows in ``sample_ids`` order.

    Parameters
    ----------
    path
        TE-only or combined gene + TE TEcount table (TSV/CSV, optionally gzipped).
    sample_ids
        The dataset's samples (the gene matrix's columns); each must be a column here.
    gene_column
        Feature id column (default: the first column).

    Raises
    ------
    AlsigError
        No TE row, a repeated TE id, a sample missing from the table, or a bad count (the
        gene-matrix reader's message: file, line and column).
    """
    from alsig.stages.ingest.counts import read_count_matrix

    matrix = read_count_matrix(path, gene_column=gene_column)
    rows = [i for i, feature in enumerate(matrix.gene_ids) if is_te_id(str(feature))]
    if not rows:
        raise AlsigError(
            f"{where(path)}: no transposable-element row (ids 'subfamily:family:class', e.g. "
            f"'L1HS:L1:LINE'); first ids: {matrix.gene_ids[:3]}. Give TEcount/TEtranscripts output."
        )
    te_ids = [str(matrix.gene_ids[i]) for i in rows]
    seen: dict[str, int] = {}
    for i, te in zip(rows, te_ids, strict=True):
        if te in seen:
            raise AlsigError(
                f"{where(path, row=matrix.line(i))}: TE id '{te}' repeats line "
                f"{matrix.line(seen[te])}; each TE "
                "subfamily must appear once."
            )
        seen[te] = i
    missing = [s for s in sample_ids if s not in matrix.sample_ids]
    if missing:
        raise AlsigError(
            f"{where(path)}: {len(missing)} sample(s) of the gene matrix are not TE-count columns "
            f"({', '.join(map(repr, missing[:8]))}{', ...' if len(missing) > 8 else ''}); the TE "
            "counts must come from the same runs."
        )
    columns = [matrix.sample_ids.index(s) for s in sample_ids]
    counts = matrix.counts[np.asarray(rows)][:, columns].T
    return pd.DataFrame(counts, index=pd.Index(list(sample_ids)), columns=te_ids)


def split_te_rows(matrix):
    """TEcount writes genes and TEs in one table: returns ``(gene matrix, samples x TEs frame or
    None)`` with the TE rows (``subfamily:family:class``) moved out of the gene matrix."""
    from alsig.stages.ingest.counts import CountMatrix

    te = np.array([is_te_id(str(g)) for g in matrix.gene_ids], dtype=bool)
    if not te.any():
        return matrix, None
    genes = CountMatrix(
        [g for g, t in zip(matrix.gene_ids, te, strict=True) if not t],
        matrix.sample_ids,
        matrix.counts[~te],
        matrix.path,
        matrix.report,
        None if matrix.lines is None else matrix.lines[~te],
    )
    te_ids = [str(g) for g, t in zip(matrix.gene_ids, te, strict=True) if t]
    return genes, pd.DataFrame(matrix.counts[te].T, index=matrix.sample_ids, columns=te_ids)


def attach_te_counts(adata, te_counts: pd.DataFrame, source: dict | None = None):
    """Put the TE block into ``adata`` (``obsm["te_counts"]``, ``uns["te_features"]``) and
    record its input in the provenance. Returns ``adata``."""
    adata.obsm[OBSM_KEY] = te_counts.loc[list(adata.obs_names)]
    adata.uns[FEATURES_KEY] = te_annotation(list(te_counts.columns)).to_dict(orient="list")
    if source is not None:
        adata.uns.setdefault("provenance", {})["te_counts"] = source
    return adata


def te_block(adata) -> pd.DataFrame | None:
    """The samples x TEs counts of an AnnData, or None when the dataset has no TE input."""
    block = adata.obsm.get(OBSM_KEY) if hasattr(adata, "obsm") else None
    if block is None:
        return None
    return block if isinstance(block, pd.DataFrame) else pd.DataFrame(block, index=adata.obs_names)
