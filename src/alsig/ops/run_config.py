"""The config one reprocessing run hands to snakemake.

The base config's stage sections with datasets = the base config's own + every series being
processed, and its targets.

Its hash (with the targets) decides whether a run without new series needs snakemake at all:
``<state_dir>/last_success.json`` holds the hash of the last run config that finished.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alsig.io import write_text
from alsig.ops.config import geo_overrides
from alsig.ops.curation import decode_columns
from alsig.ops.registry import Entry, Registry


def dataset_settings(
    entry: Entry, override: Mapping[str, Any] | None, default_rules: list[dict[str, str]]
) -> dict[str, Any]:
    """Return a series' entry of ``config["datasets"]``.

    The base config's own when it has one, else built from the registry (condition column found
    by curation, default rules, sample columns); with the platform whose series matrix is used
    (``platform``) when GEO splits the series by platform.

    Parameters
    ----------
    entry
        The series' registry row.
    override
        Its entry of the base config, or None.
    default_rules
        ``reprocess.default_condition.rules``.

    Returns
    -------
    dict
    """
    if override is not None:
        settings = copy.deepcopy(dict(override))
        if entry.platform and not settings.get("platform"):
            settings["platform"] = entry.platform
        return settings
    settings = {
        "description": f"{entry.accession}: {entry.title}"[:300],
        "source": "geo",
        "accession": entry.accession,
        "condition": {"column": entry.condition_column, "rules": copy.deepcopy(default_rules)},
    }
    if entry.platform:  # GEO splits the series by platform: the matrix of this one
        settings["platform"] = entry.platform
    columns = decode_columns(entry.sample_columns)
    if columns:
        settings["columns"] = columns
    return settings


def build_run_config(
    base: Mapping[str, Any],
    registry: Registry,
    include: set[str],
    default_rules: list[dict[str, str]],
) -> dict[str, Any]:
    """Return the base config's run config for the ``include`` accessions.

    The base config without ``reprocess``, with datasets = static + ``include`` accessions.

    Parameters
    ----------
    base
        The base config.
    registry
        Every tracked series (their datasets come from the registry, not from ``base``).
    include
        Accessions to run.
    default_rules
        ``reprocess.default_condition.rules``.

    Returns
    -------
    dict
        A workflow config.
    """
    config = {k: copy.deepcopy(v) for k, v in base.items() if k != "reprocess"}
    overrides = geo_overrides(base)
    tracked = set(registry.entries)
    datasets = {
        name: copy.deepcopy(s)
        for name, s in (base.get("datasets") or {}).items()
        if not ((s or {}).get("source") == "geo" and s.get("accession") in tracked)
    }
    for accession in sorted(include, key=lambda a: (len(a), a)):
        entry = registry.entries[accession]
        override = overrides.get(accession, (None, None))[1]
        datasets[entry.dataset] = dataset_settings(entry, override, default_rules)
    config["datasets"] = datasets
    return config


def expand_targets(targets: Sequence[str], datasets: Mapping[str, Any]) -> list[str]:
    """Snakemake targets; one containing ``{dataset}`` is repeated for every dataset."""
    out: list[str] = []
    for target in targets:
        if "{dataset}" in target:
            out.extend(target.format(dataset=d) for d in datasets)
        else:
            out.append(target)
    return out


def config_hash(config: Mapping[str, Any], targets: list[str]) -> str:
    """sha256 of a run config and its targets (key order does not matter)."""
    data = {"config": config, "targets": targets}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class RunConfigs:
    """Builds the run configs of one reprocessing run and their targets.

    Parameters
    ----------
    base
        The base config.
    default_rules
        ``reprocess.default_condition.rules``.
    targets
        Snakemake targets before expansion (empty: the default target).
    """

    base: Mapping[str, Any]
    default_rules: list[dict[str, str]]
    targets: tuple[str, ...] = ()

    def build(self, registry: Registry, include: set[str]) -> dict[str, Any]:
        """:func:`build_run_config` for the ``include`` accessions."""
        return build_run_config(self.base, registry, include, self.default_rules)

    def targets_for(self, config: Mapping[str, Any]) -> list[str]:
        """Return the targets of a run config (:func:`expand_targets` over its datasets)."""
        return expand_targets(self.targets, config["datasets"])

    def hash(self, config: Mapping[str, Any]) -> str:
        """:func:`config_hash` of a run config with its targets."""
        return config_hash(config, self.targets_for(config))


def last_success(state: Path) -> str | None:
    """Return the hash of the last run config that finished without failures, if any."""
    with contextlib.suppress(OSError, ValueError):
        return json.loads((state / "last_success.json").read_text()).get("run_config_sha256")
    return None


def record_success(state: Path, run_config_sha256: str) -> None:
    """Remember a run config that finished without failures."""
    write_text(json.dumps({"run_config_sha256": run_config_sha256}), state / "last_success.json")
