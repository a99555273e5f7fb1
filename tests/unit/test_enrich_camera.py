"""camera (alsig.gsea.camera, Wu & Smyth 2012) and the enrich stage's camera columns.

Rscript is not installed here, so limma's camera is not run: the reference numbers are derived by
hand (a case small enough for closed forms, the t with 2 df has ``P(T > t) = (1 - t / sqrt(2 +
t^2)) / 2``) and by brute force from the definitions (residual correlation from least-squares
residuals, the textbook pooled two-sample t), independently of the QR route of the module.
"""

from __future__ import annotations

import math

import anndata as ad
import numpy as np
import polars as pl
import pytest
from scipy.stats import t as student

from alsig.distributions import benjamini_hochberg
from alsig.errors import AlsigError
from alsig.gsea.camera import (
    Residuals,
    camera_test,
    inter_gene_correlation,
    standardised_residuals,
)
from alsig.settings import Contrast, complete
from alsig.stages.de import run_de
from alsig.stages.enrich.camera import camera_table
from alsig.stages.enrich.contrast import enrich_contrast
from alsig.stages.enrich.ranking import prepare_ranking
from alsig.stages.enrich.residuals import contrast_residuals
from alsig.tables.enrichment import SIGNIFICANCE, with_significance
from alsig.toy import toy_cohort

ALS_VS_CONTROL = Contrast("ALS_vs_control", "condition", "ALS", "control")


def test_hand_derived_case():
    """5 genes with stats 3, 1, 0, -1, -3; the set = the first two, whose residuals (intercept
    design, 3 samples) have correlation 1/2.

    delta = 2 - (-4/3) = 10/3; pooled variance = (2 + 14/3) / 3 = 20/9; VIF = 1 + 1 x 1/2;
    t^2 = (100/9) / (20/9 x (1.5/2 + 1/3)) = 60/13; df = min(3 - 1, 5 - 2) = 2; two-sided
    p = 1 - t / sqrt(2 + t^2) = 1 - sqrt(30/43).
    """
    genes = ["A", "B", "C", "D", "E"]
    expression = np.array(
        [[1.0, -1.0, 0.0], [1.0, 0.0, -1.0], [0.0, 1.0, -1.0], [2.0, 0.0, 1.0], [1.0, 1.0, 3.0]]
    )
    residuals = standardised_residuals(expression + 5.0, np.ones((3, 1)), genes)
    assert residuals.df_residual == 2
    vif, correlation = inter_gene_correlation(residuals.values[:2])
    assert vif == pytest.approx(1.5) and correlation == pytest.approx(0.5)
    (record,) = camera_test(
        np.array([3.0, 1.0, 0.0, -1.0, -3.0]), genes, {"S": ["A", "B"]}, residuals
    )
    assert record.t == pytest.approx(math.sqrt(60 / 13))
    assert record.pvalue == pytest.approx(1 - math.sqrt(30 / 43), rel=1e-12)
    assert record.direction == "Up" and record.n_genes == 2
    # the same set, its genes uncorrelated (VIF 1), statistics negated: t^2 = (100/9) / (20/9 x
    # 5/6) = 6, p = 1 - sqrt(6 / 8)
    uncorrelated = Residuals(genes, np.array([[1.0, 1.0], [1.0, -1.0]] + [[1.0, 1.0]] * 3), 2)
    (down,) = camera_test(
        -np.array([3.0, 1.0, 0.0, -1.0, -3.0]), genes, {"S": ["A", "B"]}, uncorrelated
    )
    assert down.correlation == pytest.approx(0.0) and down.t == pytest.approx(-math.sqrt(6))
    assert down.pvalue == pytest.approx(1 - math.sqrt(3) / 2, rel=1e-12)
    assert down.direction == "Down"


def test_correlation_and_t_match_their_definitions():
    """VIF and correlation = the mean off-diagonal (uncentred) correlation of least-squares
    residuals; the t = the pooled two-sample t of the set vs the other genes, its set variance
    times the VIF; df = min(n - p, G - 2)."""
    rng = np.random.default_rng(3)
    n, genes_n = 14, 60
    group = np.repeat([0.0, 1.0], 7)
    covariate = rng.normal(size=n)
    design = np.column_stack([np.ones(n), covariate, group])
    shared = rng.normal(size=n)  # a factor the first 12 genes share: correlated residuals
    expression = rng.normal(size=(genes_n, n))
    expression[:12] += 1.5 * shared
    names = [f"G{i}" for i in range(genes_n)]
    residuals = standardised_residuals(expression, design, names)
    assert residuals.df_residual == n - 3

    fitted = design @ np.linalg.lstsq(design, expression.T, rcond=None)[0]
    raw = expression.T - fitted  # samples x genes
    unit = raw / np.sqrt((raw**2).sum(axis=0))
    members = list(range(12))
    corr = unit[:, members].T @ unit[:, members]
    expected_rho = corr[np.triu_indices(12, 1)].mean()
    vif, rho = inter_gene_correlation(residuals.values[members])
    assert rho == pytest.approx(expected_rho, rel=1e-10) and rho > 0.3
    assert vif == pytest.approx(1 + 11 * expected_rho, rel=1e-10)

    stat = rng.normal(size=genes_n)
    stat[:12] += 0.8
    (record,) = camera_test(stat, names, {"S": names[:12]}, residuals)
    inside, outside = stat[:12], stat[12:]
    pooled = (((inside - inside.mean()) ** 2).sum() + ((outside - outside.mean()) ** 2).sum()) / (
        genes_n - 2
    )
    t = (inside.mean() - outside.mean()) / math.sqrt(pooled * (vif / 12 + 1 / (genes_n - 12)))
    assert record.t == pytest.approx(t, rel=1e-10)
    assert record.pvalue == pytest.approx(2 * student.sf(abs(t), df=n - 3), rel=1e-10)


def test_negative_correlation_does_not_shrink_the_variance_and_one_gene_has_none():
    genes = ["A", "B", "C", "D"]
    # A and B anti-correlated: correlation -1, VIF 0 -> taken as 1 (camera's allow.neg.cor = FALSE)
    residuals = Residuals(genes, np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [1.0, 1.0]]), 2)
    stat = np.array([2.0, 1.5, -1.0, 0.0])
    (negative,) = camera_test(stat, genes, {"S": ["A", "B"]}, residuals)
    independent = camera_test(stat, genes, {"S": ["A", "B"]}, Residuals(genes, np.eye(4)[:, :2], 2))
    assert negative.correlation == pytest.approx(-1.0)
    assert negative.t == pytest.approx(independent[0].t)
    (single,) = camera_test(stat, genes, {"S": ["A", "not ranked"]}, residuals)
    assert single.n_genes == 1 and math.isnan(single.correlation)
    assert camera_test(stat, genes, {"none": ["X"]}, residuals) == []


def test_design_without_residual_df_or_full_rank_is_refused():
    with pytest.raises(ValueError, match="no residual degree of freedom"):
        standardised_residuals(np.ones((3, 2)), np.eye(2), ["A", "B", "C"])
    design = np.column_stack([np.ones(4), np.ones(4)])
    with pytest.raises(ValueError, match="rank 1 < 2"):
        standardised_residuals(np.ones((3, 4)), design, ["A", "B", "C"])


# -- the stage -----------------------------------------------------------------------------------
def correlated_cohort(planted: float) -> tuple[ad.AnnData, dict[str, list[str]]]:
    """A toy cohort whose cell-type marker sets vary together across samples (cell mix), no
    condition effect but ``planted`` log2 on a set of 25 ordinary genes."""
    adata = toy_cohort(
        (10, 10),
        n_genes=600,
        seed=4,
        cell_types={"neuron": 30, "astrocyte": 30},
        cell_mix_sd=0.6,
        planted_log2fc={f"G{i:05d}": planted for i in range(300, 325)},
    )
    adata.var["expressed"] = True
    names = list(adata.var_names)
    sets = {
        "NEURON": [g for g in names if g.startswith("NEURON")] or names[:30],
        "ASTROCYTE": [g for g in names if g.startswith("ASTRO")] or names[30:60],
        "PLANTED": [f"G{i:05d}" for i in range(300, 325)],
        **{f"RANDOM_{k}": names[400 + 15 * k : 415 + 15 * k] for k in range(10)},
    }
    return adata, sets


def test_stage_columns_on_a_cohort_with_correlated_sets(tmp_path):
    adata, sets = correlated_cohort(planted=1.0)
    path = tmp_path / "filtered.h5ad"
    adata.write_h5ad(path)
    de_settings = complete(
        "de",
        {"design": "~ condition", "contrasts": {"ALS_vs_control": ["condition", "ALS", "control"]}},
    )
    contrast = de_settings.contrasts[0]
    de, _ = run_de(adata, contrast, de_settings, n_cpus=1)
    fit = contrast_residuals(str(path), de_settings, contrast.name)
    assert fit.n_samples == 20 and fit.design_columns == 2
    assert fit.residuals.df_residual == 18 and fit.n_genes == de.height
    settings = complete("enrich", {"permutations": 200, "min_size": 10})
    result = enrich_contrast(
        de, sets, collection="toy", settings=settings, threads=1, source="", residuals=fit.residuals
    )
    prerank = result.table.filter(pl.col("method") == "prerank").to_pandas().set_index("term")
    ora = result.table.filter(pl.col("method") == "ora")
    assert ora["camera_fdr"].is_null().all()  # ORA rows keep their own BH fdr
    # the marker sets share the cell mix: a correlation well above the random sets'
    random_rows = prerank.filter(like="RANDOM", axis=0)
    assert prerank.loc["NEURON", "inter_gene_correlation"] > 0.3
    assert random_rows["inter_gene_correlation"].abs().max() < 0.15
    # the planted set is found, up, by camera; camera_fdr is BH of camera_pvalue
    assert prerank.loc["PLANTED", "camera_fdr"] < 0.01
    assert prerank.loc["PLANTED", "camera_direction"] == "up"
    expected = benjamini_hochberg(prerank["camera_pvalue"].to_numpy())
    assert prerank["camera_fdr"].to_numpy() == pytest.approx(expected)
    assert result.table["term"][0] == "PLANTED"  # prerank rows by camera p first
    # the report and dot plot call prerank rows by camera_fdr, ORA rows by their fdr
    called = with_significance(result.table)
    assert called.filter(pl.col("method") == "prerank")[SIGNIFICANCE].to_list() == (
        result.table.filter(pl.col("method") == "prerank")["camera_fdr"].to_list()
    )


def test_ranked_genes_missing_from_the_expression_are_refused():
    de = pl.DataFrame(
        {
            "symbol": [f"G{i}" for i in range(30)],
            "stat": np.linspace(-2, 2, 30),
            "log2_fold_change": np.linspace(-1, 1, 30),
            "padj": 0.5,
        }
    )
    ranking, _ = prepare_ranking(de)
    residuals = Residuals([f"G{i}" for i in range(20)], np.ones((20, 3)), 3)
    with pytest.raises(AlsigError, match=r"camera \(c\): 10 ranked genes .* same run"):
        camera_table(ranking, {"S": ["G1", "G2"]}, residuals, collection="c")
