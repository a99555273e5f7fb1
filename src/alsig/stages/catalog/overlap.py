"""Datasets of a run that hold the same samples, which the meta-analysis would count twice.

The cross-cohort meta-analysis treats each dataset as an independent cohort. A cohort listed
twice (two config entries, or a GEO series and its re-release under new sample ids) would enter
twice: its effect counts double and the pooled interval narrows. Samples are the same when their
ids are, or when QC measured the same library (equal total counts and genes detected, which two
libraries share only when they are one).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import polars as pl

from alsig.errors import name_some

#: What identifies a library across datasets besides its id (QC's sample_qc.tsv columns).
LIBRARY_FINGERPRINT = ("total_counts", "n_genes_detected")
#: Shared samples named per pair of datasets; the rest are counted.
MAX_NAMED = 5


def shared_samples(sample_tables: Mapping[str, pl.DataFrame]) -> dict[tuple[str, str], list[str]]:
    """Return the samples each pair of datasets has in common.

    Parameters
    ----------
    sample_tables
        Each dataset's QC sample table (``sample`` and the :data:`LIBRARY_FINGERPRINT` columns).

    Returns
    -------
    dict
        ``{(dataset_a, dataset_b): [sample, ...]}`` for the pairs sharing at least one sample
        (by id, or ``a_id=b_id`` when only the library matches).
    """
    shared = {}
    for (a, table_a), (b, table_b) in combinations(sample_tables.items(), 2):
        ids_a = set(table_a["sample"].cast(pl.String).to_list())
        same = [s for s in table_b["sample"].cast(pl.String).to_list() if s in ids_a]
        if all(column in t.columns for t in (table_a, table_b) for column in LIBRARY_FINGERPRINT):
            fingerprints = {
                tuple(row[1:]): row[0]
                for row in table_a.select("sample", *LIBRARY_FINGERPRINT).iter_rows()
            }
            for row in table_b.select("sample", *LIBRARY_FINGERPRINT).iter_rows():
                match = fingerprints.get(tuple(row[1:]))
                if match is not None and match != row[0] and None not in row[1:]:
                    same.append(f"{match}={row[0]}")
        if same:
            shared[(a, b)] = same
    return shared


def overlap_note(shared: Mapping[tuple[str, str], list[str]]) -> str:
    """Return one sentence per pair of datasets sharing samples ("" when none do).

    Parameters
    ----------
    shared
        :func:`shared_samples`' result.

    Returns
    -------
    str
        E.g. ``"not independent: demo and demo2 share 19 samples (JR9, JR48, ...)"``.
    """
    parts = []
    for (a, b), samples in shared.items():
        named = name_some(samples, limit=MAX_NAMED)
        parts.append(f"not independent: {a} and {b} share {len(samples)} samples ({named})")
    return "; ".join(parts)
