"""Public signature tables: schema (JSON schema + SCHEMA_VERSION), writers, catalog, read_scores."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import jsonschema
import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml

import alsig
from alsig.errors import AlsigError
from alsig.io import read_table_metadata, sha256_file, write_tsv
from alsig.signatures.library import configured_signatures
from alsig.signatures.model import Signature
from alsig.stages.catalog.manifest import write_catalog
from alsig.stages.score.h5ad import write_scores_h5ad
from alsig.tables import (
    COLUMNS,
    KEY,
    REFERENCE_BY_KEY,
    SCHEMA_FILE,
    SCHEMA_VERSION,
    read_scores,
    schemas,
    validate_long,
    wide_table,
    write_long,
    write_wide,
)
from tests.helpers import score_result


def _result(dataset="toy", n=8, controls=4, methods=("singscore", "ssgsea", "singscore_adjusted")):
    rng = np.random.default_rng(2)
    sigs = configured_signatures([], replace=False)
    genes = sorted({g for s in sigs for g in s.genes} - {"UNC13A"}) + [f"G{i}" for i in range(500)]
    X = rng.gamma(2.0, 2.0, size=(n, len(genes))).astype(np.float32)
    obs = pd.DataFrame(
        {"condition": ["ALS"] * (n - controls) + ["control"] * controls},
        index=[f"{dataset}_S{i}" for i in range(n)],
    )
    obs["subject"] = obs.index
    adata = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=genes))
    adata.layers["vst"] = X
    sigs.append(Signature("lonely", "user", up=["NOPE1", "NOPE2", "G1"]))
    return adata, score_result(adata, sigs, methods=list(methods), dataset=dataset)


def _schema():
    return yaml.safe_load(Path(SCHEMA_FILE).read_text())


def test_yaml_schema_matches_python_schema():
    schema = _schema()
    assert list(schema["properties"]) == COLUMNS
    assert schema["required"] == COLUMNS
    assert schema["x-schema-version"] == SCHEMA_VERSION
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert schema["x-unique-key"] == KEY


def test_validate_long_applies_the_schema_rules():
    _, result = _result(methods=("singscore",))
    shuffled = result.long.select(list(reversed(COLUMNS)))
    assert validate_long(shuffled).columns == COLUMNS
    with pytest.raises(AlsigError, match="column 'n_genes' is Int64"):
        validate_long(result.long.with_columns(pl.col("n_genes").cast(pl.Int64)))
    with pytest.raises(AlsigError, match="column 'sample' has null values"):
        validate_long(result.long.with_columns(pl.lit(None, dtype=pl.String).alias("sample")))
    with pytest.raises(AlsigError, match="value 'gsva' is not one of"):
        validate_long(result.long.with_columns(pl.lit("gsva").alias("method")))
    with pytest.raises(AlsigError, match="duplicated rows for \\(dataset, sample"):
        validate_long(pl.concat([result.long, result.long.head(1)]))


def test_outputs_validate_against_the_schema(tmp_path):
    adata, result = _result()
    validator = jsonschema.Draft202012Validator(_schema())
    write_long(result.long, tmp_path / "scores.parquet")
    table = read_scores(tmp_path / "scores.parquet")
    assert table.columns == COLUMNS and table.height == result.long.height
    for row in table.iter_rows(named=True):
        validator.validate(row)
    # every (sample, signature, method) once; composites and cell types present; flagged -> null
    assert set(table["method"]) == {"singscore", "ssgsea", "singscore_adjusted"}
    assert "axis:oxidative_stress" in set(table["signature"])
    assert table.filter(pl.col("signature") == "lonely")["score"].null_count() == 24
    assert (
        table.filter((pl.col("axis") == "cell_type") & (pl.col("method") == "singscore")).height
        == 6 * 8
    )
    # TDP-43 signature: 1 of 2 genes present -> scored (coverage 0.5)
    tdp = result.coverage.filter(pl.col("signature") == "tdp43_proxy_stmn2_unc13a").row(
        0, named=True
    )
    assert tdp["n_genes_used"] == 1 and tdp["flagged"] is False
    # wide TSV: one row per method x sample, signature columns
    write_wide(result.long, tmp_path / "wide.tsv")
    wide = pl.read_csv(tmp_path / "wide.tsv", separator="\t")
    assert wide.height == 3 * 8 and wide.columns[:4] == ["method", "sample", "subject", "condition"]
    assert "axis.excitotoxicity" in wide.columns and "nrf2_targets" in wide.columns
    assert not [c for c in wide.columns if ":" in c]  # R would mangle them
    long_value = result.long.filter(
        (pl.col("method") == "singscore") & (pl.col("signature") == "nrf2_targets")
    )["score"][0]
    assert wide.filter(pl.col("method") == "singscore")["nrf2_targets"][0] == pytest.approx(
        float(f"{long_value:.6g}"), abs=0
    )
    # obsm export
    write_scores_h5ad(adata, result, tmp_path / "scores.h5ad", layer="vst")
    back = ad.read_h5ad(tmp_path / "scores.h5ad")
    frame = back.obsm["alsig_scores_singscore"]
    assert list(frame.index) == list(adata.obs_names)
    expected = wide_table(result.long).filter(pl.col("method") == "singscore")
    np.testing.assert_allclose(
        frame["nrf2_targets"].to_numpy(), expected["nrf2_targets"].to_numpy()
    )
    assert back.uns["alsig_scores"]["schema_version"] == SCHEMA_VERSION
    assert "lonely" in list(back.uns["alsig_scores"]["flagged_signatures"])
    # z scores beside the scores; composites named as in the wide TSV
    z = back.obsm["alsig_z_singscore"]
    assert list(z.columns) == list(frame.columns) and "axis.excitotoxicity" in z.columns
    assert set(frame.columns) <= set(wide.columns)
    long_z = result.long.filter(
        (pl.col("method") == "singscore") & (pl.col("signature") == "axis:excitotoxicity")
    ).sort("sample")
    np.testing.assert_allclose(
        z.loc[long_z["sample"].to_list(), "axis.excitotoxicity"].to_numpy(),
        long_z["z_vs_control"].fill_null(np.nan).to_numpy(),
    )


def test_read_scores_rejects_other_schema_versions(tmp_path):
    _, result = _result(methods=("singscore",))
    old = result.long.with_columns(pl.lit("0").alias("schema_version"))
    path = tmp_path / "old.parquet"
    old.write_parquet(path)
    with pytest.raises(AlsigError, match="schema version 0 but this alsig reads version 2") as info:
        read_scores(path)
    assert str(path) in str(info.value)
    result.long.drop("dispersion").write_parquet(path)
    with pytest.raises(AlsigError, match="missing: \\['dispersion'\\]"):
        read_scores(path)
    pl.DataFrame({"a": [1]}).write_parquet(path)
    with pytest.raises(AlsigError, match="no 'schema_version' column"):
        read_scores(path)


def test_catalog_partitions_one_line_readers_and_rewrite(tmp_path):
    tables = []
    for dataset in ("dsA", "dsB"):
        _, result = _result(dataset=dataset, methods=("singscore",))
        write_long(result.long, tmp_path / f"{dataset}.parquet")
        tables.append(tmp_path / f"{dataset}.parquet")
    catalog = tmp_path / "catalog" / "signature_scores.parquet"
    manifest = write_catalog(tables, catalog, tmp_path / "catalog" / "manifest.tsv")
    assert manifest["dataset"].to_list() == ["dsA", "dsB"]
    assert (catalog / "dataset=dsA" / "part-0.parquet").exists()
    # the manifest's paths resolve from its own folder, wherever the run was started
    for partition, sha256 in manifest.select("partition", "sha256").iter_rows():
        assert partition.startswith("signature_scores.parquet/dataset=")
        assert sha256_file(tmp_path / "catalog" / partition) == sha256
    via_polars = pl.read_parquet(catalog, hive_partitioning=True)
    via_pandas = pd.read_parquet(catalog)
    via_alsig = read_scores(catalog)
    assert via_polars.height == via_pandas.shape[0] == via_alsig.height == 2 * result.long.height
    assert set(via_pandas["dataset"].astype(str)) == {"dsA", "dsB"}
    assert via_alsig.columns == COLUMNS
    # a rerun with one dataset replaces its partition and drops the stale one; no temp folders left
    _, changed = _result(dataset="dsA", n=5, controls=3, methods=("singscore",))
    write_long(changed.long, tables[0])
    write_catalog(tables[:1], catalog)
    after = read_scores(catalog)
    assert set(after["dataset"]) == {"dsA"} and after["sample"].n_unique() == 5
    leftovers = [p.name for p in catalog.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    with pytest.raises(AlsigError, match="appears in two score tables"):
        write_catalog([tables[0], tables[0]], catalog)


def test_tsv_tables_read_back_as_their_parquet_twin(tmp_path):
    # what a guessing reader gets wrong: ids like numbers, an all-empty number column, a list
    enrichment = pl.DataFrame(
        {
            "term": ["027", "HALLMARK_X"],
            "collection": ["hallmark", "hallmark"],
            "method": ["prerank", "prerank"],
            "direction": [None, "up"],
            "size": [12, 30],
            "n_overlap": [12, 30],
            "nes": [None, None],
            "es": [0.5, -0.25],
            "pvalue": [1e-300, 0.5],
            "fdr": [0.01, 0.9],
            "leading_edge": [["A2M", "SOD1"], []],  # an empty list is not [""]
            "set_size": [15, 31],
            "coverage": [0.8, 0.97],
            "odds_ratio": [None, 1.5],
            "pvalue_at_floor": [True, False],
            "pvalue_display": ["1e-300", "0.5"],
            "pvalue_method": ["exact", "exact"],
            "inter_gene_correlation": [None, 0.05],
            "camera_pvalue": [1e-300, 0.4],
            "camera_fdr": [1e-300, 0.4],
            "camera_direction": ["up", None],
        },
        schema=schemas.polars_schema("enrichment"),
    )
    path = tmp_path / "go_bp.tsv"
    write_tsv(enrichment, path)
    assert pl.read_csv(path, separator="\t").schema["nes"] == pl.String  # the guess
    back = alsig.read_tsv(path, "enrichment")
    assert back.equals(enrichment) and back.schema == enrichment.schema


def test_tsv_reader_keeps_columns_a_schema_lacks_and_names_bad_cells(tmp_path):
    path = tmp_path / "reference_strata.tsv"
    path.write_text(
        "stratum\tn_samples\tn_controls\tn_controls_excluded\tn_reference\tusable\treason\tpc1\n"
        "all samples\t10\t4\t0\t4\ttrue\t\t0.5\n"
    )
    table = alsig.read_tsv(path)  # the schema named after the file
    assert table["n_samples"].dtype == pl.Int64 and table["usable"].to_list() == [True]
    assert table["pc1"].to_list() == [0.5] and table["reason"].to_list() == [None]
    path.write_text(path.read_text().replace("\t10\t", "\t10.5\t"))
    with pytest.raises(
        AlsigError, match=r"column 'n_samples': 1 cell\(s\) do not read as Int64: '10.5'"
    ):
        alsig.read_tsv(path)
    with pytest.raises(AlsigError, match=r"no schema named 'counts'; pass the table's schema"):
        alsig.read_tsv(tmp_path / "counts.tsv")


def test_catalog_partitions_carry_the_versions_and_the_reference_columns(tmp_path):
    _, result = _result(dataset="dsA", methods=("singscore",))
    table = tmp_path / "dsA.parquet"
    write_long(result.long, table, metadata={REFERENCE_BY_KEY: "region"})
    catalog = tmp_path / "catalog" / "signature_scores.parquet"
    write_catalog([table], catalog)
    versions = {
        "alsig.schema": "signature_scores",
        "alsig.schema_version": SCHEMA_VERSION,
        "alsig.version": alsig.__version__,
    }
    expected = versions | {REFERENCE_BY_KEY: "region"}
    assert read_table_metadata(table) == expected
    assert read_table_metadata(catalog / "dataset=dsA" / "part-0.parquet") == expected


def test_every_output_table_schema_has_a_version():
    """A table's version comes from its schema (alsig.io.write_parquet refuses a schema without
    one); only the config and the input sample sheet are not output tables."""
    inputs = {"config", "samples"}
    names = sorted(p.name.removesuffix(".schema.yaml") for p in Path(SCHEMA_FILE).parent.iterdir())
    unversioned = [
        n for n in names if n not in inputs and "x-schema-version" not in schemas.load(n)
    ]
    assert unversioned == []
    assert {"gene_filter", "run_summary"} <= set(names)


@pytest.mark.parametrize(
    "column,value,message",
    [
        ("sample", "", r"column 'sample': 1 value breaks the schema's minLength 1: ''\."),
        (
            "signature",
            "axis::x y",
            r"column 'signature': 1 value breaks the schema's pattern "
            r"'\^\(axis:\)\?\[A-Za-z\].*\$': 'axis::x y'\.",
        ),
        ("score", float("nan"), r"column 'score': 1 value breaks the schema's type number .*: nan"),
        ("z_vs_control", float("inf"), r"column 'z_vs_control': 1 value .* number .*: inf\."),
        ("dispersion", -0.5, r"column 'dispersion': 1 value breaks the schema's minimum 0: -0\.5"),
    ],
)
def test_validate_long_refuses_a_value_the_schema_rules_out(column, value, message):
    _, result = _result(methods=("singscore",))
    first = pl.int_range(pl.len()) == 0
    broken = result.long.with_columns(
        pl.when(first).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    with pytest.raises(AlsigError, match=f"^file 'scores.parquet': {message}"):
        validate_long(broken, "scores.parquet")


def test_schema_rules_name_the_rule_the_count_and_a_few_values():
    where = "file 'x.parquet': column 'v'"
    with pytest.raises(
        AlsigError, match=r"5 values break .*exclusiveMinimum 0: 0, -1, -2 and 2 mo"
    ):
        schemas.check_rules(pl.Series("v", [0, -1, -2, -3, -4, 5]), {"exclusiveMinimum": 0}, where)
    with pytest.raises(AlsigError, match=r"1 value breaks the schema's exclusiveMaximum 1: 1\.0\."):
        schemas.check_rules(pl.Series("v", [0.5, 1.0]), {"exclusiveMaximum": 1}, where)
    with pytest.raises(AlsigError, match=r"'v' \(list items\): 1 value .* minLength 1: ''"):
        schemas.check_rules(
            pl.Series("v", [["a", ""], ["b"]]), {"items": {"type": "string", "minLength": 1}}, where
        )
    # inside the bounds, or a float column that allows NaN/inf: nothing to say
    schemas.check_rules(
        pl.Series("v", [0.5, 0.99]), {"exclusiveMinimum": 0, "exclusiveMaximum": 1}, where
    )
    schemas.check_rules(
        pl.Series("v", [float("nan"), float("-inf"), 0.5]),
        {"x-non-finite": True, "minimum": 0},
        where,
    )
    schemas.check_rules(pl.Series("v", ["PC1", "PC12"]), {"pattern": "^PC[0-9]+$"}, where)


def test_a_zero_p_value_breaks_the_shipped_enrichment_schema():
    prop = schemas.load("enrichment")["properties"]["pvalue"]  # exclusiveMinimum 0, maximum 1
    where = "file 'e.parquet': column 'pvalue'"
    with pytest.raises(AlsigError, match=r"'pvalue': 1 value breaks .*exclusiveMinimum 0: 0\.0\."):
        schemas.check_rules(pl.Series("pvalue", [0.0, 0.5]), prop, where)
    with pytest.raises(
        AlsigError, match=r"'pvalue': 1 value breaks the schema's maximum 1: 1\.5\."
    ):
        schemas.check_rules(pl.Series("pvalue", [1.5, 0.5]), prop, where)


def test_tsv_reader_takes_a_whole_number_written_as_a_float_in_an_integer_column(tmp_path):
    path = tmp_path / "reference_strata.tsv"
    path.write_text(
        "stratum\tn_samples\tn_controls\tn_controls_excluded\tn_reference\tusable\treason\n"
        "all samples\t10.0\t4\t0\t4\tfalse\ttoo few\n"
    )
    assert alsig.read_tsv(path)["n_samples"].to_list() == [10]
