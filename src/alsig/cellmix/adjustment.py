"""An effect with and without the cell-mix covariates, and the share of it they account for.

The adjusted effect is the part of a difference the cell-type indices do not *linearly*
explain. It is neither the cell-intrinsic effect (the indices are noisy, so some composition is
left in it) nor the more correct one (neuron loss and gliosis are part of ALS): both views are
reported, with confidence intervals and the share removed, and an effect is never said to have
"not survived" adjustment.

Models. :func:`effect_with_and_without` fits the same design twice on the same samples, once
with the covariates added, exactly as the axis tests fit a score
(:mod:`alsig.stages.axes.effects`): ordinary least squares without repeated donors, a
linear mixed model with a random intercept per donor with them (REML, lme4's
``lmer(y ~ X + (1 | donor))``: :func:`alsig.voom.models.fit_random_intercept`), and, if a mixed
fit fails, least squares on all samples with donor-clustered standard errors (factor
G / (G - 1); the axis tests' own fallback averages donors within covariate cells, which
continuous covariates make impossible).

Joint uncertainty. The two estimates come from the same samples, so their difference is far
more precise than either. Both are linear in the scores given the fitted variances,
``b = L y`` (generalised least squares at the REML variance components for the mixed model),
so their joint covariance is ``[L_u; L_a] V [L_u; L_a]'`` with ``V`` the covariance of the
adjusted model (the larger model, right under both). With the cluster fallback it is the
cluster sandwich of the stacked estimating equations. The difference ``d = b_u - b_a`` gets a
Wald interval (t on the adjusted model's residual df, or for the mixed model on the Satterthwaite
df of its coefficient, :func:`alsig.voom.satterthwaite.random_intercept_df`); the share removed ``d / b_u`` gets
Fieller's interval (Fieller 1954), which is honest about a ratio whose denominator may be near
zero: when the unadjusted effect is not distinguishable from zero the interval is unbounded and
reported as missing, with a note. A share above 1 means the adjusted effect has the opposite
sign; a negative share means adjusting made the effect larger (the cell mix was masking it).

Across cohorts, :func:`pooled_pair` combines the datasets' pairs with one set of weights (the
random-effects weights of the unadjusted view), so the pooled share is a share of the pooled
unadjusted effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsig.distributions import norm_ppf, norm_sf, t_ppf, t_sf
from alsig.errors import AlsigError, name_some

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class ShareRemoved:
    """The difference between an unadjusted and an adjusted effect, and the share it removes.

    ``difference`` = unadjusted - adjusted (with its SE and CI) and ``share`` =
    difference / unadjusted (with Fieller's CI; None bounds when it is unbounded).
    """

    difference: float
    difference_se: float
    difference_low: float
    difference_high: float
    share: float
    share_low: float | None
    share_high: float | None
    note: str = ""


@dataclass(frozen=True)
class AdjustedEffect:
    """One contrast coefficient without and with the cell-mix covariates, on the same samples.

    ``estimate`` is the coefficient without them, ``estimate_adjusted`` with them.

    ``se`` / ``se_adjusted`` come from each model's own fit (as the axis tests report them);
    ``covariance`` is the joint 2 x 2 covariance of the two estimates (see the module notes);
    ``sd`` is the unadjusted model's residual SD (mixed model: donor plus residual variance), the
    common ruler of both standardised effects; ``sd_adjusted`` the adjusted model's.
    """

    estimate: float
    se: float
    estimate_adjusted: float
    se_adjusted: float
    covariance: np.ndarray
    sd: float
    sd_adjusted: float
    df: float
    n_samples: int
    model: str
    share: ShareRemoved
    note: str = ""

    @property
    def statistic_adjusted(self) -> float:
        """Wald t statistic of the adjusted estimate (on ``df``)."""
        return self.estimate_adjusted / self.se_adjusted

    @property
    def pvalue_adjusted(self) -> float:
        """Two-sided p-value of the adjusted estimate (t on ``df``; normal if ``df`` is inf)."""
        z = abs(self.statistic_adjusted)
        tail = norm_sf(z) if not np.isfinite(self.df) else t_sf(z, self.df)
        return float(2 * tail)

    def standardised(self) -> tuple[float, float, np.ndarray]:
        """Divide both estimates and their covariance by the unadjusted residual SD ``sd``.

        One ruler for both, so the share removed is the same in raw and standardised units.

        Returns
        -------
        estimate, estimate_adjusted : float
            The two estimates in units of ``sd``.
        covariance : numpy.ndarray
            Their 2 x 2 covariance in units of ``sd**2``.
        """
        return (
            self.estimate / self.sd,
            self.estimate_adjusted / self.sd,
            self.covariance / self.sd**2,
        )


def share_removed(
    unadjusted: float,
    adjusted: float,
    covariance: np.ndarray,
    *,
    df: float = np.inf,
    level: float = 0.95,
) -> ShareRemoved:
    """Compute the difference between an unadjusted and an adjusted effect and the share removed.

    Parameters
    ----------
    unadjusted, adjusted
        The two estimates of one effect.
    covariance
        Their joint 2 x 2 covariance (order: unadjusted, adjusted).
    df
        Degrees of freedom of the t quantile (inf: normal).
    level
        Confidence level.

    Returns
    -------
    ShareRemoved
        The difference with its SE and CI, the share with Fieller's CI.
    """
    cov = np.asarray(covariance, dtype=float)
    crit = float(norm_ppf(0.5 + level / 2) if not np.isfinite(df) else t_ppf(0.5 + level / 2, df))
    d = unadjusted - adjusted
    var_d = max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)
    se_d = float(np.sqrt(var_d))
    share = d / unadjusted if unadjusted != 0 else np.nan
    # Fieller: {r : (d - r u)^2 <= crit^2 var(d - r u)}, a quadratic a r^2 - 2 b r + c <= 0
    cov_du = cov[0, 0] - cov[0, 1]
    q = crit**2
    a = unadjusted**2 - q * cov[0, 0]
    b = d * unadjusted - q * cov_du
    c = d**2 - q * var_d
    disc = b * b - a * c
    low = high = None
    note = ""
    if a > 0 and disc >= 0:
        root = np.sqrt(disc)
        low, high = float((b - root) / a), float((b + root) / a)
    else:
        note = (
            "the unadjusted effect is not distinguishable from 0 at this level, so the share "
            "removed has no bounded confidence interval"
        )
    return ShareRemoved(
        float(d),
        se_d,
        float(d - crit * se_d),
        float(d + crit * se_d),
        float(share),
        low,
        high,
        note,
    )


def effect_with_and_without(
    y: pd.Series,
    design: pd.DataFrame,
    covariates: pd.DataFrame,
    coefficient: str,
    subjects: pd.Series | None = None,
) -> AdjustedEffect:
    """Fit ``y ~ design`` and ``y ~ design + covariates`` and compare the ``coefficient``.

    Parameters
    ----------
    y
        The score per sample (index = sample ids; NaN = not scored).
    design
        The model matrix (index = sample ids), as the axis tests build it
        (``Design.matrix``).
    covariates
        The cell-mix covariates (:func:`alsig.cellmix.adjustment_covariates`), index = sample ids.
    coefficient
        The reported column of ``design`` (e.g. ``condition[T.ALS]``).
    subjects
        Donor per sample; repeated donors make both models mixed models.

    Returns
    -------
    AdjustedEffect
        NaN estimates and a ``note`` when the samples do not identify the adjusted model.

    Raises
    ------
    AlsigError
        ``covariates`` lack a sample of ``design``.
    """
    missing = design.index.difference(covariates.dropna().index)
    if len(missing):
        raise AlsigError(
            f"cell-mix covariates are missing for {len(missing)} fitted sample(s) "
            f"({name_some(missing)}); compute them on exactly the design's samples."
        )
    frame = pd.concat([y.rename("_y"), covariates], axis=1).reindex(design.index)
    rows = frame.notna().all(axis=1).to_numpy()
    X_u = design.loc[rows].astype(float)
    X_a = pd.concat([X_u, frame.loc[rows, covariates.columns].astype(float)], axis=1)
    y_fit = frame.loc[rows, "_y"].astype(float).to_numpy()
    n = int(rows.sum())
    if n <= X_a.shape[1] or np.linalg.matrix_rank(X_a.to_numpy()) < X_a.shape[1]:
        return _empty(n, f"{n} samples do not identify the model with the cell-mix covariates")
    j = list(X_u.columns).index(coefficient)
    groups = subjects.loc[X_u.index].astype(str).to_numpy() if subjects is not None else None
    if groups is not None and pd.Series(groups).duplicated().any():
        fit = _mixed_pair(y_fit, X_u.to_numpy(), X_a.to_numpy(), groups, j)
        if fit is not None:
            return fit
        return _cluster_pair(
            y_fit,
            X_u.to_numpy(),
            X_a.to_numpy(),
            groups,
            j,
            note="mixed model failed; least squares with donor-clustered SEs",
        )
    return _ols_pair(y_fit, X_u.to_numpy(), X_a.to_numpy(), j)


def pooled_pair(
    unadjusted: np.ndarray,
    adjusted: np.ndarray,
    covariances: np.ndarray,
    tau2: float = 0.0,
    variances: np.ndarray | None = None,
) -> tuple[float, float, np.ndarray]:
    """Combine several datasets' (unadjusted, adjusted) pairs with one set of weights.

    Parameters
    ----------
    unadjusted, adjusted
        One (standardised) estimate per dataset.
    covariances
        Datasets x 2 x 2 joint covariances (:meth:`AdjustedEffect.standardised`).
    tau2
        Between-dataset variance of the unadjusted view (DerSimonian-Laird, as the
        meta-analysis estimates it); it is assumed to affect both views alike, so it adds to
        both variances and their covariance but not to the variance of the difference.
    variances
        Sampling variances that set the weights (default ``covariances[:, 0, 0]``); pass the
        unadjusted rows' ``std_se ** 2`` (each model's own fit, as the meta-analysis weights
        them) to make the pooled unadjusted effect that of the meta-analysis exactly.

    Returns
    -------
    tuple
        ``(pooled unadjusted, pooled adjusted, 2 x 2 covariance)``: both views are combined with
        the unadjusted view's random-effects weights ``1 / (variance + tau2)``; pass the result
        to :func:`share_removed`.
    """
    u, a = np.asarray(unadjusted, dtype=float), np.asarray(adjusted, dtype=float)
    cov = np.asarray(covariances, dtype=float)
    var = cov[:, 0, 0] if variances is None else np.asarray(variances, dtype=float)
    w = 1.0 / (var + tau2)
    w = w / w.sum()
    pooled_cov = np.einsum("k,kij->ij", w**2, cov + tau2)
    return float(w @ u), float(w @ a), pooled_cov


def _empty(n: int, note: str) -> AdjustedEffect:
    nan = float("nan")
    share = ShareRemoved(nan, nan, nan, nan, nan, None, None, note)
    return AdjustedEffect(
        nan, nan, nan, nan, np.full((2, 2), nan), nan, nan, nan, n, "", share, note
    )


def _pair(estimates, ses, cov, sds, df, n, model, note="") -> AdjustedEffect:
    share = share_removed(estimates[0], estimates[1], cov, df=df)
    return AdjustedEffect(
        float(estimates[0]),
        float(ses[0]),
        float(estimates[1]),
        float(ses[1]),
        cov,
        float(sds[0]),
        float(sds[1]),
        float(df),
        n,
        model,
        share,
        note,
    )


def _ols_pair(y: np.ndarray, X_u: np.ndarray, X_a: np.ndarray, j: int) -> AdjustedEffect:
    L_u, L_a = _ls_row(X_u, j), _ls_row(X_a, j)
    estimates, sds = [], []
    for X, L in ((X_u, L_u), (X_a, L_a)):
        residual = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
        sds.append(np.sqrt(residual @ residual / (len(y) - X.shape[1])))
        estimates.append(L @ y)
    ses = [sds[0] * np.sqrt(L_u @ L_u), sds[1] * np.sqrt(L_a @ L_a)]
    stacked = np.vstack([L_u, L_a])
    cov = sds[1] ** 2 * stacked @ stacked.T  # the adjusted model's residual variance
    return _pair(estimates, ses, cov, sds, len(y) - X_a.shape[1], len(y), "ols")


def _ls_row(X: np.ndarray, j: int) -> np.ndarray:
    """Row ``j`` of the least-squares map ``(X'X)^-1 X'``: the estimate is ``row @ y``."""
    return np.linalg.solve(X.T @ X, X.T)[j]


def _cluster_pair(y, X_u, X_a, groups, j, note="") -> AdjustedEffect:
    codes, uniques = pd.factorize(groups)
    n_clusters = len(uniques)
    stacked, estimates, sds = [], [], []
    for X in (X_u, X_a):
        L = _ls_row(X, j)
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        residual = y - X @ beta
        sds.append(np.sqrt(residual @ residual / (len(y) - X.shape[1])))
        estimates.append(L @ y)
        # per-cluster sums of the estimate's influence L_i e_i
        stacked.append(np.bincount(codes, weights=L * residual, minlength=n_clusters))
    S = np.vstack(stacked)
    cov = n_clusters / (n_clusters - 1) * S @ S.T
    ses = np.sqrt(np.diag(cov))
    return _pair(estimates, ses, cov, sds, n_clusters - 1, len(y), "ols_cluster_se", note)


def _mixed_pair(y, X_u, X_a, groups, j) -> AdjustedEffect | None:
    fit_u, fit_a = (_mixed_fit(y, X, groups, j) for X in (X_u, X_a))
    if fit_u is None or fit_a is None:
        return None
    fits = (fit_u, fit_a)
    codes, uniques = pd.factorize(groups)
    sizes = np.bincount(codes)
    rows, estimates, ses, sds = [], [], [], []
    for X, (beta_se, scale, tau2, _) in zip((X_u, X_a), fits, strict=True):
        L = _gls_row(X, codes, sizes, scale, tau2, j)
        rows.append(L)
        estimates.append(L @ y)
        ses.append(beta_se[j])
        sds.append(np.sqrt(scale + tau2))
    _, scale_a, tau2_a, df_a = fits[1]
    V_rows = [
        scale_a * L + tau2_a * np.bincount(codes, weights=L, minlength=len(uniques))[codes]
        for L in rows
    ]
    cov = np.array([[rows[r] @ V_rows[c] for c in range(2)] for r in range(2)])
    # the adjusted model's Satterthwaite df: its coefficient's p-value, and (its V being the
    # joint covariance's) the difference and share intervals
    return _pair(estimates, ses, cov, sds, df_a, len(y), "mixed_random_subject")


def _mixed_fit(y, X, groups, j) -> tuple[np.ndarray, float, float, float] | None:
    """Fit a REML random intercept per donor as the axis tests do.

    Returns (fixed-effect SEs, residual variance, donor variance, Satterthwaite df of
    coefficient ``j``), or None when the fit fails.
    """
    # here, not at the top: jobs that read this module without fitting mixed models (subtypes)
    # would load the compiled kernels for nothing
    from alsig.voom.models import fit_random_intercept
    from alsig.voom.satterthwaite import random_intercept_df

    try:
        fit = fit_random_intercept(y, X, groups)
    except AlsigError:
        return None
    se = np.sqrt(np.maximum(np.diag(fit.covariance), 0.0))
    if not np.isfinite(se).all() or (se <= 0).any():
        return None
    df = random_intercept_df(fit, X, groups, j)
    return se, fit.residual_variance, fit.subject_variance, df


def _gls_row(X, codes, sizes, scale, tau2, j) -> np.ndarray:
    """Return row ``j`` of the GLS map ``(X'V^-1 X)^-1 X'V^-1``.

    V is block compound symmetric, ``V = scale I + tau2 J`` per donor, so
    ``V_c^-1 = (I - tau2 / (scale + n_c tau2) J) / scale``.
    """
    factor = tau2 / (scale + sizes * tau2)
    sums = np.vstack([np.bincount(codes, weights=X[:, k]) for k in range(X.shape[1])]).T
    VinvX = (X - factor[codes, None] * sums[codes]) / scale
    return np.linalg.solve(X.T @ VinvX, VinvX.T)[j]
