"""Entry point of rule ``subtypes``: one dataset's molecular states, calls and NMF clusters."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from alsig.io import save_figure, write_parquet, write_tsv
from alsig.keys import VST, library_sizes, te_block
from alsig.settings import SubtypesSettings
from alsig.stages.subtypes.figures import plot_consensus, plot_states
from alsig.stages.subtypes.table import shares, subtype_table
from alsig.tables import read_scores

log = logging.getLogger(__name__)


def expression_frames(adata) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Return samples x genes VST and, with TE counts, samples x TEs log2 CPM.

    The TE counts per million are per gene-assigned read (gene library sizes).
    """
    vst = adata.layers[VST]
    vst = pd.DataFrame(
        np.asarray(vst.toarray() if hasattr(vst, "toarray") else vst),
        index=adata.obs_names,
        columns=adata.var_names,
    )
    block = te_block(adata)
    if block is None:
        return vst, None
    libraries = np.maximum(library_sizes(adata), 1.0)
    te = np.log2(block.to_numpy(dtype=float) / libraries[:, None] * 1e6 + 1.0)
    return vst, pd.DataFrame(te, index=block.index, columns=block.columns)


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: SubtypesSettings,
    threads: int,
    *,
    dataset: str,
) -> None:
    """Rule ``subtypes``: scores + QC'd AnnData -> subtype table and figures.

    Parameters
    ----------
    inputs
        ``scores``: the dataset's long score table; ``h5ad``: the QC'd AnnData.
    outputs
        ``parquet``, ``tsv``, ``states`` and ``consensus`` (PNG).
    settings
        The job's resolved ``subtypes:`` settings.
    threads
        Unused.
    dataset
        The job's dataset id.
    """
    import anndata as ad

    scores = read_scores(inputs["scores"])
    adata = ad.read_h5ad(inputs["h5ad"])
    vst, te = expression_frames(adata)
    result = subtype_table(dataset, scores, adata.obs, vst, te, settings)
    if result.note:
        log.warning("dataset %s: %s", dataset, result.note)
    label = settings.disease_label
    share = ", ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(shares(result.table, label).items()))
    log.info(
        "dataset %s: %s samples by state: %s; NMF k = %s; members used: %s",
        dataset,
        label,
        share,
        result.discovery.k if result.discovery else "none",
        result.states.members_used,
    )
    write_parquet(result.table, outputs["parquet"])
    write_tsv(result.table, outputs["tsv"])
    save_figure(plot_states(result.table, label), outputs["states"])
    save_figure(plot_consensus(result.discovery), outputs["consensus"])
