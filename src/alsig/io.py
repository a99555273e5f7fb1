"""Atomic, schema-friendly writers shared by every stage.

A crash or a full disk must never leave a half-written output that Snakemake (or a downstream
reader) could mistake for a finished one: everything is written to a temporary file in the target
directory and renamed into place, which is atomic on POSIX file systems.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING

from alsig.resources import load_schema
from alsig.version import __version__

if TYPE_CHECKING:
    import anndata as ad
    import matplotlib.figure
    import polars as pl


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


#: the name :func:`atomic_path` gives its temporary file: ``.<target name>.<8 random>.tmp``
#: (:func:`tempfile.mkstemp`'s random part: 8 of ``a-z0-9_``)
ATOMIC_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A process killed with SIGKILL between the two leaves the temporary file (named as
    :data:`ATOMIC_TEMP_NAME` says) and ``path`` as it was; :func:`remove_interrupted_writes`
    clears such files.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        # mkstemp creates 0600; give the file the permissions a plain open() would (group
        # members on a cluster read each other's results).
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def remove_interrupted_writes(
    folder: str | os.PathLike[str], targets: Iterable[str] | None = None
) -> list[Path]:
    """Delete the temporary files of :func:`atomic_path` a killed process left in ``folder``.

    Only for a folder (or, with ``targets``, files) whose writer is known to be this process
    alone (e.g. under a lock, or a Snakemake job's own outputs): a temporary file of a write
    still under way elsewhere would be deleted too. Subfolders are not searched.

    Parameters
    ----------
    folder
        The folder (missing: nothing to do).
    targets
        Only the temporary files of these file names in ``folder`` (None: of any file).

    Returns
    -------
    list of Path
        The files deleted, in name order (one that cannot be deleted is left out).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    wanted = None if targets is None else set(targets)
    removed = []
    for candidate in sorted(folder.iterdir()):
        match = ATOMIC_TEMP_NAME.fullmatch(candidate.name)
        if match is None or (wanted is not None and match["target"] not in wanted):
            continue
        if candidate.is_file():
            try:
                candidate.unlink(missing_ok=True)
            except OSError:  # not ours to delete (another user's): leave it, it harms nothing
                continue
            removed.append(candidate)
    return removed


def write_text(text: str, path: str | os.PathLike[str]) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


#: Key-value metadata every Parquet file alsig writes carries: the row schema it follows
#: (``workflow/schemas/<name>.schema.yaml``), that schema's ``x-schema-version`` and the alsig
#: version that wrote it. TSV files carry none: the version of a TSV is its Parquet twin's or its
#: schema's.
SCHEMA_KEY = "alsig.schema"
SCHEMA_VERSION_KEY = "alsig.schema_version"
ALSIG_VERSION_KEY = "alsig.version"
VERSION_KEYS = (SCHEMA_KEY, SCHEMA_VERSION_KEY, ALSIG_VERSION_KEY)


def table_versions(schema: str) -> dict[str, str]:
    """Return the :data:`VERSION_KEYS` metadata of a table following the row schema ``schema``.

    Parameters
    ----------
    schema
        The row schema's name (``de_results`` for ``workflow/schemas/de_results.schema.yaml``).

    Returns
    -------
    dict
        ``{"alsig.schema": schema, "alsig.schema_version": its x-schema-version,
        "alsig.version": alsig.__version__}``.

    Raises
    ------
    ValueError
        The schema has no ``x-schema-version`` (a schema of an output table must have one).
    """
    version = load_schema(schema).get("x-schema-version")
    if version is None:
        raise ValueError(f"schema '{schema}' has no x-schema-version; give it one (1 to begin).")
    return {SCHEMA_KEY: schema, SCHEMA_VERSION_KEY: str(version), ALSIG_VERSION_KEY: __version__}


def write_parquet(
    df: pl.DataFrame,
    path: str | os.PathLike[str],
    *,
    schema: str,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``df`` as zstd parquet, atomically, with its versions in the key-value metadata.

    Parameters
    ----------
    df
        The table.
    path
        Output ``.parquet`` file.
    schema
        The row schema the table follows: its name, version and the alsig version go into the
        file's metadata (:func:`table_versions`; read them back with :func:`read_table_metadata`).
    metadata
        Further key-value metadata (e.g. ``{"alsig.reference_by": "region"}``).

    Raises
    ------
    ValueError
        ``metadata`` sets one of the :data:`VERSION_KEYS` (they come from ``schema`` alone).
    """
    extra = dict(metadata or {})
    clash = sorted(set(extra) & set(VERSION_KEYS))
    if clash:
        raise ValueError(f"write_parquet sets {clash} from the schema; do not pass them.")
    with atomic_path(path) as tmp:
        df.write_parquet(
            tmp,
            compression="zstd",
            statistics=True,
            metadata={**table_versions(schema), **extra},
        )


def read_table_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Return the ``alsig.*`` key-value metadata of a Parquet file alsig wrote.

    Parameters
    ----------
    path
        A ``.parquet`` file.

    Returns
    -------
    dict
        ``alsig.schema``, ``alsig.schema_version``, ``alsig.version`` and any further
        ``alsig.*`` keys (``alsig.reference_by`` of the score tables); empty for a file
        written before alsig recorded them.
    """
    import pyarrow.parquet as pq

    stored = pq.read_metadata(path).metadata or {}
    return {
        key.decode(): value.decode() for key, value in stored.items() if key.startswith(b"alsig.")
    }


def write_tsv(df: pl.DataFrame, path: str | os.PathLike[str]) -> None:
    """``df`` as TSV; list columns (Parquet's gene lists) become ``;``-joined text."""
    import polars as pl

    lists = [name for name, dtype in df.schema.items() if isinstance(dtype, pl.List)]
    df = df.with_columns(pl.col(lists).list.join(";")) if lists else df
    with atomic_path(path) as tmp:
        df.write_csv(tmp, separator="\t", null_value="")


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike[str]) -> None:
    """Write ``adata`` to ``path`` atomically (gzip-compressed h5ad)."""
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp, compression="gzip")


def read_h5ad_counts(path: str | os.PathLike[str]) -> ad.AnnData:
    """X, obs, var and uns of an h5ad file, without layers, obsm or varm.

    The one h5ad counts reader: DE reads the QC'd counts with it, ingest a user's count matrix
    (:func:`alsig.stages.ingest.counts.read_h5ad_count_matrix` checks the values). Skipping the QC
    file's two float32 layers (normalised, VST) saves two matrix copies, 0.9 GB of the DE job's
    peak at 2,000 x 60,000.

    Parameters
    ----------
    path
        The ``.h5ad`` file.

    Returns
    -------
    anndata.AnnData
        In memory, without layers, obsm, varm, obsp or varp.
    """
    import anndata as ad
    import h5py

    try:
        from anndata.io import read_elem
    except ImportError:  # anndata < 0.11
        from anndata.experimental import read_elem

    with h5py.File(path, "r") as handle:
        parts = {key: read_elem(handle[key]) for key in ("X", "obs", "var", "uns") if key in handle}
    return ad.AnnData(**parts)


def read_h5ad_obs(path: str | os.PathLike[str]):
    """Return the ``obs`` of an h5ad file, without reading its matrices.

    Figures need only the sample covariates of a file that also holds a samples x genes matrix.
    """
    return _read_h5ad_element(path, "obs")


def read_h5ad_var(path: str | os.PathLike[str]):
    """Return the ``var`` of an h5ad file, without reading its matrices.

    The pre-flight needs only the gene ids of a count matrix.
    """
    return _read_h5ad_element(path, "var")


def _read_h5ad_element(path: str | os.PathLike[str], key: str):
    import h5py

    try:
        from anndata.io import read_elem
    except ImportError:  # anndata < 0.11
        from anndata.experimental import read_elem

    with h5py.File(path, "r") as handle:
        return read_elem(handle[key])


def save_figure(fig: matplotlib.figure.Figure, path: str | os.PathLike[str], **kwargs) -> None:
    """Save ``fig`` to ``path`` atomically and close it (``kwargs`` go to ``savefig``)."""
    import matplotlib.pyplot as plt

    fmt = Path(path).suffix.lstrip(".") or "png"
    kwargs.setdefault("dpi", 120)
    kwargs.setdefault("bbox_inches", "tight")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, **kwargs)
    plt.close(fig)


def open_text(
    path: str | os.PathLike[str], *, errors: str = "strict", newline: str | None = None
) -> IO[str]:
    """Open a text file for reading as UTF-8, gunzipping it when its name ends in ``.gz``.

    Parameters
    ----------
    path
        The file.
    errors
        Codec error handling (``"replace"`` for files whose free text may hold stray bytes).
    newline
        As for :func:`open` (``""`` for the :mod:`csv` module).
    """
    if str(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors=errors, newline=newline)
    return open(path, encoding="utf-8", errors=errors, newline=newline)


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Return the SHA-256 hex digest of a file, read in chunks of ``chunk_size`` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()
