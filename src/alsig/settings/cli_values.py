"""Values set with ``snakemake --config key={...}``, read as the config file would read them.

Snakemake reads a nested ``--config`` value with YAML's base loader, so every value inside it
is text: ``--config 'de={alpha: 0.1}'`` sets ``de.alpha`` to the text ``'0.1'``, which the schema
then refuses. A user writing YAML there means what the same YAML means in the config file, so
each such text is read again with YAML's safe loader (``0.1`` a number, ``true`` a boolean,
``ALS`` stays text). Top-level ``--config key=value`` values are typed by Snakemake already and
are left alone, as is everything the config file set.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import yaml


def retype_cli_values(config: MutableMapping[str, Any], cli_config: Mapping[str, Any]) -> None:
    """Re-read, in place, the texts that nested ``--config`` values put into ``config``.

    Parameters
    ----------
    config
        The merged config Snakemake hands the workflow (config file, then ``--config``).
    cli_config
        The ``--config`` values alone, as Snakemake parsed them.
    """
    for key, value in cli_config.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), MutableMapping):
            _retype(config[key], value)
        elif isinstance(value, list) and config.get(key) == value:
            config[key] = _reread(value)


def _retype(config: MutableMapping[str, Any], cli_config: Mapping[str, Any]) -> None:
    for key, value in cli_config.items():
        if key not in config:
            continue
        if isinstance(value, Mapping) and isinstance(config[key], MutableMapping):
            _retype(config[key], value)
        elif config[key] == value:  # still the --config value (not overridden since)
            config[key] = _reread(value)


def _reread(value: Any) -> Any:
    """``value`` as the config file's YAML would read it (texts only; lists item by item)."""
    if isinstance(value, list):
        return [_reread(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _reread(item) for key, item in value.items()}
    if not isinstance(value, str):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    # only scalars: a text that YAML reads as a list or mapping stays the text it was given as
    return parsed if isinstance(parsed, str | int | float | bool) or parsed is None else value
