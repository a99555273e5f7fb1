"""The gene-batched DESeq2 engine (:mod:`alsig.deseq2`) held to R DESeq2's committed fixture tables
(Wald and likelihood-ratio tests) and pydeseq2's committed iterative size factors, its results
identical for any chunk size and thread count, its bad inputs refused. The step-by-step comparison
with a live pydeseq2 0.5.4 fit (a minute of pydeseq2 with shrinkage) is in
``tests/integration/test_deseq2_vs_pydeseq2.py``.

Data: the committed fixture cohort of ``scripts/build_deseq2_fixture.py`` (``alsig.toy`` counts,
22 donors x 2 regions, 400 genes, a three-level condition, 12 planted outlier counts), design
``~ region + condition``: cells of 10 and 12 samples (outliers replaced and refitted) and of 4
(flagged, not replaced).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from alsig.deseq2 import DESeq2Options, Design, fit_deseq2
from alsig.deseq2.iterative import iterative_size_factors
from alsig.deseq2.special import polygamma_diffs
from alsig.stages.de.design import design_matrix
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "data" / "deseq2"
DESIGN = "~ region + condition"
ALS = "condition[T.ALS]"


def fixture_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(counts samples x genes, sample table)`` with control and frontal as references."""
    counts = pd.read_csv(FIXTURE / "toy_counts.tsv.gz", sep="\t", index_col=0).T
    coldata = pd.read_csv(FIXTURE / "toy_coldata.tsv", sep="\t", index_col=0).loc[counts.index]
    coldata["region"] = pd.Categorical(coldata["region"], ["frontal", "motor"])
    coldata["condition"] = pd.Categorical(coldata["condition"], ["control", "ALS", "other"])
    return counts, coldata


def r_table(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURE / name, sep="\t", index_col=0)


@pytest.fixture(scope="module")
def data():
    return fixture_data()


@pytest.fixture(scope="module")
def fit(data):
    counts, coldata = data
    return fit_deseq2(counts, design_matrix(coldata, DESIGN))


def relative(a, b) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) / np.abs(b)


def test_digamma_differences_keep_relative_accuracy_for_near_poisson_genes():
    # psi(y + r) - psi(r) and psi'(y + r) - psi'(r) as exact finite sums, r up to 1e12
    worst = 0.0
    for y in (1, 2, 7, 25, 300):
        for r in (1e-3, 0.5, 3.0, 9.99, 10.0, 1e3, 1e6, 1e12):
            d, t = polygamma_diffs(float(y), r)
            exact_d = math.fsum(1 / (r + k) for k in range(y))
            exact_t = -math.fsum(1 / (r + k) ** 2 for k in range(y))
            worst = max(worst, abs(d / exact_d - 1), abs(t / exact_t - 1))
    assert worst < 1e-13
    assert polygamma_diffs(0.0, 5.0) == (0.0, 0.0)


def test_lrt_matches_r_deseq2_fixture(data, fit):
    _, coldata = data
    ours = fit.lrt(design_matrix(coldata, "~ region"), coefficient=ALS).table
    theirs = r_table("r_lrt.tsv").loc[ours.index]
    assert (ours["df"] == 2).all()
    assert (ours["pvalue"].isna() == theirs["pvalue"].isna()).all()  # same Cook's genes
    # genes with a base mean of 10 or more: R and pydeseq2's dispersions agree there
    big = (theirs["baseMean"] >= 10).to_numpy()
    assert big.sum() > 250
    np.testing.assert_allclose(ours["stat"][big], theirs["stat"][big], rtol=5e-3, atol=1e-3)
    np.testing.assert_allclose(
        ours["log2FoldChange"][big], theirs["log2FoldChange"][big], atol=1e-3
    )
    ok = ours["pvalue"].notna().to_numpy()
    rho = spearmanr(-np.log10(ours["pvalue"][ok]), -np.log10(theirs["pvalue"][ok])).correlation
    assert rho > 0.999
    ours_sig = set(ours.index[ours["padj"] < 0.05])
    theirs_sig = set(theirs.index[theirs["padj"] < 0.05])
    assert len(ours_sig & theirs_sig) / len(ours_sig | theirs_sig) > 0.95


def test_wald_tests_agree_with_r_deseq2_fixture(fit):
    for name, contrast in (
        ("ALS_vs_control", ("condition", "ALS", "control")),
        ("other_vs_control", ("condition", "other", "control")),
    ):
        ours = fit.results(fit.contrast_vector(*contrast)).table
        theirs = r_table(f"r_wald_{name}.tsv").loc[ours.index]
        big = (theirs["baseMean"] >= 10).to_numpy()
        assert (
            np.corrcoef(ours["log2FoldChange"][big], theirs["log2FoldChange"][big])[0, 1] > 0.9999
        )
        assert np.corrcoef(ours["stat"][big], theirs["stat"][big])[0, 1] > 0.9999
        assert (ours["padj"].isna() == theirs["padj"].isna()).all(), name


def test_results_are_identical_for_any_chunk_size_and_thread_count(data):
    counts, coldata = data
    design = design_matrix(coldata, DESIGN)
    reduced = design_matrix(coldata, "~ region")
    outputs = []
    for chunk, threads in ((None, 1), (7, 2), (3, 3), (64, 2)):
        fit = fit_deseq2(counts, design, chunk_size=chunk, n_threads=threads)
        outputs.append(
            (
                fit.var,
                fit.results(fit.contrast_vector("condition", "ALS", "control")).table,
                fit.lrt(reduced, coefficient=ALS).table,
                fit.lfc_shrink(ALS).lfc,
            )
        )
    for other in outputs[1:]:
        for a, b in zip(outputs[0], other, strict=True):
            if isinstance(a, pd.DataFrame):
                pd.testing.assert_frame_equal(a, b, check_exact=True)
            else:
                np.testing.assert_array_equal(a, b)


def test_iterative_size_factors_match_pydeseq2_when_every_gene_has_a_zero():
    frame = pd.read_csv(FIXTURE / "iterative_counts.tsv.gz", sep="\t", index_col=0)
    counts = frame.drop(columns="condition").to_numpy()
    assert (counts == 0).any(axis=0).all()
    theirs = r_table("pydeseq2_iterative_size_factors.tsv")["size_factor"].to_numpy()
    fit = fit_deseq2(counts, design_matrix(frame[["condition"]].astype("category"), "~ condition"))
    assert fit.size_factor_fit.method == "iterative"
    np.testing.assert_allclose(fit.size_factors, theirs, rtol=1e-6)
    direct = iterative_size_factors(counts)
    np.testing.assert_array_equal(direct.size_factors, fit.size_factors)


def test_genes_without_counts_are_reported_empty(data):
    counts, coldata = data
    with_empty = counts.copy()
    with_empty["EMPTY"] = 0
    fit = fit_deseq2(with_empty, design_matrix(coldata, DESIGN))
    row = fit.results(fit.contrast_vector("condition", "ALS", "control")).table.loc["EMPTY"]
    assert row["baseMean"] == 0 and np.isnan(row[["log2FoldChange", "pvalue", "padj"]]).all()
    assert not fit.var.loc["EMPTY", "non_zero"]


def test_bad_inputs_are_refused_with_a_clear_message(data):
    counts, coldata = data
    design = design_matrix(coldata, DESIGN)
    negative = counts.copy()
    negative.iloc[3, 5] = -1
    with pytest.raises(ValueError, match="non-negative; sample 3, gene 5"):
        fit_deseq2(negative, design)
    fractional = counts.astype(float)
    fractional.iloc[2, 4] = 1.5
    with pytest.raises(ValueError, match="whole numbers; sample 2, gene 4"):
        fit_deseq2(fractional, design)
    confounded = design.assign(copy=design["region[T.motor]"])
    with pytest.raises(ValueError, match="not full rank"):
        fit_deseq2(counts, confounded)
    with pytest.raises(ValueError, match="44 rows for 10 samples"):
        fit_deseq2(counts.iloc[:10], design)
    fit = fit_deseq2(counts.iloc[:, :40], design)
    outside = design.iloc[:, [0, 1]].assign(age=np.arange(len(design), dtype=float))
    with pytest.raises(ValueError, match="not nested"):
        fit.lrt(outside)
    with pytest.raises(KeyError, match="not a design column"):
        fit.lfc_shrink("condition[T.unknown]")
    with pytest.raises(ValueError, match="needs 4 entries"):
        fit.results(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="reparametrisation"):
        fit.lfc_shrink("region[T.motor]", design=design_matrix(coldata, "~ region"))


def test_options_reach_the_fit(data):
    counts, coldata = data
    no_refit = fit_deseq2(
        counts, design_matrix(coldata, DESIGN), options=DESeq2Options(refit_cooks=False)
    )
    assert not no_refit.var["refitted"].any()
    assert (
        no_refit.var["cooks_outlier"].sum()
        >= fit_deseq2(counts, design_matrix(coldata, DESIGN)).var["cooks_outlier"].sum()
    )
    design = Design.from_frame(design_matrix(coldata, DESIGN))
    assert design.replicated(7).sum() == 36  # other's cells of 4 are not replaceable
