"""Signature resources and user signature files: loading, validation, the generated GMT."""

from __future__ import annotations

from pathlib import Path

import pytest

from alsig.errors import AlsigError
from alsig.genesets import read_gmt
from alsig.signatures.library import DEFAULT_GMT, configured_signatures, signatures_to_gmt
from alsig.signatures.model import CELL_TYPE_AXIS
from alsig.signatures.readers import DEFAULT_TABLE, read_signature_gmt, read_signature_table

REPO = Path(__file__).resolve().parents[2]
HEADER = "signature\taxis\tgene\tdirection\tsource\n"


def test_shipped_table_is_complete_and_sourced():
    sigs = {s.name: s for s in read_signature_table(DEFAULT_TABLE)}
    assert len(sigs) == 24
    readme = (REPO / "resources" / "signatures" / "README.md").read_text()
    # its table lists each (the cell-type markers as `celltype_neurons`, `_astrocytes`, ...)
    listed = [name for name in sigs if f"`{name}`" in readme or f"`_{name[9:]}`" in readme]
    assert listed == list(sigs)
    axes = {s.axis for s in sigs.values()}
    assert {
        "excitotoxicity",
        "sodium_channel",
        "oxidative_stress",
        "mitochondria",
        "heat_shock",
        "autophagy_lysosome",
        "proteasome",
        "er_stress",
        "tdp43_loss",
        "drug_efflux",
        "microglia_activation",
        "reactive_astrocytes",
        CELL_TYPE_AXIS,
    } == axes
    assert len(sigs["hallmark_ros"].up) == 49
    assert len(sigs["hallmark_oxphos"].up) == 200
    assert len(sigs["hallmark_upr"].up) == 113 and "SKIC3" in sigs["hallmark_upr"].up
    assert sigs["tdp43_proxy_stmn2_unc13a"].down == ["STMN2", "UNC13A"]
    assert len(sigs["proteasome_subunits"].up) == 34
    assert set(sigs["glutamate_clearance_loss"].down) == {
        "SLC1A2",
        "SLC1A3",
        "GLUL",
        "ADARB1",
        "GRIA2",
    }
    for sig in sigs.values():
        for direction, genes in (("up", sig.up), ("down", sig.down)):
            for gene in genes:
                assert sig.sources[(gene, direction)].strip(), (sig.name, gene)
    assert "v7.4" in sigs["hallmark_oxphos"].sources[("ATP5F1A", "up")]
    assert "CC BY 4.0" in sigs["hallmark_oxphos"].sources[("ATP5F1A", "up")]
    assert sum(s.axis == CELL_TYPE_AXIS for s in sigs.values()) == 6


def test_shipped_gmt_is_generated_from_the_table():
    sets, _ = signatures_to_gmt(read_signature_table(DEFAULT_TABLE))
    assert read_gmt(DEFAULT_GMT) == sets
    assert "glutamate_clearance_loss_DN" in sets and "nrf2_targets_UP" in sets
    version = (DEFAULT_TABLE.parent / "VERSION").read_text().strip()
    assert version and version in (DEFAULT_TABLE.parent / "CHANGELOG.md").read_text()


def test_every_shipped_gene_is_a_current_symbol():
    genes_mod = pytest.importorskip("alsig.genes")
    gene_map = genes_mod.GeneMap.load()
    genes = sorted({g for s in read_signature_table(DEFAULT_TABLE) for g in s.genes})
    records, _ = gene_map.harmonise(genes, "symbol")
    assert [r.input_id for r in records if r.how != "symbol"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a\tx\tG1\tsideways\tsrc\n", "line 2, column 'direction'"),
        ("a\tx\tG1\tup\tsrc\na\tx\tG1\tup\tsrc\n", "line 3: gene 'G1' is listed twice"),
        ("a\tx\tG1\tup\tsrc\na\tx\tG1\tdown\tsrc\n", "listed as both up and down"),
        ("a\tx\tG1\tup\tsrc\na\ty\tG2\tup\tsrc\n", "line 3, column 'axis'"),
        ("1bad\tx\tG1\tup\tsrc\n", "line 2, column 'signature'"),
        ("a\tx\t\tup\tsrc\n", "line 2, column 'gene'"),
    ],
)
def test_table_errors_name_file_and_line(tmp_path, body, message):
    path = tmp_path / "sigs.tsv"
    path.write_text(HEADER + body)
    with pytest.raises(AlsigError, match=message) as info:
        read_signature_table(path)
    assert str(path) in str(info.value)


def test_table_missing_column_and_empty(tmp_path):
    path = tmp_path / "sigs.tsv"
    path.write_text("signature\tgene\tdirection\na\tG1\tup\n")
    with pytest.raises(AlsigError, match="missing column"):
        read_signature_table(path)
    path.write_text(HEADER)
    with pytest.raises(AlsigError, match="no signature rows"):
        read_signature_table(path)


def test_user_gmt_and_tsv_add_or_replace(tmp_path):
    gmt = tmp_path / "mine.gmt"
    gmt.write_text(
        "my_sig_UP\taxis=custom\tGFAP\tVIM\nmy_sig_DN\tna\tSNAP25\nplain\tanything\tAQP4\tGJA1\n"
    )
    sigs = {s.name: s for s in read_signature_gmt(gmt)}
    assert sigs["my_sig"].up == ["GFAP", "VIM"] and sigs["my_sig"].down == ["SNAP25"]
    assert sigs["my_sig"].axis == "custom" and sigs["plain"].axis == "user"
    tsv = tmp_path / "mine.tsv"
    tsv.write_text("signature\taxis\tgene\tdirection\nother\tcustom\tGFAP\tup\n")
    added = configured_signatures([str(gmt), {"path": str(tsv)}], replace=False)
    names = [s.name for s in added]
    shipped = [s.name for s in read_signature_table(DEFAULT_TABLE)]
    assert names == [*shipped, "my_sig", "plain", "other"]
    assert added[-1].sources[("GFAP", "up")] == f"user file {tsv}"
    replaced = configured_signatures([gmt], replace=True)
    assert [s.name for s in replaced] == ["my_sig", "plain"]
    with pytest.raises(AlsigError, match="extra_signatures is empty"):
        configured_signatures([], replace=True)


def test_a_gmt_set_ending_down_is_the_down_half_like_dn(tmp_path):
    """MYSIG_DOWN was its own up-only signature and MYSIG up-only, without a word."""
    gmt = tmp_path / "mine.gmt"
    gmt.write_text(
        "MYSIG_UP\taxis=custom\tGFAP\tVIM\nMYSIG_DOWN\taxis=custom\tSLC1A2\tGLUL\n"
        "other_up\tna\tAQP4\nother_down\tna\tSNAP25\n"
        # MSigDB's own convention keeps working
        "KRAS_SIGNALING_UP\tna\tETV4\nKRAS_SIGNALING_DN\tna\tCPA2\n"
    )
    sigs = {s.name: s for s in read_signature_gmt(gmt)}
    assert sorted(sigs) == ["KRAS_SIGNALING", "MYSIG", "other"]
    assert sigs["MYSIG"].up == ["GFAP", "VIM"] and sigs["MYSIG"].down == ["SLC1A2", "GLUL"]
    assert sigs["other"].up == ["AQP4"] and sigs["other"].down == ["SNAP25"]
    assert sigs["KRAS_SIGNALING"].down == ["CPA2"]
    both = tmp_path / "both.gmt"
    both.write_text("x_UP\tna\tA\nx_DN\tna\tB\nx_DOWN\tna\tC\n")
    with pytest.raises(AlsigError, match="line 3: signature 'x' has two down sets"):
        read_signature_gmt(both)


def test_user_file_clashing_with_shipped_name(tmp_path):
    gmt = tmp_path / "clash.gmt"
    gmt.write_text("nrf2_targets\tna\tNQO1\n")
    with pytest.raises(AlsigError, match="'nrf2_targets' is defined in both") as info:
        configured_signatures([gmt], replace=False)
    assert str(gmt) in str(info.value)
    bad = tmp_path / "bad.gmt"
    bad.write_text("x_UP\tna\tA\tB\nx_DN\tna\tB\n")
    with pytest.raises(AlsigError, match="line 2: gene"):
        read_signature_gmt(bad)
