"""The cell-mix covariates a model can afford.

The indices themselves, their leading principal components, or none.

Six correlated indices (neuron loss comes with gliosis) would cost six degrees of freedom and
make the adjusted effect unstable in cohorts of 20-100 donors. The rule, fixed in issue 27:

- at most :data:`MAX_COVARIATES` (3) covariates, and at most one per
  :data:`DONORS_PER_COVARIATE` (10) donors (the usual events-per-variable guard, counted in
  donors because repeated samples of a donor add little information on between-donor terms);
- the indices themselves (standardised) when that many are allowed; otherwise the first
  principal components of the standardised indices that together explain at least
  :data:`MIN_VARIANCE` (80 %) of their variance, when that many are allowed;
- otherwise the adjustment is *not estimable* and the reason says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alsig.errors import AlsigError, name_some

MAX_COVARIATES = 3
DONORS_PER_COVARIATE = 10
MIN_VARIANCE = 0.8


@dataclass(frozen=True)
class CellMixCovariates:
    """The adjustment covariates of one set of fitted samples, or why there are none.

    ``covariates``: samples x covariates (None when not estimable), each standardised;
    ``description``: what they are, for tables and the report; ``reason``: why not estimable
    (None when estimable); ``variance_explained``: share of the indices' variance of each
    principal component (all of them, in order); ``loadings``: cell types x components used.
    """

    covariates: pd.DataFrame | None
    description: str
    reason: str | None
    n_donors: int
    max_allowed: int
    variance_explained: tuple[float, ...] = ()
    loadings: pd.DataFrame | None = field(default=None)

    @property
    def estimable(self) -> bool:
        """Whether the cohort affords any covariate (``covariates`` is not None)."""
        return self.covariates is not None


def adjustment_covariates(
    indices: pd.DataFrame,
    subjects: pd.Series | None = None,
    *,
    max_covariates: int = MAX_COVARIATES,
    donors_per_covariate: int = DONORS_PER_COVARIATE,
    min_variance: float = MIN_VARIANCE,
) -> CellMixCovariates:
    """Choose the cell-mix covariates for a model fitted on the samples of ``indices``.

    Parameters
    ----------
    indices
        Samples x cell-type indices of exactly the fitted samples (index = sample ids).
    subjects
        Donor of each sample (index = sample ids); None: every sample is its own donor.
    max_covariates
        Most covariates whatever the cohort size.
    donors_per_covariate
        Donors needed per covariate.
    min_variance
        Share of the indices' variance the principal components must explain.

    Returns
    -------
    CellMixCovariates
        The covariates (None when not estimable), what they are and why, and for components
        their variance shares and loadings.

    Raises
    ------
    AlsigError
        Missing index values, or ``subjects`` lacking a sample of ``indices``.
    """
    values = indices.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise AlsigError(
            "cell indices have missing values for the fitted samples "
            f"({indices.columns[~np.isfinite(values).all(axis=0)].tolist()}); drop those cell "
            "types (too few markers measured) before choosing covariates."
        )
    if subjects is None:
        n_donors = len(indices)
    else:
        missing = indices.index.difference(subjects.index)
        if len(missing):
            raise AlsigError(
                f"no donor for {len(missing)} sample(s) of the cell indices: {name_some(missing)}."
            )
        n_donors = int(subjects.loc[indices.index].nunique())
    allowed = min(max_covariates, n_donors // donors_per_covariate)
    sd = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1])
    varying = sd > 0
    names = indices.columns[varying]
    z = (values[:, varying] - values[:, varying].mean(axis=0)) / sd[varying]
    if allowed == 0:
        return CellMixCovariates(
            None,
            "not estimable",
            f"{n_donors} donors allow no covariate (one per {donors_per_covariate} donors)",
            n_donors,
            0,
        )
    if len(names) == 0:
        return CellMixCovariates(
            None, "not estimable", "every cell index is constant", n_donors, allowed
        )
    if len(names) <= allowed:
        frame = pd.DataFrame(z, index=indices.index, columns=[f"cellmix_{n}" for n in names])
        return CellMixCovariates(
            frame,
            f"{len(names)} cell-type indices ({', '.join(names)}), standardised",
            None,
            n_donors,
            allowed,
        )
    scores, shares, loadings = _principal_components(z)
    needed = int(np.searchsorted(np.cumsum(shares), min_variance - 1e-12) + 1)
    loading_table = pd.DataFrame(
        loadings[:, :needed], index=names, columns=[f"cellmix_pc{i + 1}" for i in range(needed)]
    )
    if needed > allowed:
        return CellMixCovariates(
            None,
            "not estimable",
            f"{needed} principal components are needed to explain {min_variance:.0%} of the "
            f"{len(names)} cell indices' variance ({np.cumsum(shares)[needed - 1]:.0%}), but "
            f"{n_donors} donors allow at most {allowed}",
            n_donors,
            allowed,
            tuple(shares),
            loading_table,
        )
    frame = pd.DataFrame(
        scores[:, :needed] / scores[:, :needed].std(axis=0, ddof=1),
        index=indices.index,
        columns=loading_table.columns,
    )
    return CellMixCovariates(
        frame,
        f"first {needed} principal component(s) of {len(names)} standardised cell-type indices "
        f"({np.cumsum(shares)[needed - 1]:.0%} of their variance; "
        + "; ".join(_leading(loading_table[c]) for c in loading_table.columns)
        + ")",
        None,
        n_donors,
        allowed,
        tuple(shares),
        loading_table,
    )


def _principal_components(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the scores, variance shares and loadings of standardised columns.

    Each component's sign is fixed so its largest loading is positive (deterministic output).
    """
    u, s, vt = np.linalg.svd(z, full_matrices=False)
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    signs[signs == 0] = 1
    loadings = (vt * signs[:, None]).T
    scores = u * s * signs
    shares = s**2 / np.sum(s**2)
    return scores, shares, loadings


def _leading(loading: pd.Series) -> str:
    top = loading.abs().sort_values(ascending=False).index[:2]
    return f"{loading.name}: " + ", ".join(f"{c} {loading[c]:+.2f}" for c in top)
