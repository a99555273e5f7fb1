"""The config file as YAML.

Syntax errors with their line, keys given twice, YAML 1.1 booleans where the schema wants text
(``yes`` / ``no`` / ``on`` / ``off``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from alsig.preflight.findings import Findings
from alsig.settings import config_schema, resolve_ref
from alsig.validation import path_problem
from alsig.validation.yaml_keys import REPEATED_KEY_HINT, repeated_keys

_BOOL_TAG = "tag:yaml.org,2002:bool"


def load_config(
    path: Path, findings: Findings
) -> tuple[Mapping[str, Any], yaml.Node | None] | None:
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


def yaml_boolean_keys(root: yaml.Node | None, findings: Findings) -> set[str]:
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


def _schema_at(path: tuple) -> Mapping[str, Any] | None:
    """Return the schema node describing the value at ``path`` (None when there is none)."""
    node: Mapping[str, Any] | None = config_schema()
    for part in path:
        node = resolve_ref(node or {})
        if isinstance(part, int):
            items = node.get("items")
            node = items if isinstance(items, Mapping) else None
        else:
            props = node.get("properties") or {}
            extra = node.get("additionalProperties")
            node = props.get(part) or (extra if isinstance(extra, Mapping) else None)
        if node is None:
            return None
    return resolve_ref(node or {})


def _allows_boolean(schema: Mapping[str, Any]) -> bool:
    """Tell whether the schema node accepts a boolean."""
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if "boolean" in types:
        return True
    if any(isinstance(v, bool) for v in schema.get("enum") or []):
        return True
    alternatives = [*(schema.get("oneOf") or []), *(schema.get("anyOf") or [])]
    return any(_allows_boolean(resolve_ref(a)) for a in alternatives)
