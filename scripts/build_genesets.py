"""Build resources/genesets/ (gzipped GMT + manifest.tsv) from ../shared/data/genesets.

Collections (see resources/genesets/README.md for provenance):

- ``hallmark``: MSigDB Hallmark v7.4 (all 50 sets).
- ``reactome``: MSigDB C2:CP:REACTOME v7.4 (all 1,604 sets). Chosen over Reactome's own
  ``ReactomePathways.gmt`` because it is the same MSigDB release and symbol snapshot as Hallmark,
  its release is recorded (v7.4) while the Reactome file's is not, and it carries no viral genes.
- ``go_bp``: GO Biological Process from org.Hs.eg.db 3.16.0 (GO 2022-07-01), terms with 15-500
  genes only (the full file has 15,975 terms, median size 7, up to 18,903 genes).
- ``alsig_resistance`` (optional): ``resources/signatures/alsig_signatures.gmt`` maintained by the
  scoring stage; listed in the manifest without set count or checksum (it changes on its own;
  each run records both in its provenance).

Gene symbols are harmonised with :func:`alsig.stages.enrich.harmonise_gene_sets` (the same offline
org.Hs.eg.db 3.16 map ingest uses). Output is byte-reproducible (gzip mtime 0; set order and gene order of the
sources are kept).

Usage: python scripts/build_genesets.py [--shared ../shared/data] [--out resources/genesets]
"""

from __future__ import annotations

import argparse
import gzip
import os
from pathlib import Path
from typing import TypedDict

import polars as pl

from alsig.genes import GeneMap
from alsig.genesets import MANIFEST_COLUMNS, read_gmt
from alsig.io import atomic_path, sha256_file
from alsig.stages.enrich.sets import harmonise_gene_sets

ROOT = Path(__file__).resolve().parents[1]


class Collection(TypedDict):
    """A shipped gene-set collection: its source file, manifest fields and size filter."""

    id: str
    source_file: str
    name: str
    version: str
    source: str
    license: str
    size_range: tuple[int, int] | None  # (min, max) genes per set kept; None: every set


COLLECTIONS: list[Collection] = [
    {
        "id": "hallmark",
        "source_file": "h.all.v7.4.symbols.gmt.gz",
        "name": "MSigDB Hallmark",
        "version": "v7.4",
        "source": "MSigDB h.all.v7.4.symbols.gmt via ../shared/data/genesets (PROVENANCE S4)",
        "license": "CC BY 4.0",
        "size_range": None,
    },
    {
        "id": "reactome",
        "source_file": "c2.cp.reactome.v7.4.symbols.gmt.gz",
        "name": "MSigDB C2:CP Reactome",
        "version": "v7.4",
        "source": "MSigDB c2.cp.reactome.v7.4.symbols.gmt via ../shared/data/genesets (PROVENANCE S4)",
        "license": "CC BY 4.0",
        "size_range": None,
    },
    {
        "id": "go_bp",
        "source_file": "go_bp_orghs_3.16.0.symbols.gmt.gz",
        "name": "GO Biological Process (15-500 genes)",
        "version": "org.Hs.eg.db 3.16.0 / GO 2022-07-01",
        "source": "org.Hs.eg.db 3.16.0 go_bp_all + GO.db 3.16.0 names via ../shared/data/genesets "
        "(PROVENANCE S5, S6)",
        "license": "CC BY 4.0",
        "size_range": (15, 500),
    },
]

OPTIONAL = {
    "id": "alsig_resistance",
    "file": "../signatures/alsig_signatures.gmt",
    "name": "alsig ALS treatment-resistance signatures",
    "version": "see resources/signatures",
    "source": "alsig (resources/signatures, scoring stage)",
    "license": "MIT (alsig); gene-level sources in resources/signatures",
}


def read_descriptions(path: Path) -> dict[str, str]:
    """Return ``{set name: description}`` of a gzipped GMT file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return {
            line.split("\t")[0].strip(): line.rstrip("\r\n").split("\t")[1]
            for line in handle
            if line.strip()
        }


def write_gmt_gz(sets: dict[str, list[str]], descriptions: dict[str, str], path: Path) -> None:
    """Write ``sets`` as a gzipped GMT file, atomically."""
    text = "".join(
        "\t".join([name, descriptions.get(name, "na"), *genes]) + "\n"
        for name, genes in sets.items()
    )
    # no file name in the gzip header (the temporary name would differ per run), mtime 0
    with (
        atomic_path(path) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0, compresslevel=9) as handle,
    ):
        handle.write(text.encode("utf-8"))


def main() -> None:
    """Rebuild the shipped collections and their manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared",
        type=Path,
        default=Path(os.environ.get("ALSIG_SHARED_DATA", ROOT.parent / "shared" / "data")),
    )
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "genesets")
    args = parser.parse_args()
    gene_map = GeneMap.load()
    rows = []
    for spec in COLLECTIONS:
        src = args.shared / "genesets" / spec["source_file"]
        sets = read_gmt(src)
        n_source = len(sets)
        descriptions = read_descriptions(src)
        sets, report = harmonise_gene_sets(sets, gene_map)
        if spec["size_range"]:
            low, high = spec["size_range"]
            sets = {name: genes for name, genes in sets.items() if low <= len(genes) <= high}
        out = args.out / f"{spec['id']}.gmt.gz"
        write_gmt_gz(sets, descriptions, out)
        rows.append(
            {
                "id": spec["id"],
                "file": out.name,
                "name": spec["name"],
                "version": spec["version"],
                "source": spec["source"],
                "license": spec["license"],
                "n_sets": str(len(sets)),
                "sha256": sha256_file(out),
                "optional": "false",
            }
        )
        print(
            f"{spec['id']}: {n_source} source sets -> {len(sets)} written; "
            f"{report['n_symbols_renamed']} symbols renamed to current HGNC; {out}"
        )
    # maintained by the scoring stage and changes on its own: no set count or checksum here
    # (each run records the file's sha256 and set count in its provenance)
    rows.append({**OPTIONAL, "n_sets": None, "sha256": None, "optional": "true"})
    manifest = pl.DataFrame(rows, schema=dict.fromkeys(MANIFEST_COLUMNS, pl.String))
    with atomic_path(args.out / "manifest.tsv") as tmp:
        manifest.write_csv(tmp, separator="\t", null_value="")
    for path in [args.out / "manifest.tsv", *(args.out / row["file"] for row in rows[:-1])]:
        path.chmod(0o644)
    print(f"wrote {args.out / 'manifest.tsv'} ({manifest.height} collections)")


if __name__ == "__main__":
    main()
