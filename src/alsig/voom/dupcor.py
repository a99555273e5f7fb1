"""Consensus intra-subject correlation (duplicateCorrelation; Smyth, Michaud & Scott 2005).

Each gene's correlation between samples of one subject is estimated by REML in the GLS model
of :func:`alsig.voom.models.fit_gls` (observations standardised by their precision weights share
a correlation ``rho`` within a subject); the consensus is the 15 %-trimmed mean of the gene-wise
values on Fisher's ``atanh`` scale, transformed back. One correlation for all genes is the
assumption that makes this fast and stable, and also its weakness: genes whose expression is
driven by the donor's genotype (deletion polymorphisms such as GSTM1, HLA genes) correlate far
more than the consensus, and a test that borrows the consensus under-corrects them. The
gene-wise values are returned so that a report can show that spread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsig.distributions import trim_mean
from alsig.voom.models import block_correlations

#: share trimmed from each end before averaging the atanh correlations
TRIM = 0.15
#: gene-wise correlations are capped here (as limma does) so atanh stays finite and a few genes
#: near 1 cannot pull the consensus
CAP = 0.99


@dataclass(frozen=True)
class DupCor:
    """Consensus and gene-wise intra-subject correlations."""

    consensus: float
    per_gene: np.ndarray

    @property
    def atanh(self) -> np.ndarray:
        """Gene-wise correlations on Fisher's scale."""
        return np.arctanh(self.per_gene)


def duplicate_correlation(
    values: np.ndarray,
    design: np.ndarray | pd.DataFrame,
    subjects: Sequence,
    *,
    weights: np.ndarray | None = None,
    trim: float = TRIM,
) -> DupCor:
    """Consensus correlation of samples from one subject.

    Parameters
    ----------
    values
        log-expression, genes x samples.
    design
        Design matrix, samples x coefficients.
    subjects
        Subject per sample.
    weights
        Precision weights, genes x samples (e.g. from voom).
    trim
        Share trimmed from each end of the atanh correlations.

    Returns
    -------
    DupCor
        The consensus and the per-gene REML correlations (capped at :data:`CAP`).

    Raises
    ------
    alsig.errors.AlsigError
        If no subject has two or more samples (from
        :func:`alsig.voom.models.block_correlations`).
    """
    rho = np.minimum(block_correlations(values, design, subjects, weights=weights), CAP)
    finite = np.isfinite(rho)
    consensus = float(np.tanh(trim_mean(np.arctanh(rho[finite]), trim)))
    return DupCor(consensus=consensus, per_gene=rho)
