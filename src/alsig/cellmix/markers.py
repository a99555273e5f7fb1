"""Ranked cell-type marker lists and the markers a dataset can use.

The shipped lists are BRETIGEA's human brain markers (McKenzie et al. 2018,
``resources/cell_markers/``), 1,000 per cell type ranked by specificity. A dataset uses the
first :data:`N_MARKERS` markers of each list that it measures (BRETIGEA's ``findCells`` rule):
deep-ranked markers stand in for the ones a count matrix lacks (clone-named lncRNAs, genes the
expression filter removed), so every dataset gets 50 markers per type when it can, and the
coverage table says how deep each list had to go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import polars as pl

from alsig.errors import AlsigError
from alsig.resources import cell_markers

#: cell types of the shipped lists, in their order
CELL_TYPES = ("astrocytes", "endothelial", "microglia", "neurons", "oligodendrocytes", "opcs")
#: markers per cell type (BRETIGEA's default)
N_MARKERS = 50
MARKER_COLUMNS = ("cell_type", "rank", "gene")


@dataclass(frozen=True)
class MarkerLists:
    """Marker genes per cell type, strongest first."""

    ranked: Mapping[str, tuple[str, ...]]
    source: str = ""

    @property
    def cell_types(self) -> list[str]:
        """The cell types, in the lists' order."""
        return list(self.ranked)

    def select(
        self,
        genes: Iterable[str],
        *,
        n_markers: int = N_MARKERS,
        exclude: Iterable[str] = (),
    ) -> MarkerSelection:
        """Select the first ``n_markers`` markers of each list in ``genes`` and not excluded.

        Parameters
        ----------
        genes
            The dataset's measured genes (e.g. QC's expressed genes).
        n_markers
            Markers per cell type.
        exclude
            Genes never used as markers (e.g. the genes of a signature being adjusted); later
            markers of the list take their place.

        Returns
        -------
        MarkerSelection
            The markers used and a coverage row per cell type.

        Raises
        ------
        AlsigError
            ``n_markers`` is below 1.
        """
        if n_markers < 1:
            raise AlsigError(f"n_markers must be at least 1 (got {n_markers}).")
        present = set(genes)
        excluded = set(exclude)
        used: dict[str, list[str]] = {}
        rows = []
        for cell_type, ranked in self.ranked.items():
            chosen: list[str] = []
            skipped = 0
            for gene in ranked:
                if len(chosen) == n_markers:
                    break
                if gene in present:
                    if gene in excluded:
                        skipped += 1
                    else:
                        chosen.append(gene)
            used[cell_type] = chosen
            rows.append(
                {
                    "cell_type": cell_type,
                    "n_markers": n_markers,
                    "n_used": len(chosen),
                    "n_top_present": sum(g in present for g in ranked[:n_markers]),
                    "deepest_rank": (ranked.index(chosen[-1]) + 1) if chosen else None,
                    "n_excluded": skipped,
                    "markers": ";".join(chosen),
                }
            )
        return MarkerSelection(used, pd.DataFrame(rows))


@dataclass(frozen=True)
class MarkerSelection:
    """The markers one dataset uses, per cell type, and how well the lists are covered.

    ``coverage`` columns: ``cell_type``, ``n_markers`` (asked for), ``n_used``,
    ``n_top_present`` (of the list's first ``n_markers``, how many the dataset measures),
    ``deepest_rank`` (position in the list of the last marker used: how far down it went),
    ``n_excluded`` (markers skipped because they were excluded), ``markers`` (';'-joined).
    """

    genes: Mapping[str, Sequence[str]]
    coverage: pd.DataFrame


def load_markers(
    path: str | Path | None = None, *, cell_types: Sequence[str] | None = None
) -> MarkerLists:
    """Read a ranked marker table (default: the shipped BRETIGEA human brain markers).

    Parameters
    ----------
    path
        TSV (optionally gzipped) with columns ``cell_type``, ``rank``, ``gene``.
    cell_types
        Keep only these cell types (in this order); default all, in the file's order.

    Returns
    -------
    MarkerLists

    Raises
    ------
    AlsigError
        Missing columns, a non-integer rank, or a requested cell type the file does not have.
    """
    path = Path(path) if path is not None else cell_markers()
    table = pl.read_csv(path, separator="\t", infer_schema=False)
    missing = [c for c in MARKER_COLUMNS if c not in table.columns]
    if missing:
        raise AlsigError(
            f"file '{path}': marker table lacks column(s) {missing}; it needs "
            f"{', '.join(MARKER_COLUMNS)} (one row per marker, rank 1 = strongest)."
        )
    ranks = table["rank"].cast(pl.Int64, strict=False)
    if ranks.null_count():
        bad = table.filter(ranks.is_null())["rank"][0]
        raise AlsigError(f"file '{path}', column 'rank': '{bad}' is not an integer rank.")
    order = list(dict.fromkeys(table["cell_type"]))
    table = table.with_columns(ranks.alias("rank")).sort("rank", maintain_order=True)
    wanted = list(cell_types) if cell_types is not None else order
    unknown = [c for c in wanted if c not in order]
    if unknown:
        raise AlsigError(
            f"file '{path}': no markers for cell type(s) {unknown}; it has {', '.join(order)}."
        )
    ranked = {
        c: tuple(dict.fromkeys(table.filter(pl.col("cell_type") == c)["gene"])) for c in wanted
    }
    return MarkerLists(ranked, source=str(path))


def marker_lists(markers: Mapping[str, Sequence[str]], source: str = "") -> MarkerLists:
    """Build marker lists from given genes (e.g. a toy cohort's markers).

    Parameters
    ----------
    markers
        Cell type -> marker genes, strongest first (repeats are dropped).
    source
        Where the lists come from, for the records.

    Returns
    -------
    MarkerLists
        The lists in the given order.
    """
    return MarkerLists({c: tuple(dict.fromkeys(g)) for c, g in markers.items()}, source=source)
