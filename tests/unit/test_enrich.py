"""Pathway enrichment: planted-set recovery, empty collections, p-value floor, ties, offline-only
gseapy, the table schemas, the dot plot and the rule entry points (collections and GMT files:
test_enrich_sets.py)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import jsonschema
import numpy as np
import polars as pl
import pytest
import yaml

from alsig.distributions import benjamini_hochberg
from alsig.errors import AlsigError
from alsig.genesets import read_manifest, resolve_collections
from alsig.gsea import PrerankOptions, engine_records, pvalue_floor
from alsig.settings import complete
from alsig.stages.enrich.dotplot import LABEL_LINES, LABEL_WIDTH, dotplot, plot_label, top_terms
from alsig.stages.enrich.ranking import prepare_ranking
from alsig.stages.enrich.results import (
    check_result,
    conform_result,
    coverage_table,
    empty_result,
    format_pvalue,
    method_table,
)
from alsig.stages.enrich.sets import load_collection
from alsig.tables import schemas
from alsig.tables.schemas import polars_schema
from alsig.toy import toy_cohort
from tests.helpers import contrast_result, ora_table, prerank_table

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "workflow/schemas/enrichment.schema.yaml").read_text())
RESULT_SCHEMA = polars_schema("enrichment")

#: A complete set of prerank options for the tests that build them directly.
GSEA_OPTIONS = dict(
    permutations=1000,
    seed=123,
    min_size=15,
    max_size=500,
    threads=1,
    engine="alsig",
    multilevel=True,
    multilevel_eps=1e-10,
)

N_GENES = 1500
PLANTED_DOWN = "PLANTED_DOWN"
PLANTED_UP = "PLANTED_UP"


def _bh(p: np.ndarray) -> np.ndarray:
    return benjamini_hochberg(p)


def simulated_de(seed: int = 7) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """A DE-like table: N(0,1) Wald statistics, one set shifted down and one shifted up, plus
    random null sets."""
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    genes = [f"GENE{i:04d}" for i in range(N_GENES)]
    stat = rng.normal(size=N_GENES)
    order = rng.permutation(N_GENES)
    down_idx, up_idx, rest = order[:40], order[40:70], order[70:]
    stat[down_idx] -= 3.0
    stat[up_idx] += 2.5
    sets = {
        PLANTED_DOWN: [genes[i] for i in down_idx],
        PLANTED_UP: [genes[i] for i in up_idx],
    }
    for k in range(25):
        sets[f"NULL_{k:02d}"] = [genes[i] for i in rng.choice(rest, 35, replace=False)]
    pvalue = 2 * norm.sf(np.abs(stat))
    de = pl.DataFrame(
        {
            "gene_id": [str(i) for i in range(N_GENES)],
            "symbol": genes,
            "base_mean": 100.0,
            "log2_fold_change": stat / 4,
            "lfc_se": 0.25,
            "stat": stat,
            "pvalue": pvalue,
            "padj": _bh(pvalue),
            "log2_fold_change_shrunk": stat / 5,
        }
    )
    return de, sets


def validate_rows(table: pl.DataFrame) -> None:
    check_result(table)
    assert list(SCHEMA["properties"]) == table.columns
    for row in table.to_dicts():
        jsonschema.validate(row, SCHEMA)


# ---------------------------------------------------------------------------------------------
# planted set
# ---------------------------------------------------------------------------------------------
def test_planted_sets_ranked_first_with_right_sign_and_found_by_ora():
    de, sets = simulated_de()
    result = contrast_result(
        de, sets, collection="sim", permutations=200, seed=1, min_size=15, max_size=500
    )
    table, coverage, report = result.table, result.coverage, result.report
    validate_rows(table)
    prerank = table.filter(pl.col("method") == "prerank")
    assert prerank.height == len(sets)
    # ranked by significance then |NES|: the two planted sets come first
    assert set(prerank["term"][:2]) == {PLANTED_DOWN, PLANTED_UP}
    down = prerank.filter(pl.col("term") == PLANTED_DOWN).row(0, named=True)
    up = prerank.filter(pl.col("term") == PLANTED_UP).row(0, named=True)
    assert down["nes"] < -2 and down["direction"] == "down" and down["es"] < 0
    assert up["nes"] > 2 and up["direction"] == "up"
    assert down["fdr"] < 0.05 and up["fdr"] < 0.05
    # the most extreme NES of the collection belongs to the down-shifted set
    assert prerank.sort(pl.col("nes").abs(), descending=True)["term"][0] == PLANTED_DOWN
    # leading edge genes are members of the set
    assert set(down["leading_edge"]) <= set(sets[PLANTED_DOWN])
    assert down["n_overlap"] == len(down["leading_edge"])
    assert down["size"] == 40 and down["set_size"] == 40 and down["coverage"] == 1.0

    ora = table.filter(pl.col("method") == "ora")
    ora_down = ora.filter(pl.col("direction") == "down").sort("pvalue")
    ora_up = ora.filter(pl.col("direction") == "up").sort("pvalue")
    assert ora_down["term"][0] == PLANTED_DOWN and ora_down["fdr"][0] < 0.01
    assert ora_up["term"][0] == PLANTED_UP and ora_up["fdr"][0] < 0.05
    assert ora_down["nes"].is_null().all() and ora_down["odds_ratio"][0] > 10
    hits = ora_down.row(0, named=True)
    assert set(hits["leading_edge"]) <= set(sets[PLANTED_DOWN])
    assert report.n_sets_tested_prerank == len(sets)
    assert report.ora["n_background"] == N_GENES
    assert coverage.height == len(sets) and coverage["tested_prerank"].all()
    assert coverage["tested_ora"].sum() == report.n_sets_tested_ora
    schemas.validate(coverage, "enrichment_coverage")


def test_each_method_selects_its_sets_and_gene_lists_once(monkeypatch):
    """enrich_contrast takes what was tested from the methods' results instead of recomputing."""
    import alsig.stages.enrich.ora as ora
    import alsig.stages.enrich.prerank as prerank

    calls = {"eligible": 0, "gene_lists": 0}

    def counting(name, func):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return func(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(ora, "ora_gene_lists", counting("gene_lists", ora.ora_gene_lists))
    monkeypatch.setattr(ora, "eligible_sets", counting("eligible", ora.eligible_sets))
    monkeypatch.setattr(prerank, "eligible_sets", counting("eligible", prerank.eligible_sets))
    de, sets = simulated_de()
    result = contrast_result(de, sets, collection="sim", permutations=20)
    assert calls == {"eligible": 2, "gene_lists": 1}
    assert result.coverage["tested_ora"].sum() == result.report.n_sets_tested_ora == len(sets)


def test_prerank_is_reproducible_with_the_same_seed():
    de, sets = simulated_de()
    ranking, _ = prepare_ranking(de)
    a = prerank_table(ranking, sets, collection="sim", permutations=100, seed=5)
    b = prerank_table(ranking, sets, collection="sim", permutations=100, seed=5)
    assert a.equals(b)


# ---------------------------------------------------------------------------------------------
# p-value floor
# ---------------------------------------------------------------------------------------------
def test_zero_permutation_pvalue_is_stored_at_floor_and_displayed_as_less_than():
    de, sets = simulated_de()
    ranking, _ = prepare_ranking(de)
    # multilevel off: the floor rule itself (tests/unit/test_enrich_multilevel.py: what replaces it)
    table = prerank_table(
        ranking, sets, collection="sim", permutations=50, seed=3, multilevel=False
    )
    planted = table.filter(pl.col("term") == PLANTED_DOWN).row(0, named=True)
    floor = 1 / 51
    assert planted["pvalue"] == pytest.approx(floor)
    assert planted["pvalue_at_floor"] is True
    assert planted["pvalue_display"] == "< 0.0196"
    assert planted["fdr"] >= floor
    assert (table["pvalue"] > 0).all()
    other = table.filter(~pl.col("pvalue_at_floor")).row(0, named=True)
    assert other["pvalue_display"] == f"{other['pvalue']:.3g}"
    assert not other["pvalue_display"].startswith("<")


def test_pvalue_floor_and_display_rule():
    assert pvalue_floor(1000) == pytest.approx(1 / 1001)
    assert format_pvalue(pvalue_floor(1000), at_floor=True) == "< 0.000999"
    assert format_pvalue(0.012345) == "0.0123"
    assert format_pvalue(None) is None


# ---------------------------------------------------------------------------------------------
# ranking: missing statistics, duplicates and ties
# ---------------------------------------------------------------------------------------------
def test_ranking_drops_null_stat_and_breaks_ties_deterministically():
    de = pl.DataFrame(
        {
            "symbol": ["B", "A", "C", "D", "E", "F", "G", "B"],
            "stat": [1.0, 1.0, 1.0, None, float("nan"), -1.0, -1.0, 0.5],
            "log2_fold_change": [0.5, 0.5, 2.0, 1.0, 1.0, -0.1, -3.0, 0.1],
            "padj": [0.1] * 8,
        }
    )
    ranking, report = prepare_ranking(de)
    # C (larger lfc) before A/B (equal lfc -> by name); F before G (G more negative: bottom)
    assert list(ranking.symbols) == ["C", "A", "B", "F", "G"]
    assert report.n_dropped_null_stat == 2
    assert report.n_dropped_duplicate_symbol == 1  # B at 0.5 dropped, B at 1.0 kept
    assert report.n_tied_genes == 5 and report.n_tie_groups == 2
    # the order does not depend on the input row order
    shuffled, _ = prepare_ranking(de.reverse())
    assert list(shuffled.symbols) == list(ranking.symbols)


def test_missing_de_column_is_a_clear_error():
    de = pl.DataFrame({"symbol": ["A"], "stat": [1.0]})
    with pytest.raises(AlsigError, match=r"missing column\(s\) \['log2_fold_change', 'padj'\]"):
        prepare_ranking(de, "results/x/de/c.parquet")


# ---------------------------------------------------------------------------------------------
# collections the data does not reach
# ---------------------------------------------------------------------------------------------
def test_collection_without_overlap_warns_and_gives_empty_schema_valid_table(tmp_path, caplog):
    de, _ = simulated_de()
    sets = {"MOUSE_SET": ["Trp53", "Mdm2", "Cdkn1a"], "OTHER": ["ZZZ1", "ZZZ2"]}
    with caplog.at_level(logging.WARNING, logger="alsig.stages.enrich"):
        result = contrast_result(de, sets, collection="mouse", permutations=10)
    table, coverage = result.table, result.coverage
    assert "collection 'mouse': none of its 2 gene sets shares a gene" in caplog.text
    assert table.height == 0 and dict(table.schema) == RESULT_SCHEMA
    assert result.report.n_sets_with_overlap == 0
    assert "ora" not in result.report.as_dict() and result.report.as_dict()["ranking"] is None
    assert coverage["coverage"].to_list() == [0.0, 0.0]
    path = tmp_path / "t.parquet"
    table.write_parquet(path)
    assert dict(pl.read_parquet(path).schema) == RESULT_SCHEMA
    validate_rows(table)


def test_sets_outside_size_range_give_empty_table_with_warning(caplog):
    de, sets = simulated_de()
    with caplog.at_level(logging.WARNING, logger="alsig.stages.enrich"):
        ranking, _ = prepare_ranking(de)
        table = prerank_table(ranking, sets, collection="sim", min_size=100, max_size=500)
        ora = ora_table(de, sets, collection="sim", min_size=100, max_size=500)
    assert table.height == 0 and ora.height == 0
    assert dict(table.schema) == RESULT_SCHEMA == dict(ora.schema)
    assert "no gene set has 100-500 genes" in caplog.text


# ---------------------------------------------------------------------------------------------
# offline: gseapy must not touch the network
# ---------------------------------------------------------------------------------------------
def test_enrichment_never_opens_a_network_connection(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    de, sets = simulated_de()
    table = contrast_result(de, sets, collection="sim", permutations=20).table
    assert table.filter(pl.col("method") == "ora").height > 0


# ---------------------------------------------------------------------------------------------
# harmonised collections meet the data
# ---------------------------------------------------------------------------------------------
def test_harmonised_user_gmt_matches_data_symbols(tmp_path):
    """An outdated symbol in a user GMT still meets the (current) symbol of the DE table."""
    de, sets = simulated_de()
    de = de.with_columns(
        pl.when(pl.col("symbol") == sets[PLANTED_DOWN][0])
        .then(pl.lit("RIGI"))
        .otherwise(pl.col("symbol"))
        .alias("symbol")
    )
    gmt = tmp_path / "user.gmt"
    planted = ["DDX58", *sets[PLANTED_DOWN][1:]]
    gmt.write_text("PLANTED\tna\t" + "\t".join(planted) + "\n")
    loaded, info = load_collection(resolve_collections([], [{"id": "mine", "path": str(gmt)}])[0])
    assert info["harmonisation"]["n_symbols_renamed"] == 1
    result = contrast_result(de, loaded, collection="mine", permutations=20)
    assert result.coverage["coverage"].to_list() == [1.0]
    assert result.table.filter(pl.col("method") == "prerank")["size"].to_list() == [40]


# ---------------------------------------------------------------------------------------------
# schema, BH and plot
# ---------------------------------------------------------------------------------------------
def test_schema_file_matches_polars_schema():
    dtypes = {name: spec["x-polars-dtype"] for name, spec in SCHEMA["properties"].items()}
    assert list(dtypes) == list(RESULT_SCHEMA)
    assert {k: str(v) for k, v in RESULT_SCHEMA.items()} == dtypes
    assert SCHEMA["required"] == list(RESULT_SCHEMA)
    assert empty_result().columns == list(RESULT_SCHEMA)
    row = {"term": "X", "collection": "c", "method": "ora", "direction": "up", "size": 3}
    row |= {"n_overlap": 1, "pvalue": 0.5, "fdr": 0.5, "leading_edge": ["A"]}
    row |= {"pvalue_at_floor": False, "pvalue_display": "0.5", "pvalue_method": "hypergeometric"}
    table = method_table([row])
    assert dict(table.schema) == RESULT_SCHEMA and table["nes"].is_null().all()
    assert table["set_size"].is_null().all()  # filled in by enrich_contrast
    full = conform_result(table.with_columns(set_size=pl.lit(3), coverage=pl.lit(1.0)))
    check_result(full)
    with pytest.raises(
        AlsigError, match="'pvalue': 1 value breaks the schema's exclusiveMinimum 0"
    ):
        check_result(full.with_columns(pvalue=pl.lit(0.0)))
    with pytest.raises(AlsigError, match="not one of"):
        check_result(full.with_columns(method=pl.lit("gsea")))


def test_coverage_schema_matches_the_coverage_table():
    coverage = yaml.safe_load(
        (REPO / "workflow/schemas/enrichment_coverage.schema.yaml").read_text()
    )
    table = coverage_table({"S": ["A", "B"], "T": ["C"]}, ["A", "C", "D"], "c")
    assert table.columns == list(coverage["properties"]) == coverage["required"]
    assert table["coverage"].to_list() == [0.5, 1.0]
    schemas.validate(table, "enrichment_coverage")


def test_benjamini_hochberg_matches_reference_values():
    p = [0.01, 0.04, 0.03, 0.005, 1.0]
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.005, 1), "BH")
    assert benjamini_hochberg(p) == pytest.approx([0.025, 0.05, 0.05, 0.025, 1.0])


def test_dotplot_draws_panels_with_truncated_labels():
    de, sets = simulated_de()
    long_name = "a very long gene ontology process name that keeps going and going (GO:0000001)"
    sets[long_name] = sets.pop(PLANTED_DOWN)
    table = contrast_result(de, sets, collection="sim", permutations=20).table
    table = table.with_columns(pl.col("fdr").alias("camera_fdr"))  # the job's camera, stood in
    fig = dotplot({"sim": table, "empty": empty_result()}, title="demo", top_n=5)
    axes = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left") for ax in axes] == ["sim"]
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert len(labels) == 5
    assert plot_label(long_name) in labels and plot_label(long_name).endswith("(GO:0000001)")
    # names wrap on at most two lines of LABEL_WIDTH characters
    assert all(
        label.count("\n") < LABEL_LINES and max(map(len, label.split("\n"))) <= LABEL_WIDTH
        for label in labels
    )
    empty = dotplot({"x": empty_result()}, title="", top_n=10)
    assert "no prerank results" in empty.axes[0].texts[0].get_text()


def test_dotplot_shows_the_sets_camera_calls_not_those_gsea_calls():
    de, sets = simulated_de()
    table = contrast_result(de, sets, collection="sim", permutations=20).table
    favoured = ["NULL_03", "NULL_07"]  # camera's smallest FDR; GSEA's are the planted sets
    prerank = pl.col("method") == "prerank"
    camera = pl.when(pl.col("term").is_in(favoured)).then(0.001).otherwise(0.5)
    table = table.with_columns(pl.when(prerank).then(camera).alias("camera_fdr"))
    assert sorted(top_terms(table, 2)["term"].to_list()) == favoured
    # a table made without camera (per-subtype enrichment) has no prerank call to draw
    assert (
        top_terms(table.with_columns(pl.lit(None, pl.Float64).alias("camera_fdr")), 2).height == 0
    )


def test_gseapy_keeps_the_tie_order_alsig_passes():
    """Within a block of equal statistics, the set's genes placed first (by the tie break) count as
    the top of the ranking: gseapy must not re-sort the ranking alsig hands it."""
    genes = [f"TIE{i:03d}" for i in range(200)]
    members = genes[:20]
    sets = {"TOP": members, "OTHER": genes[100:130]}
    # all statistics equal; the tie break (log2_fold_change, descending) puts TOP's genes first
    lfc = [1.0 if g in members else 0.0 for g in genes]
    de = pl.DataFrame({"symbol": genes, "stat": [1.0] * 200, "log2_fold_change": lfc, "padj": 1.0})
    ranking, report = prepare_ranking(de)
    assert report.n_tied_genes == 200 and list(ranking.symbols[:20]) == sorted(members)
    top = prerank_table(ranking, sets, collection="t", permutations=20, min_size=15)
    assert top.filter(pl.col("term") == "TOP")["es"][0] > 0.5
    flipped, _ = prepare_ranking(de.with_columns(-pl.col("log2_fold_change")))
    bottom = prerank_table(flipped, sets, collection="t", permutations=20, min_size=15)
    assert bottom.filter(pl.col("term") == "TOP")["es"][0] < -0.5


def test_rule_entry_points_write_tables_plot_and_provenance(tmp_path):
    import json

    from alsig.stages.enrich import run, run_report

    de, sets = simulated_de()
    de_path = tmp_path / "de" / "ALS_vs_control.parquet"
    de_path.parent.mkdir()
    de.write_parquet(de_path)
    # the QC'd AnnData camera reads the contrast's residuals from: the DE table's genes
    cohort = toy_cohort((6, 6), n_genes=N_GENES, gene_names=de["symbol"].to_list(), seed=2)
    h5ad = tmp_path / "filtered.h5ad"
    cohort.write_h5ad(h5ad)
    de_settings = complete(
        "de",
        {"design": "~ condition", "contrasts": {"ALS_vs_control": ["condition", "ALS", "control"]}},
    )
    gmt = tmp_path / "sim.gmt"
    gmt.write_text("".join(f"{t}\tna\t" + "\t".join(g) + "\n" for t, g in sets.items()))
    settings = complete(
        "enrich",
        {
            "collections": ["hallmark"],
            "extra_gmt": [{"id": "sim", "path": str(gmt)}],
            "permutations": 20,
        },
    )
    out = tmp_path / "enrich" / "ALS_vs_control"
    wildcards = {"dataset": "sim", "contrast": "ALS_vs_control"}
    for cid in ("hallmark", "sim"):
        outputs = {
            "parquet": str(out / f"{cid}.parquet"),
            "tsv": str(out / f"{cid}.tsv"),
            "coverage": str(out / f"{cid}.coverage.tsv"),
            "json": str(out / f"{cid}.run.json"),
        }
        inputs = {"de": str(de_path), "h5ad": str(h5ad)}
        run(inputs, outputs, settings, 1, collection=cid, de=de_settings, **wildcards)
    hallmark = pl.read_parquet(out / "hallmark.parquet")
    assert hallmark.height == 0 and dict(hallmark.schema) == RESULT_SCHEMA  # no overlap
    sim = pl.read_parquet(out / "sim.parquet")
    validate_rows(sim)
    tsv = pl.read_csv(out / "sim.tsv", separator="\t")
    assert tsv.columns == list(RESULT_SCHEMA) and tsv.height == sim.height
    run_json = json.loads((out / "sim.run.json").read_text())
    assert run_json["parameters"]["permutations"] == 20
    assert run_json["parameters"]["engine"] == "alsig"
    assert run_json["prerank_engine"]["name"] == "alsig"
    assert run_json["table_schema_version"] == "3"  # 3: camera's columns
    assert run_json["camera"]["n_samples"] == 12 and run_json["camera"]["df_residual"] == 10
    prerank = sim.filter(pl.col("method") == "prerank")
    assert (
        prerank["camera_pvalue"].is_not_null().all() and prerank["camera_fdr"].is_not_null().all()
    )
    planted = prerank.to_pandas().set_index("term")
    assert planted.loc[PLANTED_DOWN, "camera_direction"] == "down"
    assert planted.loc[PLANTED_DOWN, "camera_fdr"] < 0.05
    assert run_json["report"]["ranking"]["n_ranked"] == N_GENES
    assert run_json["report"]["ora"]["n_background"] == N_GENES
    assert "ora" not in json.loads((out / "hallmark.run.json").read_text())["report"]
    inputs = {
        "tables": [str(out / f"{c}.parquet") for c in ("hallmark", "sim")],
        "json": [str(out / f"{c}.run.json") for c in ("hallmark", "sim")],
    }
    outputs = {"dotplot": str(out / "dotplot.png"), "provenance": str(out / "provenance.json")}
    run_report(inputs, outputs, settings, 1, **wildcards)
    assert (out / "dotplot.png").read_bytes()[:4] == b"\x89PNG"
    provenance = json.loads((out / "provenance.json").read_text())
    hallmark_info = provenance["collections"]["hallmark"]
    assert hallmark_info["version"] == "v7.4" and hallmark_info["license"] == "CC BY 4.0"
    assert hallmark_info["sha256"] == read_manifest()["hallmark"].sha256
    assert provenance["collections"]["sim"]["version"] == "user-supplied"
    assert provenance["collections"]["sim"]["prerank_engine"] == "alsig"


def test_settings_defaults_and_checks():
    from alsig.settings import resolve, schema_errors

    settings = complete("enrich")
    assert settings.permutations == 1000 and settings.min_size == 15
    assert not hasattr(settings, "threads")  # threads come from the rule, not the config
    config = {"datasets": {"d": {"source": "local", "condition": {}, "enrich": {"min_size": 600}}}}
    with pytest.raises(
        AlsigError, match=r"enrich\.min_size \(600\) is larger than enrich\.max_size"
    ):
        resolve(config, "d", "enrich")
    config["datasets"]["d"]["enrich"] = {"permutations": 0}
    assert any("datasets.d.enrich.permutations" in m for m in schema_errors(config))
    with pytest.raises(ValueError, match="permutations must be at least 1, got 0"):
        PrerankOptions(**{**GSEA_OPTIONS, "permutations": 0})
    assert settings.engine == "alsig"
    config["datasets"]["d"]["enrich"] = {"engine": "fgsea"}
    assert any("datasets.d.enrich.engine" in m for m in schema_errors(config))
    with pytest.raises(
        ValueError, match=r"unknown prerank engine 'fgsea'; use one of \['alsig', 'gseapy'\]"
    ):
        engine_records([], np.zeros(0), {}, PrerankOptions(**{**GSEA_OPTIONS, "engine": "fgsea"}))


def test_prerank_matches_gseapy_prerank_exactly():
    """The gseapy engine calls gseapy's Rust prerank directly (to drop each running-sum curve as
    it goes); the numbers and leading edges must equal gseapy.prerank's own result frame."""
    import gseapy
    import pandas as pd

    de, sets = simulated_de()
    ranking, _ = prepare_ranking(de)
    ours = prerank_table(
        ranking,
        sets,
        collection="sim",
        permutations=200,
        seed=7,
        min_size=5,
        engine="gseapy",
        multilevel=False,  # gseapy's own floor, compared as such
    )
    reference = gseapy.prerank(
        rnk=pd.Series(ranking.stats, index=[g.upper() for g in ranking.symbols]),
        gene_sets={t: [g.upper() for g in genes] for t, genes in sets.items()},
        outdir=None,
        permutation_num=200,
        seed=7,
        min_size=5,
        max_size=500,
        threads=1,
        ascending=None,
        no_plot=True,
        verbose=False,
    ).res2d
    assert ours.height == len(reference) > 3
    expected = {str(r["Term"]): r for r in reference.to_dict("records")}
    floor = 1 / 201
    for row in ours.iter_rows(named=True):
        ref = expected[row["term"]]
        assert row["es"] == pytest.approx(float(ref["ES"]), abs=1e-12)
        assert row["nes"] == pytest.approx(float(ref["NES"]), abs=1e-12)
        assert row["pvalue"] == pytest.approx(max(float(ref["NOM p-val"]), floor), abs=1e-12)
        assert row["fdr"] == pytest.approx(min(max(float(ref["FDR q-val"]), floor), 1), abs=1e-12)
        assert ";".join(row["leading_edge"]).upper() == str(ref["Lead_genes"])


@pytest.mark.parametrize("engine", ["alsig", "gseapy"])
def test_prerank_does_not_depend_on_thread_count(monkeypatch, engine):
    """The determinism promise (README, Reproducibility): with a fixed seed, prerank gives the
    same table whatever threads the job gets, so a Slurm profile that raises threads changes no
    number."""
    # threads are capped at cpu_count - 1 (as gseapy does): pretend to have cores so 2 reach Rust
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    de, sets = simulated_de()
    ranking, _ = prepare_ranking(de)
    single, double = (
        prerank_table(
            ranking,
            sets,
            collection="sim",
            permutations=200,
            seed=7,
            min_size=5,
            threads=n,
            engine=engine,
        )
        for n in (1, 2)
    )
    assert single.height > 3
    assert single.equals(double)
