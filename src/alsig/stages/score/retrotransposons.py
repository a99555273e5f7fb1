"""The retrotransposon axis.

Per-sample expression of the transposable-element families the ALS literature implicates, from the
TE counts of the same runs.

Retrotransposon de-repression is one of the three molecular states of ALS cortex (Tam et al.
2019, ALS-TE) and follows nuclear TDP-43 loss (Liu et al. 2019; HERV-K: Li et al. 2015). The
signatures (``resources/signatures/retrotransposons.tsv``) list TE subfamilies (TEcount's
``subfamily`` field): young LINE-1, young Alu, SVA, HERV-K (HML-2) and other ERV internal
regions. A signature's score is ``log2(1e6 x counts of its subfamilies / gene library size + 1)``
— TE reads per million gene-assigned reads of the same library. Normalising by the genes, not by
the TE reads, keeps a global de-repression (every TE up) visible, which a rank- or TE-total-based
score would hide. The score depends only on the sample (method ``log2cpm``); ``z_vs_control``
is then computed as for every other signature. A dataset without TE counts gets null scores,
flagged "no TE input".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import polars as pl

from alsig.signatures.model import Signature
from alsig.stages.score.coverage import signature_coverage

METHOD = "log2cpm"
NO_TE_INPUT = "no TE input"


def te_log2cpm(
    te_counts: pd.DataFrame, libraries: np.ndarray, signatures: Sequence[Signature]
) -> np.ndarray:
    """Return samples x signatures ``log2(1e6 x summed subfamily counts / library + 1)``.

    Parameters
    ----------
    te_counts
        Samples x TEs counts (columns ``subfamily:family:class``).
    libraries
        Gene library size per sample (same order).
    signatures
        TE signatures; members are subfamily names (absent ones are skipped).
    """
    subfamily = pd.Index([c.split(":", 1)[0] for c in te_counts.columns])
    counts = te_counts.to_numpy(dtype=float)
    out = np.empty((counts.shape[0], len(signatures)))
    libraries = np.maximum(np.asarray(libraries, dtype=float), 1.0)
    for j, sig in enumerate(signatures):
        columns = np.flatnonzero(subfamily.isin(sig.genes))
        out[:, j] = np.log2(counts[:, columns].sum(axis=1) / libraries * 1e6 + 1.0)
    return out


def te_coverage(
    te_counts: pd.DataFrame | None, signatures: Sequence[Signature], min_coverage: float
) -> pl.DataFrame:
    """Coverage rows of the TE signatures (all flagged "no TE input" without TE counts)."""
    subfamilies = [] if te_counts is None else [c.split(":", 1)[0] for c in te_counts.columns]
    coverage = signature_coverage(subfamilies, signatures, min_coverage=min_coverage)
    if te_counts is None:
        coverage = coverage.with_columns(
            pl.lit(True).alias("flagged"), pl.lit(NO_TE_INPUT).alias("reason")
        )
    return coverage
