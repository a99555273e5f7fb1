"""The gene-batched DESeq2 engine (:mod:`alsig.deseq2`) held to pydeseq2 0.5.4 step by step, its
likelihood-ratio test held to R DESeq2 (committed fixture, and live when R is installed), and its
results identical for any chunk size and thread count.

Data: the committed fixture cohort of ``scripts/build_deseq2_fixture.py`` (``alsig.toy`` counts,
22 donors x 2 regions, 400 genes, a three-level condition, 12 planted outlier counts), design
``~ region + condition``: cells of 10 and 12 samples (outliers replaced and refitted) and of 4
(flagged, not replaced).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from alsig.deseq2 import DESeq2Options, Design, fit_deseq2
from alsig.deseq2 import dispersion as dispersion_kernels
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


@pytest.fixture(scope="module")
def reference(data):
    """pydeseq2's fit of the same data, its Wald test of ALS vs control and shrinkage."""
    pytest.importorskip("pydeseq2")
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    counts, coldata = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(counts=counts, metadata=coldata, design=DESIGN,
                           inference=DefaultInference(n_cpus=1), quiet=True)  # fmt: skip
        dds.deseq2()
        stats = DeseqStats(dds, contrast=["condition", "ALS", "control"],
                           inference=DefaultInference(n_cpus=1), quiet=True)  # fmt: skip
        stats.summary()
        results = stats.results_df.copy()
        stats.lfc_shrink(coeff=ALS)
    return {"dds": dds, "stats": stats, "results": results,
            "shrunk": stats.results_df["log2FoldChange"].to_numpy()}  # fmt: skip


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


def test_size_factors_equal_pydeseq2_and_r(fit, reference):
    assert fit.size_factor_fit.method == "ratio"
    np.testing.assert_allclose(fit.size_factors, reference["dds"].obs["size_factors"], rtol=1e-12)
    r = r_table("r_size_factors.tsv")["size_factor"].to_numpy()
    np.testing.assert_allclose(fit.size_factors, r, rtol=1e-12)


def test_dispersions_match_pydeseq2_step_by_step(fit, reference):
    dds = reference["dds"]
    ours, theirs = fit.var, dds.var
    np.testing.assert_allclose(ours["_normed_means"], theirs["_normed_means"], rtol=1e-12)
    # gene-wise: the same optimum wherever both searches end inside the bounds (pydeseq2's
    # L-BFGS-B stops at |gradient| 1e-5, so its last digits differ)
    regular = (
        (ours["genewise_status"] == dispersion_kernels.INTERIOR)
        & theirs["_genewise_converged"].to_numpy(bool)
        & (theirs["genewise_dispersions"] > 1e-6)
    ).to_numpy()
    assert regular.mean() > 0.9
    gw = relative(ours["genewise_dispersions"][regular], theirs["genewise_dispersions"][regular])
    assert np.median(gw) < 1e-6 and gw.max() < 2e-3
    # and never a worse optimum of the Cox-Reid profile likelihood
    design = fit.design
    counts = fit.counts
    for j in np.flatnonzero(ours["non_zero"].to_numpy() & ~ours["refitted"].to_numpy()):
        y = counts[:, j].astype(float)
        mu = dds.layers["_mu_hat"][:, j]
        f = [dispersion_kernels.objective(np.log(a), y, mu, design.rows, design.group, True,
                                          0.0, 1.0, False)
             for a in (ours["genewise_dispersions"].iloc[j],
                       theirs["genewise_dispersions"].iloc[j])]  # fmt: skip
        assert f[0] <= f[1] + 1e-7, ours.index[j]
    # trend, prior, MAP and final dispersions
    np.testing.assert_allclose(fit.trend.coefficients, dds.uns["trend_coeffs"], rtol=1e-4)
    np.testing.assert_allclose(fit.prior.variance, dds.uns["prior_disp_var"], rtol=1e-4)
    np.testing.assert_allclose(ours["fitted_dispersions"], theirs["fitted_dispersions"], rtol=1e-4)
    kept = (~ours["refitted"] & theirs["_MAP_converged"].astype(bool)).to_numpy()
    assert relative(ours["MAP_dispersions"][kept], theirs["MAP_dispersions"][kept]).max() < 1e-3
    assert relative(ours["dispersions"], theirs["dispersions"]).max() < 1e-3


def test_log_fold_changes_and_cooks_outliers_match_pydeseq2(fit, reference):
    dds = reference["dds"]
    np.testing.assert_allclose(fit.lfc.to_numpy(), dds.varm["LFC"].to_numpy(), atol=1e-4)
    for ours, theirs in (("replaced", "replaced"), ("refitted", "refitted"),
                         ("cooks_outlier", "_pvalue_cooks_outlier")):  # fmt: skip
        assert (fit.var[ours].to_numpy() == dds.var[theirs].to_numpy(bool)).all(), ours
    assert fit.var["refitted"].sum() >= 5  # the planted outliers in cells of 10 and 12
    assert fit.var["cooks_outlier"].sum() >= 1  # and those in cells of 4


def test_wald_results_and_filtering_match_pydeseq2(fit, reference):
    stats, theirs = reference["stats"], reference["results"]
    res = fit.results(stats.contrast_vector)
    ours = res.table
    np.testing.assert_allclose(ours["baseMean"], theirs["baseMean"], rtol=1e-12)
    np.testing.assert_allclose(ours["log2FoldChange"], theirs["log2FoldChange"], atol=1e-4)
    np.testing.assert_allclose(ours["stat"], theirs["stat"], atol=2e-3)
    assert (ours["pvalue"].isna() == theirs["pvalue"].isna()).all()
    assert (ours["padj"].isna() == theirs["padj"].isna()).all()  # same filtering threshold
    np.testing.assert_allclose(ours["pvalue"], theirs["pvalue"], rtol=2e-3, atol=1e-12)
    np.testing.assert_allclose(ours["padj"], theirs["padj"], rtol=2e-3, atol=1e-12)
    assert set(ours.index[ours["padj"] < 0.05]) == set(theirs.index[theirs["padj"] < 0.05])


def test_one_fit_serves_a_contrast_between_two_non_reference_levels(fit, reference):
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    stats = DeseqStats(reference["dds"], contrast=["condition", "other", "ALS"],
                       inference=DefaultInference(n_cpus=1), quiet=True)  # fmt: skip
    stats.summary()
    ours = fit.results(fit.contrast_vector("condition", "other", "ALS")).table
    theirs = stats.results_df
    np.testing.assert_allclose(ours["log2FoldChange"], theirs["log2FoldChange"], atol=1e-4)
    np.testing.assert_allclose(ours["stat"], theirs["stat"], atol=2e-3)
    assert (ours["padj"].isna() == theirs["padj"].isna()).all()


def test_shrunken_log_fold_changes_match_pydeseq2(fit, reference):
    shrunk = fit.lfc_shrink(ALS)
    ours = shrunk.lfc / np.log(2)
    assert np.abs(ours - reference["shrunk"]).max() < 2e-3
    assert np.corrcoef(ours, reference["shrunk"])[0, 1] > 0.99999
    # shrinkage pulls towards 0
    mle = fit.results(fit.contrast_vector("condition", "ALS", "control")).table["log2FoldChange"]
    assert np.median(np.abs(ours)) < 0.8 * np.median(np.abs(mle))


def test_shrinkage_of_a_non_reference_contrast_reruns_only_the_fit_under_a_releveled_design(
    data, fit
):
    """other vs ALS: the fit's dispersions and a design with ALS as reference give pydeseq2's
    shrinkage of a dataset fitted from scratch with that reference."""
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    counts, coldata = data
    releveled = coldata.copy()
    releveled["condition"] = releveled["condition"].cat.reorder_categories(
        ["ALS", "control", "other"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(counts=counts, metadata=releveled, design=DESIGN,
                           inference=DefaultInference(n_cpus=1), quiet=True)  # fmt: skip
        dds.deseq2()
        stats = DeseqStats(dds, contrast=["condition", "other", "ALS"],
                           inference=DefaultInference(n_cpus=1), quiet=True)  # fmt: skip
        stats.summary()
        stats.lfc_shrink(coeff="condition[T.other]")
    shrunk = fit.lfc_shrink("condition[T.other]", design=design_matrix(releveled, DESIGN))
    ours = shrunk.lfc / np.log(2)
    theirs = stats.results_df["log2FoldChange"].to_numpy()
    assert np.abs(ours - theirs).max() < 5e-3
    assert np.corrcoef(ours, theirs)[0, 1] > 0.9999


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
    np.testing.assert_allclose(ours["log2FoldChange"][big], theirs["log2FoldChange"][big],
                               atol=1e-3)  # fmt: skip
    ok = ours["pvalue"].notna().to_numpy()
    rho = spearmanr(-np.log10(ours["pvalue"][ok]), -np.log10(theirs["pvalue"][ok])).correlation
    assert rho > 0.999
    ours_sig = set(ours.index[ours["padj"] < 0.05])
    theirs_sig = set(theirs.index[theirs["padj"] < 0.05])
    assert len(ours_sig & theirs_sig) / len(ours_sig | theirs_sig) > 0.95


def test_wald_tests_agree_with_r_deseq2_fixture(fit):
    for name, contrast in (("ALS_vs_control", ("condition", "ALS", "control")),
                           ("other_vs_control", ("condition", "other", "control"))):  # fmt: skip
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
        outputs.append((
            fit.var,
            fit.results(fit.contrast_vector("condition", "ALS", "control")).table,
            fit.lrt(reduced, coefficient=ALS).table,
            fit.lfc_shrink(ALS).lfc,
        ))  # fmt: skip
    for other in outputs[1:]:
        for a, b in zip(outputs[0], other, strict=True):
            if isinstance(a, pd.DataFrame):
                pd.testing.assert_frame_equal(a, b, check_exact=True)
            else:
                np.testing.assert_array_equal(a, b)


def test_design_with_one_row_per_coefficient_uses_the_linear_start_as_pydeseq2(data):
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference

    counts, coldata = data
    counts = counts.iloc[:, :150]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(counts=counts, metadata=coldata, design="~ condition",
                           inference=DefaultInference(n_cpus=1), quiet=True)  # fmt: skip
        dds.deseq2()
    fit = fit_deseq2(counts, dds.obsm["design_matrix"])
    assert fit.design.one_row_per_coefficient
    assert relative(fit.var["dispersions"], dds.var["dispersions"]).max() < 1e-3
    np.testing.assert_allclose(fit.lfc.to_numpy(), dds.varm["LFC"].to_numpy(), atol=1e-4)


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
    no_refit = fit_deseq2(counts, design_matrix(coldata, DESIGN),
                          options=DESeq2Options(refit_cooks=False))  # fmt: skip
    assert not no_refit.var["refitted"].any()
    assert (
        no_refit.var["cooks_outlier"].sum()
        >= fit_deseq2(counts, design_matrix(coldata, DESIGN)).var["cooks_outlier"].sum()
    )
    design = Design.from_frame(design_matrix(coldata, DESIGN))
    assert design.replicated(7).sum() == 36  # other's cells of 4 are not replaceable
