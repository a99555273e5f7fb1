"""Gene-set collections: reading and validating GMT files.

GMT: one set per line, tab-separated ``name<TAB>description<TAB>gene1<TAB>gene2...``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from alsig.errors import AlsigError, where


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_gmt(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Read a GMT file into ``{set name: [genes]}`` (order kept, duplicate genes dropped).

    Raises :class:`AlsigError` naming file and line for a malformed line, an empty set,
    a duplicated set name or an empty file.
    """
    gmt = Path(path)
    if not gmt.exists():
        raise AlsigError(f"gene-set file '{gmt}' does not exist; check the path in the config.")
    sets: dict[str, list[str]] = {}
    try:
        with _open_text(gmt) as handle:
            for line_no, raw in enumerate(handle, start=1):
                line = raw.rstrip("\r\n")
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.split("\t")
                if len(fields) < 2 or not fields[0].strip():
                    raise AlsigError(
                        f"{where(gmt, row=line_no)}: malformed GMT line (expected "
                        "'name<TAB>description<TAB>gene...', tab-separated). Fix or remove the line."
                    )
                name = fields[0].strip()
                genes = list(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
                if not genes:
                    raise AlsigError(
                        f"{where(gmt, row=line_no)}: gene set '{name}' has no genes. "
                        "Remove the line or add its genes (tab-separated after the description)."
                    )
                if name in sets:
                    raise AlsigError(
                        f"{where(gmt, row=line_no)}: gene set '{name}' appears twice. "
                        "Set names must be unique within a file."
                    )
                sets[name] = genes
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, OSError) as exc:
        raise AlsigError(
            f"{where(gmt)}: cannot be read as a (gzipped) text GMT file: {exc}"
        ) from exc
    if not sets:
        raise AlsigError(f"{where(gmt)}: contains no gene sets.")
    return sets


def write_gmt(
    sets: dict[str, list[str]],
    path: str | os.PathLike[str],
    descriptions: dict[str, str] | None = None,
) -> None:
    from alsig.io import write_text

    descriptions = descriptions or {}
    lines = [
        "\t".join([name, descriptions.get(name, "na"), *genes]) for name, genes in sets.items()
    ]
    write_text("\n".join(lines) + "\n", path)
