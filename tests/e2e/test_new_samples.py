"""``alsig score``: a new sample placed against a finished dataset gets the score the dataset's
own table gives the same counts, and z / percentiles against the dataset's controls; its table
reads with ``alsig.read_scores`` and concatenates with the catalog; counts lacking too many of the
dataset's genes are refused, fewer are scored within the shared genes with every row flagged."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import alsig
from alsig.cli import main
from alsig.newsamples.subtypes import SUBTYPE_COLUMNS
from alsig.tables import COLUMNS
from tests.conftest import REPO, needs_shared, uses_demo_run

pytestmark = uses_demo_run


def dataset_counts(demo_run, samples: list[str], names: list[str]) -> pd.DataFrame:
    """Genes x samples counts of dataset samples under new names."""
    qc = ad.read_h5ad(demo_run / "results/demo/qc/filtered.h5ad")
    counts = np.asarray(qc.X.toarray() if hasattr(qc.X, "toarray") else qc.X)
    rows = [qc.obs_names.get_loc(s) for s in samples]
    frame = pd.DataFrame(counts[rows].T, index=qc.var_names, columns=names)
    frame.index.name = "gene"
    return frame


def score(demo_run, counts, output, *extra: str) -> int:
    return main(
        [
            "score",
            "--dataset",
            str(demo_run / "results/demo"),
            "--counts",
            str(counts),
            "--output",
            str(output),
            *extra,
        ]
    )


def test_a_dataset_sample_rescored_as_new_gets_its_own_scores(demo_run, tmp_path, capsys, caplog):
    chosen = ["JR9", "JR35"]
    dataset_counts(demo_run, chosen, ["new_a", "new_b"]).to_csv(tmp_path / "new.tsv", sep="\t")
    out = tmp_path / "placed.parquet"
    assert score(demo_run, tmp_path / "new.tsv", out) == 0
    placed = alsig.read_scores(out)  # the long table's schema, then the placement columns
    assert placed.columns[: len(COLUMNS)] == COLUMNS
    assert {"control_percentile", "n_controls", "subtype_call", "p_ox"} <= set(placed.columns)
    assert set(placed["dataset"]) == {"new"} and placed["qc_flag"].null_count() == placed.height
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
    assert set(placed["n_reference_genes_missing"]) == {0}
    # the frozen genes-only subtype model (8,000 genes) finds 40 % of them among the demo's 6,000
    # genes: under its 50 % nothing is projected; as in the stage, out_of_reference by coverage,
    # no probabilities, and a warning says why
    assert set(placed["subtype_call"]) == {"out_of_reference"}
    assert set(placed["out_of_reference_by"]) == {"coverage"}
    assert placed["p_ox"].null_count() == placed.height
    assert "only 40 % of its genes are in the input (minimum 50 %)" in caplog.text
    assert f"{out}: 2 sample(s)" in capsys.readouterr().err
    # it concatenates with the run's catalog: as it is, or cut to the schema's columns
    catalog = alsig.read_scores(demo_run / "results/catalog/signature_scores.parquet")
    both = pl.concat([catalog, placed], how="diagonal_relaxed")
    assert both.height == catalog.height + placed.height
    assert pl.concat([catalog, placed.select(COLUMNS)]).height == both.height


def test_with_te_counts_the_call_is_the_workflow_s_genes_te_projection(demo_run, tmp_path, capsys):
    """``--te-counts``: the demo's 38 libraries as new samples get the genes + TE model (which
    covers the demo's gene subset, where the genes-only model does not), with every subtype
    column (names, values, calls) the subtype stage's projection gives ingest's AnnData of the
    same libraries; a TE table that lacks a sample is refused, naming it."""
    from alsig.settings import complete
    from alsig.stages.subtypes.calls import project_adata, projection_columns
    from alsig.stages.subtypes.reference_model import GENES_TE_MODEL, load_shipped

    demo = REPO / "resources" / "demo"
    out = tmp_path / "placed.parquet"
    te_file = demo / "GSE122649_demo_te_counts.tsv.gz"
    counts_file = demo / "GSE122649_demo_counts.tsv.gz"
    # the demo's libraries are all motor cortex, as the stage reads from the sample sheet
    extra = ("--te-counts", str(te_file), "--region", "motor cortex")
    assert score(demo_run, counts_file, out, *extra) == 0
    calls = pl.read_parquet(out).select("sample", *SUBTYPE_COLUMNS).unique().sort("sample")
    assert calls.height == 38 and set(calls["subtype_model"]) == {"genes_te"}
    libraries = ad.read_h5ad(demo_run / "results/demo/counts.h5ad")  # ingest's, uncollapsed
    stage = project_adata(libraries, load_shipped(GENES_TE_MODEL), complete("subtypes"))
    stage = stage.loc[calls["sample"].to_list()]
    expected = pl.DataFrame({"sample": list(stage.index), **projection_columns(stage)})
    assert calls.columns == expected.columns
    # out_of_reference by distance, as the workflow's demo donors: a 6,000-gene subset ranks
    # the model's genes among other genes than whole-transcriptome counts do
    assert_frame_equal(calls, expected, check_exact=False, rel_tol=0, abs_tol=1e-12)
    capsys.readouterr()
    te = pd.read_csv(te_file, sep="\t", index_col=0)
    te.drop(columns=te.columns[0]).to_csv(tmp_path / "te.tsv", sep="\t")
    assert score(demo_run, counts_file, out, "--te-counts", str(tmp_path / "te.tsv")) == 2
    err = capsys.readouterr().err
    assert "te.tsv" in err and str(te.columns[0]) in err


@needs_shared
def test_whole_transcriptome_libraries_get_a_subtype_call(demo_run, tmp_path, shared_data):
    """Two GSE122649 libraries as counted (27,960 genes): the genes-only model covers them; with
    their TEcount counts the genes + TE model does."""
    counts = pd.read_csv(
        shared_data / "GSE122649" / "GSE122649_gene_counts.tsv.gz", sep="\t", index_col=0
    ).iloc[:, :2]
    counts.to_csv(tmp_path / "new.tsv", sep="\t")
    out = tmp_path / "placed.parquet"
    assert score(demo_run, tmp_path / "new.tsv", out) == 0
    calls = (
        pl.read_parquet(out)
        .select(
            "sample",
            "subtype_call",
            "p_ox",
            "p_glia",
            "p_te",
            "subtype_model",
            "gene_coverage",
        )
        .unique()
    )
    assert calls.height == 2 and calls["subtype_call"].null_count() == 0
    assert set(calls["subtype_model"]) == {"genes"} and calls["gene_coverage"].min() > 0.95
    total = calls["p_ox"] + calls["p_glia"] + calls["p_te"]
    np.testing.assert_allclose(total.to_numpy(), 1.0, atol=1e-9)
    te = pd.read_csv(
        shared_data / "GSE122649" / "GSE122649_te_counts.tsv.gz", sep="\t", index_col=0
    )[counts.columns]
    te.to_csv(tmp_path / "te.tsv", sep="\t")
    assert score(demo_run, tmp_path / "new.tsv", out, "--te-counts", str(tmp_path / "te.tsv")) == 0
    with_te = pl.read_parquet(out).select("sample", *SUBTYPE_COLUMNS).unique()
    assert set(with_te["subtype_model"]) == {"genes_te"}
    assert with_te["gene_coverage"].min() > 0.95
    # donor JR9's two libraries: ALS-Ox, the call the workflow gives the donor (its summed
    # libraries) in the shared-cohorts run
    assert set(with_te["subtype_call"]) == {"ALS-Ox"}


def test_tsv_output_and_stdout(demo_run, tmp_path, capsys):
    dataset_counts(demo_run, ["JR9"], ["new_a"]).to_csv(tmp_path / "new.tsv", sep="\t")
    assert score(demo_run, tmp_path / "new.tsv", tmp_path / "placed.tsv", "--label", "clinic") == 0
    table = pl.read_csv(tmp_path / "placed.tsv", separator="\t")
    assert table.columns[: len(COLUMNS)] == COLUMNS and set(table["dataset"]) == {"clinic"}
    capsys.readouterr()
    assert score(demo_run, tmp_path / "new.tsv", "-") == 0
    out = capsys.readouterr()
    assert out.out.startswith("schema_version\talsig_version\tdataset")
    assert "standard output: 1 sample(s)" in out.err
    # no default file: --output is required
    with pytest.raises(SystemExit) as caught:
        main(["score", "--dataset", str(demo_run / "results/demo"), "--counts", "x.tsv"])
    assert caught.value.code == 2
    assert "--output" in capsys.readouterr().err


def test_mismatched_gene_sets_are_refused_or_scored_within_the_shared_genes(
    demo_run, tmp_path, capsys, caplog
):
    frame = dataset_counts(demo_run, ["JR9", "JR35"], ["new_a", "new_b"])
    # 60 % of the dataset's genes absent (the 6,000 vs 27,961-gene case is 78 %): refused
    frame.iloc[:2400].to_csv(tmp_path / "panel.tsv", sep="\t")
    out = tmp_path / "placed.tsv"
    assert score(demo_run, tmp_path / "panel.tsv", out) == 2
    err = capsys.readouterr().err
    assert "3,600 of the 6,000 genes of dataset" in err
    assert f"absent from {tmp_path / 'panel.tsv'}" in err and "--max-missing-share" in err
    assert not out.exists()
    # 10 % absent: scored within the shared genes, the dataset's samples rescored on them
    frame.iloc[:5400].to_csv(tmp_path / "most.tsv", sep="\t")
    with caplog.at_level(logging.WARNING, logger="alsig.newsamples.placement"):
        assert score(demo_run, tmp_path / "most.tsv", out) == 0
    warned = caplog.text
    assert "600 of the 6000 genes of dataset" in warned and "(10%; e.g. " in warned
    assert f"are absent from {tmp_path / 'most.tsv'}: the new and the dataset's samples" in warned
    placed = pl.read_csv(out, separator="\t")
    assert placed["qc_flag"].null_count() == 0
    assert set(placed["qc_flag"]) == {
        "genes_missing(600 of 6000 dataset genes absent; scored and referenced within the "
        "5400 shared genes)"
    }
    assert set(placed["n_reference_genes_missing"]) == {600}
    # like with like: the z of a dataset sample barely moves (counting the absent genes as 0
    # moved it by 1.4 sd in the median and up to 50 sd, bench/results/new_samples_missing_genes.md)
    dataset = pl.read_parquet(demo_run / "results/demo/scores/signature_scores.parquet").filter(
        (pl.col("method") == "singscore") & (pl.col("sample") == "JR9")
    )
    joined = placed.filter(pl.col("sample") == "new_a").join(
        dataset, on="signature", suffix="_dataset"
    )
    moved = (joined["z_vs_control"] - joined["z_vs_control_dataset"]).abs().drop_nulls()
    assert moved.len() > 20 and moved.median() < 0.25
    # a higher limit lets the panel through, flagged
    assert score(demo_run, tmp_path / "panel.tsv", out, "--max-missing-share", "0.7") == 0
    assert pl.read_csv(out, separator="\t")["qc_flag"].str.starts_with("genes_missing(3600").all()


def test_unknown_genes_and_strata_are_usage_errors(demo_run, tmp_path, capsys):
    (tmp_path / "new.tsv").write_text("gene\tS1\n" + "".join(f"G{i}\t{i}\n" for i in range(30)))
    code = score(demo_run, tmp_path / "new.tsv", tmp_path / "out.tsv")
    assert code == 2 and "are absent from" in capsys.readouterr().err
    qc = ad.read_h5ad(demo_run / "results/demo/qc/filtered.h5ad")
    counts = np.asarray(qc.X.toarray() if hasattr(qc.X, "toarray") else qc.X)
    pd.DataFrame({"gene": qc.var_names, "S1": counts[0]}).to_csv(
        tmp_path / "new.tsv", sep="\t", index=False
    )
    code = score(
        demo_run, tmp_path / "new.tsv", tmp_path / "out.tsv", "--stratum", "region=Cerebellum"
    )
    assert code == 2
    assert "--stratum 'region=Cerebellum' is not a reference stratum" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["results/nowhere"])
def test_a_dataset_that_did_not_run_is_named(tmp_path, capsys, missing):
    (tmp_path / "new.tsv").write_text("gene\tS1\nSOD1\t1\n")  # a human gene: the counts pass
    code = main(
        [
            "score",
            "--dataset",
            str(tmp_path / missing),
            "--counts",
            str(tmp_path / "new.tsv"),
            "--output",
            str(tmp_path / "out.tsv"),
        ]
    )
    assert code == 2
    assert f"--dataset {tmp_path / missing} does not exist" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    code = main(
        [
            "score",
            "--dataset",
            str(tmp_path / "run"),
            "--counts",
            str(tmp_path / "new.tsv"),
            "--output",
            str(tmp_path / "out.tsv"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and f"{tmp_path / 'run' / 'qc' / 'filtered.h5ad'} does not exist" in err
    assert "None" not in err
