"""Minimum detectable log2 fold change at a given power: what a null result can rule out.

For a two-sided test at level ``alpha`` on ``df`` degrees of freedom, an effect is detected with
probability ``power`` when it exceeds ``(t_{1-alpha/2} + t_{power}) * SE`` (the usual normal
approximation with t quantiles). :func:`minimum_detectable_lfc` applies it gene by gene to a
fit's standard errors, so it reflects the cohort's donors, samples per donor, precision weights
and each gene's donor variance. :func:`planned_mde` answers the design question before any data:
two groups of subjects, ``m`` samples per subject, donor and residual standard deviations.
"""

from __future__ import annotations

import numpy as np

from alsig.distributions import t_ppf


def minimum_detectable_lfc(
    se: np.ndarray, df: np.ndarray, *, alpha: float = 0.05, power: float = 0.8
) -> np.ndarray:
    """Smallest |log2FC| detected with probability ``power`` per gene.

    Parameters
    ----------
    se
        Standard error of the log2 fold change per gene.
    df
        Degrees of freedom of its test.
    alpha
        Two-sided significance level (unadjusted).
    power
        Target power.

    Returns
    -------
    numpy.ndarray
        Minimum detectable |log2FC| per gene.
    """
    df = np.asarray(df, dtype=float)
    crit = t_ppf(1.0 - alpha / 2.0, df) + t_ppf(power, df)
    return crit * np.asarray(se, dtype=float)


def planned_mde(
    n_test: int,
    n_reference: int,
    *,
    samples_per_subject: float = 1.0,
    subject_sd: float,
    residual_sd: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Minimum detectable log2FC of a between-subject contrast for a planned design.

    Parameters
    ----------
    n_test, n_reference
        Subjects in the two groups.
    samples_per_subject
        Samples averaged per subject.
    subject_sd, residual_sd
        Donor and within-donor standard deviations (log2 units).
    alpha, power
        Two-sided level and target power.

    Returns
    -------
    float
        The detectable |log2FC|; more samples per donor only shrink the residual part.
    """
    per_subject = subject_sd**2 + residual_sd**2 / samples_per_subject
    se = np.sqrt(per_subject * (1.0 / n_test + 1.0 / n_reference))
    df = n_test + n_reference - 2
    return float(
        minimum_detectable_lfc(np.array([se]), np.array([df]), alpha=alpha, power=power)[0]
    )
