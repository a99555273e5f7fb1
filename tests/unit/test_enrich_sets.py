"""Gene-set collections for enrichment: GMT errors, the shipped manifest, collection resolution,
checksums and symbol harmonisation."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import polars as pl
import pytest

from alsig.errors import AlsigError
from alsig.genesets import Collection, read_gmt, read_manifest, resolve_collections
from alsig.io import sha256_file
from alsig.resources import geneset_manifest
from alsig.settings import complete
from alsig.stages.enrich.sets import configured_collections, harmonise_gene_sets, load_collection

REPO = Path(__file__).resolve().parents[2]


def _user_collection(path: Path) -> Collection:
    return resolve_collections([], [{"id": "mine", "path": str(path)}])[0]


def test_malformed_gmt_line_names_file_and_line(tmp_path):
    gmt = tmp_path / "bad.gmt"
    gmt.write_text("SET_A\tdesc\tTP53\tMDM2\nSET_B desc TP53 MDM2\n")
    with pytest.raises(AlsigError, match=r"file '.*bad\.gmt', line 2: malformed GMT line"):
        load_collection(_user_collection(gmt))


def test_empty_gene_set_names_file_and_line(tmp_path):
    gmt = tmp_path / "empty.gmt.gz"
    with gzip.open(gmt, "wt") as handle:
        handle.write("SET_A\tdesc\tTP53\n\nSET_EMPTY\tdesc\t\t\n")
    with pytest.raises(
        AlsigError, match=r"empty\.gmt\.gz', line 3: gene set 'SET_EMPTY' has no genes"
    ):
        load_collection(_user_collection(gmt))


def test_shipped_manifest_files_checksums_and_no_kegg():
    manifest = read_manifest()
    assert {"hallmark", "reactome", "go_bp", "alsig_resistance"} <= set(manifest)
    table = pl.read_csv(geneset_manifest(), separator="\t", infer_schema=False)
    for row in table.iter_rows(named=True):
        collection = manifest[row["id"]]
        if collection.optional:
            continue
        assert row["license"] == "CC BY 4.0"
        assert sha256_file(collection.path) == row["sha256"]
        sets = read_gmt(collection.path)
        assert len(sets) == int(row["n_sets"])
        assert not any("KEGG" in name.upper() for name in sets)
    assert len(read_gmt(manifest["hallmark"].path)) == 50
    go_sizes = [len(g) for g in read_gmt(manifest["go_bp"].path).values()]
    assert min(go_sizes) >= 15 and max(go_sizes) <= 500


def test_resolve_collections_errors_name_config_keys(tmp_path):
    with pytest.raises(AlsigError, match=r"enrich\.collections\[1\]: unknown collection 'kegg'"):
        resolve_collections(["hallmark", "kegg"])
    with pytest.raises(AlsigError, match=r"enrich\.collections\[1\]: .*listed twice"):
        resolve_collections(["hallmark", "hallmark"])
    with pytest.raises(AlsigError, match=r"enrich\.extra_gmt\[0\]\.path: .*does not exist"):
        resolve_collections([], [{"id": "mine", "path": str(tmp_path / "nope.gmt")}])
    gmt = tmp_path / "x.gmt"
    gmt.write_text("S\td\tTP53\n")
    with pytest.raises(AlsigError, match=r"enrich\.extra_gmt\[0\]\.id: 'hallmark' is already used"):
        resolve_collections(["hallmark"], [{"id": "hallmark", "path": str(gmt)}])
    with pytest.raises(AlsigError, match=r"enrich\.extra_gmt\[0\]\.id: 'my.sets' is not a valid"):
        resolve_collections([], [{"id": "my.sets", "path": str(gmt)}])


def test_optional_collection_is_a_normal_collection_when_present(tmp_path, caplog):
    manifest = tmp_path / "manifest.tsv"
    (tmp_path / "sig.gmt").write_text("SIG_UP\tna\tTP53\tMDM2\n")
    header = "id\tfile\tname\tversion\tsource\tlicense\tn_sets\tsha256\toptional\n"
    manifest.write_text(
        header
        + "alsig_resistance\tsig.gmt\tsig\t1\talsig\tMIT\t\t\ttrue\n"
        + "later\tmissing.gmt\tlater\t1\talsig\tMIT\t\t\ttrue\n"
    )
    with caplog.at_level(logging.WARNING, logger="alsig.genesets"):
        chosen = resolve_collections(["alsig_resistance", "later"], manifest=manifest)
    assert [c.id for c in chosen] == ["alsig_resistance"]
    assert "collection 'later' skipped" in caplog.text
    sets, info = load_collection(chosen[0])
    assert sets == {"SIG_UP": ["TP53", "MDM2"]} and info["sha256"] == sha256_file(
        tmp_path / "sig.gmt"
    )


def test_default_settings_select_the_shipped_collections():
    ids = [c.id for c in configured_collections(complete("enrich"))]
    assert ids[:3] == ["hallmark", "reactome", "go_bp"]
    if (REPO / "resources/signatures/alsig_signatures.gmt").exists():
        assert "alsig_resistance" in ids


def test_checksum_mismatch_is_an_error(tmp_path):
    gmt = tmp_path / "s.gmt"
    gmt.write_text("S\td\tTP53\n")
    collection = Collection(id="s", path=gmt, sha256="0" * 64)
    with pytest.raises(AlsigError, match="does not match the manifest"):
        load_collection(collection)


def test_harmonisation_renames_outdated_symbols_and_merges_duplicates():
    sets = {"S": ["DDX58", "RIGI", "TP53", "NOT_A_GENE_XYZ"], "T": ["ARNTL", "TP53"]}
    out, report = harmonise_gene_sets(sets)
    assert out == {"S": ["RIGI", "TP53", "NOT_A_GENE_XYZ"], "T": ["BMAL1", "TP53"]}
    assert report["n_symbols_renamed"] == 2
    assert report["renamed_examples"] == {"DDX58": "RIGI", "ARNTL": "BMAL1"}
    assert report["n_memberships_merged"] == 1
    assert report["n_symbols_not_in_gene_map"] == 1
