"""One dataset's samples as ingest would read them, and what DE asks of them.

Conditions, subjects, contrasts with enough samples per level, design covariates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alsig.errors import AlsigError
from alsig.preflight.findings import Findings
from alsig.settings import (
    Contrast,
    section,
)
from alsig.sources.geo import read_series_matrix
from alsig.sources.geo_layout import cache_files
from alsig.stages.de.design import design_variables
from alsig.stages.ingest.counts import read_row_ids, read_sample_ids
from alsig.stages.ingest.geo import series_matrix_layout
from alsig.stages.ingest.samples import (
    SheetLayout,
    match_samples,
    obs_from_sheet,
    read_sample_sheet,
)
from alsig.stages.ingest.te_counts import match_te_columns
from alsig.validation import (
    as_missing,
    choose_kind,
    clean_sheet,
    did_you_mean,
    level_shortfalls,
    path_problem,
)
from alsig.validation.sheet import subject_conflicts


def sample_table(
    settings: Mapping[str, Any],
    dataset: str,
    config: Mapping[str, Any],
    workdir: Path,
    found: Findings,
    files_ok: bool,
):
    """Build the obs ingest would build (canonical columns included).

    None when it cannot be built here: a problem was recorded, or a GEO series matrix is not
    downloaded yet.
    """
    report: dict[str, Any] = {}
    try:
        if settings.get("source") == "local":
            if not files_ok:
                return None
            layout = SheetLayout.from_settings(settings)
            sheet_path = workdir / str(settings["samples"])
            sheet = read_sample_sheet(sheet_path, layout.sample_column, report=report)
            obs = obs_from_sheet(
                sheet, layout, dataset=dataset, source=str(sheet_path), report=report
            )
            counts_path = workdir / str(settings["counts"])
            samples = read_sample_ids(
                counts_path,
                gene_column=settings.get("counts_gene_column"),
                non_sample_columns=settings.get("non_sample_columns") or [],
            )
            # the row ids cost a read of the whole file: only when the header misses samples,
            # to tell a transposed matrix from wrong ids as ingest does
            row_ids = (
                None
                if set(obs.index) <= set(samples)
                else read_row_ids(counts_path, gene_column=settings.get("counts_gene_column"))
            )
            match_samples(
                samples,
                list(obs.index),
                counts_src=str(counts_path),
                sheet_src=str(sheet_path),
                dataset=dataset,
                matrix_genes=row_ids,
            )
            _check_te_header(settings, samples, workdir, report)
        else:
            obs = _geo_sample_table(settings, dataset, config, workdir, found, report)
    except AlsigError as error:
        found.problem(f"dataset {dataset}: {error}")
        return None
    for note in report.get("notes", []):
        found.note(f"dataset {dataset}: {note}")
    return obs


def _check_te_header(
    settings: Mapping[str, Any], samples: list[str], workdir: Path, report: dict[str, Any]
) -> None:
    """Match the TE table's header to the count matrix's samples as ingest will.

    Raises ingest's error; the TE columns ingest leaves out become a note in ``report``.
    """
    if not settings.get("te_counts"):
        return
    te_path = workdir / str(settings["te_counts"])
    if path_problem(te_path) is not None:  # reported with the other input paths
        return
    match_te_columns(read_sample_ids(te_path), samples, te_path, report)


def _geo_sample_table(settings, dataset, config, workdir, found, report):
    """Build the obs of a GEO dataset from its cached series matrix (None when not cached)."""
    cache = section(config, "geo")["cache_dir"]
    platform = settings.get("platform") or ""
    matrix = workdir / cache_files(cache, settings["accession"], platform)["series_matrix"]
    if not matrix.is_file():
        found.note(
            f"dataset {dataset}: {settings['accession']} is not downloaded yet ({matrix}); its "
            "sample sheet, condition rules and contrasts are checked at ingest"
        )
        return None
    sheet = read_series_matrix(matrix, report=report)
    sheet = clean_sheet(sheet, sample_column="sample", location=f"file '{matrix}'", report=report)
    layout = series_matrix_layout(settings, sheet.columns)
    return obs_from_sheet(sheet, layout, dataset=dataset, source=str(matrix), report=report)


def _groups(obs, by: str | None):
    """Return the unit a level's samples are counted in.

    Collapsed groups (subject + region) when ``qc.collapse_by`` is set, else samples.
    """
    if not by or by not in obs:
        return obs.index.to_series().astype(str)
    key = obs[by].astype(str)
    if "region" in obs:
        key = key + "\x1f" + obs["region"].astype(str)
    return key


def check_analysis(obs, stages: Mapping[str, dict[str, Any]], dataset: str, found: Findings):
    """QC, DE and score keys that name sample columns or levels, against ``obs``."""
    columns = [str(c) for c in obs.columns]
    qc = stages.get("qc") or {}
    by = qc.get("collapse_by")
    if by and by not in obs:
        found.problem(
            f"dataset {dataset}: config key qc.collapse_by: '{by}' is not a sample column."
            f"{did_you_mean(by, columns)}"
        )
        by = None
    if by:
        conflicts = subject_conflicts(obs, by)
        if conflicts:
            found.problem(
                f"dataset {dataset}: sample sheet: the libraries of one {by} disagree: "
                f"{'; '.join(conflicts[:5])}. qc.collapse_by: {by} cannot sum them; fix the "
                "sheet."
            )
    if qc.get("group_column") and qc["group_column"] not in obs:
        found.problem(
            f"dataset {dataset}: config key qc.group_column: '{qc['group_column']}' is not a "
            f"sample column.{did_you_mean(qc['group_column'], columns)}"
        )
    if "de" in stages:
        _check_contrasts(obs, stages["de"], _groups(obs, by), dataset, found)
    score = stages.get("score") or {}
    column, label = score.get("control_column"), score.get("control_label")
    if column and column not in obs:
        found.problem(
            f"dataset {dataset}: config key score.control_column: '{column}' is not a sample "
            f"column.{did_you_mean(column, columns)}"
        )
    elif column and label not in set(obs[column].astype(str)):
        found.note(
            f"dataset {dataset}: no sample has {column} '{label}' (score.control_label): z "
            "scores against controls will be empty"
        )


def _check_contrasts(obs, de: Mapping[str, Any], units, dataset: str, found: Findings) -> None:
    """Design variables and contrast levels (samples per level after collapsing)."""
    columns = [str(c) for c in obs.columns]
    try:
        variables = design_variables(str(de["design"]))
    except AlsigError as error:
        found.problem(f"dataset {dataset}: {error}")
        return
    absent = [v for v in variables if v not in obs]
    for name in absent:
        found.problem(
            f"dataset {dataset}: config key de.design: '{name}' is not a sample column."
            f"{did_you_mean(name, columns)}"
        )
    minimum = int(de["min_samples_per_level"])
    all_obs, all_units = obs, units
    for contrast, spec in de["contrasts"].items():
        where = f"dataset {dataset}: config key de.contrasts.{contrast}"
        parsed = Contrast.from_config(contrast, spec)
        factor, test, reference = parsed.spec
        obs, units = _subset_rows(all_obs, all_units, parsed.subset, where, columns, found)
        if obs is None:
            continue
        design = parsed.design or str(de["design"])
        try:
            own = design_variables(design) if parsed.design else variables
        except AlsigError as error:
            found.problem(f"{where}: {error}")
            continue
        if factor not in obs:
            found.problem(
                f"{where}: factor '{factor}' is not a sample column.{did_you_mean(factor, columns)}"
            )
            continue
        if factor not in own:
            found.problem(f"{where}: factor '{factor}' is not in its design ('{design}').")
        values = obs[factor].astype(object).where(obs[factor].notna(), None)
        levels = sorted({str(v) for v in values if v is not None})
        counts = {lv: int(units[values.astype(str) == lv].nunique()) for lv in (test, reference)}
        collapsed = " (after replicate collapsing)" if len(units) != units.nunique() else ""
        for level in (test, reference):
            for shortfall in level_shortfalls(counts, (level,), minimum):
                hint = did_you_mean(level, levels) if counts[level] == 0 else ""
                found.problem(
                    f"{where}: of '{factor}', {shortfall}{collapsed} (levels: "
                    f"{', '.join(levels)}; de.min_samples_per_level: {minimum}).{hint}"
                )
    _check_covariates(all_obs, de, [v for v in variables if v in all_obs], dataset, found)


def _subset_rows(obs, units, subset, where: str, columns: list[str], found: Findings):
    """Return the samples (and units) of a contrast's subset; ``(None, None)`` after a problem."""
    keep = None
    for column, values in subset:
        if column not in obs:
            found.problem(
                f"{where}: subset column '{column}' is not a sample column."
                f"{did_you_mean(column, columns)}"
            )
            return None, None
        text = obs[column].astype(str)
        unknown = [v for v in values if v not in set(text)]
        if unknown:
            found.problem(
                f"{where}: subset {column} = {unknown}: no sample has that value (values: "
                f"{', '.join(sorted(set(text)))})."
            )
            return None, None
        mask = text.isin(list(values))
        keep = mask if keep is None else keep & mask
    if keep is None:
        return obs, units
    return obs.loc[keep.to_numpy()], units[keep.to_numpy()]


def _check_covariates(obs, de: Mapping[str, Any], variables, dataset: str, found: Findings):
    """Design covariates: missing spellings, and the numeric / categorical notes DE will log."""
    factors = {Contrast.from_config(k, v).factor for k, v in de["contrasts"].items()}
    categorical = set(de.get("categorical") or []) | set(
        re.findall(r"\bC\(\s*([A-Za-z_][A-Za-z0-9_.]*)", str(de["design"]))
    )
    for variable in variables:
        if variable in factors:
            continue
        values, notes = as_missing(obs[variable], variable)
        for note in notes:
            found.note(f"dataset {dataset}: {note}")
        missing = [str(s) for s, v in values.items() if v is None]
        if missing and de["missing_covariates"] == "error":
            found.problem(
                f"dataset {dataset}: design variable '{variable}' is missing for "
                f"{len(missing)} sample(s) ({', '.join(missing[:8])}); DE would stop. Fill in "
                "the sample sheet, remove it from de.design, or set de.missing_covariates: drop."
            )
        known = values.dropna()
        if len(known):
            for note in choose_kind(known, variable, categorical=categorical).notes:
                found.note(f"dataset {dataset}: {note}")
