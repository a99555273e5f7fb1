"""alsig.io readers (the atomic writers are exercised by tests/e2e/test_faults.py)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from alsig.io import ATOMIC_TEMP_NAME, atomic_path, read_h5ad_counts, write_h5ad


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
