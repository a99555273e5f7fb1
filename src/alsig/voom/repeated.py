"""Differential expression with repeated subjects: voom + a random intercept per subject.

:func:`fit_repeated_model` fits a dataset once for its design (counts, the design matrix and the
subject of each sample in); the :class:`RepeatedModel` it returns tests any number of contrasts
(:meth:`RepeatedModel.test`: per-gene log2 fold change, standard error, moderated t, degrees of
freedom, p and BH-adjusted p, and the summary a report shows) and sets of coefficients
(:meth:`RepeatedModel.f_test`: a moderated F test of a multi-level factor or an interaction).
:func:`fit_repeated` is both in one call, for one contrast.

Models (``method``):

* ``dream`` (default for repeated subjects; Hoffman & Roussos 2021): voom weights from a
  per-gene mixed model, then per gene a linear mixed model with a random intercept per subject
  (REML, :func:`alsig.voom.models.fit_mixed`), Satterthwaite degrees of freedom per gene and per
  contrast, and empirical Bayes moderation of the residual variance. Each gene has its own
  donor variance, which matters because intra-donor correlation varies widely across genes.
* ``dupcor`` (limma; Smyth, Michaud & Scott 2005): voom, duplicateCorrelation, voom again with
  the consensus correlation, duplicateCorrelation again, GLS with one consensus correlation for
  all genes, limma's eBayes on ``n - p`` residual degrees of freedom. Fast, but a single
  correlation under-corrects the genes whose donors differ most.
* ``lm``: voom and limma without subjects (independent samples) -- the naive model, kept as a
  comparator; wrong whenever a subject has several samples.

Moderation of the dream fit. limma's eBayes moderates one variance per gene on known degrees
of freedom; a mixed model has two variance components and a per-contrast df. Two published
routes were tried on simulated nulls (12 donors x 3 regions, ``bench/results/repeated_donors.md``)
and both fail for a between-donor contrast: eBayes on the residual variance with the contrast's
Satterthwaite df as the gene's df (the dream paper's use of gene-wise df) finds no excess spread
(``d0 = inf``) and then tests every gene on infinite df, and eBayes on the residual variance with
a residual df (variancePartition's ``rdf.merMod`` route; ``n - p`` here) adds ``d0`` to a df that
rests on the donors: both give 6.5-6.6 % of genes at p < 0.05, 8-9 % among the most
donor-correlated genes. What alsig does instead: limma's prior (Smyth 2004) is fitted to the
residual variances of the plain REML fit (``n - p`` df), and then each gene is refitted
maximising REML likelihood x that prior (:func:`alsig.voom.models.fit_mixed` with ``prior_df``):
the residual variance becomes limma's posterior ``(R + d0 s0^2) / (n - p + d0)``, the donor
variance is re-estimated beside it, and the Satterthwaite df come from the penalised
information (:mod:`alsig.voom.satterthwaite`). A within-subject contrast (region) thus gains
``d0`` df as in limma, while a between-subject contrast keeps df near the number of donors, its
uncertainty dominated by the donor variance that no prior moderates. ``moderate=False`` gives
lmerTest's plain Satterthwaite t-tests.

Normalisation: effective library size = column sum x median-of-ratios normalisation factor
(:mod:`alsig.voom.normalise`). ``base_mean`` is the mean of counts divided by those size factors
(the unit of DESeq2's ``baseMean``); ``ave_log_cpm`` the mean log2-CPM. Fold changes are
unshrunken log2 differences of the fitted log-CPM.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from alsig.distributions import benjamini_hochberg, t_sf
from alsig.errors import AlsigError
from alsig.voom import ebayes, satterthwaite
from alsig.voom.dupcor import duplicate_correlation
from alsig.voom.models import GeneFits, fit_gls, fit_mixed
from alsig.voom.normalise import GENE_CHUNK, effective_library_sizes, normalised_means
from alsig.voom.summary import icc_summary, mde_summary, subject_counts
from alsig.voom.trend import VoomData, voom

log = logging.getLogger(__name__)

#: ``method`` -> the ``model`` value of the DE results table
MODEL_NAMES = {"dream": "voom_dream", "dupcor": "voom_dupcor", "lm": "voom_lm"}
#: values of the ``de.repeated_subjects`` setting
SETTINGS = ("auto", "dream", "dupcor", "ignore")
#: genes (spread over expression) of the consensus correlation a dream summary reports
CONSENSUS_GENES = 4000
#: a contrast: a design column name, a weight per column (a vector), or ``{column: weight}``
ContrastSpec = str | Sequence[float] | np.ndarray | Mapping[str, float]


def repeated_model(setting: str, subjects: Sequence) -> tuple[str, str]:
    """Choose the model for ``de.repeated_subjects`` and these samples' subjects, and say why.

    Parameters
    ----------
    setting
        ``auto`` (the mixed model whenever a subject has more than one fitted sample),
        ``dream``, ``dupcor`` or ``ignore``.
    subjects
        Subject of each fitted sample.

    Returns
    -------
    tuple of str
        ``(method, reason)`` with method ``dream``, ``dupcor`` or ``ignore`` (samples
        independent: the DESeq2 path).

    Raises
    ------
    AlsigError
        For an unknown setting.
    """
    if setting not in SETTINGS:
        raise AlsigError(f"de.repeated_subjects: '{setting}' is not one of {', '.join(SETTINGS)}.")
    sizes = pd.Series([str(s) for s in subjects]).value_counts()
    repeated = int((sizes > 1).sum())
    if setting == "ignore":
        return "ignore", "de.repeated_subjects is 'ignore': samples are treated as independent"
    if repeated == 0:
        return "ignore", "every subject has one fitted sample: samples are independent"
    detail = f"{repeated} of {sizes.size} subjects have more than one fitted sample"
    if setting == "auto":
        return "dream", f"{detail} (auto -> dream)"
    return setting, detail


def subjects_with_conflicts(subjects: Sequence, values: Sequence) -> dict[str, list[str]]:
    """Subjects whose samples carry different values of a subject-level variable.

    Parameters
    ----------
    subjects
        Subject per sample.
    values
        The variable per sample (e.g. ``condition``).

    Returns
    -------
    dict
        ``{subject: sorted distinct values}`` for every conflicting subject (empty if none).
    """
    frame = pd.DataFrame({"s": [str(s) for s in subjects], "v": [str(v) for v in values]})
    distinct = frame.groupby("s")["v"].unique()
    return {s: sorted(v) for s, v in distinct.items() if len(v) > 1}


@dataclass
class RepeatedFit:
    """The result of :func:`fit_repeated`: one contrast (and optionally an F test) of one fit.

    Attributes
    ----------
    model
        ``voom_dream``, ``voom_dupcor`` or ``voom_lm``.
    table
        One row per gene (index = gene), sorted by p-value: ``base_mean``, ``ave_log_cpm``,
        ``log2_fold_change``, ``lfc_se``, ``stat`` (moderated t), ``df``, ``pvalue``, ``padj``,
        ``icc`` and model-specific columns.
    f_table
        Moderated F test of ``f_coefficients`` (``F``, ``df1``, ``df2``, ``pvalue``, ``padj``) or
        None.
    summary
        Counts, correlations, power and timings for the DE summary and report.
    voom
        The log-CPM and precision weights used.
    fit
        The final gene-wise fits.
    seconds
        Wall seconds per phase (the shared fit's, then this contrast's tests).
    """

    model: str
    table: pd.DataFrame
    f_table: pd.DataFrame | None
    summary: dict[str, Any]
    voom: VoomData
    fit: GeneFits
    seconds: dict[str, float] = field(default_factory=dict)


@contextmanager
def _threads(n: int | None):
    """Run the block with ``n`` numba threads for the per-gene loops and BLAS on one thread.

    A multi-threaded BLAS sums in another order for another thread count, and the REML optimiser
    carries that last digit to ~1e-6 (the DESeq2 engine does the same, :mod:`alsig.deseq2.chunks`).
    """
    before = numba.get_num_threads()
    if n:
        pool = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set at numba's import
        numba.set_num_threads(max(1, min(int(n), pool)))
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(before)


class _Clock:
    def __init__(self, seconds: dict[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = dict(seconds or {})

    @contextmanager
    def phase(self, name: str):
        began = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - began, 3)
        log.info("%s done in %.2f s", name, self.seconds[name])


def _contrast_vector(contrast: ContrastSpec, columns: list[str]) -> np.ndarray:
    if isinstance(contrast, str):
        if contrast not in columns:
            raise AlsigError(f"contrast '{contrast}' is not a design column; columns: {columns}.")
        vector = np.zeros(len(columns))
        vector[columns.index(contrast)] = 1.0
        return vector
    if isinstance(contrast, Mapping):
        unknown = [k for k in contrast if k not in columns]
        if unknown:
            raise AlsigError(f"contrast names {unknown} are not design columns: {columns}.")
        return np.array([float(contrast.get(c, 0.0)) for c in columns])
    vector = np.asarray(contrast, dtype=float)
    if vector.shape != (len(columns),):
        raise AlsigError(f"contrast has {vector.size} weights for {len(columns)} coefficients.")
    return vector


def _inputs(counts, design, subjects):
    if isinstance(counts, pd.DataFrame):
        genes = counts.columns.astype(str)
        counts = counts.to_numpy()
    else:
        counts = np.asarray(counts)
        genes = pd.Index([f"gene{i}" for i in range(counts.shape[1])])
    if isinstance(design, pd.DataFrame):
        columns = [str(c) for c in design.columns]
        X = design.to_numpy(dtype=float)
    else:
        X = np.asarray(design, dtype=float)
        columns = [f"x{j}" for j in range(X.shape[1])]
    counts = np.asarray(counts)  # integers stay integers: voom reads them gene block by block
    if counts.shape[0] != X.shape[0] or len(subjects) != X.shape[0]:
        raise AlsigError(
            f"counts have {counts.shape[0]} samples, the design {X.shape[0]} rows and "
            f"subjects {len(subjects)} entries; they must describe the same samples."
        )
    if not np.issubdtype(counts.dtype, np.number) or np.any(counts < 0):
        raise AlsigError("counts must be finite and non-negative.")
    if np.issubdtype(counts.dtype, np.floating) and not np.all(np.isfinite(counts)):
        raise AlsigError("counts must be finite and non-negative.")
    return counts, genes, X, columns


@dataclass
class RepeatedModel:
    """One voom + mixed-model (or limma) fit of a dataset and design; tests come from its methods.

    Made by :func:`fit_repeated_model`. Nothing of the fit depends on the contrast: every
    contrast and F test of the design reads the same voom weights, variance components and
    empirical Bayes prior (:meth:`test`, :meth:`f_test`).

    Attributes
    ----------
    method
        ``dream``, ``dupcor`` or ``lm``.
    genes, columns
        Gene names and design column names.
    design
        The fixed-effect design matrix (samples x coefficients).
    subjects
        Subject of each sample.
    voom
        Log-CPM and precision weights.
    fit
        The gene-wise fits.
    base_mean
        Mean normalised count per gene (DESeq2 ``baseMean`` units).
    icc
        Gene-wise intra-subject correlation (dream: donor variance share at the gene's typical
        precision; dupcor: the gene's duplicateCorrelation; lm: NaN).
    extra_columns
        Model-specific per-gene columns (dream: the two variance components).
    consensus
        duplicateCorrelation's consensus correlation (NaN for ``lm`` or when not computed).
    prior
        dream: the empirical Bayes prior the fit used (``df`` 0 without moderation).
    seconds
        Wall seconds per phase of the fit; tests add theirs.
    """

    method: str
    genes: pd.Index
    columns: list[str]
    design: np.ndarray
    subjects: Sequence
    voom: VoomData
    fit: GeneFits
    base_mean: np.ndarray
    icc: np.ndarray
    extra_columns: dict[str, np.ndarray]
    consensus: float
    prior: ebayes.Prior
    threads: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def model(self) -> str:
        """The ``model`` value of the DE results table (``voom_dream`` ...)."""
        return MODEL_NAMES[self.method]

    def contrast_vector(self, contrast: ContrastSpec) -> np.ndarray:
        """Return a contrast over the design's coefficients.

        Parameters
        ----------
        contrast
            A design column name, a weight per column, or ``{column: weight}``.

        Returns
        -------
        numpy.ndarray
            One weight per design column.

        Raises
        ------
        AlsigError
            A name that is not a design column or the wrong number of weights.
        """
        return _contrast_vector(contrast, self.columns)

    def _moderated(self, vector: np.ndarray) -> ebayes.Moderated:
        fit = self.fit
        if self.method != "dream":
            estimate, unscaled = fit.contrast(vector)
            return ebayes.moderated_t(estimate, unscaled, fit.sigma2, fit.df_residual)
        estimate, unscaled = fit.contrast(vector)
        se = unscaled * np.sqrt(fit.sigma2)
        df = satterthwaite.contrast_df(fit, vector)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = estimate / se
        return ebayes.Moderated(
            estimate, se, t, df, 2.0 * t_sf(np.abs(t), df), fit.sigma2, self.prior
        )

    def test(
        self,
        contrast: ContrastSpec,
        *,
        groups: Sequence | None = None,
        alpha: float = 0.05,
        power: float = 0.8,
        name: str = "contrast",
    ) -> RepeatedFit:
        """Moderated t-test of one contrast.

        Parameters
        ----------
        contrast
            A design column name, a weight per column, or ``{column: weight}``.
        groups
            Level of the tested factor per sample, for the summary's per-level counts.
        alpha
            Level of ``n_significant`` and of the minimum detectable effect.
        power
            Power of the minimum detectable effect.
        name
            What the phase timing is called (``tests (<name>)``).

        Returns
        -------
        RepeatedFit
            The table sorted by p-value, its summary; ``f_table`` None.

        Raises
        ------
        AlsigError
            A contrast that is not over the design's columns.
        """
        vector = self.contrast_vector(contrast)
        clock = _Clock(self.seconds)
        with _threads(self.threads), clock.phase(f"tests ({name})"):
            tests = self._moderated(vector)
        padj = benjamini_hochberg(tests.pvalue)
        table = pd.DataFrame(
            {
                "base_mean": self.base_mean,
                "ave_log_cpm": self.voom.values.mean(axis=1),
                "log2_fold_change": tests.estimate,
                "lfc_se": tests.se,
                "stat": tests.t,
                "df": tests.df,
                "pvalue": tests.pvalue,
                "padj": padj,
                "icc": self.icc,
                **self.extra_columns,
            },
            index=self.genes,
        )
        table.index.name = "gene"
        table = table.sort_values(["pvalue"], kind="stable")
        counts_info = subject_counts(self.subjects, groups)
        summary = _summary(
            self.method, table, tests, counts_info, alpha, power, self.consensus, clock
        )
        return RepeatedFit(
            model=self.model,
            table=table,
            f_table=None,
            summary=summary,
            voom=self.voom,
            fit=self.fit,
            seconds=clock.seconds,
        )

    def f_test(self, coefficients: Sequence[str], *, name: str = "F test") -> pd.DataFrame:
        """Moderated F test that the named coefficients are all zero (a multi-level factor).

        dream: the F statistic of the mixed model with its Satterthwaite denominator df (Fai &
        Cornelius); dupcor / lm: limma's moderated F on ``n - p + d0`` df.

        Parameters
        ----------
        coefficients
            Design columns tested jointly.
        name
            What the phase timing is called.

        Returns
        -------
        pandas.DataFrame
            One row per gene (index = gene, in the fit's order): ``F``, ``df1``, ``df2``,
            ``pvalue``, ``padj``; ``attrs["seconds"]``: the fit's phases and this test's.

        Raises
        ------
        AlsigError
            A name that is not a design column, or no name.
        """
        unknown = [c for c in coefficients if c not in self.columns]
        if unknown or not coefficients:
            raise AlsigError(
                f"F-test coefficients {list(coefficients)} are not design columns: {self.columns}."
            )
        rows = np.zeros((len(coefficients), len(self.columns)))
        for i, column in enumerate(coefficients):
            rows[i, self.columns.index(column)] = 1.0
        clock = _Clock(self.seconds)
        with _threads(self.threads), clock.phase(f"tests ({name})"):
            ftests: dict[str, Any]
            if self.method == "dream":
                f_stat, df2 = satterthwaite.f_test_df(self.fit, rows)
                ftests = {
                    "F": f_stat,
                    "df1": float(rows.shape[0]),
                    "df2": df2,
                    "pvalue": ebayes.f_pvalue(f_stat, rows.shape[0], df2),
                }
            else:
                fit = self.fit
                prior = ebayes.fit_prior(fit.sigma2, fit.df_residual)
                ftests = ebayes.moderated_f(
                    fit.coefficients,
                    fit.cov_unscaled,
                    rows,
                    ebayes.posterior_variance(fit.sigma2, fit.df_residual, prior),
                    ebayes.total_df(fit.df_residual, prior),
                )
        f_table = pd.DataFrame(ftests, index=self.genes)
        f_table["padj"] = benjamini_hochberg(f_table["pvalue"].to_numpy())
        f_table.index.name = "gene"
        f_table.attrs["seconds"] = clock.seconds
        return f_table


def fit_repeated_model(
    counts: np.ndarray | pd.DataFrame,
    design: np.ndarray | pd.DataFrame,
    subjects: Sequence,
    *,
    method: str = "dream",
    normalisation: str = "median_ratio",
    lib_size: np.ndarray | None = None,
    consensus: bool = True,
    moderate: bool = True,
    threads: int | None = None,
) -> RepeatedModel:
    """Fit voom and the mixed model (or limma's consensus correlation) once for a design.

    Parameters
    ----------
    counts
        Counts, samples x genes (a DataFrame names the genes).
    design
        Fixed-effect design matrix, samples x coefficients (a DataFrame names them), e.g.
        :func:`alsig.stages.de.design.design_matrix` of ``~ sex + region + condition``.
    subjects
        Subject (donor) of each sample.
    method
        ``dream``, ``dupcor`` or ``lm`` (see the module docstring).
    normalisation
        ``median_ratio`` or ``none`` (see :mod:`alsig.voom.normalise`).
    lib_size
        Effective library sizes to use instead.
    consensus
        Also estimate duplicateCorrelation's consensus for the summary of a ``dream`` fit (on
        :data:`CONSENSUS_GENES` genes spread evenly over expression).
    moderate
        ``dream``: put the empirical Bayes prior on the residual variance (default); False gives
        lmerTest's unmoderated Satterthwaite t-tests.
    threads
        numba threads of the per-gene fits (default: numba's setting; results do not depend on
        it).

    Returns
    -------
    RepeatedModel
        The fit; :meth:`RepeatedModel.test` and :meth:`RepeatedModel.f_test` give the tests.

    Raises
    ------
    AlsigError
        For inconsistent inputs, an unknown method, or a repeated-subject method without
        repeated subjects.
    """
    if method not in MODEL_NAMES:
        raise AlsigError(f"method '{method}' is not one of {', '.join(MODEL_NAMES)}.")
    counts, genes, X, columns = _inputs(counts, design, subjects)
    if method != "lm" and subject_counts(subjects)["n_subjects_repeated"] == 0:
        raise AlsigError(
            f"method '{method}' needs subjects with several samples, but every subject has one; "
            "use the DESeq2 path (de.repeated_subjects: auto does this) or method 'lm'."
        )
    clock = _Clock()
    with _threads(threads):
        with clock.phase("normalisation"):
            lib = effective_library_sizes(counts, normalisation) if lib_size is None else lib_size
            lib = np.asarray(lib, dtype=float)
        if method == "dream":
            part = _dream(counts, X, subjects, lib, clock, consensus, moderate)
        else:
            part = _limma(counts, X, subjects, lib, clock, method)
    return RepeatedModel(
        method=method,
        genes=genes,
        columns=columns,
        design=X,
        subjects=list(subjects),
        voom=part.data,
        fit=part.fit,
        base_mean=normalised_means(counts, lib),
        icc=part.icc,
        extra_columns=part.columns,
        consensus=part.consensus,
        prior=part.prior,
        threads=threads,
        seconds=clock.seconds,
    )


def fit_repeated(
    counts: np.ndarray | pd.DataFrame,
    design: np.ndarray | pd.DataFrame,
    subjects: Sequence,
    *,
    contrast: str | Sequence[float] | Mapping[str, float],
    method: str = "dream",
    f_coefficients: Sequence[str] | None = None,
    groups: Sequence | None = None,
    normalisation: str = "median_ratio",
    lib_size: np.ndarray | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    consensus: bool = True,
    moderate: bool = True,
    threads: int | None = None,
) -> RepeatedFit:
    """Voom + mixed model (or limma's consensus correlation) DE for one contrast.

    :func:`fit_repeated_model` then :meth:`RepeatedModel.test` (and :meth:`RepeatedModel.f_test`);
    several contrasts of one design share the first call.

    Parameters
    ----------
    counts
        Counts, samples x genes (a DataFrame names the genes).
    design
        Fixed-effect design matrix, samples x coefficients (a DataFrame names them), e.g.
        :func:`alsig.stages.de.design.design_matrix` of ``~ sex + region + condition``.
    subjects
        Subject (donor) of each sample.
    contrast
        A design column name, a weight per column, or ``{column: weight}``.
    method
        ``dream``, ``dupcor`` or ``lm`` (see the module docstring).
    f_coefficients
        Design columns tested jointly by a moderated F test (e.g. every level of ``region``).
    groups
        Level of the tested factor per sample, for the summary's per-level counts.
    normalisation
        ``median_ratio`` or ``none`` (see :mod:`alsig.voom.normalise`).
    lib_size
        Effective library sizes to use instead.
    alpha
        Level of ``n_significant`` and of the minimum detectable effect.
    power
        Power of the minimum detectable effect.
    consensus
        Also estimate duplicateCorrelation's consensus for the summary of a ``dream`` fit.
    moderate
        ``dream``: put the empirical Bayes prior on the residual variance (default).
    threads
        numba threads of the per-gene fits (default: numba's setting).

    Returns
    -------
    RepeatedFit
        Tables, summary, the voom data and fits.

    Raises
    ------
    AlsigError
        For inconsistent inputs, an unknown method, a contrast or F coefficient that is not a
        design column, or a repeated-subject method without repeated subjects.
    """
    if method not in MODEL_NAMES:
        raise AlsigError(f"method '{method}' is not one of {', '.join(MODEL_NAMES)}.")
    columns = _inputs(counts, design, subjects)[3]
    _contrast_vector(contrast, columns)  # a bad contrast fails before the fit
    unknown = [c for c in f_coefficients or () if c not in columns]
    if unknown:
        raise AlsigError(f"F-test coefficients {unknown} are not design columns: {columns}.")
    model = fit_repeated_model(
        counts,
        design,
        subjects,
        method=method,
        normalisation=normalisation,
        lib_size=lib_size,
        consensus=consensus,
        moderate=moderate,
        threads=threads,
    )
    f_table = model.f_test(f_coefficients) if f_coefficients else None
    result = model.test(contrast, groups=groups, alpha=alpha, power=power)
    if f_table is not None:
        result.f_table = f_table.sort_values("pvalue", kind="stable")
        result.summary["f_coefficients"] = ";".join(f_coefficients or [])
        result.summary["f_n_significant"] = int((f_table["padj"] < alpha).sum())
    return result


@dataclass
class _Part:
    """What one model's path hands back to :func:`fit_repeated_model`."""

    data: VoomData
    fit: GeneFits
    icc: np.ndarray
    columns: dict[str, np.ndarray]
    consensus: float = np.nan
    prior: ebayes.Prior = field(default_factory=lambda: ebayes.Prior(s2=np.nan, df=0.0))


def _dream(counts, X, subjects, lib, clock: _Clock, consensus: bool, moderate: bool) -> _Part:
    with clock.phase("voom weights (mixed model, unit weights)"):
        data = voom(counts, X, lib_size=lib, model="mixed", subjects=subjects)
    with clock.phase("mixed model (weighted REML)"):
        fit = fit_mixed(data.values, X, subjects, weights=data.weights)
    prior = ebayes.Prior(s2=np.nan, df=0.0)
    if moderate:
        with clock.phase("mixed model (REML x variance prior)"):
            prior = ebayes.fit_prior(fit.sigma2, fit.df_residual)
            fit = fit_mixed(
                data.values, X, subjects, weights=data.weights, prior_df=prior.df, prior_s2=prior.s2
            )
    subject_var = fit.ratio * fit.sigma2
    # ICC of an observation of the gene's typical precision (mean residual variance factor)
    inverse_weight = np.empty(data.weights.shape[0])
    for lo in range(0, inverse_weight.size, GENE_CHUNK):
        inverse_weight[lo : lo + GENE_CHUNK] = np.mean(
            1.0 / data.weights[lo : lo + GENE_CHUNK], axis=1
        )
    residual_var = fit.sigma2 * inverse_weight
    icc = subject_var / (subject_var + residual_var)
    columns = {
        "subject_variance": subject_var,
        "residual_variance": residual_var,
        "subject_variance_zero": fit.ratio == 0,
    }
    part = _Part(data, fit, icc, columns, prior=prior)
    if consensus:
        with clock.phase("consensus correlation (summary only)"):
            # a trimmed mean over genes: genes spread evenly over expression estimate it as well
            # as all of them (to ~0.005) at a fraction of the time
            order = np.argsort(data.values.mean(axis=1), kind="stable")
            pick = np.sort(
                order[np.linspace(0, len(order) - 1, min(CONSENSUS_GENES, len(order))).astype(int)]
            )
            part.consensus = duplicate_correlation(
                data.values[pick], X, subjects, weights=data.weights[pick]
            ).consensus
    return part


def _limma(counts, X, subjects, lib, clock: _Clock, method: str) -> _Part:
    consensus = np.nan
    with clock.phase("voom weights"):
        data = voom(counts, X, lib_size=lib)
    icc = np.full(counts.shape[1], np.nan)
    if method == "dupcor":
        with clock.phase("duplicateCorrelation 1"):
            dc = duplicate_correlation(data.values, X, subjects, weights=data.weights)
        with clock.phase("voom weights (block correlation)"):
            data = voom(
                counts, X, lib_size=lib, model="gls", subjects=subjects, correlation=dc.consensus
            )
        with clock.phase("duplicateCorrelation 2"):
            dc = duplicate_correlation(data.values, X, subjects, weights=data.weights)
        with clock.phase("GLS fit"):
            fit = fit_gls(
                data.values, X, weights=data.weights, subjects=subjects, correlation=dc.consensus
            )
        icc = dc.per_gene
        consensus = dc.consensus
    else:
        with clock.phase("linear model fit"):
            fit = fit_gls(data.values, X, weights=data.weights)
    return _Part(data, fit, icc, {}, consensus)


def _summary(method, table, tests, counts_info, alpha, power, consensus, clock) -> dict[str, Any]:
    sig = table[table["padj"] < alpha]
    summary: dict[str, Any] = {
        "model": MODEL_NAMES[method],
        **counts_info,
        "n_genes_tested": int(len(table)),
        "alpha": alpha,
        "n_significant": int(len(sig)),
        "n_up": int((sig["log2_fold_change"] > 0).sum()),
        "n_down": int((sig["log2_fold_change"] < 0).sum()),
        "prior_df": float(tests.prior.df),
        "prior_s2": float(tests.prior.s2),
        "consensus_correlation": float(consensus),
        **icc_summary(table["icc"]),
        **mde_summary(table["lfc_se"].to_numpy(), table["df"].to_numpy(), alpha=alpha, power=power),
        "fit_seconds": round(sum(clock.seconds.values()), 2),
        "phase_seconds": "; ".join(f"{k} {v:.2f}" for k, v in clock.seconds.items()),
    }
    if "subject_variance_zero" in table:
        summary["n_subject_variance_zero"] = int(table["subject_variance_zero"].sum())
    summary["df_median"] = float(np.nanmedian(table["df"]))
    return summary
