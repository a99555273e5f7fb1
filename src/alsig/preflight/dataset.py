"""One dataset's entry of the config.

Its stage settings resolve, its files are readable, its collections are shipped ones; then its
samples (:mod:`.samples`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alsig.errors import AlsigError
from alsig.genesets import collection_problems, read_manifest
from alsig.preflight.findings import Findings
from alsig.preflight.samples import check_analysis, sample_table
from alsig.settings import (
    STAGES,
    resolve_mapping,
)
from alsig.validation import (
    path_problem,
)


def check_dataset(config: Mapping[str, Any], dataset: str, workdir: Path, found: Findings) -> None:
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
    obs = sample_table(settings, dataset, config, workdir, found, files_ok)
    if obs is not None:
        check_analysis(obs, stages, dataset, found)


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
