"""``alsig check-config``: the pre-flight of a run, before Snakemake starts a job.

It reads the config as the workflow will and then opens what it can reach, so a problem that
would stop a job an hour into a run is named in a second, with the key or file to fix:

- the YAML itself: syntax errors with their line, and YAML 1.1 booleans where text was meant
  (``yes``, ``no``, ``on``, ``off`` are read as true / false: a contrast level ``yes`` becomes
  ``True``);
- the schema, with "did you mean" for a mistyped key;
- per dataset: every stage's settings resolve, condition regexes compile, input paths are files
  (not directories, readable, not empty), extra gene-set and signature files exist, the gene-set
  collections are shipped ones;
- per local dataset (and a GEO dataset whose series matrix is already cached): the sample sheet
  is read by the ingest rules (:mod:`alsig.validation`), every sample gets a condition, the
  ``columns:`` exist, the canonical columns are decided, the count matrix's header names the
  sheet's samples; ``qc.collapse_by`` and ``qc.group_column`` are columns, no subject spans two
  conditions; each contrast's factor is a column and both levels have at least
  ``de.min_samples_per_level`` samples (after replicate collapsing); design covariates are
  columns, and what DE would read as missing or as integer codes is said now.

Every finding is either a problem (the run would stop; ``check-config`` exits 2) or a note (the
run goes on and says the same in its logs). Nothing raises: the command prints one line per
finding and never a traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alsig.errors import AlsigError
from alsig.genesets import collection_problems, read_manifest
from alsig.planning import check_output_dir, start_warnings
from alsig.settings import (
    STAGES,
    Contrast,
    RunSettings,
    config_schema,
    output_dir_of,
    resolve_mapping,
    schema_errors,
    section,
)
from alsig.sources.geo import read_series_matrix
from alsig.sources.geo_layout import cache_files
from alsig.stages.de.design import design_variables
from alsig.stages.ingest.counts import read_sample_ids
from alsig.stages.ingest.geo import series_matrix_layout
from alsig.stages.ingest.samples import (
    SheetLayout,
    match_samples,
    obs_from_sheet,
    read_sample_sheet,
)
from alsig.validation import (
    as_missing,
    choose_kind,
    clean_sheet,
    did_you_mean,
    level_shortfalls,
    path_problem,
)
from alsig.validation.sheet import subject_conflicts
from alsig.validation.yaml_keys import REPEATED_KEY_HINT, repeated_keys

_BOOL_TAG = "tag:yaml.org,2002:bool"


@dataclass
class Findings:
    """What the pre-flight found.

    Attributes
    ----------
    problems
        Each would stop the run (exit code 2).
    notes
        What the run will say in its logs and carry on.
    n_datasets
        Datasets in the config.
    """

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n_datasets: int = 0

    def problem(self, text: str) -> None:
        """Add a problem (once).

        Parameters
        ----------
        text
            One line.
        """
        if text not in self.problems:
            self.problems.append(text)

    def note(self, text: str) -> None:
        """Add a note (once).

        Parameters
        ----------
        text
            One line.
        """
        if text not in self.notes:
            self.notes.append(text)


def preflight(config_path: str | Path, workdir: str | Path = ".") -> Findings:
    """Check a config and the files it names (module docstring).

    Parameters
    ----------
    config_path
        The YAML config.
    workdir
        The directory relative paths are resolved from (where Snakemake will run).

    Returns
    -------
    Findings
    """
    findings = Findings()
    loaded = _load(Path(config_path), findings)
    if loaded is None:
        return findings
    config, root = loaded
    flagged = _yaml_booleans(root, findings)
    for problem in schema_errors(config):
        if not any(problem.startswith(f"config key {key}:") for key in flagged):
            findings.problem(problem)
    datasets = config.get("datasets") if isinstance(config, Mapping) else None
    findings.n_datasets = len(datasets) if isinstance(datasets, Mapping) else 0
    if findings.problems:
        return findings  # the per-dataset checks assume a config of the schema's shape
    try:
        check_output_dir(str(Path(workdir) / output_dir_of(config)), list(config["datasets"]))
        for warning in start_warnings(RunSettings(config)):
            findings.note(warning)
    except AlsigError as error:
        findings.problem(str(error))
    quiet = logging.getLogger("alsig")
    level, quiet.level = quiet.level, logging.CRITICAL  # notes come back through the reports
    try:
        for dataset in config["datasets"]:
            _check_dataset(config, str(dataset), Path(workdir), findings)
    finally:
        quiet.setLevel(level)
    return findings


# -- the YAML ----------------------------------------------------------------------------------


def _load(path: Path, findings: Findings) -> tuple[Mapping[str, Any], yaml.Node | None] | None:
    """Load the config and its composed YAML tree, or record why not and return None."""
    problem = path_problem(
        path, example="config/config.yaml", holds="a YAML config with a 'datasets:' section"
    )
    if problem:
        findings.problem(f"config file '{path}' {problem}.")
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        findings.problem(f"config file '{path}'{where}: not valid YAML ({reason}).")
        return None
    for repeat in repeated_keys(text):
        findings.problem(f"config file '{path}': {repeat} is given twice: {REPEATED_KEY_HINT}.")
    if not isinstance(config, Mapping):
        found = "only comments" if config is None else f"a {type(config).__name__}"
        findings.problem(
            f"config file '{path}': expected a mapping with a `datasets:` section at the top "
            f"level, found {found} (see config/config.yaml)."
        )
        return None
    return config, root


def _walk(node: yaml.Node, path: tuple = ()) -> Iterator[tuple[tuple, yaml.ScalarNode]]:
    """Every scalar of a composed YAML document with its key path."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _walk(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk(item, (*path, i))
    elif isinstance(node, yaml.ScalarNode):
        yield path, node


def _dotted(path: tuple) -> str:
    """``('datasets', 'x', 'de', 'contrasts', 'c', 1)`` -> ``datasets.x.de.contrasts.c[1]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _yaml_booleans(root: yaml.Node | None, findings: Findings) -> set[str]:
    """Record a problem for each YAML boolean where text is meant; return the keys flagged.

    The schema error of a flagged key is replaced by this clearer one.
    """
    flagged: set[str] = set()
    if root is None:
        return flagged
    for path, node in _walk(root):
        if node.tag != _BOOL_TAG or not _text_expected(path):
            continue
        key = _dotted(path)
        flagged.add(key)
        value = node.value.lower() in ("yes", "true", "on", "y")
        findings.problem(
            f"config key {key}: YAML reads `{node.value}` (line {node.start_mark.line + 1}) as "
            f"the boolean {str(value).lower()}, not the text '{node.value}'; quote it: "
            f'"{node.value}".'
        )
    return flagged


def _text_expected(path: tuple) -> bool:
    """Tell whether the schema wants text at ``path`` (a contrast's factor and levels do)."""
    if "contrasts" in path and isinstance(path[-1], int):
        return True
    schema = _schema_at(path)
    if schema is None:
        return False
    return not _allows_boolean(schema)


def _ref(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Resolve a schema node's ``$ref`` (recursively)."""
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = config_schema()
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**_ref(target), **{k: v for k, v in node.items() if k != "$ref"}}


def _schema_at(path: tuple) -> Mapping[str, Any] | None:
    """Return the schema node describing the value at ``path`` (None when there is none)."""
    node: Mapping[str, Any] | None = config_schema()
    for part in path:
        node = _ref(node or {})
        if isinstance(part, int):
            items = node.get("items")
            node = items if isinstance(items, Mapping) else None
        else:
            props = node.get("properties") or {}
            extra = node.get("additionalProperties")
            node = props.get(part) or (extra if isinstance(extra, Mapping) else None)
        if node is None:
            return None
    return _ref(node or {})


def _allows_boolean(schema: Mapping[str, Any]) -> bool:
    """Tell whether the schema node accepts a boolean."""
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if "boolean" in types:
        return True
    if any(isinstance(v, bool) for v in schema.get("enum") or []):
        return True
    alternatives = [*(schema.get("oneOf") or []), *(schema.get("anyOf") or [])]
    return any(_allows_boolean(_ref(a)) for a in alternatives)


# -- one dataset -------------------------------------------------------------------------------


def _check_dataset(config: Mapping[str, Any], dataset: str, workdir: Path, found: Findings) -> None:
    """Every check of one dataset (module docstring), recorded in ``found``."""
    settings = config["datasets"][dataset]
    key = f"datasets.{dataset}"
    stages: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        try:
            stages[stage] = resolve_mapping(config, dataset, stage)
        except AlsigError as error:
            found.problem(f"dataset {dataset}: {error}")
    for i, rule in enumerate((settings.get("condition") or {}).get("rules") or []):
        try:
            re.compile(rule["pattern"])
        except re.error as exc:
            found.problem(
                f"config key {key}.condition.rules[{i}].pattern: '{rule['pattern']}' is not a "
                f"valid regular expression ({exc})."
            )
    files_ok = _check_paths(settings, key, workdir, found)
    _check_extra_files(stages, dataset, workdir, found)
    _check_collections(stages, dataset, found)
    obs = _sample_table(settings, dataset, config, workdir, found, files_ok)
    if obs is not None:
        _check_analysis(obs, stages, dataset, found)


def _file_problem(path_text: str, key: str, workdir: Path) -> str | None:
    """Return a problem line when ``path_text`` (relative to ``workdir``) is no readable file."""
    path = workdir / path_text
    problem = path_problem(path)
    if problem is None:
        return None
    return f"config key {key}: file '{path_text}' {problem} (relative to {workdir.resolve()})."


def _check_paths(settings: Mapping[str, Any], key: str, workdir: Path, found: Findings) -> bool:
    """Check a local dataset's input paths; False when the sheet or counts cannot be read."""
    ok = True
    if settings.get("source") != "local":
        return ok
    for name in ("counts", "samples", "te_counts"):
        if name in settings:
            problem = _file_problem(str(settings[name]), f"{key}.{name}", workdir)
            if problem:
                found.problem(problem)
                ok = ok and name == "te_counts"
    return ok


def _check_extra_files(
    stages: Mapping[str, dict[str, Any]], dataset: str, workdir: Path, found: Findings
) -> None:
    """Check the extra GMT and signature files of the resolved settings."""
    for i, entry in enumerate((stages.get("enrich") or {}).get("extra_gmt") or []):
        problem = _file_problem(str(entry["path"]), f"enrich.extra_gmt[{i}].path", workdir)
        if problem:
            found.problem(f"dataset {dataset}: {problem}")
    for i, entry in enumerate((stages.get("score") or {}).get("extra_signatures") or []):
        path = entry["path"] if isinstance(entry, Mapping) else entry
        problem = _file_problem(str(path), f"score.extra_signatures[{i}]", workdir)
        if problem:
            found.problem(f"dataset {dataset}: {problem}")


def _check_collections(stages: Mapping[str, dict[str, Any]], dataset: str, found: Findings) -> None:
    """Check the collection lists as the run will (genesets.collection_problems), all at once."""
    enrich = stages.get("enrich")
    if not enrich:
        return
    try:
        shipped = read_manifest()
    except AlsigError as error:
        found.problem(str(error))
        return
    subtype_ids = (stages.get("subtypes") or {}).get("enrich_collections") or []
    problems = collection_problems(
        enrich.get("collections") or [], enrich.get("extra_gmt") or [], shipped
    ) + collection_problems(subtype_ids, [], shipped, key="subtypes.enrich_collections")
    for problem in problems:
        found.problem(f"dataset {dataset}: {problem}")


# -- the samples -------------------------------------------------------------------------------


def _sample_table(
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
            match_samples(
                samples,
                list(obs.index),
                counts_src=str(counts_path),
                sheet_src=str(sheet_path),
                dataset=dataset,
            )
        else:
            obs = _geo_sample_table(settings, dataset, config, workdir, found, report)
    except AlsigError as error:
        found.problem(f"dataset {dataset}: {error}")
        return None
    for note in report.get("notes", []):
        found.note(f"dataset {dataset}: {note}")
    return obs


def _geo_sample_table(settings, dataset, config, workdir, found, report):
    """Build the obs of a GEO dataset from its cached series matrix (None when not cached)."""
    cache = section(config, "geo")["cache_dir"]
    matrix = workdir / cache_files(cache, settings["accession"])["series_matrix"]
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


def _check_analysis(obs, stages: Mapping[str, dict[str, Any]], dataset: str, found: Findings):
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
