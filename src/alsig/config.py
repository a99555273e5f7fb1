"""Config checks beyond the JSON schema, and per-dataset settings.

The schema (``workflow/schemas/config.schema.yaml``) catches structure and typos; this module
checks what a schema cannot (regexes compile, files exist) and merges the stage defaults with a
dataset's overrides.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from alsig.errors import AlsigError

STAGES = ("qc", "de", "enrich", "score")


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def stage_settings(config: dict[str, Any], dataset: str, stage: str) -> dict[str, Any]:
    """Stage defaults (``config[stage]``) overridden by ``config['datasets'][dataset][stage]``."""
    return deep_merge(config.get(stage) or {}, config["datasets"][dataset].get(stage) or {})


def check_config(config: dict[str, Any], workdir: str | Path = ".") -> None:
    """Raise :class:`AlsigError` naming the config key for problems the schema cannot see."""
    workdir = Path(workdir)
    for dataset, settings in config["datasets"].items():
        key = f"datasets.{dataset}"
        for i, rule in enumerate((settings.get("condition") or {}).get("rules") or []):
            try:
                re.compile(rule["pattern"])
            except re.error as exc:
                raise AlsigError(
                    f"config key {key}.condition.rules[{i}].pattern: '{rule['pattern']}' is not a "
                    f"valid regular expression ({exc})."
                ) from exc
        if settings["source"] == "local":
            for field in ("counts", "samples"):
                path = workdir / settings[field]
                if not path.exists():
                    raise AlsigError(
                        f"config key {key}.{field}: file '{settings[field]}' does not exist "
                        f"(relative to {workdir.resolve()})."
                    )


def schema_errors(config: dict[str, Any], schema_path: str | Path) -> list[str]:
    """Human-readable schema violations, each naming the config key (``datasets.demo.source``)."""
    import jsonschema
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    messages = []
    for error in sorted(
        validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))
    ):
        path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        if error.validator == "additionalProperties":
            allowed = sorted((error.schema.get("properties") or {}).keys())
            unexpected = sorted(set(error.instance) - set(allowed))
            messages.append(
                f"config key {path}: unknown key(s) {unexpected}; allowed keys: {allowed}"
            )
        elif "propertyNames" in error.schema_path:
            messages.append(
                f"config key {path}: name '{error.instance}' is not allowed: dataset ids become "
                "folder names (letters, digits, '_', '.', '-'; starting with a letter or digit)"
            )
        else:
            messages.append(f"config key {path}: {error.message}")
    return messages
