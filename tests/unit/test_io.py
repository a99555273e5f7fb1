"""alsig.io readers and the Parquet writer's metadata (the atomic writes are exercised by
tests/e2e/test_faults.py)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse as sp

import alsig
from alsig.io import (
    ATOMIC_TEMP_NAME,
    atomic_path,
    read_h5ad_counts,
    read_table_metadata,
    write_h5ad,
    write_parquet,
)
from alsig.resources import load_schema


def test_read_h5ad_counts_skips_layers_and_keeps_counts_and_annotations(tmp_path):
    counts = sp.csr_matrix(np.arange(12, dtype=np.int32).reshape(3, 4))
    adata = ad.AnnData(
        X=counts,
        obs=pd.DataFrame({"condition": ["ALS", "control", "ALS"]}, index=["s1", "s2", "s3"]),
        var=pd.DataFrame({"symbol": list("ABCD")}, index=list("ABCD")),
        layers={"vst": np.ones((3, 4), dtype=np.float32)},
        uns={"dataset": "demo"},
    )
    path = tmp_path / "qc.h5ad"
    write_h5ad(adata, path)
    read = read_h5ad_counts(path)
    assert list(read.layers) == []
    assert read.X.dtype == np.int32
    np.testing.assert_array_equal(read.X.toarray(), counts.toarray())
    pd.testing.assert_frame_equal(read.obs, ad.read_h5ad(path).obs)
    assert list(read.var["symbol"]) == list("ABCD")
    assert read.uns["dataset"] == "demo"


def test_atomic_temp_name_matches_the_writer_s_own_temp_files_only(tmp_path):
    target = tmp_path / "registry.tsv"
    with atomic_path(target) as tmp:
        match = ATOMIC_TEMP_NAME.fullmatch(tmp.name)
        assert match is not None and match.group("target") == "registry.tsv"
    for name in ("registry.tsv", ".registry.tsv.tmp", "x.tmp", ".registry.tsv.abc.tmp"):
        assert ATOMIC_TEMP_NAME.fullmatch(name) is None


def test_write_parquet_records_the_schema_its_version_and_the_alsig_version(tmp_path):
    path = tmp_path / "de.parquet"
    write_parquet(pl.DataFrame({"a": [1]}), path, schema="de_results", metadata={"alsig.x": "y"})
    assert read_table_metadata(path) == {
        "alsig.schema": "de_results",
        "alsig.schema_version": str(load_schema("de_results")["x-schema-version"]),
        "alsig.version": alsig.__version__,
        "alsig.x": "y",
    }
    assert pl.read_parquet(path)["a"].to_list() == [1]


def test_write_parquet_needs_a_versioned_schema_and_sets_the_versions_itself(tmp_path):
    table, path = pl.DataFrame({"a": [1]}), tmp_path / "t.parquet"
    with pytest.raises(TypeError, match="schema"):
        write_parquet(table, path)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="schema 'config' has no x-schema-version"):
        write_parquet(table, path, schema="config")
    with pytest.raises(ValueError, match=r"sets \['alsig.schema_version'\] from the schema"):
        write_parquet(table, path, schema="de_results", metadata={"alsig.schema_version": "9"})
    assert not path.exists()


def test_read_table_metadata_of_a_file_without_versions_is_empty(tmp_path):
    path = tmp_path / "foreign.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(path, metadata={"other": "x"})
    assert read_table_metadata(path) == {}
