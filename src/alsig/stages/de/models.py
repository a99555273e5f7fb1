"""The three fits a DE job can make of one design, behind one interface.

- :class:`AlsigDESeq2` -- the DESeq2 model by alsig's gene-batched engine (:mod:`alsig.deseq2`,
  ``de.engine: alsig``): one fit, then the Wald test of each contrast (a contrast vector), its
  shrunken log fold change (the IRLS re-run under a releveled design when the contrast's
  reference is not the fit's) and likelihood-ratio tests against reduced designs.
- :class:`PyDESeq2` -- the same model by pydeseq2 (``de.engine: pydeseq2``, the reference):
  one ``DeseqDataSet``; a contrast whose shrunken coefficient is no column of it is refitted
  with the releveled design (pydeseq2 cannot reparametrise a fit). No likelihood-ratio test.
- :class:`VoomMixed` -- voom + a random intercept per subject (``dream``; :mod:`alsig.voom`),
  used when subjects repeat (``de.repeated_subjects``): moderated t per contrast, the moderated
  F test of the coefficients a reduced design drops in place of the LRT, no shrinkage.

Each returns, per contrast or test, a :class:`GeneResults`: the ``de_results`` columns per gene
(:mod:`alsig.stages.de.tables` makes the table) and what the summary says about it.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alsig.deseq import pydeseq2, shutdown_workers
from alsig.errors import AlsigError
from alsig.settings import Contrast, DeSettings, DeTest
from alsig.stages.de.design import design_matrix

log = logging.getLogger(__name__)

LN2 = math.log(2.0)
#: warnings of pydeseq2's dependencies that say nothing about the fit
IGNORED_WARNINGS = (FutureWarning, DeprecationWarning)

#: the steps of pydeseq2 0.5's ``DeseqDataSet.deseq2()``, run one by one to time each
PYDESEQ2_PHASES: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    (
        "size factors",
        lambda d: d.fit_size_factors(
            fit_type=d.size_factors_fit_type, control_genes=d.control_genes
        ),
    ),
    ("genewise dispersions", lambda d: d.fit_genewise_dispersions()),
    ("dispersion trend", lambda d: d.fit_dispersion_trend()),
    ("dispersion prior", lambda d: d.fit_dispersion_prior()),
    ("MAP dispersions", lambda d: d.fit_MAP_dispersions()),
    ("log fold changes", lambda d: d.fit_LFC()),
    ("Cook's distances", lambda d: d.calculate_cooks()),
    ("Cook's refit", lambda d: d.refit() if d.refit_cooks else None),
    ("Cook's outliers", lambda d: d.cooks_outlier()),
)


@dataclass
class Phases:
    """Elapsed wall seconds per phase, logged as each ends (a long fit is told from a hung one).

    Attributes
    ----------
    label : str
        What is timed (the fit or the contrast), for the log.
    seconds : dict
        Phase -> seconds, in the order they ran.
    """

    label: str
    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, step: Callable[..., Any], *args: Any) -> Any:
        """Run ``step(*args)`` as phase ``name``; return its result.

        Parameters
        ----------
        name
            The phase's name.
        step
            What to run.
        *args
            Its arguments.

        Returns
        -------
        Any
            What ``step`` returns.
        """
        began = time.perf_counter()
        result = step(*args)
        self.add(name, time.perf_counter() - began)
        return result

    def add(self, name: str, seconds: float) -> None:
        """Record (and log) a phase timed elsewhere.

        Parameters
        ----------
        name
            The phase's name.
        seconds
            Its wall seconds (added to an earlier phase of that name).
        """
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 3)
        log.info("%s: %s done in %.2f s", self.label, name, seconds)

    @property
    def total(self) -> float:
        """Return the seconds of all phases."""
        return round(sum(self.seconds.values()), 2)


@dataclass
class GeneResults:
    """One contrast's or test's per-gene results and its summary entries.

    Attributes
    ----------
    model : str
        ``deseq2_wald``, ``deseq2_lrt``, ``voom_dream``, ``voom_dupcor`` or ``voom_lm``.
    columns : dict
        Per gene (in the fit's gene order): ``base_mean``, ``log2_fold_change``, ``lfc_se``,
        ``stat``, ``df``, ``df_denominator``, ``pvalue``, ``padj``, ``log2_fold_change_shrunk``,
        ``icc`` (NaN where a model has no such value).
    summary : dict
        What the DE summary says about this test beyond the counts (model-specific).
    phases : Phases
        This test's own phases (the fit's are the fit's).
    """

    model: str
    columns: dict[str, np.ndarray]
    summary: dict[str, Any]
    phases: Phases


def contrast_weights(columns: Sequence[str], contrast: Contrast) -> np.ndarray:
    """Return the contrast vector of ``test - reference`` over formulaic's column names.

    Parameters
    ----------
    columns
        Design column names (``condition[T.ALS]``; the reference level has none).
    contrast
        The contrast.

    Returns
    -------
    numpy.ndarray
        +1 on the test level's column, -1 on the reference's (when either has one).

    Raises
    ------
    AlsigError
        The factor has no column in the design.
    """
    columns = list(columns)
    prefix = f"{contrast.factor}[T."
    if not any(c.startswith(prefix) for c in columns):
        raise AlsigError(
            f"contrast '{contrast.name}': '{contrast.factor}' has no column in the design "
            f"({columns})."
        )
    vector = np.zeros(len(columns))
    for level, sign in ((contrast.test, 1.0), (contrast.reference, -1.0)):
        name = f"{prefix}{level}]"
        if name in columns:
            vector[columns.index(name)] += sign
    return vector


def releveled(meta: pd.DataFrame, contrast: Contrast) -> pd.DataFrame:
    """Return ``meta`` with the contrast's reference level first (its test level second).

    Parameters
    ----------
    meta
        The fit's typed design variables.
    contrast
        The contrast whose coefficient must be a design column.

    Returns
    -------
    pandas.DataFrame
        A copy; only the factor's level order differs.
    """
    out = meta.copy()
    values = meta[contrast.factor].astype(str)
    others = sorted(set(values) - {contrast.test, contrast.reference})
    out[contrast.factor] = pd.Categorical(
        values, categories=[contrast.reference, contrast.test, *others]
    )
    return out


def _is_reference(meta: pd.DataFrame, contrast: Contrast) -> bool:
    categories = getattr(meta[contrast.factor].dtype, "categories", None)
    return categories is not None and str(categories[0]) == contrast.reference


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


class AlsigDESeq2:
    """The DESeq2 model fitted once by :func:`alsig.deseq2.fit_deseq2`.

    Parameters
    ----------
    counts
        Samples x genes integer counts.
    genes
        Gene names.
    meta
        Typed design variables of the samples.
    design
        The design formula.
    settings
        The ``de:`` settings (alpha, filters, Cook's refit, shrinkage).
    n_threads
        Threads of the compiled kernels (results do not depend on it).
    phases
        The fit's phase timings.
    chunk_size
        Genes per chunk (results do not depend on it; default about 8 MB per array).
    """

    family = "deseq2"

    def __init__(
        self,
        counts: np.ndarray,
        genes: Sequence[str],
        meta: pd.DataFrame,
        design: str,
        settings: DeSettings,
        n_threads: int,
        phases: Phases,
        chunk_size: int | None = None,
    ) -> None:
        from alsig.deseq2 import DESeq2Options, fit_deseq2

        self.meta, self.design, self.settings = meta, design, settings
        began = time.perf_counter()
        self.fit = fit_deseq2(
            counts,
            design_matrix(meta, design),
            gene_names=list(genes),
            options=DESeq2Options(refit_cooks=settings.refit_cooks),
            n_threads=n_threads,
            chunk_size=chunk_size,
        )
        phases.add("DESeq2 fit", time.perf_counter() - began)
        self.fit_phases = dict(self.fit.timings)
        self.n_cooks_refitted = int(self.fit.refit.replaced_any.sum())

    def wald(self, contrast: Contrast) -> GeneResults:
        """Return the Wald test of a contrast, with its shrunken log fold change.

        Parameters
        ----------
        contrast
            A contrast of the fit's design.

        Returns
        -------
        GeneResults
        """
        s = self.settings
        phases = Phases(f"contrast {contrast.name}")
        vector = contrast_weights(self.fit.design.columns, contrast)
        res = phases.run(
            "Wald test and filtering",
            lambda: self.fit.results(
                vector,
                alpha=s.alpha,
                cooks_filter=s.cooks_filter,
                independent_filter=s.independent_filter,
            ),
        )
        table = res.table
        n = len(table)
        shrunk, coefficient = _nan(n), f"{contrast.factor}[T.{contrast.test}]"
        if s.lfc_shrink:
            target = None
            if not _is_reference(self.meta, contrast):
                target = design_matrix(releveled(self.meta, contrast), self.design)
            result = phases.run(
                "LFC shrinkage", lambda: self.fit.lfc_shrink(coefficient, design=target)
            )
            shrunk = result.lfc / LN2
        columns = _deseq2_columns(table, shrunk)
        summary = {
            "n_cooks_refitted": self.n_cooks_refitted,
            "n_cooks_outliers": int(res.cooks_outlier.sum()),
            "lfc_shrink_coefficient": coefficient if s.lfc_shrink else "",
            "filter_threshold": _filter_cutoff(res),
        }
        return GeneResults("deseq2_wald", columns, summary, phases)

    def lrt(self, test: DeTest, reduced_meta: pd.DataFrame) -> GeneResults:
        """Return the likelihood-ratio test of the fit against a reduced design.

        Parameters
        ----------
        test
            The test (its ``reduced`` formula, optional ``coefficient``).
        reduced_meta
            The design variables to build the reduced matrix from (the fit's).

        Returns
        -------
        GeneResults

        Raises
        ------
        AlsigError
            The reduced design is not nested in the full one, or the coefficient is no column.
        """
        s = self.settings
        phases = Phases(f"test {test.name}")
        reduced = design_matrix(reduced_meta, test.reduced, f"test '{test.name}'")
        columns = list(self.fit.design.columns)
        if test.coefficient is not None and test.coefficient not in columns:
            raise AlsigError(
                f"test '{test.name}': coefficient '{test.coefficient}' is not a column of the "
                f"design '{self.design}' ({columns})."
            )
        try:
            res = phases.run(
                "likelihood-ratio test",
                lambda: self.fit.lrt(
                    reduced,
                    coefficient=test.coefficient,
                    alpha=s.alpha,
                    cooks_filter=s.cooks_filter,
                    independent_filter=s.independent_filter,
                ),
            )
        except ValueError as error:
            raise AlsigError(f"test '{test.name}': {error}.") from error
        values = _deseq2_columns(res.table, _nan(len(res.table)))
        values["df"] = res.table["df"].to_numpy(float)
        summary = {
            "n_cooks_refitted": self.n_cooks_refitted,
            "n_cooks_outliers": int(res.cooks_outlier.sum()),
            "filter_threshold": _filter_cutoff(res),
            "lrt_df": int(values["df"][0]) if len(values["df"]) else 0,
            "tested_coefficients": ";".join(c for c in columns if c not in set(reduced.columns)),
        }
        return GeneResults("deseq2_lrt", values, summary, phases)


def _deseq2_columns(table: pd.DataFrame, shrunk: np.ndarray) -> dict[str, np.ndarray]:
    n = len(table)
    return {
        "base_mean": table["baseMean"].to_numpy(float),
        "log2_fold_change": table["log2FoldChange"].to_numpy(float),
        "lfc_se": table["lfcSE"].to_numpy(float),
        "stat": table["stat"].to_numpy(float),
        "df": _nan(n),
        "df_denominator": _nan(n),
        "pvalue": table["pvalue"].to_numpy(float),
        "padj": table["padj"].to_numpy(float),
        "log2_fold_change_shrunk": np.asarray(shrunk, float),
        "icc": _nan(n),
    }


class PyDESeq2:
    """The DESeq2 model fitted once by pydeseq2 (``de.engine: pydeseq2``), the reference.

    Parameters are those of :class:`AlsigDESeq2` (``n_threads``: pydeseq2's joblib workers; no
    chunk size).
    """

    family = "deseq2"

    def __init__(
        self,
        counts: np.ndarray,
        genes: Sequence[str],
        meta: pd.DataFrame,
        design: str,
        settings: DeSettings,
        n_threads: int,
        phases: Phases,
        chunk_size: int | None = None,
    ) -> None:
        self.frame = pd.DataFrame(counts.astype(np.int64), index=meta.index, columns=list(genes))
        self.meta, self.design, self.settings, self.n_cpus = meta, design, settings, n_threads
        self.dds = self._fit(meta, phases)
        replaced = self.dds.var.get("replaced", [])
        self.n_cooks_refitted = int(np.asarray(replaced).sum())

    def _fit(self, meta: pd.DataFrame, phases: Phases) -> Any:
        DeseqDataSet, _, DefaultInference = pydeseq2()
        dds = DeseqDataSet(
            counts=self.frame,
            metadata=meta,
            design=self.design,
            refit_cooks=self.settings.refit_cooks,
            inference=DefaultInference(n_cpus=self.n_cpus),
            quiet=True,
        )
        with _pydeseq2_warnings():
            for name, step in PYDESEQ2_PHASES:
                phases.run(name, step, dds)
        return dds

    def _stats(self, dds: Any, contrast: Contrast) -> Any:
        _, DeseqStats, DefaultInference = pydeseq2()
        return DeseqStats(
            dds,
            contrast=list(contrast.spec),
            alpha=self.settings.alpha,
            cooks_filter=self.settings.cooks_filter,
            independent_filter=self.settings.independent_filter,
            inference=DefaultInference(n_cpus=self.n_cpus),
            quiet=True,
        )

    def wald(self, contrast: Contrast) -> GeneResults:
        """Return the Wald test of a contrast, with its shrunken log fold change.

        Parameters
        ----------
        contrast
            A contrast of the fit's design.

        Returns
        -------
        GeneResults
        """
        phases = Phases(f"contrast {contrast.name}")
        stats = self._stats(self.dds, contrast)
        with _pydeseq2_warnings():
            phases.run("Wald test and filtering", stats.summary)
        table = stats.results_df.copy()
        shrunk, coefficient = _nan(len(table)), f"{contrast.factor}[T.{contrast.test}]"
        if self.settings.lfc_shrink:
            if coefficient not in list(stats.LFC.columns):
                # pydeseq2 shrinks design columns only: refit with the releveled design
                log.info(
                    "contrast %s: pydeseq2 refit with reference %s for shrinkage",
                    contrast.name,
                    contrast.reference,
                )
                stats = self._stats(self._fit(releveled(self.meta, contrast), phases), contrast)
                with _pydeseq2_warnings():
                    stats.summary()
            with _pydeseq2_warnings():
                phases.run("LFC shrinkage", lambda: stats.lfc_shrink(coeff=coefficient))
            shrunk = stats.results_df["log2FoldChange"].to_numpy(dtype=float)
        summary = {
            "n_cooks_refitted": self.n_cooks_refitted,
            "n_cooks_outliers": int(np.asarray(self.dds.var["cooks_outlier"]).sum())
            if "cooks_outlier" in self.dds.var and self.settings.cooks_filter
            else 0,
            "lfc_shrink_coefficient": coefficient if self.settings.lfc_shrink else "",
            "filter_threshold": np.nan,
        }
        return GeneResults("deseq2_wald", _deseq2_columns(table, shrunk), summary, phases)

    def lrt(self, test: DeTest, reduced_meta: pd.DataFrame) -> GeneResults:
        """Refuse: pydeseq2 0.5 has no likelihood-ratio test.

        Parameters
        ----------
        test
            The test.
        reduced_meta
            Unused.

        Returns
        -------
        GeneResults
            Never.

        Raises
        ------
        AlsigError
            Always (the config check refuses ``de.tests`` with ``de.engine: pydeseq2``).
        """
        raise AlsigError(
            f"test '{test.name}': pydeseq2 has no likelihood-ratio test; use de.engine: alsig."
        )

    def close(self) -> None:
        """Stop the joblib workers pydeseq2 leaves behind."""
        shutdown_workers()


@contextmanager
def _pydeseq2_warnings() -> Iterator[None]:
    """Record pydeseq2's warnings and log each distinct one once (it warns per gene batch)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    messages = [str(w.message) for w in caught if not issubclass(w.category, IGNORED_WARNINGS)]
    for message in dict.fromkeys(messages):
        log.info("pydeseq2: %s", message)


class VoomMixed:
    """voom + a random intercept per subject, fitted once (:func:`alsig.voom.fit_repeated_model`).

    Parameters
    ----------
    counts
        Samples x genes counts.
    genes
        Gene names.
    meta
        Typed design variables of the samples.
    design
        The design formula.
    subjects
        Subject of each sample.
    method
        ``dream`` (or ``dupcor`` / ``lm`` outside the workflow).
    settings
        The ``de:`` settings (alpha).
    n_threads
        numba threads (results do not depend on it).
    phases
        The fit's phase timings.
    """

    family = "voom"

    def __init__(
        self,
        counts: np.ndarray,
        genes: Sequence[str],
        meta: pd.DataFrame,
        design: str,
        subjects: Sequence[str],
        method: str,
        settings: DeSettings,
        n_threads: int,
        phases: Phases,
    ) -> None:
        from alsig.voom import fit_repeated_model

        self.meta, self.design, self.settings = meta, design, settings
        self.matrix = design_matrix(meta, design)
        began = time.perf_counter()
        self.model = fit_repeated_model(
            pd.DataFrame(counts, index=meta.index, columns=list(genes)),
            self.matrix,
            list(subjects),
            method=method,
            threads=n_threads,
        )
        phases.add(f"{self.model.model} fit", time.perf_counter() - began)
        self.fit_phases = dict(self.model.seconds)
        self.n_cooks_refitted = 0

    def _columns(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        n = len(table)
        return {
            "base_mean": table["base_mean"].to_numpy(float),
            "log2_fold_change": table["log2_fold_change"].to_numpy(float),
            "lfc_se": table["lfc_se"].to_numpy(float),
            "stat": table["stat"].to_numpy(float),
            "df": table["df"].to_numpy(float),
            "df_denominator": _nan(n),
            "pvalue": table["pvalue"].to_numpy(float),
            "padj": table["padj"].to_numpy(float),
            "log2_fold_change_shrunk": _nan(n),
            "icc": table["icc"].to_numpy(float),
        }

    def wald(self, contrast: Contrast) -> GeneResults:
        """Return the moderated t-test of a contrast (the mixed model has no shrinkage).

        Parameters
        ----------
        contrast
            A contrast of the fit's design.

        Returns
        -------
        GeneResults
        """
        phases = Phases(f"contrast {contrast.name}")
        vector = contrast_weights(self.model.columns, contrast)
        began = time.perf_counter()
        groups = self.meta[contrast.factor].astype(str)
        result = self.model.test(
            vector, groups=groups, alpha=self.settings.alpha, name=contrast.name
        )
        phases.add("moderated t", time.perf_counter() - began)
        table = result.table.reindex(self.model.genes)
        return GeneResults(self.model.model, self._columns(table), result.summary, phases)

    def lrt(self, test: DeTest, reduced_meta: pd.DataFrame) -> GeneResults:
        """Return the moderated F test of the coefficients the reduced design drops.

        The mixed model's counterpart of DESeq2's likelihood-ratio test: the F statistic of the
        full model's extra coefficients, Satterthwaite denominator df (dream).

        Parameters
        ----------
        test
            The test (its ``reduced`` formula, optional ``coefficient``).
        reduced_meta
            The design variables to build the reduced matrix from (the fit's).

        Returns
        -------
        GeneResults

        Raises
        ------
        AlsigError
            The reduced design's columns are not the full design's minus some, or the
            coefficient is no column.
        """
        phases = Phases(f"test {test.name}")
        reduced = design_matrix(reduced_meta, test.reduced, f"test '{test.name}'")
        full = self.model.columns
        foreign = [c for c in reduced.columns if c not in full]
        dropped = [c for c in full if c not in set(reduced.columns)]
        if foreign or not dropped:
            raise AlsigError(
                f"test '{test.name}': the reduced design '{test.reduced}' must keep some of the "
                f"columns of '{self.design}' and drop the others (full: {full}; reduced: "
                f"{list(reduced.columns)})."
            )
        if test.coefficient is not None and test.coefficient not in full:
            raise AlsigError(
                f"test '{test.name}': coefficient '{test.coefficient}' is not a column of the "
                f"design '{self.design}' ({full})."
            )
        began = time.perf_counter()
        f_table = self.model.f_test(dropped, name=test.name)
        reference = self.model.test(
            test.coefficient or dropped[0],
            alpha=self.settings.alpha,
            name=f"{test.name} coefficient",
        )
        phases.add("moderated F", time.perf_counter() - began)
        table = reference.table.reindex(self.model.genes)
        values = self._columns(table)
        values.update(
            stat=f_table["F"].to_numpy(float),
            df=np.full(len(table), float(len(dropped))),
            df_denominator=f_table["df2"].to_numpy(float),
            pvalue=f_table["pvalue"].to_numpy(float),
            padj=f_table["padj"].to_numpy(float),
        )
        if test.coefficient is None:
            values["log2_fold_change"] = _nan(len(table))
            values["lfc_se"] = _nan(len(table))
        summary = dict(reference.summary)
        summary.update(
            n_significant=int((values["padj"] < self.settings.alpha).sum()),
            tested_coefficients=";".join(dropped),
            df_median=float(np.nanmedian(values["df_denominator"])),
        )
        for key in ("mde_median", "mde_q25", "mde_q75"):  # power of a coefficient, not of F
            summary[key] = summary[key] if test.coefficient else np.nan
        return GeneResults(self.model.model, values, summary, phases)


def _filter_cutoff(res: Any) -> float:
    """Return the base-mean cutoff independent filtering chose (NaN when not applied)."""
    if res.filtering is None:
        return float("nan")
    return float(res.filtering.cutoffs[res.filtering.chosen])
