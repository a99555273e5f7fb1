"""Every contrast and test of one dataset, one fit per design and sample set.

:func:`run_dataset` groups the dataset's contrasts and tests into fits
(:func:`~alsig.stages.de.plan.fit_groups`), and for each fit

1. selects the samples: the subset, minus those QC leaves out (``qc_exclusion``), checked with
   :func:`~alsig.stages.de.design.prepare_fit_metadata` before anything is fitted;
2. takes the expressed genes (``var["expressed"]`` from QC) with a count in those samples;
3. chooses the model (:func:`alsig.voom.repeated_model`, ``de.repeated_subjects``): the mixed
   model (voom + a random intercept per subject, dream) when a subject has several fitted
   samples, else the DESeq2 model (``de.engine``: alsig's engine or pydeseq2);
4. adds the cell-mix covariates when ``de.adjust_cell_mix`` (:mod:`alsig.stages.de.cell_mix`);
5. fits once and reads each contrast (Wald or moderated t) and test (LRT or moderated F);
6. refits with each contrast factor's labels moved between whole donors
   (``de.null_permutations``, :mod:`alsig.stages.de.null`): genes that shuffled labels give.

Each phase is logged with its time, so a long fit can be told from a hung one. :func:`run_de` is
the one-contrast entry point (per-subtype DE, scripts, tests): the same work for a contrast that
need not be one of ``de.contrasts``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl

from alsig.counts import dense_counts
from alsig.errors import AlsigError
from alsig.keys import CONDITION, EXPRESSED, VST, excluded_samples, sample_subjects
from alsig.settings import Contrast, DeSettings, DeTest
from alsig.stages.de.cell_mix import CellMixDesign, cell_mix_design
from alsig.stages.de.design import prepare_fit_metadata, subset_samples
from alsig.stages.de.models import AlsigDESeq2, GeneResults, Phases, PyDESeq2, VoomMixed
from alsig.stages.de.null import null_columns, plan_permutations, run_null
from alsig.stages.de.plan import FitGroup, fit_groups, reference_levels, subset_text
from alsig.stages.de.tables import gene_table
from alsig.voom import repeated_model, subjects_with_conflicts
from alsig.voom.summary import mde_summary, subject_counts

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """One contrast's or test's DE table and summary.

    Attributes
    ----------
    name : str
        The contrast or test name.
    kind : str
        ``contrast`` or ``test``.
    table : polars.DataFrame
        The ``de_results`` columns but the labels (:func:`~alsig.stages.de.tables.core_schema`).
    summary : dict
        The summary row (:data:`~alsig.stages.de.tables.SUMMARY_COLUMNS` keys that apply).
    contrast : Contrast or None
        The contrast (None for a test).
    """

    name: str
    kind: str
    table: pl.DataFrame
    summary: dict[str, Any]
    contrast: Contrast | None = None


def genes_to_test(
    adata: ad.AnnData, meta: pd.DataFrame, genes_tested: str, name: str
) -> tuple[np.ndarray, pd.DataFrame]:
    """Return the counts and ``var`` of the genes tested on ``meta``'s samples.

    Parameters
    ----------
    adata
        The QC'd AnnData.
    meta
        The fitted samples (index).
    genes_tested
        ``expressed`` (QC's filter, ``de.genes``) or ``all``.
    name
        The contrast or fit, for the message.

    Returns
    -------
    tuple
        ``(counts, var)``: samples x genes integers and the genes' ``var`` rows, genes with at
        least one count in these samples.

    Raises
    ------
    AlsigError
        No gene has a count, or ``genes_tested`` is neither ``expressed`` nor ``all``.
    """
    if genes_tested not in ("expressed", "all"):
        raise AlsigError(f"{name}: genes to test are 'expressed' or 'all', not {genes_tested!r}.")
    genes = np.ones(adata.n_vars, dtype=bool)
    if genes_tested == "expressed":
        if EXPRESSED in adata.var:
            genes = adata.var[EXPRESSED].astype(bool).to_numpy()
        else:
            log.warning("var['expressed'] missing (input not from QC): testing all genes")
    sub = adata[meta.index, genes]
    counts = dense_counts(sub)
    nonzero = counts.sum(axis=0) > 0
    if not nonzero.any():
        raise AlsigError(f"{name}: no genes with counts to test.")
    return counts[:, nonzero], sub.var.loc[nonzero]


def _check_subject_conditions(obs: pd.DataFrame, subjects: pd.Series, what: str) -> None:
    """Refuse a subject whose samples carry different conditions (a sample-sheet error)."""
    if CONDITION not in obs or subjects.duplicated().sum() == 0:
        return
    conflicts = subjects_with_conflicts(subjects, obs.loc[subjects.index, CONDITION].astype(str))
    if conflicts:
        detail = "; ".join(f"{s}: {', '.join(v)}" for s, v in list(conflicts.items())[:8])
        raise AlsigError(
            f"{what}: {len(conflicts)} subject(s) have samples with different conditions "
            f"({detail}). A donor has one condition; fix the sample sheet (subject or condition "
            "column). A factor that varies within a donor (region) is fine."
        )


def run_dataset(
    adata: ad.AnnData,
    settings: DeSettings,
    *,
    n_cpus: int,
    contrasts: Sequence[Contrast] | None = None,
    tests: Sequence[DeTest] | None = None,
    expression: pd.DataFrame | None = None,
    chunk_size: int | None = None,
) -> list[Outcome]:
    """Fit every contrast and test of a dataset, one fit per design and sample set.

    Parameters
    ----------
    adata
        The QC'd AnnData (integer counts in ``X``).
    settings
        The dataset's ``de:`` settings.
    n_cpus
        Threads of the engine (pydeseq2: workers); results do not depend on them.
    contrasts, tests
        What to fit (default: every one of ``settings``).
    expression
        Log-scale expression (samples x symbols) for ``de.adjust_cell_mix``; default the
        ``vst`` layer, else log-CPM of the counts.
    chunk_size
        Genes per chunk of alsig's engine (results do not depend on it).

    Returns
    -------
    list of Outcome
        Contrasts first, then tests, each in config order.

    Raises
    ------
    AlsigError
        Any problem of the designs, contrasts, subsets or samples, before the fit it concerns.
    """
    contrasts = list(settings.contrasts if contrasts is None else contrasts)
    tests = list(settings.tests if tests is None else tests)
    excluded = excluded_samples(adata.obs)
    for sample, reason in excluded.items():
        log.warning("sample %s left out of DE (QC: %s)", sample, reason)
    obs = adata.obs.loc[[name for name in adata.obs_names if name not in excluded]]
    references = reference_levels([*settings.contrasts, *contrasts])
    if settings.adjust_cell_mix and expression is None:
        expression = _expression(adata)
    outcomes: dict[str, Outcome] = {}
    for group in fit_groups(settings, contrasts, tests):
        for outcome in _fit_group(
            adata, obs, group, settings, references, excluded, n_cpus, expression, chunk_size
        ):
            outcomes[outcome.name] = outcome
    return [outcomes[c.name] for c in contrasts] + [outcomes[t.name] for t in tests]


def _expression(adata: ad.AnnData) -> pd.DataFrame:
    from alsig.cellmix import expression_frame, log_cpm

    if "vst" in adata.layers:
        return expression_frame(adata, "vst")
    log.warning("no 'vst' layer: the cell-mix indices read log-CPM of the counts")
    counts = pd.DataFrame(dense_counts(adata), index=adata.obs_names, columns=adata.var_names)
    if EXPRESSED in adata.var:
        counts = counts.loc[:, adata.var[EXPRESSED].astype(bool).to_numpy()]
    return log_cpm(counts)


@dataclass(frozen=True)
class FitSamples:
    """The samples, genes and design of one fit, as the DE stage fits them.

    Attributes
    ----------
    label : str
        How logs name the fit (its contrasts and tests, design and subset).
    meta : pandas.DataFrame
        The design variables of the fitted samples (index); ``cell_mix.meta`` adds the cell-mix
        covariates when ``de.adjust_cell_mix``.
    design : str
        The fitted formula (the cell-mix terms added): over ``cell_mix.meta``.
    dropped : list of str
        Samples of the subset left out (other levels, missing design values).
    counts : numpy.ndarray
        Samples x genes counts of the genes tested.
    var : pandas.DataFrame
        Those genes' ``var`` rows (index = symbols).
    subjects : pandas.Series
        Each fitted sample's subject.
    cell_mix : CellMixDesign
        The cell-mix covariates (none without ``de.adjust_cell_mix``).
    """

    label: str
    meta: pd.DataFrame
    design: str
    dropped: list[str]
    counts: np.ndarray
    var: pd.DataFrame
    subjects: pd.Series
    cell_mix: CellMixDesign


def fit_samples(
    adata: ad.AnnData,
    obs: pd.DataFrame,
    group: FitGroup,
    settings: DeSettings,
    references: dict[str, str],
    expression: pd.DataFrame | None,
) -> FitSamples:
    """Select one fit's samples and genes and build its design, checked before any fit.

    Parameters
    ----------
    adata
        The QC'd AnnData.
    obs
        Its samples that QC keeps (``qc_exclusion`` left out).
    group
        The fit (:func:`~alsig.stages.de.plan.fit_groups`).
    settings
        The dataset's ``de:`` settings.
    references
        Each factor's reference level (:func:`~alsig.stages.de.plan.reference_levels`).
    expression
        Log-scale expression for ``de.adjust_cell_mix`` (required then).

    Returns
    -------
    FitSamples
        What the fit sees.

    Raises
    ------
    AlsigError
        A problem of the design, subset, samples or subjects.
    """
    label = f"fit of {', '.join(group.names)} ({group.label})"
    if group.subset:
        obs = subset_samples(obs, group.subset, label)
    meta, dropped = prepare_fit_metadata(
        obs,
        group.design,
        contrasts=[(c.name, c.spec) for c in group.contrasts],
        reduced=[(t.name, t.reduced) for t in group.tests],
        references=references,
        min_samples_per_level=settings.min_samples_per_level,
        missing_covariates=settings.missing_covariates,
        samples=settings.samples,
        categorical=list(settings.categorical),
        what=label,
    )
    counts, var = genes_to_test(adata, meta, settings.genes, label)
    subjects = sample_subjects(obs, meta.index)
    _check_subject_conditions(obs, subjects, label)
    cell_mix = CellMixDesign(meta, (), "")
    if settings.adjust_cell_mix:
        if expression is None:
            raise AlsigError(f"{label}: de.adjust_cell_mix needs the expression to adjust for.")
        cell_mix = cell_mix_design(meta, expression, subjects)
        log.info("%s: cell-mix adjustment: %s", label, cell_mix.description)
    return FitSamples(
        label,
        meta,
        cell_mix.formula(group.design),
        dropped,
        counts,
        var,
        subjects,
        cell_mix,
    )


def contrast_fit_samples(
    adata: ad.AnnData,
    settings: DeSettings,
    contrast_name: str,
    *,
    expression: pd.DataFrame | None = None,
) -> FitSamples:
    """Return the samples, genes and design the DE job fitted one of ``de.contrasts`` on.

    The same selection as :func:`run_dataset` (QC exclusions, the fit's subset and level
    selection, missing covariates, cell-mix terms), so a later stage can work on exactly the
    contrast's samples (the enrich stage's camera residuals).

    Parameters
    ----------
    adata
        The QC'd AnnData the DE job read.
    settings
        The dataset's ``de:`` settings.
    contrast_name
        A name of ``settings.contrasts``.
    expression
        Log-scale expression for ``de.adjust_cell_mix`` (:func:`read_vst`; default: log-CPM of
        the counts, as :func:`run_dataset`).

    Returns
    -------
    FitSamples
        The contrast's fit.

    Raises
    ------
    AlsigError
        ``contrast_name`` is not a contrast of ``settings``, or the fit's checks fail.
    """
    names = [c.name for c in settings.contrasts]
    if contrast_name not in names:
        raise AlsigError(
            f"contrast '{contrast_name}' is not one of de.contrasts ({', '.join(names)})."
        )
    excluded = excluded_samples(adata.obs)
    obs = adata.obs.loc[[name for name in adata.obs_names if name not in excluded]]
    references = reference_levels(settings.contrasts)
    if settings.adjust_cell_mix and expression is None:
        expression = _expression(adata)
    (group,) = (g for g in fit_groups(settings) if contrast_name in [c.name for c in g.contrasts])
    return fit_samples(adata, obs, group, settings, references, expression)


def read_vst(path: str, adata: ad.AnnData) -> pd.DataFrame | None:
    """Return QC's VST layer of the expressed genes, read alone (the counts reader skips layers).

    Parameters
    ----------
    path
        The QC'd AnnData file.
    adata
        Its counts (:func:`alsig.io.read_h5ad_counts`): sample and gene names.

    Returns
    -------
    pandas.DataFrame or None
        Samples x expressed genes; ``None`` (with a warning) when the file has no VST layer:
        the cell-mix indices then read log-CPM of the counts.
    """
    import h5py

    try:
        from anndata.io import read_elem
    except ImportError:  # anndata < 0.11
        from anndata.experimental import read_elem

    with h5py.File(path, "r") as handle:
        layers = handle.get("layers")
        if layers is None or VST not in layers:
            log.warning("%s has no '%s' layer: cell-mix indices from log-CPM", path, VST)
            return None  # run_dataset falls back to log-CPM of the counts
        matrix = read_elem(layers[VST])
    matrix = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    keep = (
        adata.var[EXPRESSED].to_numpy(dtype=bool)
        if EXPRESSED in adata.var
        else np.ones(adata.n_vars, dtype=bool)
    )
    return pd.DataFrame(
        matrix[:, keep].astype(float),
        index=adata.obs_names.astype(str),
        columns=adata.var_names[keep],
    )


def _fit_group(
    adata: ad.AnnData,
    obs: pd.DataFrame,
    group: FitGroup,
    settings: DeSettings,
    references: dict[str, str],
    excluded: dict[str, str],
    n_cpus: int,
    expression: pd.DataFrame | None,
    chunk_size: int | None,
) -> list[Outcome]:
    chosen = fit_samples(adata, obs, group, settings, references, expression)
    label, meta, dropped = chosen.label, chosen.meta, chosen.dropped
    counts, var, subjects = chosen.counts, chosen.var, chosen.subjects
    cell_mix, design = chosen.cell_mix, chosen.design
    method, reason = repeated_model(settings.repeated_subjects, subjects.tolist())
    phases = Phases(label)
    log.info(
        "%s: %d samples, %d subjects, %d genes; model %s (%s)",
        label,
        len(meta),
        subjects.nunique(),
        counts.shape[1],
        "DESeq2 (" + settings.engine + ")" if method == "ignore" else method,
        reason,
    )
    fit = Fitter(counts, var.index, design, subjects, method, n_cpus, chunk_size)
    model = fit(cell_mix.meta, settings, phases)
    common = {
        "model_reason": reason,
        "engine": settings.engine if method == "ignore" else "",
        "design": design,
        "subset": subset_text(group.subset),
        "fit": group.label,
        "n_samples": len(meta),
        "n_samples_dropped": len(dropped),
        "dropped_samples": ";".join(map(str, dropped)),
        "n_samples_excluded_qc": len(excluded),
        "excluded_qc_samples": ";".join(f"{k}({v})" for k, v in excluded.items()),
        "cell_mix_adjustment": cell_mix.description,
        "n_genes_tested": counts.shape[1],
        "alpha": settings.alpha,
        "fit_seconds": phases.total,
        "fit_phase_seconds": _phase_text(getattr(model, "fit_phases", phases.seconds)),
        "n_cpus": n_cpus,
        **subject_counts(subjects.tolist()),
    }
    if meta.attrs.get("design_notes"):  # a column only when there is something to say
        common["design_notes"] = " | ".join(meta.attrs["design_notes"])
    outcomes = []
    try:
        for contrast in group.contrasts:
            result = model.wald(contrast)
            outcomes.append(
                _outcome(
                    contrast.name,
                    "contrast",
                    result,
                    var,
                    common,
                    settings,
                    meta,
                    subjects,
                    contrast,
                )
            )
        for test in group.tests:
            result = model.lrt(test, cell_mix.meta)
            summary = {**common, "reduced_design": cell_mix.formula(test.reduced)}
            outcomes.append(
                _outcome(test.name, "test", result, var, summary, settings, meta, subjects)
            )
    finally:
        if isinstance(model, PyDESeq2):
            model.close()
    del model  # the permuted fits one at a time, not beside the real one (the memory model)
    if group.contrasts and settings.null_permutations != 0:
        _null_check(outcomes, group, cell_mix.meta, subjects, fit, settings, label)
    return outcomes


@dataclass(frozen=True)
class Fitter:
    """Fits the model a fit group chose, on given design variables (the real or permuted ones).

    Attributes
    ----------
    counts : numpy.ndarray
        Samples x genes counts.
    genes : pandas.Index
        The tested genes.
    design : str
        The design formula (with cell-mix covariates).
    subjects : pandas.Series
        The donor of each sample.
    method : str
        :func:`alsig.voom.repeated_model`'s choice: ``ignore`` (the DESeq2 model) or the mixed
        model's method.
    n_cpus : int
        Threads of the engine.
    chunk_size : int or None
        Genes per chunk of alsig's engine.
    """

    counts: np.ndarray
    genes: pd.Index
    design: str
    subjects: pd.Series
    method: str
    n_cpus: int
    chunk_size: int | None

    def __call__(
        self, meta: pd.DataFrame, settings: DeSettings, phases: Phases
    ) -> AlsigDESeq2 | PyDESeq2 | VoomMixed:
        """Fit the model on ``meta``'s design variables.

        Parameters
        ----------
        meta
            Typed design variables of the samples.
        settings
            The ``de:`` settings.
        phases
            The fit's phase timings.

        Returns
        -------
        AlsigDESeq2, PyDESeq2 or VoomMixed
        """
        counts, genes, design = self.counts, self.genes, self.design
        if self.method != "ignore":
            return VoomMixed(
                counts,
                genes,
                meta,
                design,
                self.subjects,
                self.method,
                settings,
                self.n_cpus,
                phases,
            )
        if settings.engine == "pydeseq2":
            return PyDESeq2(counts, genes, meta, design, settings, self.n_cpus, phases)
        return AlsigDESeq2(
            counts, genes, meta, design, settings, self.n_cpus, phases, self.chunk_size
        )


def _null_check(
    outcomes: list[Outcome],
    group: FitGroup,
    meta: pd.DataFrame,
    subjects: pd.Series,
    fit: Fitter,
    settings: DeSettings,
    label: str,
) -> None:
    """Add the permutation null's columns to the summaries of the group's contrasts."""
    engine = settings.engine if fit.method == "ignore" else "dream"  # AUTO_CELLS' model
    plan = plan_permutations(settings.null_permutations, len(meta), fit.counts.shape[1], engine)
    contrasts = {o.name: o for o in outcomes if o.kind == "contrast"}
    if not plan.permutations:
        log.info("%s: no permutation null: %s", label, plan.note)
        for outcome in contrasts.values():
            outcome.summary.update(null_columns(0, [], plan.note))
        return
    # shrunken fold changes do not change padj: the permuted fits skip them
    unshrunk = replace(settings, lfc_shrink=False)
    null = run_null(
        meta,
        subjects,
        group.contrasts,
        {name: int(o.summary["n_significant"]) for name, o in contrasts.items()},
        lambda permuted: fit(permuted, unshrunk, Phases(f"{label}, permuted")),
        permutations=plan.permutations,
        seed=settings.seed,
        alpha=settings.alpha,
        label=label,
    )
    for name, columns in null.items():
        contrasts[name].summary.update(columns)


def _phase_text(seconds: dict[str, float]) -> str:
    return "; ".join(f"{name} {value:.2f}" for name, value in seconds.items())


def _outcome(
    name: str,
    kind: str,
    result: GeneResults,
    var: pd.DataFrame,
    common: dict[str, Any],
    settings: DeSettings,
    meta: pd.DataFrame,
    subjects: pd.Series,
    contrast: Contrast | None = None,
) -> Outcome:
    table = gene_table(var, result.columns, result.model)
    alpha = settings.alpha
    significant = table.filter(pl.col("padj") < alpha)
    lfc = significant["log2_fold_change"]
    signed = table["log2_fold_change"].is_not_null().any()  # a test without a coefficient: no
    summary: dict[str, Any] = {
        "contrast": name,
        "kind": kind,
        "model": result.model,
        **common,
        **{k: v for k, v in result.summary.items() if k not in _COUNTED},
        "n_genes_with_padj": int(table["padj"].is_not_null().sum()),
        "n_significant": significant.height,
        "n_up": int((lfc > 0).sum()) if signed else None,
        "n_down": int((lfc < 0).sum()) if signed else None,
        "test_seconds": result.phases.total,
        "test_phase_seconds": _phase_text(result.phases.seconds),
    }
    if contrast is not None:
        factor = meta[contrast.factor].astype(str)
        summary.update(
            factor=contrast.factor,
            test_level=contrast.test,
            reference_level=contrast.reference,
            n_test=int((factor == contrast.test).sum()),
            n_reference=int((factor == contrast.reference).sum()),
            per_level=subject_counts(subjects.tolist(), factor.tolist())["per_level"],
        )
    if result.model.startswith("deseq2") and "mde_median" not in result.summary:
        se = table["lfc_se"].fill_null(np.nan).to_numpy()
        if np.isfinite(se).any():  # the Wald test's normal quantiles (df infinite)
            summary.update(mde_summary(se, np.full(se.shape, np.inf), alpha=alpha))
    direction = (
        f"{summary['n_up']} up, {summary['n_down']} down"
        if signed
        else "no up/down: the test names no coefficient"
    )
    log.info(
        "%s %s (%s): %d genes at padj < %g (%s)",
        kind,
        name,
        result.model,
        summary["n_significant"],
        alpha,
        direction,
    )
    return Outcome(name, kind, table, summary, contrast)


#: entries of a model's own summary that the stage counts itself, from the table
_COUNTED = (
    "n_samples",
    "n_genes_tested",
    "alpha",
    "n_significant",
    "n_up",
    "n_down",
    "fit_seconds",
    "phase_seconds",
    "per_level",
)


def run_de(
    adata: ad.AnnData,
    contrast: Contrast,
    settings: DeSettings,
    *,
    n_cpus: int,
    null_check: bool = False,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """DE for one contrast, with the configured model.

    Parameters
    ----------
    adata
        The QC'd AnnData (integer counts in ``X``; the ``vst`` layer for
        ``de.adjust_cell_mix``).
    contrast
        The contrast (one of ``settings.contrasts``, or any other of the same data).
    settings
        The ``de:`` settings (design, model choice, engine, filters).
    n_cpus
        Threads of the engine (pydeseq2: workers).
    null_check
        Run ``de.null_permutations`` (off by default: callers of one contrast, such as a
        benchmark's own permutation loop, rarely want 20 refits inside each call).

    Returns
    -------
    tuple
        ``(table, summary)``: one row per tested gene (``de_results`` without the dataset and
        contrast labels), and the summary row (model, samples and subjects, counts, timings).

    Raises
    ------
    AlsigError
        A problem of the design, contrast or samples, before fitting.
    """
    if not null_check:
        settings = replace(settings, null_permutations=0)
    (outcome,) = run_dataset(adata, settings, n_cpus=n_cpus, contrasts=[contrast], tests=[])
    return outcome.table, outcome.summary
