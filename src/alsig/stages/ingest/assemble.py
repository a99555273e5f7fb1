"""The ingested AnnData: counts in sample-sheet order and a record of where they came from.

X is stored CSR or dense, whichever is smaller; the provenance records every input file and the
versions of the packages that shape the outputs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

import alsig
from alsig.counts import count_dtype
from alsig.io import sha256_file
from alsig.keys import CONDITION, DATASET, PROVENANCE

log = logging.getLogger(__name__)

_PROVENANCE_PACKAGES = ("anndata", "scanpy", "pydeseq2", "gseapy", "polars", "numpy", "snakemake")


def to_storage(counts_samples_by_genes: np.ndarray) -> np.ndarray | sp.csr_matrix:
    """Store counts as CSR when that is smaller than dense.

    The CSR data + int32 indices cost 8 (int64: 12) bytes per non-zero.

    Parameters
    ----------
    counts_samples_by_genes
        The counts, samples x genes.

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_matrix
        int32, or int64 when a count needs it (never wrapped); C-contiguous when dense.
    """
    dtype = count_dtype(counts_samples_by_genes)
    nnz = np.count_nonzero(counts_samples_by_genes)
    if nnz * (dtype.itemsize + 4) < counts_samples_by_genes.size * dtype.itemsize * 0.9:
        return sp.csr_matrix(counts_samples_by_genes, dtype=dtype)
    return np.ascontiguousarray(counts_samples_by_genes, dtype=dtype)


def file_record(path: str | Path, **extra: Any) -> dict[str, Any]:
    """Return the provenance of one input file.

    Parameters
    ----------
    path
        The input file.
    **extra
        More fields for the record; those that are None are left out.

    Returns
    -------
    dict
        ``path``, ``sha256``, ``size_bytes`` and the ``extra`` fields that are not None.
    """
    path = Path(path)
    record = {"path": str(path), "sha256": sha256_file(path), "size_bytes": path.stat().st_size}
    record.update({k: v for k, v in extra.items() if v is not None})
    return record


def download_record(path: str | Path) -> dict[str, Any]:
    """Return what the downloader recorded next to a cached file, for :func:`file_record`.

    Parameters
    ----------
    path
        A file :func:`alsig.sources.download.fetch` wrote (its sidecar is ``<path>.json``).

    Returns
    -------
    dict
        ``url``, ``retrieved_at`` and ``download_attempts``; empty when there is no sidecar.
    """
    sidecar = Path(f"{path}.json")
    if not sidecar.exists():
        return {}
    meta = json.loads(sidecar.read_text())
    return {
        "url": meta.get("url"),
        "retrieved_at": meta.get("retrieved_at"),
        "download_attempts": meta.get("attempts"),
    }


def package_versions() -> dict[str, str]:
    """Return the versions of alsig and of the installed packages that shape its outputs.

    Returns
    -------
    dict of str to str
        Package name -> version (packages that are not installed are left out).
    """
    versions = {"alsig": alsig.__version__}
    for name in _PROVENANCE_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def assemble(
    counts_genes_by_samples: np.ndarray,
    var: pd.DataFrame,
    obs: pd.DataFrame,
    sample_order: list[str],
    *,
    dataset: str,
    provenance: dict[str, Any],
) -> ad.AnnData:
    """Build the AnnData: obs in sample-sheet order, X integer counts (dense or CSR).

    Parameters
    ----------
    counts_genes_by_samples
        Harmonised counts, genes x samples, columns in ``sample_order``.
    var
        One row per gene.
    obs
        One row per sample, in the order X gets.
    sample_order
        The sample id of each column of ``counts_genes_by_samples``.
    dataset
        The dataset id (``uns['dataset']``).
    provenance
        Source and inputs; completed with the dataset, time, versions and X storage and stored as
        ``uns['provenance']``.

    Returns
    -------
    anndata.AnnData
        X in the storage of :func:`to_storage`, obs in the order given.
    """
    position = {s: i for i, s in enumerate(sample_order)}
    take = np.array([position[s] for s in obs.index], dtype=np.int64)
    matrix = counts_genes_by_samples[:, take].T
    adata = ad.AnnData(X=to_storage(matrix), obs=obs, var=var)
    provenance = dict(provenance)
    provenance.update(
        {
            "dataset": dataset,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "versions": package_versions(),
            "x_storage": "csr" if sp.issparse(adata.X) else "dense",
        }
    )
    adata.uns[PROVENANCE] = provenance
    adata.uns[DATASET] = dataset
    log.info(
        "dataset %s: %d samples x %d genes (%s); conditions %s",
        dataset,
        adata.n_obs,
        adata.n_vars,
        provenance["x_storage"],
        dict(obs[CONDITION].value_counts()),
    )
    return adata
