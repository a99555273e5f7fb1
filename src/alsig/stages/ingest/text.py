"""Text tables in (whole file, delimiter, header, unique names) and text columns out (categoricals).

Every error names the file (and the line where there is one) and says how to fix it.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pandas as pd

from alsig.errors import AlsigError, where


def read_text_bytes(path: str | Path) -> bytes:
    """Whole file content, gunzipped when it ends in ``.gz``.

    Parameters
    ----------
    path
        A text table, optionally gzipped.

    Returns
    -------
    bytes
        The (decompressed) content.

    Raises
    ------
    AlsigError
        The file is missing, empty, or a truncated gzip file.
    """
    path = Path(path)
    if not path.exists():
        raise AlsigError(f"{where(path)} does not exist; check the path in the config.")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise AlsigError(
                f"{where(path)} is not a complete gzip file ({exc}); it is probably truncated. "
                "Download or copy it again."
            ) from exc
    if not raw.strip():
        raise AlsigError(f"{where(path)} is empty; expected a table with a header line.")
    return raw


def delimiter_for(path: Path) -> str:
    """``,`` for ``.csv[.gz]`` files, otherwise a tab."""
    name = path.name.lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


def header_fields(raw: bytes, path: Path, sep: str) -> list[str]:
    """The column names of the first line; a single column is an error that names the likely
    delimiter mix-up."""
    first = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    fields = [f.strip().strip('"') for f in first.split(sep)]
    if len(fields) < 2:
        other = "comma" if sep == "\t" else "tab"
        hint = (
            f" The header contains {other}s: the file looks {other}-separated; "
            f"name it .{'csv' if sep == chr(9) else 'tsv'} (optionally .gz) or convert it."
            if ("," if sep == "\t" else "\t") in first
            else ""
        )
        raise AlsigError(
            f"{where(path, row=1)}: found a single column with the "
            f"{'tab' if sep == chr(9) else 'comma'} delimiter.{hint}"
        )
    return fields


def check_unique(names: list[str], path: Path, what: str, fix: str) -> None:
    """Raise naming the first ten names that occur more than once."""
    seen: dict[str, int] = {}
    dups = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        if seen[name] == 2:
            dups.append(name)
    if dups:
        shown = ", ".join(f"'{d}'" for d in dups[:10])
        raise AlsigError(f"{where(path)}: duplicate {what}: {shown}. {fix}")


def categorical_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as categoricals with missing values as NaN: how h5ad stores them anyway."""
    for column in frame.columns:
        frame[column] = pd.Categorical([None if v is None else str(v) for v in frame[column]])
    return frame
