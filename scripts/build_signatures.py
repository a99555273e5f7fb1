"""Build resources/signatures/ (alsig_signatures.tsv and alsig_signatures.gmt).

    python scripts/build_signatures.py                 # curated lists + Hallmark -> TSV -> GMT
    python scripts/build_signatures.py --check         # the shipped TSV is what this script builds
    python scripts/build_signatures.py --gmt-only      # the GMT again from the shipped TSV

The lists in this script (``CURATED``, ``ORDER``, ``HALLMARK_DERIVED``) are the source of the
shipped table: to add or change a signature, edit them and rebuild (an edit of the TSV alone is
lost at the next build, and ``--check``, run by the tests, fails on it).

The curated gene lists below come from ../shared/science/resistance_axes.md; Hallmark-derived
signatures are expanded from the MSigDB v7.4 GMT (CC BY 4.0). Every symbol is checked against the
offline gene map (alsig.genes.GeneMap, org.Hs.eg.db 3.16): outdated symbols are renamed to the
current HGNC symbol and reported; a symbol the map does not know stops the build.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from alsig.errors import AlsigError  # noqa: E402
from alsig.genesets import read_gmt, write_gmt  # noqa: E402
from alsig.signatures.library import DEFAULT_GMT, signatures_to_gmt, signatures_to_rows  # noqa: E402
from alsig.signatures.model import TABLE_COLUMNS, Signature  # noqa: E402
from alsig.signatures.readers import DEFAULT_TABLE, read_signature_table  # noqa: E402

SHARED_DATA = Path(os.environ.get("ALSIG_SHARED_DATA", REPO.parent / "shared" / "data"))
HALLMARK_GMT = SHARED_DATA / "genesets" / "h.all.v7.4.symbols.gmt.gz"
HALLMARK = (
    "MSigDB Hallmark v7.4 {set} (CC BY 4.0); Liberzon 2015 Cell Syst DOI:10.1016/j.cels.2015.12.004"
)

# --- sources (identifiers: see resources/signatures/README.md for how each was checked) ---------
VAN_DEN_BOSCH = (
    "Van Den Bosch 2006 Biochim Biophys Acta PMID:16806844 DOI:10.1016/j.bbadis.2006.05.002"
)
ROTHSTEIN = "Rothstein 1995 Ann Neurol PMID:7611729"
KAWAHARA = "Kawahara 2004 Nature DOI:10.1038/427801a"
BELLINGHAM = "Bellingham 2011 CNS Neurosci Ther DOI:10.1111/j.1755-5949.2010.00140.x"
CHORLEY = "Chorley 2012 Nucleic Acids Res DOI:10.1093/nar/gks409"
ROJO = "Rojo de la Vega 2018 Cancer Cell DOI:10.1016/j.ccell.2018.03.022"
SCARPULLA = "Scarpulla 2011 Biochim Biophys Acta PMID:20933024"
PICKLES = "Pickles 2018 Curr Biol DOI:10.1016/j.cub.2018.01.004"
KIERAN = "Kieran 2004 Nat Med DOI:10.1038/nm1021"
SAN_GIL = "San Gil 2017 Mol Neurodegener DOI:10.1186/s13024-017-0208-6"
RAMESH = "Ramesh 2017 Front Mol Neurosci DOI:10.3389/fnmol.2017.00263"
KABASHI = "Kabashi and Durham 2006 Biochim Biophys Acta (identifier not verified)"
HETZ = "Hetz 2012 Nat Rev Mol Cell Biol DOI:10.1038/nrm3270"
KLIM = "Klim 2019 Nat Neurosci DOI:10.1038/s41593-018-0300-4"
MELAMED = "Melamed 2019 Nat Neurosci DOI:10.1038/s41593-018-0293-z"
MA = "Ma 2022 Nature DOI:10.1038/s41586-022-04424-7"
BROWN = "Brown 2022 Nature DOI:10.1038/s41586-022-04436-3"
JABLONSKI = "Jablonski 2014 Ann Clin Transl Neurol DOI:10.1002/acn3.141"
MILANE = "Milane 2007 J Neurochem DOI:10.1111/j.1471-4159.2007.04772.x"
KEREN_SHAUL = "Keren-Shaul 2017 Cell DOI:10.1016/j.cell.2017.05.018 (mouse DAM; human orthologs)"
LIDDELOW = "Liddelow 2017 Nature DOI:10.1038/nature21029"
ESCARTIN = "Escartin 2021 Nat Neurosci DOI:10.1038/s41593-020-00783-4"
MCKENZIE = "McKenzie 2018 Sci Rep DOI:10.1038/s41598-018-27293-5"
DARMANIS = "Darmanis 2015 PNAS DOI:10.1073/pnas.1507125112"


#: the STMN2/UNC13A signature's name and what its source column says it is
TDP43_PROXY = "tdp43_proxy_stmn2_unc13a"
TDP43_PROXY_NOTE = (
    "gene-level decrease of TDP-43 cryptic-exon targets: a neuron-content-confounded proxy of "
    "TDP-43 loss (cryptic exons not measured)"
)


def _join(*sources: str) -> str:
    return "; ".join(sources)


def _expand(prefix: str, first: int, last: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(first, last + 1)]


# (signature, axis, direction, genes, source); a signature may have an up and a down entry.
CURATED: list[tuple[str, str, str, list[str], str]] = [
    # excitotoxicity: receptor remodelling up, glutamate clearance / GluA2 editing down
    (
        "glutamate_receptor_remodelling",
        "excitotoxicity",
        "up",
        [
            "GRIA1",
            "GRIA3",
            "GRIA4",
            "GRIN1",
            "GRIN2A",
            "GRIN2B",
            "GRIN2C",
            "GRIN2D",
            "GRIK1",
            "GRIK2",
            "GRIK3",
            "GRIK4",
            "GRIK5",
            "GRM1",
            "GRM5",
        ],
        VAN_DEN_BOSCH,
    ),
    ("glutamate_clearance_loss", "excitotoxicity", "down", ["SLC1A2", "SLC1A3", "GLUL"], ROTHSTEIN),
    ("glutamate_clearance_loss", "excitotoxicity", "down", ["ADARB1", "GRIA2"], KAWAHARA),
    (
        "riluzole_nav_targets",
        "sodium_channel",
        "up",
        ["SCN1A", "SCN2A", "SCN3A", "SCN8A", "SCN1B"],
        BELLINGHAM,
    ),
    (
        "nrf2_targets",
        "oxidative_stress",
        "up",
        [
            "NFE2L2",
            "NQO1",
            "HMOX1",
            "GCLC",
            "GCLM",
            "TXNRD1",
            "SRXN1",
            "SLC7A11",
            "G6PD",
            "PGD",
            "ME1",
            "AKR1C1",
            "AKR1C2",
            "AKR1C3",
            "FTL",
            "FTH1",
            "GSR",
            "OSGIN1",
            "ABCC2",
            "ABCC3",
        ],
        _join(CHORLEY, ROJO),
    ),
    (
        "mito_biogenesis_mitophagy",
        "mitochondria",
        "up",
        [
            "PPARGC1A",
            "PPARGC1B",
            "NRF1",
            "GABPA",
            "TFAM",
            "TFB1M",
            "TFB2M",
            "POLRMT",
            "POLG",
            "ESRRA",
            "SIRT1",
            "SIRT3",
        ],
        SCARPULLA,
    ),
    ("mito_biogenesis_mitophagy", "mitochondria", "up", ["PINK1", "PRKN"], PICKLES),
    (
        "heat_shock_chaperones",
        "heat_shock",
        "up",
        [
            "HSF1",
            "HSPA1A",
            "HSPA1B",
            "HSPA8",
            "HSPB1",
            "HSPB8",
            "HSP90AA1",
            "HSP90AB1",
            "DNAJB1",
            "DNAJB6",
            "DNAJA1",
            "BAG3",
            "HSPH1",
            "CRYAB",
        ],
        _join(KIERAN, SAN_GIL),
    ),
    (
        "autophagy_lysosome",
        "autophagy_lysosome",
        "up",
        [
            "SQSTM1",
            "OPTN",
            "TBK1",
            "MAP1LC3B",
            "BECN1",
            "ATG5",
            "ATG7",
            "ATG12",
            "ULK1",
            "TFEB",
            "LAMP1",
            "LAMP2",
            "CTSD",
            "UBQLN2",
            "VCP",
            "C9orf72",
        ],
        RAMESH,
    ),
    (
        "proteasome_subunits",
        "proteasome",
        "up",
        _expand("PSMA", 1, 7)
        + _expand("PSMB", 1, 7)
        + _expand("PSMC", 1, 6)
        + _expand("PSMD", 1, 14),
        KABASHI,
    ),
    (
        "upr_core",
        "er_stress",
        "up",
        [
            "ATF4",
            "ATF6",
            "XBP1",
            "ERN1",
            "EIF2AK3",
            "DDIT3",
            "HSPA5",
            "HERPUD1",
            "SEL1L",
            "PDIA4",
            "CALR",
        ],
        HETZ,
    ),
    # Gene-level STMN2/UNC13A decrease: a proxy of TDP-43 loss that falls with neuron content too
    # (both are neuronal genes); cryptic exons, the direct readout, are not measured. Renamed from
    # tdp43_cryptic_exon_targets in 2.0.0 (issue 26).
    (TDP43_PROXY, "tdp43_loss", "down", ["STMN2"], _join(TDP43_PROXY_NOTE, KLIM, MELAMED)),
    (TDP43_PROXY, "tdp43_loss", "down", ["UNC13A"], _join(TDP43_PROXY_NOTE, MA, BROWN)),
    ("bbb_drug_efflux", "drug_efflux", "up", ["ABCB1"], _join(JABLONSKI, MILANE)),
    (
        "bbb_drug_efflux",
        "drug_efflux",
        "up",
        ["ABCG2", "ABCC1", "ABCC2", "ABCC4", "ABCC5", "NR1I2", "NR1I3"],
        JABLONSKI,
    ),
    (
        "dam_microglia",
        "microglia_activation",
        "up",
        ["TYROBP", "APOE", "B2M", "TREM2", "LPL", "CST7", "AXL", "ITGAX", "CD9", "CLEC7A", "SPP1"],
        KEREN_SHAUL,
    ),
    (
        "homeostatic_microglia_loss",
        "microglia_activation",
        "down",
        ["P2RY12", "TMEM119", "CX3CR1", "CSF1R", "HEXB", "SALL1"],
        KEREN_SHAUL,
    ),
    (
        "a1_reactive_astrocytes",
        "reactive_astrocytes",
        "up",
        ["C3", "SERPING1", "GBP2", "FBLN5", "UGT1A1", "FKBP5", "PSMB8", "SRGN", "AMIGO2"],
        LIDDELOW,
    ),
    (
        "pan_reactive_astrocytes",
        "reactive_astrocytes",
        "up",
        ["GFAP", "VIM", "CD44", "SERPINA3", "OSMR", "CHI3L1", "TIMP1"],
        _join(LIDDELOW, ESCARTIN),
    ),
    # cell-type context for bulk tissue (axis cell_type): composition, not resistance
    (
        "celltype_neurons",
        "cell_type",
        "up",
        ["SNAP25", "SYT1", "RBFOX3", "STMN2", "GAD1", "GAD2", "SLC17A7", "NEFL", "NEFM"],
        _join(MCKENZIE, DARMANIS),
    ),
    (
        "celltype_astrocytes",
        "cell_type",
        "up",
        ["AQP4", "GFAP", "ALDH1L1", "GJA1", "SLC1A3", "SOX9"],
        _join(MCKENZIE, DARMANIS),
    ),
    (
        "celltype_microglia",
        "cell_type",
        "up",
        ["P2RY12", "CX3CR1", "CSF1R", "C1QA", "C1QB", "TYROBP", "AIF1"],
        _join(MCKENZIE, DARMANIS),
    ),
    (
        "celltype_oligodendrocytes",
        "cell_type",
        "up",
        ["MBP", "MOG", "PLP1", "MOBP", "MAG"],
        _join(MCKENZIE, DARMANIS),
    ),
    ("celltype_opcs", "cell_type", "up", ["PDGFRA", "CSPG4", "OLIG1"], _join(MCKENZIE, DARMANIS)),
    (
        "celltype_endothelial",
        "cell_type",
        "up",
        ["CLDN5", "FLT1", "PECAM1", "VWF"],
        _join(MCKENZIE, DARMANIS),
    ),
]

# (signature, axis, Hallmark set): expanded from the MSigDB v7.4 GMT, all genes up.
HALLMARK_DERIVED = [
    ("hallmark_ros", "oxidative_stress", "HALLMARK_REACTIVE_OXYGEN_SPECIES_PATHWAY"),
    ("hallmark_oxphos", "mitochondria", "HALLMARK_OXIDATIVE_PHOSPHORYLATION"),
    ("hallmark_upr", "er_stress", "HALLMARK_UNFOLDED_PROTEIN_RESPONSE"),
]

# Order of signatures in the table (curated ones in axis order, Hallmark ones after their axis).
ORDER = [
    "glutamate_receptor_remodelling",
    "glutamate_clearance_loss",
    "riluzole_nav_targets",
    "nrf2_targets",
    "hallmark_ros",
    "mito_biogenesis_mitophagy",
    "hallmark_oxphos",
    "heat_shock_chaperones",
    "autophagy_lysosome",
    "proteasome_subunits",
    "upr_core",
    "hallmark_upr",
    TDP43_PROXY,
    "bbb_drug_efflux",
    "dam_microglia",
    "homeostatic_microglia_loss",
    "a1_reactive_astrocytes",
    "pan_reactive_astrocytes",
    "celltype_neurons",
    "celltype_astrocytes",
    "celltype_microglia",
    "celltype_oligodendrocytes",
    "celltype_opcs",
    "celltype_endothelial",
]


def curated_signatures(hallmark_gmt: Path = HALLMARK_GMT) -> list[Signature]:
    """Return the curated signatures, Hallmark sets read from ``hallmark_gmt``."""
    sigs: dict[str, Signature] = {}
    for name, axis, direction, genes, source in CURATED:
        sig = sigs.setdefault(name, Signature(name=name, axis=axis, origin="build_signatures.py"))
        target = sig.up if direction == "up" else sig.down
        for gene in genes:
            if gene in sig.up or gene in sig.down:
                raise SystemExit(f"{name}: gene {gene} listed twice")
            target.append(gene)
            sig.sources[(gene, direction)] = source
    hallmark = read_gmt(hallmark_gmt)
    for name, axis, set_name in HALLMARK_DERIVED:
        sig = sigs[name] = Signature(name=name, axis=axis, origin=str(hallmark_gmt))
        sig.up = list(hallmark[set_name])
        for gene in sig.up:
            sig.sources[(gene, "up")] = HALLMARK.format(set=set_name)
    missing = set(ORDER) ^ set(sigs)
    if missing:
        raise SystemExit(f"ORDER and definitions disagree: {sorted(missing)}")
    return [sigs[n] for n in ORDER]


def check_symbols(signatures: list[Signature]) -> dict[str, str]:
    """Rename outdated symbols to current ones; stop on symbols the gene map does not know."""
    try:
        from alsig.genes import GeneMap
    except ImportError:  # pragma: no cover - gene map not available yet
        print("warning: alsig.genes not available; symbols not validated", file=sys.stderr)
        return {}
    gene_map = GeneMap.load()
    genes = sorted({g for s in signatures for g in s.genes})
    records, _ = gene_map.harmonise(genes, "symbol")
    unknown = [r.input_id for r in records if r.how not in ("symbol", "alias", "excel")]
    if unknown:
        raise SystemExit(f"symbols unknown to the gene map (fix the curation): {unknown}")
    from alsig.signatures.library import harmonise_signatures

    return harmonise_signatures(signatures, gene_map)


def write_table(signatures: list[Signature], path: Path) -> None:
    """Write ``signatures`` as the shipped signature table (TSV)."""
    from alsig.io import write_text

    lines = ["\t".join(TABLE_COLUMNS)]
    for row in signatures_to_rows(signatures):
        lines.append("\t".join(row[c] for c in TABLE_COLUMNS))
    write_text("\n".join(lines) + "\n", path)


def write_signature_gmt(signatures: list[Signature], path: Path) -> None:
    """Write ``signatures`` as a GMT file (``<signature>_UP`` / ``_DN`` sets)."""
    sets, descriptions = signatures_to_gmt(signatures)
    write_gmt(sets, path, descriptions)


def main(argv: list[str] | None = None) -> int:
    """Build the signature table and GMT (or check them); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--gmt-only", action="store_true", help="only regenerate the GMT from the shipped TSV"
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="build the table in memory and compare it with --table; write nothing",
    )
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--gmt", type=Path, default=DEFAULT_GMT)
    parser.add_argument("--hallmark", type=Path, default=HALLMARK_GMT)
    args = parser.parse_args(argv)
    try:
        if args.gmt_only:
            signatures = read_signature_table(args.table)
        else:
            signatures = curated_signatures(args.hallmark)
        renamed = check_symbols(signatures)
        if args.check:
            return _check_table(signatures, args.table)
        if renamed and args.gmt_only:
            print(
                f"error: {args.table} holds outdated symbols {renamed}; rebuild the table "
                "(python scripts/build_signatures.py) instead of --gmt-only",
                file=sys.stderr,
            )
            return 1
        if renamed:
            print(f"renamed outdated symbols: {renamed}")
        if not args.gmt_only:
            write_table(signatures, args.table)
        # Round trip: the GMT is always generated from the table as written.
        signatures = read_signature_table(args.table)
        write_signature_gmt(signatures, args.gmt)
    except AlsigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    n_rows = sum(len(s.up) + len(s.down) for s in signatures)
    written = (
        f"{args.gmt} ({args.table} unchanged)" if args.gmt_only else f"{args.table}, {args.gmt}"
    )
    print(f"{len(signatures)} signatures, {n_rows} rows -> {written}")
    return 0


def _check_table(signatures: list[Signature], table: Path) -> int:
    """Compare the built rows with the shipped table's; print what differs. Exit status."""
    built = [tuple(row[c] for c in TABLE_COLUMNS) for row in signatures_to_rows(signatures)]
    lines = table.read_text(encoding="utf-8").splitlines()
    shipped = [tuple(line.split("\t")) for line in lines[1:] if line]
    if lines[:1] == ["\t".join(TABLE_COLUMNS)] and built == shipped:
        print(f"{table}: as this script builds it ({len(built)} rows)")
        return 0
    for row in sorted(set(shipped) - set(built)):
        print(f"only in {table.name}: {' | '.join(row)}", file=sys.stderr)
    for row in sorted(set(built) - set(shipped)):
        print(f"only in the script's lists: {' | '.join(row)}", file=sys.stderr)
    if set(built) == set(shipped):
        print("the same rows in another order (ORDER)", file=sys.stderr)
    print(
        f"error: {table} is not what scripts/build_signatures.py builds; edit the lists in the "
        "script (CURATED, ORDER, HALLMARK_DERIVED) and rebuild, not the table",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
