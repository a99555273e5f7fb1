"""Agreement of alsig.voom with R on one reference folder (scripts/build_voom_fixtures.py).

Shared by the fixture tests (committed folder, no R needed) and the live-R test (a fresh folder
with another seed). Each check returns the numbers it asserts on, so failures say how far off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alsig.voom import (
    duplicate_correlation,
    ebayes,
    fit_gls,
    fit_mixed,
    fit_repeated,
    median_ratio_size_factors,
    moderated_t,
    satterthwaite,
    voom,
)


class Reference:
    """The inputs and R outputs of one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        design = self.read("design")
        self.columns = [str(c) for c in design.columns]
        self.X = design.to_numpy(dtype=float)
        counts = self.read("counts")
        self.genes = counts.index.astype(str)
        self.counts = counts.to_numpy(dtype=float).T  # samples x genes
        self.subjects = self.read("samples")["subject"].to_numpy()
        self.lib_size = self.read("lib_size")["lib_size"].to_numpy(dtype=float)
        spec = self.read("spec")["value"]
        self.coef = str(spec["coef"])
        self.ftest = str(spec["ftest"]).split(",")
        self.E = self.read("voom_E").to_numpy(dtype=float)
        self.W = self.read("voom_weights").to_numpy(dtype=float)

    def read(self, name: str) -> pd.DataFrame:
        path = self.folder / f"{name}.tsv.gz"
        if not path.exists():
            path = self.folder / f"{name}.tsv"
        return pd.read_csv(path, sep="\t", index_col=0)

    def vector(self, name: str | None = None) -> np.ndarray:
        c = np.zeros(len(self.columns))
        c[self.columns.index(name or self.coef)] = 1.0
        return c

    def f_matrix(self) -> np.ndarray:
        return np.vstack([self.vector(name) for name in self.ftest])


def check_size_factors(ref: Reference) -> float:
    """Median-of-ratios factors equal DESeq2's up to DESeq2's lack of normalisation."""
    r = ref.read("size_factors")["size_factor"].to_numpy()
    ours = median_ratio_size_factors(ref.counts)
    r = r / np.exp(np.mean(np.log(r)))
    diff = float(np.max(np.abs(ours - r)))
    assert diff < 1e-10, diff
    return diff


def check_voom(ref: Reference) -> tuple[float, float]:
    """log-CPM and weights equal limma's voom."""
    data = voom(ref.counts, ref.X, lib_size=ref.lib_size)
    e_diff = float(np.max(np.abs(data.values - ref.E)))
    w_rel = float(np.max(np.abs(data.weights / ref.W - 1.0)))
    assert e_diff < 1e-10, e_diff
    assert w_rel < 1e-6, w_rel
    return e_diff, w_rel


def check_lm_ebayes(ref: Reference) -> dict[str, float]:
    """lmFit + eBayes on limma's own voom output: coefficients, prior, t, p, F."""
    r = ref.read("lm_ebayes")
    prior_r = ref.read("lm_prior")["value"]
    fit = fit_gls(ref.E, ref.X, weights=ref.W)
    est, unscaled = fit.contrast(ref.vector())
    tests = moderated_t(est, unscaled, fit.sigma2, fit.df_residual)
    out = {
        "coefficient": float(np.max(np.abs(est - r["coefficient"].to_numpy()))),
        "stdev_unscaled": float(np.max(np.abs(unscaled - r["stdev_unscaled"].to_numpy()))),
        "sigma": float(np.max(np.abs(np.sqrt(fit.sigma2) - r["sigma"].to_numpy()))),
        "s2_prior": abs(tests.prior.s2 - prior_r["s2_prior"]),
        "df_prior": abs(tests.prior.df - prior_r["df_prior"]),
        "t": float(np.max(np.abs(tests.t - r["t"].to_numpy()))),
        "p": float(np.max(np.abs(tests.pvalue - r["pvalue"].to_numpy()))),
        "df_total": float(np.max(np.abs(tests.df - r["df_total"].to_numpy()))),
    }
    for key, value in out.items():
        assert value < 1e-8, (key, value)
    # limma's F uses one design-level correlation of the coefficients: exact without weights
    f0 = fit_gls(ref.E, ref.X)
    prior0 = ebayes.fit_prior(f0.sigma2, f0.df_residual)
    post0 = ebayes.posterior_variance(f0.sigma2, f0.df_residual, prior0)
    df0 = ebayes.total_df(f0.df_residual, prior0)
    f_ours = ebayes.moderated_f(f0.coefficients, f0.cov_unscaled, ref.f_matrix(), post0, df0)
    r0 = ref.read("lm_unweighted_ftest")
    out["F_unweighted_rel"] = float(np.max(np.abs(f_ours["F"] / r0["F"].to_numpy() - 1.0)))
    assert out["F_unweighted_rel"] < 1e-8, out["F_unweighted_rel"]
    # with weights alsig uses each gene's own covariance: close, not equal
    post = tests.posterior_s2
    f_w = ebayes.moderated_f(fit.coefficients, fit.cov_unscaled, ref.f_matrix(), post, tests.df)
    rw = ref.read("lm_ftest")
    out["F_weighted_r"] = float(np.corrcoef(f_w["F"], rw["F"].to_numpy())[0, 1])
    assert out["F_weighted_r"] > 0.995, out["F_weighted_r"]
    return out


def check_dupcor(ref: Reference) -> dict[str, float]:
    """Gene-wise correlations, consensus, GLS with R's consensus, and the whole pipeline."""
    genes = ref.read("dupcor_genes")
    summary = ref.read("dupcor_summary")["value"]
    dc = duplicate_correlation(ref.E, ref.X, ref.subjects, weights=ref.W)
    ours, theirs = dc.atanh, genes["atanh_1"].to_numpy()
    out = {
        "atanh_r": float(np.corrcoef(ours, theirs)[0, 1]),
        # limma iterates and stops after 20 steps (correlations near 1 stop short by ~0.002) and
        # from 0 may stay in an interior minimum where a second one lies near the lower bound
        "share_rho_within_0.005": float(np.mean(np.abs(np.tanh(ours) - np.tanh(theirs)) < 0.005)),
        "consensus_1": abs(dc.consensus - summary["consensus_1"]),
    }
    assert out["atanh_r"] > 0.99, out
    assert out["share_rho_within_0.005"] > 0.95, out
    assert out["consensus_1"] < 0.005, out
    # voom with a block correlation (R's first consensus): limma's voom(block=, correlation=)
    w2 = ref.read("dupcor_weights").to_numpy(dtype=float)
    second = voom(
        ref.counts,
        ref.X,
        lib_size=ref.lib_size,
        model="gls",
        subjects=ref.subjects,
        correlation=float(summary["consensus_1"]),
    )
    out["voom_block_weights_rel"] = float(np.max(np.abs(second.weights / w2 - 1.0)))
    assert out["voom_block_weights_rel"] < 1e-6, out["voom_block_weights_rel"]
    # GLS at R's consensus and R's second-round weights: limma's lmFit(block, correlation)
    r = ref.read("dupcor_ebayes")
    fit = fit_gls(
        ref.E, ref.X, weights=w2, subjects=ref.subjects, correlation=float(summary["consensus_2"])
    )
    est, unscaled = fit.contrast(ref.vector())
    tests = moderated_t(est, unscaled, fit.sigma2, fit.df_residual)
    out["gls_coefficient"] = float(np.max(np.abs(est - r["coefficient"].to_numpy())))
    out["gls_t"] = float(np.max(np.abs(tests.t - r["t"].to_numpy())))
    out["gls_sigma"] = float(np.max(np.abs(np.sqrt(fit.sigma2) - r["sigma"].to_numpy())))
    out["gls_df_prior"] = abs(tests.prior.df - summary["df_prior"])
    for key in ("gls_coefficient", "gls_t", "gls_sigma"):
        assert out[key] < 1e-6, (key, out[key])
    assert out["gls_df_prior"] < 1e-4 * max(1.0, summary["df_prior"]), out["gls_df_prior"]
    # the whole dupcor path (voom, dupcor, voom, dupcor, GLS, eBayes) from counts
    counts = pd.DataFrame(ref.counts, columns=ref.genes)
    result = fit_repeated(
        counts,
        pd.DataFrame(ref.X, columns=ref.columns),
        ref.subjects,
        contrast=ref.coef,
        method="dupcor",
        lib_size=ref.lib_size,
    )
    mine = result.table.loc[ref.genes]
    out["pipeline_t_r"] = float(np.corrcoef(mine["stat"].to_numpy(), r["t"].to_numpy())[0, 1])
    out["pipeline_coef_r"] = float(
        np.corrcoef(mine["log2_fold_change"].to_numpy(), r["coefficient"].to_numpy())[0, 1]
    )
    out["pipeline_consensus"] = abs(
        result.summary["consensus_correlation"] - summary["consensus_2"]
    )
    assert out["pipeline_t_r"] >= 0.9999, out
    assert out["pipeline_coef_r"] >= 0.9999, out
    assert out["pipeline_consensus"] < 0.005, out
    return out


def check_mixed(ref: Reference) -> dict[str, float]:
    """Per-gene REML mixed model vs lme4 + lmerTest on the same values and weights."""
    r = ref.read("lmer")
    fit = fit_mixed(ref.E, ref.X, ref.subjects, weights=ref.W)
    c = ref.vector()
    est, unscaled = fit.contrast(c)
    se = unscaled * np.sqrt(fit.sigma2)
    df = satterthwaite.contrast_df(fit, c, boundary="lmertest")
    assert fit.ratio is not None  # fit_mixed always sets the donor variance ratio
    zero = fit.ratio == 0
    # lme4 may stop at a variance of ~1e-6 where the optimum is on the boundary
    r_singular = r["singular"].to_numpy(bool)
    r_zero = r_singular | (r["var_subject"].to_numpy() < 1e-4)
    interior = ~zero & ~r_zero
    f_stat, f_df2 = satterthwaite.f_test_df(fit, ref.f_matrix(), boundary="lmertest")
    out = {
        "estimate": float(np.max(np.abs(est - r["estimate"].to_numpy()))),
        "se_rel": float(np.max(np.abs(se / r["se"].to_numpy() - 1.0))),
        "t_r": float(np.corrcoef(est / se, r["t"].to_numpy())[0, 1]),
        "var_subject": float(np.max(np.abs(fit.ratio * fit.sigma2 - r["var_subject"]))),
        "var_residual_rel": float(np.max(np.abs(fit.sigma2 / r["var_residual"] - 1.0))),
        "boundary_genes": int(zero.sum()),
        "boundary_mismatch": int(np.sum(zero != r_zero)),
        # lme4 stopping at a donor variance of ~1e-6 instead of 0 moves lmerTest's df off n - p
        "df_any_gene": float(np.max(np.abs(df - r["df"].to_numpy()))),
        "df_interior": float(np.max(np.abs(df - r["df"].to_numpy())[interior])),
        # where both sit on the boundary lmerTest's df is n - p (ours with boundary="lmertest")
        "df_boundary": float(np.max(np.abs(df - r["df"].to_numpy())[zero & r_singular])),
        "F_rel": float(np.max(np.abs(f_stat / r["F"].to_numpy() - 1.0))),
        "F_df2_interior": float(np.max(np.abs(f_df2 - r["F_df2"].to_numpy())[interior])),
    }
    assert out["estimate"] < 1e-4, out
    assert out["se_rel"] < 1e-3, out
    assert out["t_r"] > 0.99999, out
    assert out["var_residual_rel"] < 1e-3, out
    assert out["boundary_mismatch"] == 0, out
    assert out["df_interior"] < 1e-2, out
    assert out["df_boundary"] < 1e-6, out
    assert out["F_rel"] < 1e-3, out
    assert out["F_df2_interior"] < 1e-2, out
    return out
