"""Regenerate the bad-input corpus in this folder (deterministic; run from anywhere).

Every file is small and hand-checkable; README.md lists what each one is and what alsig must do.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEMO = HERE.parents[2] / "resources" / "demo"

GENES = ["GAPDH", "ACTB", "SNAP25", "GFAP", "AQP4", "MBP"]
SAMPLES = ["S1", "S2", "S3", "S4"]
BASE = np.array(
    [
        [900, 1100, 1000, 950],
        [700, 650, 800, 720],
        [300, 120, 310, 100],
        [50, 240, 60, 260],
        [40, 90, 35, 95],
        [500, 520, 480, 510],
    ]
)


def table(genes=GENES, samples=SAMPLES, values=BASE, edit=None) -> str:
    rows = [["gene", *samples]]
    for gene, row in zip(genes, values, strict=True):
        rows.append([gene, *map(str, row)])
    if edit:
        (r, c), text = edit
        rows[r][c] = text
    return "\n".join("\t".join(r) for r in rows) + "\n"


def sheet(samples) -> str:
    groups = {"S1": "ALS", "S2": "control", "S3": "ALS", "S4": "control", "S5": "ALS"}
    lines = ["sample_id\tgroup\tsubject_id\tsex"]
    lines += [
        f"{s}\t{groups.get(s, 'ALS')}\tP{s}\t{'female' if i % 2 else 'male'}"
        for i, s in enumerate(samples)
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    w = lambda name, text: (HERE / name).write_text(text)  # noqa: E731
    w("samples.tsv", sheet(SAMPLES))
    w("counts_ok.tsv", table())
    # (row, column) in the written table: row 0 is the header, column 0 the gene id
    w("counts_fractional.tsv", table(edit=((3, 2), "12.5")))
    w("counts_nan.tsv", table(edit=((2, 4), "NaN")))
    w("counts_text.tsv", table(edit=((4, 3), "n/a-low")))
    w("counts_duplicate_sample.tsv", table(samples=["S1", "S2", "S3", "S2"]))
    w("counts_duplicate_gene.tsv", table(genes=["GAPDH", "ACTB", "SNAP25", "GFAP", "GAPDH", "MBP"]))
    w("counts_excel_mangled.tsv", table(genes=["GAPDH", "ACTB", "7-Sep", "4-Mar", "AQP4", "MBP"]))
    w("counts_empty.tsv", "")
    w("counts_estimated.tsv", table(edit=((2, 3), "310.62")))  # salmon/RSEM expected_count
    w("counts_mouse_symbols.tsv", table(genes=["Gapdh", "Actb", "Snap25", "Gfap", "Aqp4", "MBP"]))
    # featureCounts as Windows tools save it: BOM, CRLF, the program comment, annotation columns
    fc = ['# Program:featureCounts v2.0.6; Command:"featureCounts" "-a" "genes.gtf"']
    fc.append("\t".join(["Geneid", "Chr", "Start", "End", "Strand", "Length", *SAMPLES]))
    for i, (gene, row) in enumerate(zip(GENES, BASE, strict=True)):
        fc.append(
            "\t".join(
                [gene, "chr1", str(1000 * i + 1), str(1000 * i + 900), "+", "900"]
                + list(map(str, row))
            )
        )
    (HERE / "counts_featurecounts.tsv").write_bytes(
        b"\xef\xbb\xbf" + "\r\n".join(fc).encode() + b"\r\n"
    )
    full = gzip.compress(table().encode() * 1, mtime=0)
    (HERE / "counts_truncated.tsv.gz").write_bytes(full[: len(full) // 2])
    w("samples_duplicate_id.tsv", sheet(["S1", "S2", "S3", "S4", "S3"]))
    w("samples_missing_sample.tsv", sheet(["S1", "S2", "S3"]))
    w("samples_extra_sample.tsv", sheet(["S1", "S2", "S3", "S4", "S5"]))
    w(
        "broken.gmt",
        "GOOD_SET\tna\tGAPDH\tACTB\tSNAP25\n"
        "BROKEN SET with spaces not tabs GAPDH ACTB\n"
        "OTHER_SET\tna\tGFAP\tAQP4\n",
    )
    # the demo sample sheet with every control library but subject JR56's relabelled 'other':
    # after collapse_by: subject the control level has one sample
    lines = (DEMO / "GSE122649_demo_samples.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    g, s = header.index("group"), header.index("subject_id")
    out = [lines[0]]
    first_control = None
    for line in lines[1:]:
        f = line.split("\t")
        if f[g] == "control":
            first_control = first_control or f[s]
            if f[s] != first_control:
                f[g] = "other"
        out.append("\t".join(f))
    w("demo_samples_one_control.tsv", "\n".join(out) + "\n")

    import anndata as ad
    import pandas as pd

    x = BASE.T.astype(np.float32).copy()
    x[1, 2] = 118.4  # normalised, not counts
    adata = ad.AnnData(
        X=x,
        obs=pd.DataFrame(index=pd.Index(SAMPLES, dtype=str)),
        var=pd.DataFrame(index=pd.Index(GENES, dtype=str)),
    )
    adata.write_h5ad(HERE / "nonint_x.h5ad")
    round_two(w)
    print("first control subject kept:", first_control)


def round_two(w) -> None:
    """Issue 29's corpus: inputs that used to change a result silently or end in a traceback."""

    # spreadsheet error values as gene ids (were summed into one fake gene '#N/A')
    w("counts_excel_errors.tsv", table(genes=["GAPDH", "#N/A", "SNAP25", "#NAME?", "AQP4", "MBP"]))
    w("counts_header_only.tsv", "gene\t" + "\t".join(SAMPLES) + "\n")
    zero = BASE.copy()
    zero[:, 2] = 0  # S3: an empty library
    w("counts_zero_library.tsv", table(values=zero))
    ensembl = [
        "ENSG00000111640",
        "ENSG00000075624",
        "ENSG00000132639",
        "ENSG00000131095",
        "ENSG00000171885",
        "ENSG00000197971",
    ]
    w("counts_ensembl_ids.tsv", table(genes=ensembl))  # read with gene_id_type: symbol
    entrez = ["2597.0", "60.0", "6616.0", "2670.0", "361.0", "4155.0"]  # R / Excel wrote numbers
    w("counts_entrez_float.tsv", table(genes=entrez))
    te = ["te_id\t" + "\t".join(SAMPLES)]
    for te_id, base in (
        ("L1HS:L1:LINE", 50),
        ("AluY:Alu", 400),
        ("HERVK-int:ERVK:LTR", 8),
        ("broken:id:with:colons", 3),
    ):
        te.append(te_id + "\t" + "\t".join(str(base + i) for i in range(len(SAMPLES))))
    w("te_counts_malformed.tsv", "\n".join(te) + "\n")
    x = BASE.T.astype(np.float64).copy()
    x[1, 2] = 1e20  # stored as -9223372036854775808 before
    _h5ad(x, GENES, "float_1e20.h5ad")
    _h5ad(BASE.T.astype(np.int32), ["GAPDH", "NaN", "SNAP25", "Inf", "NA", "MBP"], "nan_genes.h5ad")
    # sample sheets: a `subject` column the config does not map (technical replicates),
    # an unmapped `Batch` column, one subject in two conditions, and a Windows-1252 sheet
    lines = ["sample_id\tgroup\tsubject\tBatch\tsex"]
    groups = {"S1": "ALS", "S2": "ALS", "S3": "control", "S4": "control"}
    subjects = {"S1": "D1", "S2": "D1", "S3": "D2", "S4": "D2"}
    for i, sample in enumerate(SAMPLES):
        lines.append(f"{sample}\t{groups[sample]}\t{subjects[sample]}\tb{i % 2 + 1}\tmale")
    w("samples_subject_column.tsv", "\n".join(lines) + "\n")
    conflict = "\n".join(lines).replace("S2\tALS\tD1", "S2\tcontrol\tD1") + "\n"
    w("samples_subject_two_conditions.tsv", conflict)
    latin = sheet(SAMPLES).replace("\tPS1\t", "\tPatiënt-1\t")
    (HERE / "samples_cp1252.tsv").write_bytes(latin.encode("cp1252"))


def _h5ad(x, genes, name) -> None:
    import anndata as ad
    import pandas as pd

    ad.AnnData(
        X=x,
        obs=pd.DataFrame(index=pd.Index(SAMPLES, dtype=str)),
        var=pd.DataFrame(index=pd.Index(genes, dtype=str)),
    ).write_h5ad(HERE / name)


if __name__ == "__main__":
    main()
