"""The base config of scheduled reprocessing.

Reading it, its ``reprocess:`` settings (schema defaults, checked) and whether its workflow part is
valid before anything changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from alsig import settings as alsig_settings
from alsig.errors import AlsigError

#: Stands in for the datasets of a base config that lists none, so the schema (which needs at
#: least one) checks the rest; discovery adds the real ones.
PLACEHOLDER_DATASETS = {
    "placeholder": {"source": "geo", "accession": "GSE1", "condition": {"column": "c"}}
}


def load_base_config(path: str | Path) -> dict[str, Any]:
    """Return the base config as a mapping.

    Parameters
    ----------
    path
        A YAML file.

    Returns
    -------
    dict

    Raises
    ------
    AlsigError
        Unreadable file, bad YAML, or not a mapping.
    """
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AlsigError(f"cannot read config '{path}': {exc}") from exc
    if not isinstance(config, dict):
        raise AlsigError(f"config '{path}' must be a mapping (YAML dict).")
    return config


def reprocess_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``reprocess:`` section of ``config``.

    Schema-checked, with the schema's defaults.

    Parameters
    ----------
    config
        The base config.

    Returns
    -------
    dict
        Every key of the section; ``exclude`` as accession -> reason.

    Raises
    ------
    AlsigError
        One line per problem, each naming the key (``reprocess: unknown key(s) ...``,
        ``reprocess.default_condition.rules[0].pattern: ... not a valid regular expression``).
    """
    probe = {"reprocess": config.get("reprocess") or {}, "datasets": PLACEHOLDER_DATASETS}
    problems = alsig_settings.schema_errors(probe)
    try:
        settings = alsig_settings.section(config, "reprocess")
    except AlsigError as exc:
        problems.append(str(exc))
    if problems:
        raise AlsigError("\n  ".join(problems))
    return settings


def check_base_config(base: Mapping[str, Any], path: str | Path, workdir: Path) -> None:
    """Raise unless the workflow part of the base config is valid (before any change).

    A problem here would make every snakemake run fail, so it is a usage error.

    Parameters
    ----------
    base
        The base config.
    path
        Its file, for the message.
    workdir
        The project directory (relative paths of local datasets).
    """
    probe = {k: v for k, v in base.items() if k != "reprocess"}
    probe["datasets"] = probe.get("datasets") or PLACEHOLDER_DATASETS
    problems = alsig_settings.schema_errors(probe)
    if not problems:
        try:
            alsig_settings.check_config(probe, workdir=workdir)
        except AlsigError as exc:
            problems = [str(exc)]
    if problems:
        raise AlsigError(
            f"config '{path}' is not valid for the workflow:\n  " + "\n  ".join(problems)
        )


def geo_overrides(base: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Return accession -> (dataset id, settings) for the GEO datasets the base config defines."""
    out = {}
    for dataset, settings in (base.get("datasets") or {}).items():
        if (settings or {}).get("source") == "geo" and settings.get("accession"):
            out[settings["accession"]] = (dataset, settings)
    return out
