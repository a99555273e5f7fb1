"""``alsig score``: a new sample placed against a finished dataset gets the score the dataset's
own table gives the same counts, and z / percentiles against the dataset's controls."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest

from alsig.cli import main
from tests.conftest import uses_demo_run

pytestmark = uses_demo_run


def test_a_dataset_sample_rescored_as_new_gets_its_own_scores(demo_run, tmp_path, capsys):
    qc = ad.read_h5ad(demo_run / "results/demo/qc/filtered.h5ad")
    counts = np.asarray(qc.X.toarray() if hasattr(qc.X, "toarray") else qc.X)
    chosen = ["JR9", "JR35"]
    rows = [qc.obs_names.get_loc(s) for s in chosen]
    frame = pd.DataFrame(counts[rows].T, index=qc.var_names, columns=["new_a", "new_b"])
    frame.index.name = "gene"
    frame.to_csv(tmp_path / "new.tsv", sep="\t")
    out = tmp_path / "placed.tsv"
    assert (
        main(
            [
                "score",
                "--dataset",
                str(demo_run / "results/demo"),
                "--counts",
                str(tmp_path / "new.tsv"),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    placed = pl.read_csv(out, separator="\t")
    dataset = pl.read_parquet(demo_run / "results/demo/scores/signature_scores.parquet").filter(
        pl.col("method") == "singscore"
    )
    for new, old in zip(["new_a", "new_b"], chosen, strict=True):
        mine = placed.filter(pl.col("sample") == new).sort("signature")
        theirs = dataset.filter(pl.col("sample") == old).sort("signature")
        theirs = theirs.filter(pl.col("signature").is_in(mine["signature"].to_list()))
        np.testing.assert_allclose(mine["score"].to_numpy(), theirs["score"].to_numpy(), atol=1e-9)
        # the same 6 controls: the dataset's z equals the placement's
        np.testing.assert_allclose(
            mine["z_vs_control"].to_numpy(), theirs["z_vs_control"].to_numpy(), atol=1e-9
        )
    assert set(placed["n_controls"]) == {6} and placed["control_percentile"].max() <= 100
    assert "placed against demo (all samples)" in capsys.readouterr().out


def test_unknown_genes_and_strata_are_usage_errors(demo_run, tmp_path, capsys):
    (tmp_path / "new.tsv").write_text("gene\tS1\n" + "".join(f"G{i}\t{i}\n" for i in range(30)))
    code = main(
        [
            "score",
            "--dataset",
            str(demo_run / "results/demo"),
            "--counts",
            str(tmp_path / "new.tsv"),
        ]
    )
    assert code == 2 and "shares fewer than 10 counted genes" in capsys.readouterr().err
    qc = ad.read_h5ad(demo_run / "results/demo/qc/filtered.h5ad")
    counts = np.asarray(qc.X.toarray() if hasattr(qc.X, "toarray") else qc.X)
    pd.DataFrame({"gene": qc.var_names, "S1": counts[0]}).to_csv(
        tmp_path / "new.tsv", sep="\t", index=False
    )
    code = main(
        [
            "score",
            "--dataset",
            str(demo_run / "results/demo"),
            "--counts",
            str(tmp_path / "new.tsv"),
            "--stratum",
            "region=Cerebellum",
        ]
    )
    assert code == 2
    assert "--stratum 'region=Cerebellum' is not a reference stratum" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["results/nowhere"])
def test_a_dataset_that_did_not_run_is_named(tmp_path, capsys, missing):
    (tmp_path / "new.tsv").write_text("gene\tS1\nSOD1\t1\n")  # a human gene: the counts pass
    code = main(
        ["score", "--dataset", str(tmp_path / missing), "--counts", str(tmp_path / "new.tsv")]
    )
    assert code == 2 and "does not exist" in capsys.readouterr().err
