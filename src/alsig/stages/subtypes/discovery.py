"""The optional discovery view (``subtypes.discovery``): the cohort's own consensus NMF.

Clusters the disease samples by consensus NMF (:mod:`.nmf`) and lays each sample's cluster
beside its projected call and its label-free state call (schema ``subtypes_nmf``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from alsig.keys import VST, library_sizes, te_block
from alsig.settings import SubtypesSettings
from alsig.stages.subtypes.nmf import Discovery, discover, name_clusters, nmf_features
from alsig.tables import schemas

SCHEMA = "subtypes_nmf"


@dataclass(frozen=True)
class DiscoveryResult:
    """The NMF table (disease samples), the consensus (None when too few samples) and why."""

    table: pl.DataFrame
    discovery: Discovery | None
    note: str


def expression_frames(adata: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Return samples x genes VST and, with TE counts, samples x TEs log2 CPM.

    The TE counts per million are per gene-assigned read (gene library sizes), as the
    retrotransposon axis normalises them.

    Parameters
    ----------
    adata
        The QC'd AnnData (layer ``vst``).

    Returns
    -------
    tuple
        ``(vst, te)``; ``te`` is None without TE counts.
    """
    vst = adata.layers[VST]
    frame = pd.DataFrame(
        np.asarray(vst.toarray() if hasattr(vst, "toarray") else vst),
        index=adata.obs_names,
        columns=adata.var_names,
    )
    block = te_block(adata)
    if block is None:
        return frame, None
    libraries = np.maximum(library_sizes(adata), 1.0)
    te = np.log2(block.to_numpy(dtype=float) / libraries[:, None] * 1e6 + 1.0)
    return frame, pd.DataFrame(te, index=block.index, columns=block.columns)


def discovery_table(
    dataset: str, adata: Any, subtypes: pl.DataFrame, settings: SubtypesSettings
) -> DiscoveryResult:
    """Consensus NMF of the disease samples, beside their projected and state calls.

    Parameters
    ----------
    dataset
        Dataset id.
    adata
        The QC'd AnnData (VST layer, TE counts when the dataset has them).
    subtypes
        The stage's per-sample table (schema ``subtypes``).
    settings
        ``subtypes:`` settings (``nmf_*``, ``seed``, ``disease_label``).

    Returns
    -------
    DiscoveryResult
        An empty table with the reason when there are fewer than ``nmf_min_samples``.
    """
    disease = subtypes.filter(pl.col("condition") == settings.disease_label)
    samples = [s for s in disease["sample"].to_list() if s in set(adata.obs_names)]
    if len(samples) < settings.nmf_min_samples:
        note = (
            f"{len(samples)} disease samples (< subtypes.nmf_min_samples = "
            f"{settings.nmf_min_samples}): no NMF discovery view"
        )
        return DiscoveryResult(schemas.empty(SCHEMA), None, note)
    vst, te = expression_frames(adata[samples])
    found = discover(
        nmf_features(vst, te, settings.nmf_features),
        samples,
        ranks=range(settings.nmf_k_min, settings.nmf_k_max + 1),
        restarts=settings.nmf_restarts,
        seed=settings.seed,
    )
    labels = found.chosen.labels
    by_sample = disease.to_pandas().set_index("sample").loc[samples]
    scores = by_sample[["ox_score", "glia_score", "te_score"]].set_axis(
        ["ox", "glia", "te"], axis=1
    )
    names = name_clusters(labels, scores.astype(float))
    table = pl.DataFrame(
        {
            "dataset": [dataset] * len(samples),
            "sample": samples,
            "condition": by_sample["condition"].tolist(),
            "subtype_call": by_sample["subtype_call"].tolist(),
            "state_call": by_sample["state_call"].tolist(),
            "nmf_cluster": (labels + 1).tolist(),
            "nmf_cluster_state": [names[c] for c in labels],
            "nmf_k": [found.k] * len(samples),
            "nmf_pac": [found.chosen.pac] * len(samples),
        },
        schema=schemas.polars_schema(SCHEMA),
    )
    return DiscoveryResult(schemas.validate(table, SCHEMA, f"NMF of {dataset}"), found, "")
