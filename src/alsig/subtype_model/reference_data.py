"""The labelled reference the subtype model is trained on: GSE124439 with Tam et al. 2019 labels.

Reads the shared copies (``../shared/data/GSE124439``; ``PROVENANCE.md`` there): gene counts
(refGene symbols, harmonised to Entrez ids as ingest does), TEcount TE counts, the sample table
(``subject_id``, ``cns_subregion``, ``seq_batch``) and the published per-sample subtype of the 148
ALS samples (Table S1A). The GSE122649 labels (Table S1C) are never read anywhere in alsig.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from alsig.errors import AlsigError
from alsig.stages.subtypes.features import counts_by_entrez
from alsig.stages.subtypes.reference_model import CLASSES
from alsig.subtype_model.training import TrainingSet

DATASET = "GSE124439"
FILES = {
    "gene_counts": "GSE124439_gene_counts.tsv.gz",
    "te_counts": "GSE124439_te_counts.tsv.gz",
    "samples": "GSE124439_samples.tsv.gz",
    "labels": "GSE124439_tam2019_subtypes.tsv.gz",
}


def reference_files(data_dir: str | Path) -> dict[str, Path]:
    """Return the paths of the reference inputs below ``data_dir``.

    Parameters
    ----------
    data_dir
        The shared ``data`` folder (the one with PROVENANCE.md).

    Returns
    -------
    dict of str to pathlib.Path
        ``gene_counts``, ``te_counts``, ``samples`` and ``labels`` -> path.

    Raises
    ------
    AlsigError
        A file is missing.
    """
    folder = Path(data_dir) / DATASET
    paths = {key: folder / name for key, name in FILES.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise AlsigError(
            f"reference data not found: {', '.join(missing)}; pass the shared data "
            "folder (the one with PROVENANCE.md)."
        )
    return paths


def load_reference(data_dir: str | Path, *, with_te: bool = True) -> TrainingSet:
    """Load the 148 labelled ALS samples of GSE124439 as a :class:`TrainingSet`.

    ``meta`` columns: ``label``, ``subject``, ``region`` (``cns_subregion``), ``batch``
    (``seq_batch``), ``sex``. Library size = the sample's total gene-assigned reads (all gene
    rows, as QC's ``total_counts``). Samples are in GSM order.

    Parameters
    ----------
    data_dir
        The shared ``data`` folder.
    with_te
        Read the TE counts too.

    Returns
    -------
    TrainingSet
        Counts keyed by Entrez id, with the current symbols, meta, TE counts and library sizes.

    Raises
    ------
    AlsigError
        A reference file is missing (:func:`reference_files`).
    """
    paths = reference_files(data_dir)
    samples = pd.read_csv(paths["samples"], sep="\t", dtype=str).set_index("sample_id")
    labels = pd.read_csv(paths["labels"], sep="\t", dtype=str).set_index("sample_id")
    labelled = labels.index[labels["subtype"].isin(CLASSES)]
    chosen = sorted(labelled)
    genes = pd.read_csv(paths["gene_counts"], sep="\t", index_col=0)
    counts = genes[chosen].T.astype(np.int64)
    libraries = counts.sum(axis=1).to_numpy(dtype=float)
    by_entrez, symbols = counts_by_entrez(counts)
    te = None
    if with_te:
        te = pd.read_csv(paths["te_counts"], sep="\t", index_col=0)[chosen].T.astype(np.int64)
    meta = pd.DataFrame(
        {
            "label": labels.loc[chosen, "subtype"],
            "subject": samples.loc[chosen, "subject_id"],
            "region": samples.loc[chosen, "cns_subregion"],
            "batch": samples.loc[chosen, "seq_batch"],
            "sex": samples.loc[chosen, "sex"],
        },
        index=pd.Index(chosen, name="sample"),
    )
    return TrainingSet(by_entrez, symbols, meta, te, libraries)


def training_hash(data: TrainingSet) -> str:
    """Hash what training sees: sample ids, labels, donors, Entrez ids and counts, TEs.

    Parameters
    ----------
    data
        The training set.

    Returns
    -------
    str
        The sha256 hex digest.
    """
    digest = hashlib.sha256()
    for values in (
        data.samples,
        list(data.meta["label"]),
        list(data.meta["subject"]),
        data.gene_ids,
    ):
        digest.update(("\t".join(map(str, values)) + "\n").encode())
    digest.update(np.ascontiguousarray(data.gene_counts.to_numpy(dtype="<i8")).tobytes())
    if data.te_counts is not None:
        digest.update(("\t".join(map(str, data.te_counts.columns)) + "\n").encode())
        digest.update(np.ascontiguousarray(data.te_counts.to_numpy(dtype="<i8")).tobytes())
    return digest.hexdigest()


def file_hashes(paths: dict[str, Path]) -> dict[str, str]:
    """Hash each input file (provenance).

    Parameters
    ----------
    paths
        Name -> file.

    Returns
    -------
    dict of str to str
        Name -> sha256 hex digest of the file's bytes.
    """
    return {key: hashlib.sha256(p.read_bytes()).hexdigest() for key, p in paths.items()}
