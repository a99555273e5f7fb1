"""The TE block is one samples x TEs array in ``obsm`` with its ids in ``uns['te_features']``:
ids with '/' (RepeatMasker's ALR/Alpha, BSR/Beta), which an h5ad refuses as a column name, read
back under their own names, and so do files of alsig <= 0.3.2 (a DataFrame whose column names
hold '_' for '/')."""

from __future__ import annotations

import anndata as ad
import h5py
import numpy as np
import pandas as pd

from alsig.io import write_h5ad
from alsig.keys import te_block
from alsig.stages.ingest.te_counts import attach_te_counts

IDS = ["ALR/Alpha:centr:Satellite", "L1HS:L1:LINE", "BSR/Beta:Satellite:Satellite"]


def adata() -> ad.AnnData:
    return ad.AnnData(
        np.ones((2, 2), dtype=np.float32),
        obs=pd.DataFrame(index=["s1", "s2"]),
        var=pd.DataFrame(index=["g1", "g2"]),
    )


def test_the_block_is_one_array_and_reads_back_under_its_ids(tmp_path):
    te = pd.DataFrame([[1, 2, 3], [4, 5, 6]], index=["s2", "s1"], columns=IDS)
    data = attach_te_counts(adata(), te)
    assert isinstance(data.obsm["te_counts"], np.ndarray)
    write_h5ad(data, tmp_path / "x.h5ad")  # warnings are errors in the tests: no FutureWarning
    with h5py.File(tmp_path / "x.h5ad") as handle:
        assert isinstance(handle["obsm/te_counts"], h5py.Dataset)  # one dataset, not one per TE
    back = ad.read_h5ad(tmp_path / "x.h5ad")
    block = te_block(back)
    assert list(block.columns) == IDS and list(block.index) == ["s1", "s2"]
    assert block.loc["s1", "ALR/Alpha:centr:Satellite"] == 4
    assert block.loc["s2", "BSR/Beta:Satellite:Satellite"] == 3
    assert list(back.uns["te_features"]["te_id"]) == IDS
    # a sample subset carries its rows along
    assert te_block(back[["s2"]]).loc["s2"].tolist() == [1, 2, 3]


def test_ids_that_differ_only_by_slash_are_both_kept():
    te = pd.DataFrame([[1, 2], [3, 4]], index=["s1", "s2"], columns=["A/B:x:y", "A_B:x:y"])
    block = te_block(attach_te_counts(adata(), te))
    assert list(block.columns) == ["A/B:x:y", "A_B:x:y"] and block["A_B:x:y"].tolist() == [2, 4]


def test_a_block_written_by_alsig_0_3_2_reads_back_under_the_original_ids():
    data = adata()
    stored = [i.replace("/", "_") for i in IDS]
    data.obsm["te_counts"] = pd.DataFrame(
        [[1, 2, 3], [4, 5, 6]], index=["s1", "s2"], columns=stored
    )
    data.uns["te_features"] = {"te_id": IDS, "stored_id": stored}
    block = te_block(data)
    assert list(block.columns) == IDS and block.loc["s2", "ALR/Alpha:centr:Satellite"] == 4
