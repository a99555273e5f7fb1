"""TE ids with '/' (RepeatMasker's ALR/Alpha, BSR/Beta) are stored under h5ad-safe names and read
back under their own (anndata refuses '/' in keys from 0.13; 0.12 warns, an error here)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from alsig.errors import AlsigError
from alsig.io import write_h5ad
from alsig.keys import te_block
from alsig.stages.ingest.te_counts import attach_te_counts, storage_name

IDS = ["ALR/Alpha:centr:Satellite", "L1HS:L1:LINE", "BSR/Beta:Satellite:Satellite"]


def adata() -> ad.AnnData:
    return ad.AnnData(
        np.ones((2, 2), dtype=np.float32),
        obs=pd.DataFrame(index=["s1", "s2"]),
        var=pd.DataFrame(index=["g1", "g2"]),
    )


def test_slashes_are_stored_as_underscores_and_read_back(tmp_path):
    te = pd.DataFrame([[1, 2, 3], [4, 5, 6]], index=["s2", "s1"], columns=IDS)
    data = attach_te_counts(adata(), te)
    assert list(data.obsm["te_counts"].columns) == [storage_name(i) for i in IDS]
    assert "ALR_Alpha:centr:Satellite" in data.obsm["te_counts"].columns
    write_h5ad(data, tmp_path / "x.h5ad")  # warnings are errors in the tests: no FutureWarning
    back = ad.read_h5ad(tmp_path / "x.h5ad")
    block = te_block(back)
    assert list(block.columns) == IDS
    assert block.loc["s1", "ALR/Alpha:centr:Satellite"] == 4
    assert list(back.uns["te_features"]["te_id"]) == IDS  # the original, kept in the annotation


def test_ids_that_differ_only_by_slash_are_refused():
    te = pd.DataFrame([[1, 2], [3, 4]], index=["s1", "s2"], columns=["A/B:x:y", "A_B:x:y"])
    with pytest.raises(AlsigError, match="differ only by '/' vs '_'"):
        attach_te_counts(adata(), te)
