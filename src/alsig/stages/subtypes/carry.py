"""What each called subtype carries: DE, enrichment and axis tests of a subtype vs the controls.

Per dataset and per subtype of the projection (ALS-Ox, ALS-Glia, ALS-TE), the disease samples
called that subtype are compared with the controls under the dataset's own DE settings: the
design of the main contrast with its factor replaced by ``subtype_call`` (``~ sex + region +
condition`` becomes ``~ sex + region + subtype_call``), the same samples QC excludes, and the
same DE entry point (:func:`alsig.stages.de.dataset.run_dataset`: one fit for the subtypes'
contrasts), so the same repeated-donor model as the main contrast. Every sample stays in the fit
(``de.samples``): the other subtypes, ``unassigned`` and ``out_of_reference`` disease samples
form their own levels. Enrichment runs the enrich stage's own prerank + ORA
(:func:`alsig.stages.enrich.contrast.enrich_contrast`) on each subtype's DE table for the
collections of ``subtypes.enrich_collections`` (:mod:`.carry_enrich`, kept apart so that those
jobs load no model fitting); the axis tests fit every score with the axes stage's model
(:func:`alsig.stages.axes.effects.axis_tests`).

These results are descriptive and partly circular: the calls were made from the model's
features, so genes that are model features differ between subtypes by construction. Each DE
table flags them (``model_feature``) and each enrichment row lists the model features in its set
(``n_model_features``, ``model_features``); their p-values are not evidence.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import polars as pl

from alsig.gsea.camera import Residuals
from alsig.keys import CONDITION, excluded_samples
from alsig.settings import Contrast, DeSettings, SubtypesSettings
from alsig.stages.axes.effects import axis_tests
from alsig.stages.de.dataset import run_dataset
from alsig.stages.de.plan import fit_groups
from alsig.stages.de.tables import RESULT as DE_RESULT
from alsig.stages.enrich.residuals import fit_residuals
from alsig.stages.subtypes.carry_enrich import CIRCULARITY_NOTE
from alsig.stages.subtypes.reference_model import CLASSES
from alsig.tables import schemas

#: the obs column the subtype contrasts compare
SUBTYPE_FACTOR = "subtype_call"
#: the subtypes that get their own contrast (file names use them)
SUBTYPES = CLASSES
#: schema of the column appended to the DE tables
DE_EXTRA = "subtypes_de"


def contrast_name(subtype: str, settings: SubtypesSettings) -> str:
    """Return the contrast name of a subtype (``ALS-Ox_vs_control``)."""
    return f"{subtype}_vs_{settings.control_label}"


def subtype_contrast(subtype: str, settings: SubtypesSettings) -> Contrast:
    """Return the contrast of ``subtype`` against the controls on :data:`SUBTYPE_FACTOR`."""
    return Contrast(
        contrast_name(subtype, settings), SUBTYPE_FACTOR, subtype, settings.control_label
    )


def main_factor(de: DeSettings, settings: SubtypesSettings) -> str:
    """Return the design factor of the main contrast (disease vs control), ``condition`` without one."""
    for contrast in de.contrasts:
        if (contrast.test, contrast.reference) == (settings.disease_label, settings.control_label):
            return contrast.factor
    return CONDITION


def subtype_design(design: str, factor: str) -> str:
    """Return ``design`` with the main contrast's factor replaced by :data:`SUBTYPE_FACTOR`.

    Parameters
    ----------
    design
        The DE design formula (``~ sex + region + condition``).
    factor
        The main contrast's factor (``condition``).

    Returns
    -------
    str
        The same formula on ``subtype_call``; ``+ subtype_call`` appended when ``factor`` is
        not a term of it.
    """
    pattern = rf"(?<![A-Za-z0-9_.]){re.escape(factor)}(?![A-Za-z0-9_.])"
    if re.search(pattern, design):
        return re.sub(pattern, SUBTYPE_FACTOR, design)
    return f"{design.rstrip()} + {SUBTYPE_FACTOR}"


def subtype_groups(obs: pd.DataFrame, calls: pd.Series, settings: SubtypesSettings) -> pd.Series:
    """Return each sample's level of :data:`SUBTYPE_FACTOR`.

    Parameters
    ----------
    obs
        Sample table with ``condition``.
    calls
        ``subtype_call`` by sample (the stage's table).
    settings
        ``subtypes:`` settings (disease and control labels).

    Returns
    -------
    pandas.Series
        A disease sample's call (``ALS-Ox``, ..., ``unassigned``, ``out_of_reference``), the
        control label for a control, the condition for any other sample (missing stays missing).
    """
    condition = obs[CONDITION].astype(object) if CONDITION in obs else pd.Series(None, obs.index)
    out = []
    for sample, value in condition.items():
        if value == settings.disease_label:
            out.append(calls.get(str(sample)))
        else:
            out.append(None if pd.isna(value) else str(value))
    return pd.Series(out, index=obs.index, dtype=object)


def level_counts(adata: Any, groups: pd.Series, subtype: str, control: str) -> tuple[int, int]:
    """Return the samples of ``subtype`` and of the controls DE would fit (QC exclusions out)."""
    excluded = excluded_samples(adata.obs)
    kept = groups[[s not in excluded for s in groups.index]]
    return int((kept == subtype).sum()), int((kept == control).sum())


def subtype_de(
    adata: Any,
    calls: pd.Series,
    subtype: str,
    *,
    dataset: str,
    de_settings: DeSettings,
    settings: SubtypesSettings,
    model_gene_ids: set[str],
    n_cpus: int,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """DE of one called subtype against the controls (:func:`subtypes_de` for one subtype).

    Parameters
    ----------
    adata, calls, dataset, de_settings, settings, model_gene_ids, n_cpus
        As for :func:`subtypes_de`.
    subtype
        One of :data:`SUBTYPES`.

    Returns
    -------
    tuple
        ``(table, summary)`` of ``subtype``.
    """
    return subtypes_de(
        adata,
        calls,
        [subtype],
        dataset=dataset,
        de_settings=de_settings,
        settings=settings,
        model_gene_ids=model_gene_ids,
        n_cpus=n_cpus,
    )[subtype]


def subtypes_de(
    adata: Any,
    calls: pd.Series,
    subtypes: Sequence[str],
    *,
    dataset: str,
    de_settings: DeSettings,
    settings: SubtypesSettings,
    model_gene_ids: set[str],
    n_cpus: int,
) -> dict[str, tuple[pl.DataFrame, dict[str, Any]]]:
    """DE of each called subtype against the controls, with the model features flagged.

    The subtypes' contrasts share the design and (with ``de.samples: all``) the samples, so they
    come from one fit, as the DE stage's contrasts do (:func:`alsig.stages.de.dataset.run_dataset`).

    Parameters
    ----------
    adata
        The QC'd AnnData (counts in ``X``).
    calls
        ``subtype_call`` by sample.
    subtypes
        Some of :data:`SUBTYPES`.
    dataset
        Dataset id (the table's first column).
    de_settings
        The dataset's ``de:`` settings (design, model, filters).
    settings
        ``subtypes:`` settings.
    model_gene_ids
        Entrez ids of the reference model's gene features.
    n_cpus
        DE workers.

    Returns
    -------
    dict
        ``{subtype: (table, summary)}``. ``table``: the ``de_results`` columns (contrast
        ``<subtype>_vs_<control>``) then ``model_feature``; no rows when the subtype or the
        controls have fewer than ``de.min_samples_per_level`` samples. ``summary``: the DE
        summary plus ``subtype``, ``n_model_features_tested``, ``note`` (the circularity
        warning, or why nothing was fitted).
    """
    groups = subtype_groups(adata.obs, calls, settings)
    minimum = de_settings.min_samples_per_level
    results: dict[str, tuple[pl.DataFrame, dict[str, Any]]] = {}
    fitted = fitted_contrasts(adata, groups, subtypes, de_settings, settings)
    for subtype in subtypes:
        if subtype in fitted:
            continue
        contrast = subtype_contrast(subtype, settings)
        n_test, n_reference = level_counts(adata, groups, subtype, settings.control_label)
        reason = (
            f"not fitted: {n_test} {subtype} and {n_reference} {settings.control_label} samples "
            f"(de.min_samples_per_level = {minimum})"
        )
        results[subtype] = (
            with_model_features(_empty_de(), model_gene_ids),
            {
                **_identity(dataset, subtype, contrast),
                "n_test": n_test,
                "n_reference": n_reference,
                "note": reason,
            },
        )
    if fitted:
        adata, chosen = subtype_fit(adata, groups, fitted.values(), de_settings, settings)
        outcomes = run_dataset(adata, chosen, n_cpus=n_cpus)
        for (subtype, contrast), outcome in zip(fitted.items(), outcomes, strict=True):
            results[subtype] = _flagged(
                outcome.table, outcome.summary, dataset, subtype, contrast, model_gene_ids
            )
    return {subtype: results[subtype] for subtype in subtypes}


def fitted_contrasts(
    adata: Any,
    groups: pd.Series,
    subtypes: Sequence[str],
    de_settings: DeSettings,
    settings: SubtypesSettings,
) -> dict[str, Contrast]:
    """Return the contrast of each subtype with enough samples to fit, by subtype.

    Parameters
    ----------
    adata
        The QC'd AnnData (its exclusions).
    groups
        :func:`subtype_groups`.
    subtypes
        Some of :data:`SUBTYPES`.
    de_settings
        The dataset's ``de:`` settings (``min_samples_per_level``).
    settings
        ``subtypes:`` settings.

    Returns
    -------
    dict
        ``{subtype: contrast}`` for the subtypes with ``de.min_samples_per_level`` samples and
        as many controls.
    """
    minimum = de_settings.min_samples_per_level
    fitted = {}
    for subtype in subtypes:
        n_test, n_reference = level_counts(adata, groups, subtype, settings.control_label)
        if n_test >= minimum and n_reference >= minimum:
            fitted[subtype] = subtype_contrast(subtype, settings)
    return fitted


def subtype_fit(
    adata: Any,
    groups: pd.Series,
    contrasts: Iterable[Contrast],
    de_settings: DeSettings,
    settings: SubtypesSettings,
) -> tuple[Any, DeSettings]:
    """Return the AnnData and the ``de:`` settings of the subtypes' one fit.

    Parameters
    ----------
    adata
        The QC'd AnnData (counts in ``X``); not changed.
    groups
        :func:`subtype_groups`, the levels of :data:`SUBTYPE_FACTOR`.
    contrasts
        The subtypes' contrasts to fit (:func:`fitted_contrasts`).
    de_settings
        The dataset's ``de:`` settings.
    settings
        ``subtypes:`` settings.

    Returns
    -------
    tuple
        A copy of ``adata`` with :data:`SUBTYPE_FACTOR` in ``obs``, and ``de_settings`` with
        the main factor replaced by it and only ``contrasts``.
    """
    adata = adata.copy()
    adata.obs[SUBTYPE_FACTOR] = pd.Categorical(groups.to_numpy(dtype=object))
    design = subtype_design(de_settings.design, main_factor(de_settings, settings))
    # no permutation null: the calls come from the same expression (CIRCULARITY_NOTE), so
    # shuffled labels do not calibrate them, and each subtype would cost 20 more fits
    chosen = dataclasses.replace(
        de_settings,
        design=design,
        contrasts=tuple(contrasts),
        tests=(),
        null_permutations=0,
    )
    return adata, chosen


def subtype_residuals(
    adata: Any,
    calls: pd.Series,
    subtypes: Sequence[str],
    *,
    de_settings: DeSettings,
    settings: SubtypesSettings,
    source: str,
) -> dict[str, Residuals | None]:
    """Return camera's residuals of each subtype's contrast: the samples and design DE fitted.

    The subtypes' DE (:func:`subtypes_de`) is one fit; camera (:mod:`alsig.gsea.camera`)
    estimates each set's inter-gene correlation from its residuals, as the enrich stage does for
    the main contrasts (:func:`alsig.stages.enrich.residuals.fit_residuals`). The residuals are
    computed once per set of samples (once for all subtypes; once per subtype with
    ``de.samples: contrast``) and shared by the subtypes fitted on it.

    Parameters
    ----------
    adata
        The QC'd AnnData (counts in ``X``).
    calls
        ``subtype_call`` by sample.
    subtypes
        Some of :data:`SUBTYPES`.
    de_settings
        The dataset's ``de:`` settings.
    settings
        ``subtypes:`` settings.
    source
        Where ``adata`` came from, for messages.

    Returns
    -------
    dict
        ``{subtype: residuals}``; None for a subtype too small to fit (its DE table is empty).
    """
    groups = subtype_groups(adata.obs, calls, settings)
    fitted = fitted_contrasts(adata, groups, subtypes, de_settings, settings)
    if not fitted:
        return dict.fromkeys(subtypes)
    fit, chosen = subtype_fit(adata, groups, fitted.values(), de_settings, settings)
    # residuals depend on a fit's samples and design, not on its contrast: one per fit group
    # (one for all subtypes, or one each with de.samples: contrast), the others share it
    by_contrast: dict[str, Residuals] = {}
    for group in fit_groups(chosen):
        shared = fit_residuals(fit, chosen, group.contrasts[0].name, source=source).residuals
        by_contrast.update(dict.fromkeys((c.name for c in group.contrasts), shared))
    return {
        subtype: by_contrast[fitted[subtype].name] if subtype in fitted else None
        for subtype in subtypes
    }


def _flagged(
    table: pl.DataFrame,
    summary: dict[str, Any],
    dataset: str,
    subtype: str,
    contrast: Contrast,
    model_gene_ids: set[str],
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Return a subtype's DE table with labels and ``model_feature``, and its summary."""
    labelled = table.select(
        pl.lit(dataset).alias("dataset"), pl.lit(contrast.name).alias("contrast"), pl.all()
    )
    schemas.validate(labelled, DE_RESULT, f"DE of {subtype} in {dataset}")
    flagged = with_model_features(labelled, model_gene_ids)
    return flagged, {
        **_identity(dataset, subtype, contrast),
        **summary,
        "n_model_features_tested": int(flagged["model_feature"].sum()),
        "note": CIRCULARITY_NOTE,
    }


def _identity(dataset: str, subtype: str, contrast: Contrast) -> dict[str, str]:
    """Return the first fields of a subtype's DE summary."""
    return {"dataset": dataset, "subtype": subtype, "contrast": contrast.name}


def _empty_de() -> pl.DataFrame:
    return schemas.empty(DE_RESULT)


def with_model_features(table: pl.DataFrame, model_gene_ids: set[str]) -> pl.DataFrame:
    """Append ``model_feature`` (the gene is one of the model's features) to a DE table."""
    flagged = table.with_columns(
        pl.col("gene_id").cast(pl.String).is_in(sorted(model_gene_ids)).alias("model_feature")
    )
    schemas.validate(
        flagged.select(list(schemas.polars_schema(DE_EXTRA))), DE_EXTRA, "model_feature"
    )
    return flagged


def subtype_axis_tests(
    scores: pl.DataFrame,
    obs: pd.DataFrame,
    calls: pd.Series,
    *,
    de_settings: DeSettings,
    settings: SubtypesSettings,
) -> tuple[pl.DataFrame, list[str]]:
    """Axis tests of every called subtype against the controls.

    Parameters
    ----------
    scores
        The dataset's long score table.
    obs
        The QC'd sample table.
    calls
        ``subtype_call`` by sample.
    de_settings
        The dataset's ``de:`` settings (design, missing covariates).
    settings
        ``subtypes:`` settings.

    Returns
    -------
    table : polars.DataFrame
        ``axis_tests`` rows, one contrast per subtype with enough samples (schema
        ``axis_tests``).
    skipped : list of str
        Why the other subtypes were not tested.
    """
    obs = obs.copy()
    groups = subtype_groups(obs, calls, settings)
    obs[SUBTYPE_FACTOR] = groups.to_numpy(dtype=object)
    exclude = excluded_samples(obs)
    design = subtype_design(de_settings.design, main_factor(de_settings, settings))
    missing = "drop" if de_settings.missing_covariates == "drop" else "error"
    parts, skipped = [], []
    for subtype in SUBTYPES:
        kept = groups[[s not in exclude for s in groups.index]]
        n_test = int((kept == subtype).sum())
        n_reference = int((kept == settings.control_label).sum())
        if n_test < 2 or n_reference < 2:
            skipped.append(f"{subtype}: {n_test} vs {n_reference} {settings.control_label}")
            continue
        parts.append(
            axis_tests(
                scores,
                obs,
                design=design,
                contrast=subtype_contrast(subtype, settings),
                exclude=exclude,
                missing_covariates=missing,
                categorical=de_settings.categorical,
            )
        )
    table = pl.concat(parts) if parts else schemas.empty("axis_tests")
    return table, skipped
