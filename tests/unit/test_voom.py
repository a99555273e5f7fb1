"""alsig.voom on planted truth: nulls keep their error rate, planted effects are found, the
donor-correlated genes are the ones simulated so, and bad input gets a clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from alsig.distributions import benjamini_hochberg
from alsig.errors import AlsigError
from alsig.stages.de.design import design_matrix
from alsig.toy import toy_cohort
from alsig.voom import (
    effective_library_sizes,
    fit_prior,
    fit_repeated,
    planned_mde,
    repeated_model,
    subjects_with_conflicts,
    trigamma_inverse,
)
from tests.conftest import uses_voom_kernels

pytestmark = uses_voom_kernels

DESIGN = "~ sex + region + condition"
REGIONS = ("frontal", "motor", "spinal")


def cohort(
    seed: int,
    *,
    n_genes: int = 1500,
    de_fraction: float = 0.0,
    de_log2fc: float = 0.5,
    donor_sd: float = 0.5,
    regions=REGIONS,
):
    """12 donors x 3 regions, donor SD drawn per gene; counts (DataFrame), design, subjects."""
    adata = toy_cohort(
        n_donors=(6, 6),
        regions=regions,
        n_genes=n_genes,
        seed=seed,
        donor_sd=donor_sd,
        donor_sd_spread=1.0,
        region_log2fc=0.3,
        de_fraction=de_fraction,
        de_log2fc=de_log2fc,
    )
    counts = np.asarray(adata.X)
    keep = (counts >= 10).sum(axis=0) >= 6
    adata = adata[:, keep].copy()
    meta = adata.obs[["sex", "region", "condition"]].copy()
    meta["condition"] = pd.Categorical(meta["condition"], categories=["control", "ALS"])
    design = design_matrix(meta, DESIGN if len(regions) > 1 else "~ sex + condition")
    frame = pd.DataFrame(np.asarray(adata.X), index=adata.obs_names, columns=adata.var_names)
    return frame, design, adata.obs["subject"].to_numpy(), adata.var


def test_trigamma_inverse_inverts_trigamma():
    y = np.array([1e-3, 0.1, 0.7, 3.0, 50.0, 1e4])
    assert np.allclose(trigamma_inverse(special.polygamma(1, y)), y, rtol=1e-6)


def test_fit_prior_recovers_planted_hyperparameters():
    rng = np.random.default_rng(3)
    d0, s0, d = 6.0, 0.4, 5.0
    sigma2 = d0 * s0 / rng.chisquare(d0, 20000)
    s2 = sigma2 * rng.chisquare(d, 20000) / d
    prior = fit_prior(s2, d)
    assert prior.df == pytest.approx(d0, rel=0.1)
    assert prior.s2 == pytest.approx(s0, rel=0.05)
    # no spread beyond sampling: one shared variance
    assert fit_prior(0.4 * rng.chisquare(d, 20000) / d, d).df > 200


def test_benjamini_hochberg_keeps_nan_and_matches_definition():
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.5])
    q = benjamini_hochberg(p)
    assert np.isnan(q[1])
    assert np.allclose(q[[0, 2, 3, 4]], [0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_effective_library_sizes_follow_size_factors_with_column_sum_scale():
    counts = np.array([[10, 20, 30, 40], [20, 40, 60, 80], [5, 10, 15, 400]], dtype=float)
    lib = effective_library_sizes(counts)
    totals = counts.sum(axis=1)
    assert np.exp(np.mean(np.log(lib))) == pytest.approx(np.exp(np.mean(np.log(totals))))
    # sample 3's one huge gene inflates its column sum but not its median-of-ratios factor
    assert lib[1] / lib[0] == pytest.approx(2.0)
    assert lib[2] / lib[0] == pytest.approx(0.5)
    with pytest.raises(AlsigError, match="no counts"):
        effective_library_sizes(np.zeros((2, 3)))


def test_repeated_model_auto_and_explicit_choices():
    assert repeated_model("auto", ["a", "a", "b"])[0] == "dream"
    assert repeated_model("auto", ["a", "b", "c"])[0] == "ignore"
    assert repeated_model("dupcor", ["a", "a", "b"])[0] == "dupcor"
    assert repeated_model("ignore", ["a", "a"])[0] == "ignore"
    method, reason = repeated_model("dream", ["a", "b"])
    assert method == "ignore" and "one fitted sample" in reason
    with pytest.raises(AlsigError, match="de.repeated_subjects"):
        repeated_model("mixed", ["a"])


def test_subjects_with_conflicts_names_the_subject():
    conflicts = subjects_with_conflicts(["s1", "s1", "s2", "s2"], ["ALS", "control", "ALS", "ALS"])
    assert conflicts == {"s1": ["ALS", "control"]}


def test_fit_repeated_rejects_bad_input_clearly():
    counts, design, subjects, _ = cohort(1, n_genes=200)
    with pytest.raises(AlsigError, match="not a design column"):
        fit_repeated(counts, design, subjects, contrast="condition[T.other]")
    with pytest.raises(AlsigError, match="same samples"):
        fit_repeated(counts.iloc[:-1], design, subjects, contrast="condition[T.ALS]")
    with pytest.raises(AlsigError, match="every subject has one"):
        fit_repeated(counts, design, np.arange(len(subjects)), contrast="condition[T.ALS]")
    with pytest.raises(AlsigError, match="F-test coefficients"):
        fit_repeated(
            counts,
            design,
            subjects,
            contrast="condition[T.ALS]",
            f_coefficients=["region[T.occipital]"],
        )


def test_planned_mde_shrinks_with_donors_not_with_samples_alone():
    base = planned_mde(6, 6, samples_per_subject=1, subject_sd=0.5, residual_sd=0.5)
    more_samples = planned_mde(6, 6, samples_per_subject=100, subject_sd=0.5, residual_sd=0.5)
    more_donors = planned_mde(24, 24, samples_per_subject=1, subject_sd=0.5, residual_sd=0.5)
    # 100 samples per donor cannot remove the donor variance: at most a factor sqrt(2)
    assert more_samples > base / np.sqrt(2) * 0.99
    assert more_donors < base / 1.9


@pytest.mark.parametrize("seed", [101, 102, 103])
def test_dream_keeps_the_error_rate_on_a_donor_null_where_naive_voom_does_not(seed):
    counts, design, subjects, _ = cohort(seed)
    dream = fit_repeated(counts, design, subjects, contrast="condition[T.ALS]", consensus=False)
    naive = fit_repeated(counts, design, subjects, contrast="condition[T.ALS]", method="lm")
    share = (dream.table["pvalue"] < 0.05).mean()
    assert 0.02 <= share <= 0.075, share
    assert (dream.table["padj"] < 0.05).mean() <= 0.01
    # samples counted as independent: the donor effect looks like a condition effect
    assert (naive.table["pvalue"] < 0.05).mean() > 0.10
    assert (naive.table["padj"] < 0.05).mean() > 0.01


def test_dream_finds_planted_effects_and_reports_power():
    counts, design, subjects, var = cohort(7, de_fraction=0.1, de_log2fc=1.0, donor_sd=0.3)
    result = fit_repeated(
        counts, design, subjects, contrast="condition[T.ALS]", groups=design["condition[T.ALS]"]
    )
    table = result.table.join(var[["is_de", "true_log2fc"]])
    called = table[table["padj"] < 0.05]
    assert len(called) >= 0.3 * table["is_de"].sum()
    assert (~called["is_de"]).mean() <= 0.1  # observed false discovery proportion
    truth = table.loc[table["is_de"]]
    assert np.corrcoef(truth["log2_fold_change"], truth["true_log2fc"])[0, 1] > 0.8
    summary = result.summary
    assert summary["model"] == "voom_dream"
    assert summary["n_subjects"] == 12 and summary["n_subjects_repeated"] == 12
    assert summary["samples_per_subject"] == "3: 12"
    assert 0.1 < summary["mde_median"] < 3.0
    assert 0.0 < summary["consensus_correlation"] < 1.0


def test_gene_wise_icc_ranks_the_simulated_donor_correlation():
    counts, design, subjects, var = cohort(11, donor_sd=0.6)
    result = fit_repeated(counts, design, subjects, contrast="condition[T.ALS]", consensus=False)
    table = result.table.join(var[["donor_sd"]])
    rho = stats.spearmanr(table["icc"], table["donor_sd"]).statistic
    assert rho > 0.7, rho
    top = result.summary["top_icc_genes"].split("; ")[0].split(" ")[0]
    assert var.loc[top, "donor_sd"] > np.quantile(var["donor_sd"], 0.9)


def test_within_subject_factor_gets_more_df_and_an_f_test():
    counts, design, subjects, _ = cohort(5, n_genes=600)
    between = fit_repeated(
        counts,
        design,
        subjects,
        contrast="condition[T.ALS]",
        f_coefficients=["region[T.motor]", "region[T.spinal]"],
    )
    within = fit_repeated(counts, design, subjects, contrast="region[T.motor]", consensus=False)
    # region varies within donors: its test rests on the samples, condition's on the donors
    assert within.table["df"].median() > 2 * between.table["df"].median()
    f_table = between.f_table
    assert f_table is not None and f_table["df1"].eq(2).all()
    # region_log2fc = 0.3 is planted on every gene: many are found
    assert (f_table["padj"] < 0.05).mean() > 0.2


def test_dupcor_path_runs_and_reports_its_consensus():
    counts, design, subjects, _ = cohort(3, n_genes=600)
    result = fit_repeated(counts, design, subjects, contrast="condition[T.ALS]", method="dupcor")
    assert result.model == "voom_dupcor"
    assert 0.05 < result.summary["consensus_correlation"] < 0.95
    assert result.table["df"].nunique() == 1  # limma: n - p + d0 for every gene


def test_boundary_genes_get_the_median_interior_df_or_lmertest_n_minus_p():
    from pathlib import Path

    from alsig.voom import fit_mixed
    from alsig.voom.satterthwaite import contrast_df
    from tests.unit.voom_reference import Reference

    ref = Reference(Path(__file__).resolve().parents[1] / "data" / "voom")
    fit = fit_mixed(ref.E, ref.X, ref.subjects, weights=ref.W)
    zero = fit.ratio == 0
    assert 0 < zero.sum() < len(zero)
    lmertest = contrast_df(fit, ref.vector(), boundary="lmertest")
    median = contrast_df(fit, ref.vector())
    n, p = ref.X.shape
    assert np.allclose(lmertest[zero], n - p)
    assert np.allclose(median[zero], np.median(lmertest[~zero]))
    assert np.array_equal(median[~zero], lmertest[~zero])
    # a between-donor contrast: far fewer df than samples wherever the donor variance is free
    assert np.median(lmertest[~zero]) < (len(set(ref.subjects)) - 2)
    with pytest.raises(AlsigError, match="boundary rule"):
        contrast_df(fit, ref.vector(), boundary="kenward")


def test_trend_weights_equal_numpy_interpolation_bit_for_bit():
    """voom's weights come from a compiled, parallel interpolation: numpy's numbers exactly."""
    from alsig.voom.trend import _weights

    rng = np.random.default_rng(0)
    xs = np.unique(rng.uniform(-2, 12, 3000))
    ys = np.abs(np.sin(xs)) + 0.05
    ys[5] = 0.0  # below the floor
    fitted = rng.uniform(-25, 15, (300, 200))  # beyond both ends of the curve too
    fitted[0, :2] = [np.nan, xs[0]]
    lib = rng.uniform(1e6, 4e7, 200)
    shifted = fitted + np.log2(lib + 1.0)[None, :] - np.log2(1e6)
    floor = 1e-3 * float(np.median(ys))
    expected = 1.0 / np.maximum(np.interp(shifted, xs, ys), floor) ** 4
    assert np.array_equal(_weights(fitted, lib, (xs, ys)), expected, equal_nan=True)


def test_the_mixed_model_runs_blas_on_one_thread_whatever_its_own_threads():
    """A multi-threaded BLAS sums in another order for another thread count and REML carries
    that digit to ~1e-6: on GSE124439 the per-subtype DE differed between 1 and 2 job threads
    until BLAS was held to one thread inside the fit (then byte-identical)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from alsig.voom.repeated import _threads

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):
        for threads in (1, 2):
            with _threads(threads):
                assert blas_threads() == {1}


def test_between_within_df_counts_donors_for_a_between_donor_column_only():
    from alsig.voom.satterthwaite import between_within_df

    subjects = np.repeat([f"d{i}" for i in range(6)], 2)
    design = np.column_stack(
        [
            np.ones(12),
            np.tile([0.0, 1.0], 6),  # region: varies within every donor
            np.repeat([0.0, 1.0, 0.0, 1.0, 0.0, 1.0], 2),  # condition: constant per donor
        ]
    )
    assert between_within_df(design, subjects, 2) == 4.0  # 6 donors - intercept - condition
    assert between_within_df(design, subjects, 1) == 9.0  # 12 samples - 3 coefficients
