"""A YAML mapping that gives the same key twice.

YAML loaders keep the last value of a repeated key without a word, so a config that writes
``de:`` twice runs with the second section only (its design, contrasts and thresholds gone).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml

#: The merge key (``<<: *anchor``) may repeat by design.
MERGE_KEY = "<<"
#: What to do about a repeated key.
REPEATED_KEY_HINT = (
    "YAML keeps the last one and drops the first without a word; merge the two into one"
)


def repeated_keys(text: str) -> list[str]:
    """Name every key a YAML document gives twice in one mapping, with both lines.

    Parameters
    ----------
    text
        The YAML document (parse errors are left to the loader that reads it).

    Returns
    -------
    list of str
        One line per repeat: ``key de (lines 12 and 30)``, dotted for nested keys
        (``datasets.demo.de``); empty when no key repeats or the text is not YAML.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    return list(_repeats(root, ())) if root is not None else []


def repeated_key_problems(path: str | Path) -> list[str]:
    """One message per key that the YAML file at ``path`` gives twice (none if unreadable).

    Parameters
    ----------
    path
        A YAML config file.

    Returns
    -------
    list of str
        ``config file '<path>': key de (lines 12 and 30) is given twice: <hint>.``
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [
        f"config file '{path}': {r} is given twice: {REPEATED_KEY_HINT}."
        for r in repeated_keys(text)
    ]


def _repeats(node: yaml.Node, path: tuple[str, ...]) -> Iterator[str]:
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            line = key.start_mark.line + 1
            if name in first_line and name != MERGE_KEY:
                dotted = ".".join((*path, name))
                yield f"key {dotted} (lines {first_line[name]} and {line})"
            first_line.setdefault(name, line)
            yield from _repeats(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _repeats(item, (*path[:-1], f"{path[-1]}[{i}]") if path else (f"[{i}]",))
