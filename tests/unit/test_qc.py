"""QC: metrics, filterByExpr, VST, outlier and sex-check flags on small simulated cohorts."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse as sp

from alsig.counts import dense_counts
from alsig.deseq import shutdown_workers
from alsig.errors import AlsigError
from alsig.settings import Contrast, complete
from alsig.stages.de import run_de
from alsig.stages.qc import run_qc
from alsig.stages.qc.figures import plot_library_sizes
from alsig.stages.qc.gene_filter import filter_by_expr
from alsig.stages.qc.normalise import size_factors, vst
from alsig.stages.qc.outliers import knn_distance, pca_genes
from alsig.stages.qc.replicates import collapse_replicates
from alsig.stages.qc.sex import infer_sex
from alsig.toy import toy_cohort

#: filterByExpr with edgeR's defaults (the qc: schema's too)
EDGER = {"min_count": 10, "min_total_count": 15, "large_n": 10, "min_prop": 0.7}


def simulate(n_samples: int = 24, n_genes: int = 400, seed: int = 1) -> ad.AnnData:
    """The QC tests' toy cohort: one sample per donor, half of them ALS, sex genes that follow
    the reported sex and two mitochondrial genes; samples named S00, S01, ..."""
    adata = toy_cohort(
        (n_samples // 2, n_samples - n_samples // 2),
        n_genes=n_genes,
        seed=seed,
        sex_genes=True,
        gene_names=["MT-CO1", "MT-ND1"],
    )
    adata.obs_names = [f"S{i:02d}" for i in range(adata.n_obs)]
    return adata


def test_filter_by_expr_matches_edger_rule():
    # 4 samples, two groups of 2, library size 1e6 each: CPM cutoff = 10 / 1 = 10 CPM (10 counts)
    counts = np.array(
        [
            [10, 9, 100, 0],
            [10, 9, 100, 0],
            [0, 20, 0, 14],
            [0, 20, 0, 1],
        ]
    )
    counts = np.hstack([counts, 1_000_000 - counts.sum(axis=1, keepdims=True)])
    keep = filter_by_expr(counts, ["a", "a", "b", "b"], **EDGER)
    # gene0: 2 samples >= 10 counts -> kept; gene1: 20 counts in 2 -> kept; gene2 kept;
    # gene3: only 1 sample above the cutoff (smallest group has 2) -> dropped
    assert keep.tolist() == [True, True, True, False, True]
    # min_total_count: a gene with enough CPM but total < 15 is dropped
    assert not filter_by_expr(
        counts, None, min_count=1, min_total_count=10**9, large_n=10, min_prop=0.7
    )[0]


def test_large_groups_use_min_prop():
    # smallest group 20 -> h = 10 + (20 - 10) * 0.7 = 17 samples must reach 10 CPM
    counts = np.zeros((40, 2), dtype=int)
    counts[:17, 0] = 100
    counts[:, 1] = 1_000_000 - counts[:, 0]  # every library is 1e6 counts
    groups = ["a"] * 20 + ["b"] * 20
    assert filter_by_expr(counts, groups, **EDGER).tolist() == [True, True]
    counts[16, 0] = 0
    assert filter_by_expr(counts, groups, **EDGER).tolist() == [False, True]


def test_size_factors_ratio_and_poscounts():
    base = np.array([[10, 20, 30, 40], [20, 40, 60, 80]])
    sf, method = size_factors(base)
    assert method == "ratio"
    assert sf[1] / sf[0] == pytest.approx(2.0)
    with_zeros = np.array([[0, 20, 30], [20, 0, 60], [10, 10, 0]])
    _, method = size_factors(with_zeros)
    assert method == "poscounts"
    with pytest.raises(AlsigError, match="no counts at all"):
        size_factors(np.array([[0, 0], [1, 2]]))


def test_vst_matches_pydeseq2_when_fitted_on_all_genes():
    adata = simulate(n_samples=12, n_genes=200)
    counts = dense_counts(adata)
    sf, _ = size_factors(counts)
    ours, info = vst(counts, sf, n_genes=0, n_cpus=1)
    assert info["vst_fit_type"] == "parametric"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pydeseq2.dds import DeseqDataSet
        from pydeseq2.default_inference import DefaultInference

        dds = DeseqDataSet(
            counts=pd.DataFrame(counts, index=adata.obs_names, columns=adata.var_names),
            metadata=adata.obs[["condition"]],
            design="~ condition",
            inference=DefaultInference(n_cpus=1),
            quiet=True,
        )
        dds.vst(use_design=False)
    shutdown_workers()
    np.testing.assert_allclose(ours, dds.layers["vst_counts"], rtol=1e-6, atol=1e-6)
    # variance stabilised: no strong mean-variance trend among expressed genes
    assert ours.shape == counts.shape and np.isfinite(ours).all()


def test_planted_outlier_and_sex_swap_are_flagged():
    adata = simulate()
    x = adata.X.copy()
    x[3] = x[3] // 25  # library collapse
    mt = adata.var_names.get_loc("MT-CO1")
    x[10, mt] = x[10].sum() // 3  # a quarter of the reads mitochondrial
    adata.X = x
    # swap: sample S04 is reported female but is male (and vice versa for S05)
    adata.obs.loc["S04", "sex"], adata.obs.loc["S05", "sex"] = "male", "female"
    out, table, summary = run_qc(adata, complete("qc"), n_cpus=1)
    table = table.set_index("sample")
    assert "low_library_size" in table.loc["S03", "qc_reasons"]
    assert bool(table.loc["S03", "qc_outlier"])
    assert table.loc[["S04", "S05"], "sex_mismatch"].tolist() == [True, True]
    assert table.loc["S10", "pct_mito"] > 20 and "high_pct_mito" in table.loc["S10", "qc_reasons"]
    # below qc.mito_min_pct a high-but-tiny mito share is not flagged
    low = table.drop(index="S10")
    assert not (low["outlier_high_pct_mito"] & (low["pct_mito"] <= 1.0)).any()
    assert table.loc["S04", "sex_inferred"] == "female"
    assert "sex_mismatch(reported male, inferred female)" in table.loc["S04", "qc_reasons"]
    assert int(table["sex_mismatch"].sum()) == 2
    # flagged, not excluded by default
    assert out.n_obs == adata.n_obs and table["qc_kept"].all()
    assert summary["n_samples_flagged"] >= 3
    # contract of the filtered AnnData
    assert out.n_vars == adata.n_vars
    assert out.layers["vst"].dtype == np.float32 and out.layers["normalized"].dtype == np.float32
    assert out.var["expressed"].dtype == bool
    assert np.issubdtype(out.X.dtype, np.integer)
    np.testing.assert_allclose(
        out.layers["normalized"][0], out.X[0] / out.obs["size_factor"].iloc[0], rtol=1e-5
    )


def test_pca_outlier_flagged_and_excluded_on_request():
    adata = simulate(seed=3)
    x = adata.X.astype(float)
    rng = np.random.default_rng(0)
    x[7, :200] = x[7, :200] * rng.lognormal(0, 2.0, 200)  # scrambled profile, same depth
    adata.X = np.round(x).astype(np.int32)
    out, table, summary = run_qc(adata, complete("qc", {"exclude_outliers": True}), n_cpus=1)
    table = table.set_index("sample")
    assert "pca_distance" in table.loc["S07", "qc_reasons"]
    assert not table.loc["S07", "qc_kept"]
    assert "S07" not in out.obs_names
    assert summary["n_samples_excluded"] == int((~table["qc_kept"]).sum())
    # re-normalised on the kept samples: size factors have geometric mean ~1 over them
    assert out.n_obs == summary["n_samples_kept"]


def test_collapse_replicates_sums_counts():
    adata = simulate(n_samples=6, n_genes=50)
    adata.obs["subject"] = ["A", "A", "B", "C", "C", "C"]
    adata.obs["replicate"] = ["1", "2", "1", "1", "2", "3"]
    # one subject, one condition and sex (libraries that disagree are a sheet error)
    adata.obs["condition"] = ["ALS", "ALS", "control", "control", "control", "control"]
    adata.obs["sex"] = ["female", "female", "male", "male", "male", "male"]
    adata.X = sp.csr_matrix(adata.X)
    out = collapse_replicates(adata, "subject")
    dense = adata.X.toarray()
    assert out.obs_names.tolist() == ["A", "B", "C"]
    np.testing.assert_array_equal(out.X[0], dense[0] + dense[1])
    np.testing.assert_array_equal(out.X[2], dense[3:].sum(axis=0))
    assert out.obs.loc["C", "n_collapsed"] == 3
    assert out.obs.loc["C", "replicate"] == "1;2;3"
    assert out.obs.loc["A", "collapsed_samples"] == "S00;S01"
    with pytest.raises(AlsigError, match="qc.collapse_by: 'donor' is not a sample column"):
        collapse_replicates(adata, "donor")


def test_settings_defaults_and_unknown_keys():
    s = complete("qc", {"outlier_nmads": 4})
    assert s.outlier_nmads == 4 and s.exclude_outliers is False
    with pytest.raises(AlsigError, match=r"config key qc: unknown key\(s\) \['nmad'\]"):
        complete("qc", {"nmad": 3})


def test_qc_does_not_leak_warning_filters():
    adata = simulate(n_samples=8, n_genes=60)
    run_qc(adata, complete("qc"), n_cpus=1)  # imports what QC imports (scipy adds a filter)
    shutdown_workers()
    before = list(warnings.filters)
    run_qc(adata, complete("qc"), n_cpus=1)
    shutdown_workers()
    assert not any(f[0] == "ignore" and f[2] is FutureWarning for f in warnings.filters)
    assert len(warnings.filters) == len(before)


def test_minority_cluster_is_not_an_outlier():
    # 6 of 24 samples form a batch with a strong shared shift: a cluster, not 6 outliers
    adata = simulate(seed=5)
    rng = np.random.default_rng(5)
    x = adata.X.copy()
    mu = x[6:, :150].mean(axis=0) * 6.0  # redraw with a 6-fold mean (not scaled noise)
    size = 1.0 / (0.05 + 1.0 / np.maximum(mu, 1e-3))
    x[:6, :150] = rng.negative_binomial(size, size / (size + mu), size=(6, 150))
    adata.X = x
    _, table, _ = run_qc(adata, complete("qc"), n_cpus=1)
    assert not table["outlier_pca"].any()
    scores = np.zeros((10, 2))
    scores[:, 0] = np.arange(10) * 0.1
    scores[9] = [50.0, 50.0]  # one isolated sample
    dist = knn_distance(scores, 2)
    assert np.argmax(dist) == 9 and dist[9] > 10 * np.median(dist)


#: The control that is reported female but expresses the Y genes (a sample swap).
SWAPPED = "S17"


def swapped_cohort(seed: int = 3) -> ad.AnnData:
    """19 samples (12 ALS, 7 controls), ~ sex + condition; control S17 is male but reported
    female."""
    adata = toy_cohort((12, 7), n_genes=308, seed=seed, sex_genes=True, mean_log=(4.5, 1.2))
    adata.obs_names = [f"S{i:02d}" for i in range(adata.n_obs)]
    assert adata.obs.loc[SWAPPED, "sex"] == "male"
    adata.obs.loc[SWAPPED, "sex"] = "female"
    return adata


@pytest.mark.parametrize(
    ("mode", "n_fitted", "y_genes_found"),
    [("keep", 19, True), ("exclude", 18, False), ("use_inferred", 19, False)],
)
def test_a_planted_sex_swap_no_longer_makes_sex_linked_de_genes(mode, n_fitted, y_genes_found):
    out, table, summary = run_qc(swapped_cohort(), complete("qc", {"sex_mismatch": mode}), n_cpus=1)
    assert summary["sex_check"]["n_mismatch"] == 1
    row = table.set_index("sample").loc[SWAPPED]
    assert (
        row["sex_decision"]
        == {"keep": "kept", "exclude": "excluded", "use_inferred": "sex_replaced"}[mode]
    )
    assert out.n_obs == 19  # still in the QC'd data: scored and flagged
    assert (out.obs.loc[SWAPPED, "qc_exclusion"] != "") == (mode == "exclude")
    assert out.obs.loc[SWAPPED, "sex"] == ("male" if mode == "use_inferred" else "female")
    result, de_summary = run_de(
        out,
        Contrast("ALS_vs_control", "condition", "ALS", "control"),
        complete("de", {"design": "~ sex + condition"}),
        n_cpus=1,
    )
    assert de_summary["n_samples"] == n_fitted
    assert de_summary["n_samples_excluded_qc"] == (1 if mode == "exclude" else 0)
    significant = set(result.filter(pl.col("padj") < 0.05)["symbol"])
    y_genes = set(out.var_names[out.var["chromosome"] == "Y"])
    assert bool(significant & y_genes) == y_genes_found


def test_qc_pca_leaves_out_sex_chromosome_genes_by_default():
    adata = swapped_cohort()
    adata.var["expressed"] = True
    genes = pca_genes(adata, complete("qc").pca_exclude_sex_chromosomes)
    assert not genes[adata.var["chromosome"].isin(["X", "Y"]).to_numpy()].any()
    assert pca_genes(adata, exclude_sex_chromosomes=False).all()


def test_ambiguous_inferred_sex_is_never_a_mismatch():
    logcpm = pd.DataFrame({"XIST": [8.0, 1.0, 4.0], "DDX3Y": [0.5, 7.0, 4.3]}, index=list("abc"))
    frame, _ = infer_sex(logcpm)
    assert frame["sex_inferred"].tolist() == ["female", "male", "ambiguous"]


def test_library_size_figure_has_whole_number_count_ticks():
    table = pd.DataFrame(
        {
            "total_counts": [1_200_000, 2_500_000, 3_100_000, 4_800_000],
            "n_genes_detected": [15_003, 15_980, 16_412, 17_250],
            "condition": ["ALS", "control", "ALS", "control"],
            "qc_reasons": ["", "", "low_library_size", ""],
        },
        index=["S1", "S2", "S3", "S4"],
    )
    fig = plot_library_sizes(table)
    fig.canvas.draw()
    library, genes = fig.axes[:2]
    for ax in (library, genes):
        assert all(float(t).is_integer() for t in ax.get_xticks())
    assert all(float(t).is_integer() for t in genes.get_yticks())
    labels = [t.get_text() for t in library.get_yticklabels() + genes.get_yticklabels()]
    # plain labels: no scientific notation and no axis offset text
    assert labels and not any("e" in lab.lower() for lab in labels)
    assert library.yaxis.get_offset_text().get_text() == ""
    assert genes.yaxis.get_offset_text().get_text() == ""


def test_pca_distance_uses_every_pc_asked_for_beyond_ten(caplog):
    """qc.pca_components above 10 was cut to 10 PCs without a word."""
    adata = simulate(n_samples=24, seed=3)
    _, table12, _ = run_qc(adata.copy(), complete("qc", {"pca_components": 12}), n_cpus=1)
    _, table10, _ = run_qc(adata.copy(), complete("qc", {"pca_components": 10}), n_cpus=1)
    assert not np.allclose(table12["pca_distance"], table10["pca_distance"])
    with caplog.at_level("WARNING"):
        run_qc(adata.copy(), complete("qc", {"pca_components": 40}), n_cpus=1)
    assert "qc.pca_components is 40, but 24 samples x the PCA genes give 24 components" in (
        caplog.text
    )


def test_no_expressed_gene_stops_qc_naming_the_filter_keys():
    adata = simulate(n_samples=8, n_genes=50)
    with pytest.raises(AlsigError) as error:
        run_qc(adata, complete("qc", {"min_count": 1e9}), n_cpus=1)
    assert str(error.value) == (
        "no gene passes the expression filter in 8 samples (qc.min_count = 1e+09, "
        "qc.min_total_count = 15); DE and enrichment would have nothing to test: lower them "
        "(defaults 10 and 15)."
    )
