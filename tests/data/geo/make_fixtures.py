"""Regenerate the fake GEO series served by tests/stub_server.py (run from the repository root).

    .venv/bin/python tests/data/geo/make_fixtures.py [--shared ../shared/data]

Provenance
----------
The accessions GSE900001-GSE900003 and GSM9001001... (GSM900<series><nnn>) are FAKE (GEO has no such series); the data
in them are real, taken from ``../shared/data`` (see its PROVENANCE.md):

- counts: columns of ``GSE124439/GSE124439_gene_counts.tsv.gz`` (Tam et al. 2019, NYGC ALS
  Consortium, TEcount on hg19/refGene), restricted to the genes of
  ``resources/signatures/alsig_signatures.tsv``, the sex markers XIST/RPS4Y1/DDX3Y/KDM5D/UTY, the
  housekeeping genes GAPDH/ACTB and 60 further genes drawn with a fixed seed. Row ids are the
  genes' Entrez ids (``resources/gene_id_map.tsv.gz``, org.Hs.eg.db 3.16), rows sorted by GeneID,
  as in NCBI's ``<acc>_raw_counts_GRCh38.p13_NCBI.tsv.gz`` (``GeneID`` + one integer column per
  GSM). Which real GSM each fake GSM copies is in ``SAMPLES`` below and in each series matrix
  (``!Sample_description``).
- sample metadata: the series matrices reuse the real sample's sex, brain region, subject id and
  diagnosis group (``GSE124439_samples.tsv.gz``), written in GEO's exact layout (modelled line by
  line on ``GSE124439_series_matrix.txt.gz``: ``!Series_*`` header, blank line, ``!Sample_*`` lines
  with one double-quoted cell per sample, ``!series_matrix_table_begin`` / ``"ID_REF"`` /
  ``!series_matrix_table_end``). GSE900002 drops the ``c9orf72 repeat expansion`` cell of samples
  whose status is unknown and of the other-neurological donor, so its later characteristics cells shift left and the line ends with
  an empty cell, exactly how GEO renders uneven characteristics.
- annotation ``Human.GRCh38.p13.annot.tsv.gz``: NCBI's 18 columns for the same genes. GeneID,
  Symbol, Description, Synonyms (``|``-separated), GeneType, EnsemblGeneID and the chromosome are
  real (``../shared/data/annotation/human_gene_id_map.tsv.gz``, org.Hs.eg.db 3.16); ChrAcc is the
  GRCh38 RefSeq accession of that chromosome; ChrStart/ChrStop/Orientation/Length and the GO
  columns are deterministic placeholders (no coordinates or GO terms are shipped offline).

Series: GSE900001 frontal cortex, 6 ALS + 4 control (``disease state: ALS`` / ``Control``);
GSE900002 motor cortex, 5 ALS + 4 control + 1 other neurological disorder (``sample group: ...``);
GSE900003 frontal cortex, 6 samples whose ``disease state`` no condition rule can resolve
(``pending review`` / ``see publication``) — for the needs-curation path.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
MARKERS = ["XIST", "RPS4Y1", "DDX3Y", "KDM5D", "UTY", "GAPDH", "ACTB"]
N_RANDOM = 60
SEED = 20240603
ANNOT_COLUMNS = [
    "GeneID",
    "Symbol",
    "Description",
    "Synonyms",
    "GeneType",
    "EnsemblGeneID",
    "Status",
    "ChrAcc",
    "ChrStart",
    "ChrStop",
    "Orientation",
    "Length",
    "GOFunctionID",
    "GOProcessID",
    "GOComponentID",
    "GOFunction",
    "GOProcess",
    "GOComponent",
]
CHR_ACC = {
    "1": "NC_000001.11",
    "2": "NC_000002.12",
    "3": "NC_000003.12",
    "4": "NC_000004.12",
    "5": "NC_000005.10",
    "6": "NC_000006.12",
    "7": "NC_000007.14",
    "8": "NC_000008.11",
    "9": "NC_000009.12",
    "10": "NC_000010.11",
    "11": "NC_000011.10",
    "12": "NC_000012.12",
    "13": "NC_000013.11",
    "14": "NC_000014.9",
    "15": "NC_000015.10",
    "16": "NC_000016.10",
    "17": "NC_000017.11",
    "18": "NC_000018.10",
    "19": "NC_000019.10",
    "20": "NC_000020.11",
    "21": "NC_000021.9",
    "22": "NC_000022.11",
    "X": "NC_000023.11",
    "Y": "NC_000024.10",
    "MT": "NC_012920.1",
}

# fake GSM -> real GSE124439 GSM, per fake series (chosen by the rules in pick_samples).
SERIES = {
    "GSE900001": {
        "title": "Frontal cortex transcriptome of ALS and control donors (alsig test fixture)",
        "region": "Frontal Cortex",
        "groups": [("ALS", 6), ("control", 4)],
    },
    "GSE900002": {
        "title": "Motor cortex transcriptome of ALS, control and other neurological donors "
        "(alsig test fixture)",
        "region": "Motor Cortex (Lateral)",
        "groups": [("ALS", 5), ("control", 4), ("other_neurological", 1)],
    },
    "GSE900003": {
        "title": "Frontal cortex samples awaiting curation (alsig test fixture)",
        "region": "Frontal Cortex",
        "groups": [("ALS", 3), ("control", 3)],
        "skip": 6,  # take different real samples than GSE900001
    },
}


def read_tsv_gz(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def gz_bytes(text: str) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as handle:
        handle.write(text.encode())
    return buffer.getvalue()


def pick_samples(samples: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    used: set[str] = set()
    picked: dict[str, list[dict[str, str]]] = {}
    for acc, spec in SERIES.items():
        chosen = []
        for group, n in spec["groups"]:
            pool = [
                s
                for s in samples
                if s["group"] == group
                and s["cns_subregion"] == spec["region"]
                and s["gsm"] not in used
            ]
            pool = pool[spec.get("skip", 0) :] if len(pool) > n + spec.get("skip", 0) else pool
            # both sexes where possible
            pool.sort(key=lambda s: (s["sex"], s["gsm"]))
            females = [s for s in pool if s["sex"] == "Female"]
            males = [s for s in pool if s["sex"] == "Male"]
            mix = [x for pair in zip(females, males, strict=False) for x in pair]
            mix += [s for s in pool if s not in mix]
            chosen += mix[:n]
            if len(mix) < n:
                raise SystemExit(f"{acc}: not enough {group} samples in {spec['region']}")
        used.update(s["gsm"] for s in chosen)
        picked[acc] = chosen
    return picked


def pick_genes(symbols_in_counts: set[str], symbol_to_entrez: dict[str, str]) -> list[str]:
    with open(REPO / "resources/signatures/alsig_signatures.tsv") as handle:
        signature = sorted({row["gene"] for row in csv.DictReader(handle, delimiter="\t")})
    wanted = [g for g in MARKERS + signature if g in symbols_in_counts and g in symbol_to_entrez]
    rest = sorted(s for s in symbols_in_counts if s in symbol_to_entrez and s not in wanted)
    rng = random.Random(SEED)
    wanted += rng.sample(rest, N_RANDOM)
    return list(dict.fromkeys(wanted))


def quoted(cells: list[str]) -> str:
    return "\t".join(f'"{c}"' for c in cells)


def series_matrix(acc: str, spec: dict, samples: list[dict[str, str]], gsms: list[str]) -> str:
    n = len(samples)
    lines = [
        f'!Series_title\t"{spec["title"]}"',
        f'!Series_geo_accession\t"{acc}"',
        '!Series_status\t"Public on Jan 01 2024"',
        '!Series_submission_date\t"Dec 01 2023"',
        '!Series_last_update_date\t"Jan 02 2024"',
        '!Series_summary\t"Fake series for alsig tests; counts and metadata copied from GSE124439 '
        '(Tam et al. 2019, PMID 31665631)."',
        '!Series_overall_design\t"RNA-seq of postmortem cortex from ALS patients and donors without '
        'neurological disorders"',
        '!Series_overall_design\t""',
        '!Series_type\t"Expression profiling by high throughput sequencing"',
        '!Series_contributor\t"Alsig,,Fixture"',
        f'!Series_sample_id\t"{" ".join(gsms)} "',
        '!Series_contact_name\t"Alsig,,Fixture"',
        '!Series_contact_country\t"USA"',
        f'!Series_supplementary_file\t"ftp://ftp.ncbi.nlm.nih.gov/geo/series/{acc[:-3]}nnn/{acc}/suppl/{acc}_RAW.tar"',
        '!Series_platform_id\t"GPL16791"',
        '!Series_platform_taxid\t"9606"',
        '!Series_sample_taxid\t"9606"',
        f'!Series_relation\t"BioProject: https://www.ncbi.nlm.nih.gov/bioproject/PRJNA9{acc[3:]}"',
        "",
    ]

    def row(field: str, cells: list[str]) -> None:
        lines.append(f"!Sample_{field}\t{quoted(cells)}")

    row("title", [s["rna_seq_id"] for s in samples])
    row("geo_accession", gsms)
    row("status", ["Public on Jan 01 2024"] * n)
    row("submission_date", ["Dec 01 2023"] * n)
    row("last_update_date", ["Jan 02 2024"] * n)
    row("type", ["SRA"] * n)
    row("channel_count", ["1"] * n)
    row("source_name_ch1", [s["cns_subregion"] for s in samples])
    row("organism_ch1", ["Homo sapiens"] * n)
    if acc == "GSE900001":
        disease = {"ALS": "ALS", "control": "Control"}
        chars = [
            [f"tissue: {s['cns_subregion']}" for s in samples],
            [f"disease state: {disease[s['group']]}" for s in samples],
            [f"Sex: {s['sex']}" for s in samples],
            [f"subject id: {s['subject_id']}" for s in samples],
        ]
    elif acc == "GSE900002":
        per_sample = []
        for s in samples:
            cells = [
                "tissue type: post-mortem tissue",
                f"cns subregion: {s['cns_subregion']}",
                f"subject id: {s['subject_id']}",
                f"sample group: {s['geo_sample_group']}",
            ]
            if (
                s["c9orf72_repeat_expansion"] in ("Yes", "No")
                and s["group"] != "other_neurological"
            ):
                cells.append(f"c9orf72 repeat expansion: {s['c9orf72_repeat_expansion']}")
            cells.append(f"Sex: {s['sex']}")
            per_sample.append(cells)
        width = max(len(c) for c in per_sample)
        chars = [[c[i] if i < len(c) else "" for c in per_sample] for i in range(width)]
    else:
        pending = ["pending review", "see publication"]
        chars = [
            [f"tissue: {s['cns_subregion']}" for s in samples],
            [f"disease state: {pending[i % 2]}" for i, _ in enumerate(samples)],
            [f"Sex: {s['sex']}" for s in samples],
        ]
    for cells in chars:
        row("characteristics_ch1", cells)
    row("molecule_ch1", ["total RNA"] * n)
    row(
        "extract_protocol_ch1",
        ["RNA was extracted from flash-frozen postmortem tissue; rRNA-depleted libraries."] * n,
    )
    row("taxid_ch1", ["9606"] * n)
    row("description", [f"copied from {s['gsm']} (GSE124439)" for s in samples])
    row("data_processing", ["Genome_build: hg19"] * n)
    row("platform_id", ["GPL16791"] * n)
    row("contact_name", ["Alsig,,Fixture"] * n)
    row("data_row_count", ["0"] * n)
    row("instrument_model", ["Illumina HiSeq 2500"] * n)
    row("library_selection", ["cDNA"] * n)
    row("library_source", ["transcriptomic"] * n)
    row("library_strategy", ["RNA-Seq"] * n)
    row("supplementary_file_1", ["NONE"] * n)
    lines.append("!series_matrix_table_begin")
    lines.append(quoted(["ID_REF", *gsms]))
    lines.append("!series_matrix_table_end")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    shared: Path = args.shared

    gene_map = read_tsv_gz(shared / "annotation" / "human_gene_id_map.tsv.gz")
    by_symbol = {r["symbol"]: r for r in gene_map}
    symbol_to_entrez = {s: r["entrez_id"] for s, r in by_symbol.items()}
    with gzip.open(shared / "GSE124439" / "GSE124439_gene_counts.tsv.gz", "rt") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader)
        counts = {row[0]: row[1:] for row in reader}
    column = {gsm: i for i, gsm in enumerate(header[1:])}
    samples = read_tsv_gz(shared / "GSE124439" / "GSE124439_samples.tsv.gz")
    genes = pick_genes(set(counts), symbol_to_entrez)
    genes.sort(key=lambda g: int(symbol_to_entrez[g]))

    for number, (acc, chosen) in enumerate(pick_samples(samples).items(), start=1):
        gsms = [f"GSM900{number:01d}{i:03d}" for i in range(1, len(chosen) + 1)]
        folder = args.out / acc
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["\t".join(["GeneID", *gsms])]
        for gene in genes:
            values = [counts[gene][column[s["gsm"]]] for s in chosen]
            lines.append("\t".join([symbol_to_entrez[gene], *values]))
        (folder / f"{acc}_raw_counts_GRCh38.p13_NCBI.tsv.gz").write_bytes(
            gz_bytes("\n".join(lines) + "\n")
        )
        (folder / f"{acc}_series_matrix.txt.gz").write_bytes(
            gz_bytes(series_matrix(acc, SERIES[acc], chosen, gsms))
        )
        print(
            acc,
            ", ".join(
                f"{g}={s['gsm']}/{s['group']}/{s['sex']}" for g, s in zip(gsms, chosen, strict=True)
            ),
        )

    rows = ["\t".join(ANNOT_COLUMNS)]
    for gene in genes:
        info = by_symbol[gene]
        entrez = int(info["entrez_id"])
        start = 1_000_000 + (entrez * 7919) % 90_000_000
        length = 1_000 + (entrez * 104_729) % 50_000
        chromosome = info["chromosome"].split("|")[0].split(";")[0]
        rows.append(
            "\t".join(
                [
                    info["entrez_id"],
                    gene,
                    info["gene_name"],
                    info["aliases"].replace(";", "|"),
                    info["gene_type"],
                    info["ensembl_gene_ids"].split(";")[0],
                    "active",
                    CHR_ACC.get(chromosome, ""),
                    str(start),
                    str(start + length - 1),
                    "+" if entrez % 2 else "-",
                    str(length),
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
        )
    (args.out / "Human.GRCh38.p13.annot.tsv.gz").write_bytes(gz_bytes("\n".join(rows) + "\n"))
    print(f"{len(genes)} genes; annotation and 3 series written to {args.out}")


if __name__ == "__main__":
    main()
