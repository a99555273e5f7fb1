"""Build the bundled demo in resources/demo/ from ../shared/data/GSE122649.

The demo is the real GSE122649 count matrix (Tam et al. 2019; 38 motor-cortex libraries from 13 sALS
patients and 6 controls, two libraries each) restricted to a gene subset so the whole DAG runs in a
few minutes: every gene named in a Hallmark set or in ../shared/science/resistance_axes.md (signature
and cell-type markers), the sex-check genes, mitochondrial and ribosomal genes, and the most highly
expressed remaining genes up to --n-genes. Counts are unchanged. Rerun to regenerate byte for byte.

The TE counts of the same libraries (all 992 TE subfamilies) are copied unchanged.

Usage: python scripts/build_demo.py [--shared ../shared] [--n-genes 6000]
"""

import argparse
import gzip
import os
import re
from pathlib import Path
from typing import IO, cast

import polars as pl

root = Path(__file__).resolve().parents[1]
parser = argparse.ArgumentParser()
parser.add_argument(
    "--shared",
    type=Path,
    default=Path(os.environ["ALSIG_SHARED_DATA"]).parent
    if "ALSIG_SHARED_DATA" in os.environ
    else root.parent / "shared",
)
parser.add_argument("--n-genes", type=int, default=6000)
args = parser.parse_args()
data = args.shared / "data"

counts = pl.read_csv(data / "GSE122649/GSE122649_gene_counts.tsv.gz", separator="\t")
samples = pl.read_csv(
    data / "GSE122649/GSE122649_samples.tsv.gz", separator="\t", infer_schema=False
)

wanted: set[str] = set()
with gzip.open(data / "genesets/h.all.v7.4.symbols.gmt.gz", "rt") as handle:
    for line in handle:
        wanted.update(line.rstrip("\n").split("\t")[2:])
axes = (args.shared / "science/resistance_axes.md").read_text()
wanted.update(re.findall(r"\b[A-Z][A-Z0-9]{1,9}(?:orf\d+)?\b", axes))
wanted.update(["XIST", "RPS4Y1", "DDX3Y", "UTY", "KDM5D", "EIF1AY"])
# ALS-Ox marker genes of the subtype stage (resources/signatures/subtype_markers.tsv)
wanted.update(["B4GALT6", "GABRA1", "GAD2", "GLRA3", "HTR2A", "PCSK1", "SLC17A6"])
for prefix in ("PSMA", "PSMB", "PSMC", "PSMD"):
    wanted.update(f"{prefix}{i}" for i in range(1, 15))

symbols = counts.get_column("gene_symbol")
sample_cols = counts.columns[1:]
total = counts.select(pl.sum_horizontal(sample_cols)).to_series()
is_wanted = (
    symbols.is_in(list(wanted))
    | symbols.str.starts_with("MT-")
    | symbols.str.contains(r"^RP[SL]\d")
)
ranked = counts.with_columns(total.alias("_total"), is_wanted.alias("_wanted")).sort(
    ["_wanted", "_total", "gene_symbol"], descending=[True, True, False]
)
keep = ranked.head(max(args.n_genes, int(is_wanted.sum()))).get_column("gene_symbol")
demo = counts.filter(symbols.is_in(keep.to_list()))

out = root / "resources/demo"
out.mkdir(parents=True, exist_ok=True)
# cast: GzipFile is a binary file, but typeshed does not declare it IO[bytes] (write_csv's type)
with gzip.GzipFile(out / "GSE122649_demo_counts.tsv.gz", "wb", mtime=0) as handle:
    demo.write_csv(cast(IO[bytes], handle), separator="\t")
# the TE counts of the same runs, every subfamily (TEcount's TE rows; see PROVENANCE.md)
te = pl.read_csv(data / "GSE122649/GSE122649_te_counts.tsv.gz", separator="\t")
with gzip.GzipFile(out / "GSE122649_demo_te_counts.tsv.gz", "wb", mtime=0) as handle:
    te.write_csv(cast(IO[bytes], handle), separator="\t")
sheet = samples.select(
    "sample_id",
    "subject_id",
    "library_id",
    "diagnosis",
    "group",
    "replicate",
    "tissue",
    "sex",
    "age_at_death",
    "pmi_hours",
    "onset_site",
    "c9orf72_repeat_expansion",
)
sheet.write_csv(out / "GSE122649_demo_samples.tsv", separator="\t")
print(f"demo: {demo.height} genes ({int(is_wanted.sum())} wanted) x {len(sample_cols)} samples")
