"""Build resources/gene_id_map.tsv.gz from ../shared/data/annotation/human_gene_id_map.tsv.gz.

Keeps the columns ingest needs (Entrez id, current symbol, biotype, chromosome, Ensembl ids, aliases)
and drops the long gene names. Source: Bioconductor org.Hs.eg.db 3.16.0 (Debian r-bioc-org.hs.eg.db
3.16.0-1); see resources/README.md.

Usage: python scripts/build_gene_map.py [SHARED_MAP] [OUT]
"""

import gzip
import sys
from pathlib import Path
from typing import IO, cast

import polars as pl

root = Path(__file__).resolve().parents[1]
src = (
    Path(sys.argv[1])
    if len(sys.argv) > 1
    else root.parent / "shared/data/annotation/human_gene_id_map.tsv.gz"
)
out = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "resources/gene_id_map.tsv.gz"

table = pl.read_csv(src, separator="\t", infer_schema=False).select(
    "entrez_id", "symbol", "gene_type", "chromosome", "ensembl_gene_ids", "aliases"
)
tmp = out.with_suffix(".tmp")
# cast: GzipFile is a binary file, but typeshed does not declare it IO[bytes] (write_csv's type)
with gzip.GzipFile(tmp, "wb", mtime=0) as handle:
    table.write_csv(cast(IO[bytes], handle), separator="\t")
tmp.replace(out)
print(f"wrote {out} ({table.height} genes)")
