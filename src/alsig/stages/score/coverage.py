"""Gene coverage of signatures in a dataset, and the flag that keeps poor ones from being scored.

A signature whose present genes are fewer than ``min_coverage`` (``score.min_coverage``) of its
genes, whose up or down part has no present gene, or that covers the whole gene universe is
flagged: logged as a warning, written to ``signature_coverage.tsv`` with ``flagged = true`` and
a reason, and its score is null.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from alsig.signatures.model import Signature
from alsig.tables import schemas


def _reasons(sig: Signature, present: set[str], min_coverage: float) -> tuple[dict, list[str]]:
    up_used = sum(g in present for g in sig.up)
    dn_used = sum(g in present for g in sig.down)
    all_genes = sig.genes
    used = sum(g in present for g in all_genes)
    fraction = used / len(all_genes) if all_genes else 0.0
    reasons = []
    if fraction < min_coverage:
        reasons.append(f"{used} of {len(all_genes)} genes present (< {min_coverage:g})")
    if sig.up and up_used == 0:
        reasons.append("no up gene present")
    if sig.down and dn_used == 0:
        reasons.append("no down gene present")
    if used >= len(present):
        reasons.append("signature covers the whole gene universe")
    counts = {
        "n_genes": len(all_genes),
        "n_genes_used": used,
        "n_up": len(sig.up),
        "n_up_used": up_used,
        "n_down": len(sig.down),
        "n_down_used": dn_used,
        "coverage": round(fraction, 4),
    }
    return counts, reasons


def signature_coverage(
    genes: Sequence[str], signatures: Sequence[Signature], *, min_coverage: float
) -> pl.DataFrame:
    """How many of each signature's genes a dataset has, and whether it is scored.

    Parameters
    ----------
    genes
        The dataset's gene universe.
    signatures
        The signatures of the run.
    min_coverage
        Smallest fraction of a signature's genes that must be present.

    Returns
    -------
    polars.DataFrame
        One row per signature: ``signature, axis``, genes declared / present overall
        (``n_genes``, ``n_genes_used``, Int32), for the up and the down part, ``coverage``
        (fraction, 4 decimals), ``flagged`` and ``reason`` (``"; "``-joined, empty if scored).
    """
    present = set(genes)
    rows = []
    for sig in signatures:
        counts, reasons = _reasons(sig, present, min_coverage)
        rows.append(
            {
                "signature": sig.name,
                "axis": sig.axis,
                **counts,
                "flagged": bool(reasons),
                "reason": "; ".join(reasons),
            }
        )
    schema = {
        k: v for k, v in schemas.polars_schema("signature_coverage").items() if k != "dataset"
    }
    return pl.DataFrame(rows, schema=schema)
