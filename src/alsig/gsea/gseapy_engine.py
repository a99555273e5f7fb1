"""The gseapy engine: gseapy's Rust ``prerank_rs``, the reference implementation of GSEA prerank.

gseapy keeps every set's running-sum curve as Python floats in ``res2d``/``results`` (about 5 GB
for GO BP at 60k genes: the peak of the 2,000-sample benchmark,
``bench/results/scale_2000x60000.md``); this engine calls the same Rust routine with the
arguments ``gseapy.prerank`` passes and converts and drops each curve one set at a time. The
records are identical (``tests/unit/test_enrich.py`` compares both paths).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from alsig.gsea.records import PrerankOptions, PrerankRecord, finite_float


def gseapy_records(
    genes: list[str],
    values: np.ndarray,
    sets: Mapping[str, Sequence[str]],
    options: PrerankOptions,
) -> list[PrerankRecord]:
    """Run gseapy ``prerank`` without its result frame.

    Same Rust routine (weight 1, threads capped at cpu_count - 1, as ``gseapy.prerank``) and the
    same leading-edge rule as gseapy's ``_to_df``.

    Parameters
    ----------
    genes
        Ranked gene names (upper case), highest statistic first.
    values
        Their statistics, same order.
    sets
        Eligible sets, restricted to ``genes``.
    options
        Permutations, seed, set-size range and threads.

    Returns
    -------
    list of PrerankRecord
        One per set, in the engine's order.
    """
    # gseapy is heavy to import (a second): only a job that asks for this engine pays for it
    from gseapy.gse import prerank_rs

    threads = max(1, min(options.threads, (os.cpu_count() or 2) - 1))
    summary = prerank_rs(
        genes,
        values.tolist(),
        dict(sets),
        1.0,
        options.min_size,
        options.max_size,
        options.permutations,
        threads,
        options.seed,
    )
    ordered = np.asarray(genes, dtype=object)
    return [
        PrerankRecord(
            term=str(gs.term),
            es=finite_float(gs.es),
            nes=finite_float(gs.nes),
            pvalue=finite_float(gs.pval),
            fdr=finite_float(gs.fdr),
            leading_edge=_leading_edge(gs, ordered),
        )
        for gs in summary.summaries
    ]


def _leading_edge(gs: Any, ordered: np.ndarray) -> tuple[str, ...]:
    """Return gseapy's leading edge: the hits up to the running sum's peak (or from its trough)."""
    running = np.asarray(gs.run_es, dtype=float)
    if running.size <= 1:
        return ()
    if float(gs.es) >= 0:
        peak = int(running.argmax())
        lead = ordered[[h for h in gs.hits if h <= peak]]
    else:
        peak = int(running.argmin())
        lead = ordered[[h for h in gs.hits if h >= peak][::-1]]
    return tuple(str(g) for g in lead)
