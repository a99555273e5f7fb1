"""The gene-batched DESeq2 engine (:mod:`alsig.deseq2`) held to a live pydeseq2 0.5.4 fit step by
step (size factors, gene-wise / trend / MAP dispersions, LFC, Cook's flags, Wald test, filtering,
shrinkage) on the committed fixture cohort of ``tests/unit/test_deseq2_engine.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from alsig.deseq2 import dispersion as dispersion_kernels
from alsig.deseq2 import fit_deseq2
from alsig.stages.de.design import design_matrix
from tests.unit.test_deseq2_engine import ALS, DESIGN, fixture_data, r_table, relative

# one xdist worker runs this module, so its module-scoped fixture is built once
pytestmark = pytest.mark.xdist_group("deseq2_vs_pydeseq2")


def pydeseq2_fit(counts, metadata, design: str = DESIGN):
    """pydeseq2's fit of ``counts`` (one CPU; its warnings silenced)."""
    pytest.importorskip("pydeseq2")
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(
            counts=counts,
            metadata=metadata,
            design=design,
            inference=DefaultInference(n_cpus=1),
            quiet=True,
        )
        dds.deseq2()
    return dds


def pydeseq2_wald(dds, contrast: list[str]):
    """pydeseq2's Wald test of ``contrast`` on a fit, summarised (one CPU; warnings silenced)."""
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = DeseqStats(dds, contrast=contrast, inference=DefaultInference(n_cpus=1), quiet=True)
        stats.summary()
    return stats


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
    counts, coldata = data
    dds = pydeseq2_fit(counts, coldata)
    stats = pydeseq2_wald(dds, ["condition", "ALS", "control"])
    results = stats.results_df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats.lfc_shrink(coeff=ALS)
    return {
        "dds": dds,
        "stats": stats,
        "results": results,
        "shrunk": stats.results_df["log2FoldChange"].to_numpy(),
    }


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
        f = [
            dispersion_kernels.objective(
                np.log(a), y, mu, design.rows, design.group, True, 0.0, 1.0, False
            )
            for a in (ours["genewise_dispersions"].iloc[j], theirs["genewise_dispersions"].iloc[j])
        ]
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
    for ours, theirs in (
        ("replaced", "replaced"),
        ("refitted", "refitted"),
        ("cooks_outlier", "_pvalue_cooks_outlier"),
    ):
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
    stats = pydeseq2_wald(reference["dds"], ["condition", "other", "ALS"])
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
    counts, coldata = data
    releveled = coldata.copy()
    releveled["condition"] = releveled["condition"].cat.reorder_categories(
        ["ALS", "control", "other"]
    )
    stats = pydeseq2_wald(pydeseq2_fit(counts, releveled), ["condition", "other", "ALS"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats.lfc_shrink(coeff="condition[T.other]")
    shrunk = fit.lfc_shrink("condition[T.other]", design=design_matrix(releveled, DESIGN))
    ours = shrunk.lfc / np.log(2)
    theirs = stats.results_df["log2FoldChange"].to_numpy()
    assert np.abs(ours - theirs).max() < 5e-3
    assert np.corrcoef(ours, theirs)[0, 1] > 0.9999


def test_design_with_one_row_per_coefficient_uses_the_linear_start_as_pydeseq2(data):
    counts, coldata = data
    counts = counts.iloc[:, :150]
    dds = pydeseq2_fit(counts, coldata, design="~ condition")
    fit = fit_deseq2(counts, dds.obsm["design_matrix"])
    assert fit.design.one_row_per_coefficient
    assert relative(fit.var["dispersions"], dds.var["dispersions"]).max() < 1e-3
    np.testing.assert_allclose(fit.lfc.to_numpy(), dds.varm["LFC"].to_numpy(), atol=1e-4)
