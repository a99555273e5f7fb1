"""Build resources/cell_markers/bretigea_human_brain.tsv.gz from the BRETIGEA human brain markers.

Input: ``../shared/data/annotation/bretigea/markers_human_brain.tsv.gz`` (columns ``markers``,
``cell``; BRETIGEA 1.0.4 ``markers_df_human_brain`` written to TSV unchanged, source S7 of
``../shared/data/PROVENANCE.md``). The whole ranked list is kept (1,000 markers per cell type,
500 for OPCs), so that the first ``n`` markers *present in a dataset* can be taken as BRETIGEA
does; alsig uses ``n = 50`` by default (``alsig.cellmix.N_MARKERS``).

What the build does, and nothing else:

1. cell-type codes become names (``ast`` -> ``astrocytes`` ...);
2. ``rank`` = position within the cell type in the source file (1 = strongest marker);
3. every symbol is harmonised with the project's gene map (:class:`alsig.genes.GeneMap`,
   ``rename_map``: a current symbol is kept, a retired one or an unambiguous alias becomes the
   current HGNC symbol, e.g. ``GPR98`` -> ``ADGRV1``); ``source_symbol`` keeps the 2018 name and
   ``how`` says how it was resolved;
4. when two source symbols of one cell type become the same current symbol, the better-ranked
   row is kept (the other is dropped and counted); a gene may still mark two cell types, as in
   BRETIGEA (oligodendrocytes and OPCs share some).

Usage: python scripts/build_cell_markers.py [SOURCE] [OUT]  (``ALSIG_SHARED_DATA`` locates ``shared/data``)
"""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path
from typing import IO, cast

import polars as pl

from alsig.genes import GeneMap

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALSIG_SHARED_DATA", ROOT.parent / "shared" / "data"))
SOURCE = SHARED / "annotation/bretigea/markers_human_brain.tsv.gz"
OUT = ROOT / "resources/cell_markers/bretigea_human_brain.tsv.gz"
CELL_TYPES = {
    "ast": "astrocytes",
    "end": "endothelial",
    "mic": "microglia",
    "neu": "neurons",
    "oli": "oligodendrocytes",
    "opc": "opcs",
}


def build(source: Path) -> tuple[pl.DataFrame, dict[str, int]]:
    """Build the harmonised, ranked marker table and count how symbols were resolved."""
    raw = pl.read_csv(source, separator="\t", infer_schema=False)
    if raw.columns != ["markers", "cell"]:
        raise SystemExit(f"{source}: expected columns markers, cell; found {raw.columns}")
    unknown = set(raw["cell"]) - set(CELL_TYPES)
    if unknown:
        raise SystemExit(f"{source}: unknown cell codes {sorted(unknown)}")
    gene_map = GeneMap.load()
    # each distinct symbol on its own: the list repeats symbols across cell types, and
    # harmonising them together would leave the second copy of a rescued alias unmapped
    resolved = {}
    for symbol in dict.fromkeys(raw["markers"]):
        (record,), _ = gene_map.harmonise([symbol], "symbol")
        resolved[symbol] = (record.symbol, record.how)
    table = raw.with_columns(
        pl.col("cell").replace_strict(CELL_TYPES).alias("cell_type"),
        pl.int_range(1, pl.len() + 1).over("cell").alias("rank"),
        pl.col("markers").replace_strict({k: v[0] for k, v in resolved.items()}).alias("gene"),
        pl.col("markers").alias("source_symbol"),
        pl.col("markers").replace_strict({k: v[1] for k, v in resolved.items()}).alias("how"),
    ).select("cell_type", "rank", "gene", "source_symbol", "how")
    n_before = table.height
    table = table.unique(["cell_type", "gene"], keep="first", maintain_order=True)
    counts = dict(table["how"].value_counts().iter_rows())
    counts["dropped_duplicates_after_renaming"] = n_before - table.height
    return table, counts


def main() -> None:
    """Rebuild the shipped marker table (arguments: source table, output file)."""
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else OUT
    table, counts = build(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    # cast: GzipFile is a binary file, but typeshed does not declare it IO[bytes] (write_csv's type)
    with gzip.GzipFile(tmp, "wb", mtime=0) as handle:  # byte-identical rebuilds
        table.write_csv(cast(IO[bytes], handle), separator="\t")
    tmp.replace(out)
    per_type = dict(table.group_by("cell_type", maintain_order=True).len().iter_rows())
    print(f"wrote {out}: {table.height} rows {per_type}; resolved by {counts}")


if __name__ == "__main__":
    main()
