"""The shipped signatures as one table (``alsig signatures``).

What is scored, from which genes, on whose authority.
"""

from __future__ import annotations

import polars as pl

from alsig.resources import signature_dir
from alsig.signatures.readers import read_signatures

#: the shipped signature tables, in the order they are listed
SHIPPED_TABLES = ("alsig_signatures.tsv", "subtype_markers.tsv", "retrotransposons.tsv")


def signature_version() -> str:
    """Return the version of the shipped signatures (``resources/signatures/VERSION``)."""
    return (signature_dir() / "VERSION").read_text().strip()


def signature_listing() -> pl.DataFrame:
    """One row per shipped signature.

    ``signature, axis, table, n_up, n_down, genes, sources, version`` (genes ``;``-joined, down
    genes prefixed ``-``).
    """
    rows = []
    version = signature_version()
    for table in SHIPPED_TABLES:
        for sig in read_signatures(signature_dir() / table):
            sources = sorted({s for s in sig.sources.values() if s})
            rows.append(
                {
                    "signature": sig.name,
                    "axis": sig.axis,
                    "table": table,
                    "n_up": len(sig.up),
                    "n_down": len(sig.down),
                    "genes": ";".join([*sig.up, *(f"-{g}" for g in sig.down)]),
                    "sources": " | ".join(sources),
                    "version": version,
                }
            )
    return pl.DataFrame(rows)
