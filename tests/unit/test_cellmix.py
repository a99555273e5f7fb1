"""Cell mix: the shipped markers, the four index methods on a planted cell mix, sample
stability, recomputing without a signature's genes, the covariate rule, and the adjusted effect
with its share removed (planted composition-driven vs cell-intrinsic differences)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy.stats import rankdata

from alsig import resources
from alsig.cellmix import (
    CELL_TYPES,
    METHODS,
    CellIndexer,
    adjustment_covariates,
    cell_indices,
    control_z,
    dataset_indexer,
    effect_with_and_without,
    expression_frame,
    indices_from_table,
    load_markers,
    log_cpm,
    marker_lists,
    pooled_pair,
    read_cell_indices,
    share_removed,
    signature_indices,
)
from alsig.cellmix.dataset import reference_samples
from alsig.errors import AlsigError
from alsig.toy import toy_cohort
from tests.conftest import REPO, SHARED_DATA, needs_shared, uses_voom_kernels
from tests.helpers import bretigea_cohort

pytestmark = uses_voom_kernels

TYPES = {"neurons": 60, "microglia": 60, "astrocytes": 60}


def mixed_cohort(seed=0, n_donors=(30, 30), regions=("cortex",), shift=None, **kwargs):
    """A toy cohort with three cell types whose abundance varies (SD 0.4) and, by default,
    neurons lost and microglia expanded in ALS."""
    shift = {"neurons": -0.8, "microglia": 0.6} if shift is None else shift
    return toy_cohort(
        n_donors=n_donors,
        regions=regions,
        n_genes=1500,
        seed=seed,
        cell_types=TYPES,
        cell_mix_sd=0.4,
        cell_mix_condition_shift=shift,
        mean_log=(5.0, 1.0),
        **kwargs,
    )


def toy_markers(adata, n=30):
    """The first ``n`` planted markers of each type (the rest stay free for signatures)."""
    return marker_lists({t: list(adata.var_names[adata.var["marker_of"] == t][:n]) for t in TYPES})


# -- shipped markers ---------------------------------------------------------------------------
def test_shipped_markers_are_ranked_harmonised_bretigea_lists():
    markers = load_markers()
    assert tuple(markers.cell_types) == CELL_TYPES
    assert {len(markers.ranked[t]) for t in CELL_TYPES if t != "opcs"} >= {998, 999, 1000}
    assert len(markers.ranked["opcs"]) == 500
    # BRETIGEA's first astrocyte marker GPR98 under its current symbol; AQP4 second
    assert markers.ranked["astrocytes"][:2] == ("ADGRV1", "AQP4")
    assert (
        "TREM2" in markers.ranked["microglia"][:50] and "GFAP" in markers.ranked["astrocytes"][:50]
    )
    assert resources.cell_markers().name == "bretigea_human_brain.tsv.gz"
    assert "MIT License" in (resources.cell_markers().parent / "README.md").read_text()


@needs_shared
def test_shipped_markers_are_what_the_build_script_makes():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "build_cell_markers", REPO / "scripts/build_cell_markers.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built, _ = module.build(SHARED_DATA / "annotation/bretigea/markers_human_brain.tsv.gz")
    shipped = pl.read_csv(resources.cell_markers(), separator="\t", infer_schema=False)
    assert built.cast(pl.String).equals(shipped)


def test_marker_table_errors_name_the_file_and_column(tmp_path):
    path = tmp_path / "markers.tsv"
    path.write_text("cell_type\tgene\nneurons\tSNAP25\n")
    with pytest.raises(AlsigError, match=r"markers.tsv.*lacks column.*rank"):
        load_markers(path)
    path.write_text("cell_type\trank\tgene\nneurons\tfirst\tSNAP25\n")
    with pytest.raises(AlsigError, match=r"column 'rank': 'first' is not an integer"):
        load_markers(path)
    path.write_text("cell_type\trank\tgene\nneurons\t1\tSNAP25\n")
    with pytest.raises(AlsigError, match=r"no markers for cell type\(s\) \['microglia'\]"):
        load_markers(path, cell_types=["microglia"])


def test_selection_takes_the_first_present_markers_and_backfills_excluded_ones():
    markers = marker_lists({"neurons": ["A", "B", "C", "D", "E", "F"], "microglia": ["M1", "M2"]})
    selection = markers.select(["B", "C", "D", "E", "F", "M2"], n_markers=3, exclude=["C"])
    assert selection.genes["neurons"] == ["B", "D", "E"]  # A absent, C excluded -> E fills in
    assert selection.genes["microglia"] == ["M2"]
    row = selection.coverage.set_index("cell_type").loc["neurons"]
    assert (row.n_used, row.n_top_present, row.deepest_rank, row.n_excluded) == (3, 2, 5, 1)


# -- indices on a planted cell mix ---------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_indices_recover_the_planted_abundance(method):
    adata = mixed_cohort(seed=1)
    expression = log_cpm(adata.to_df())
    reference = (adata.obs["condition"] == "control").to_numpy()
    result = cell_indices(expression, toy_markers(adata), method=method, reference=reference)
    for cell_type in TYPES:
        truth = np.log(adata.obs[f"true_{cell_type}"])
        assert np.corrcoef(result.values[cell_type], truth)[0, 1] > 0.9, cell_type
    # the planted ALS shift (neurons down, microglia up) is in the indices
    als = (adata.obs["condition"] == "ALS").to_numpy()
    assert result.values.loc[als, "neurons"].mean() < result.values.loc[~als, "neurons"].mean()
    assert result.values.loc[als, "microglia"].mean() > result.values.loc[~als, "microglia"].mean()


def test_rank_index_of_a_sample_does_not_change_when_disease_samples_come_and_go():
    from alsig.stages.qc.normalise import normalise

    adata = mixed_cohort(seed=2, n_donors=(12, 12))  # small: the VST fit is the slow part
    markers = toy_markers(adata)
    als = np.flatnonzero((adata.obs["condition"] == "ALS").to_numpy())
    keep = np.ones(adata.n_obs, dtype=bool)
    keep[als[::2]] = False  # drop half of the disease samples
    full = normalise(adata.copy(), vst_n_genes=300, n_cpus=1)
    part = normalise(adata[keep].copy(), vst_n_genes=300, n_cpus=1)
    as_frame = lambda a: pd.DataFrame(a.layers["vst"], index=a.obs_names, columns=a.var_names)  # noqa: E731
    a = cell_indices(as_frame(full), markers).values
    b = cell_indices(as_frame(part), markers).values
    # the VST and size factors were refitted, yet within-sample ranks see none of it
    np.testing.assert_allclose(a.loc[b.index].to_numpy(), b.to_numpy(), rtol=0, atol=1e-12)
    # the cohort-relative comparator does change
    a_svd = cell_indices(as_frame(full), markers, method="svd").values
    b_svd = cell_indices(as_frame(part), markers, method="svd").values
    assert np.abs(a_svd.loc[b_svd.index] - b_svd).to_numpy().max() > 0.01


def test_z_indices_are_sample_stable_on_log_cpm_with_fixed_controls():
    adata = mixed_cohort(seed=3)
    expression = log_cpm(adata.to_df())
    controls = (adata.obs["condition"] == "control").to_numpy()
    subset = controls | (np.arange(adata.n_obs) % 3 == 0)
    for method in ("mean_z", "median_z"):
        a = cell_indices(expression, toy_markers(adata), method=method, reference=controls).values
        b = cell_indices(
            expression[subset], toy_markers(adata), method=method, reference=controls[subset]
        ).values
        np.testing.assert_allclose(a[subset].to_numpy(), b.to_numpy(), atol=1e-12)


def test_indices_recomputed_without_a_signatures_genes():
    adata = mixed_cohort(seed=4)
    expression = log_cpm(adata.to_df())
    markers = toy_markers(adata, n=40)
    signature = list(markers.ranked["neurons"][:10])  # a signature sharing 10 neuron markers
    full = cell_indices(expression, markers, n_markers=30)
    without = cell_indices(expression, markers, n_markers=30, exclude_genes=signature)
    used = without.selection.genes["neurons"]
    assert not set(used) & set(signature) and len(used) == 30
    assert used[-10:] == list(markers.ranked["neurons"][30:40])  # the next markers fill in
    assert without.selection.coverage.set_index("cell_type").loc["neurons", "n_excluded"] == 10
    assert not np.allclose(full.values["neurons"], without.values["neurons"])
    truth = np.log(adata.obs["true_neurons"])
    assert np.corrcoef(without.values["neurons"], truth)[0, 1] > 0.9
    # other cell types lose nothing but the genes removed from the rank universe
    assert np.corrcoef(full.values["microglia"], without.values["microglia"])[0, 1] > 0.999
    # exactly the singscore of the used markers in the matrix without those genes
    reduced = expression.drop(columns=signature)
    ranks = rankdata(reduced.to_numpy(), method="min", axis=1)
    k, n = len(used), reduced.shape[1]
    mean_rank = ranks[:, [reduced.columns.get_loc(g) for g in used]].mean(axis=1)
    expected = (mean_rank - (k + 1) / 2) / (n - k) - 0.5
    np.testing.assert_allclose(without.values["neurons"], expected, rtol=0, atol=1e-12)
    # one indexer, many gene sets: the same numbers
    indexer = CellIndexer(expression, markers, n_markers=30)
    pd.testing.assert_frame_equal(indexer.indices(signature).values, without.values)
    pd.testing.assert_frame_equal(indexer.indices().values, full.values)


def test_index_errors_say_what_to_do():
    adata = mixed_cohort(seed=5, n_donors=(6, 2))
    expression = log_cpm(adata.to_df())
    controls = (adata.obs["condition"] == "control").to_numpy()
    with pytest.raises(AlsigError, match="needs at least 3 reference.*2 given.*'rank'"):
        cell_indices(expression, toy_markers(adata), method="mean_z", reference=controls)
    with pytest.raises(AlsigError, match="unknown cell index method 'pca'"):
        cell_indices(expression, toy_markers(adata), method="pca")
    broken = expression.copy()
    broken.iloc[0, 3] = np.nan
    with pytest.raises(AlsigError, match="missing or infinite values"):
        cell_indices(broken, toy_markers(adata))


def test_table_is_wide_with_the_requested_sample_columns():
    adata = mixed_cohort(seed=6, n_donors=(4, 4))
    result = cell_indices(log_cpm(adata.to_df()), toy_markers(adata))
    table = result.table(adata.obs, columns=["condition", "region"])
    assert table.columns == ["sample", "method", "condition", "region", *TYPES]
    assert table["method"].unique().to_list() == ["rank"]
    assert table.height == adata.n_obs


# -- the workflow's one definition: QC's table, per-signature indices, control z ---------------
def test_qc_writes_schema_valid_cell_indices_and_marker_coverage(tmp_path):
    import jsonschema
    import yaml

    from alsig.stages.qc.job import _cell_indices

    adata = bretigea_cohort(
        n_donors=(8, 6), regions=("frontal", "motor"), cell_mix_condition_shift={"neurons": -1.0}
    )
    opc_list = [g for g in load_markers().ranked["opcs"] if g in adata.var_names]
    adata.var.loc[opc_list[3:], "expressed"] = False  # 3 OPC markers left: too few for an index
    outputs = {
        "cell_indices": tmp_path / "cell_indices.parquet",
        "cell_indices_tsv": tmp_path / "cell_indices.tsv",
        "cell_markers": tmp_path / "cell_markers.tsv",
        "cell_indices_figure": tmp_path / "cell_indices.png",
    }
    _cell_indices(adata, "toy", outputs)
    table = pl.read_parquet(outputs["cell_indices"])
    assert table.columns == [
        "dataset",
        "sample",
        "method",
        "condition",
        "subject",
        "region",
        *CELL_TYPES,
    ]
    assert table.height == 28 and set(table["method"]) == {"rank"}
    assert table["opcs"].null_count() == 28  # 3 expressed OPC markers (< 5): no index
    for name, file in (("cell_indices", "parquet"), ("cell_markers", "tsv")):
        schema = yaml.safe_load((REPO / f"workflow/schemas/{name}.schema.yaml").read_text())
        rows = (
            table if file == "parquet" else pl.read_csv(outputs[name], separator="\t")
        ).iter_rows(named=True)
        validator = jsonschema.Draft202012Validator(schema)
        for row in rows:
            assert not list(validator.iter_errors(row)), row
    markers = pl.read_csv(outputs["cell_markers"], separator="\t")
    opcs = markers.filter(pl.col("cell_type") == "opcs").row(0, named=True)
    assert opcs["n_used"] == 3 and not opcs["adjusted_for"]
    assert markers.filter(pl.col("adjusted_for"))["cell_type"].to_list() == [
        "astrocytes",
        "microglia",
        "neurons",
        "oligodendrocytes",
    ]
    # the index is the planted abundance, read back the way the subtype stage reads it
    values = read_cell_indices(outputs["cell_indices"])
    truth = np.log(adata.obs["true_neurons"].to_numpy())
    assert np.corrcoef(values["neurons"].to_numpy(), truth)[0, 1] > 0.95
    assert outputs["cell_indices_figure"].stat().st_size > 20_000
    tsv = pl.read_csv(outputs["cell_indices_tsv"], separator="\t")
    np.testing.assert_allclose(tsv["neurons"].to_numpy(), table["neurons"].to_numpy(), rtol=1e-6)


def test_signature_indices_are_the_indices_without_each_signatures_genes():
    adata = bretigea_cohort(n_donors=(6, 6))
    indexer = dataset_indexer(adata)
    neurons = list(adata.var_names[adata.var["marker_of"] == "neurons"])
    sets = {"shares": neurons[:8] + ["G00001"], "other": ["G00002", "NOT_MEASURED"], "te": []}
    result = signature_indices(indexer, sets)
    expression = expression_frame(adata, "vst")
    for name, genes in sets.items():
        expected = cell_indices(expression, exclude_genes=genes).values
        pd.testing.assert_frame_equal(result.of(name), expected)
    assert result.markers_excluded == {"shares": 8, "other": 0, "te": 0}
    pd.testing.assert_frame_equal(result.of("unknown"), result.base.values)
    table = result.table("toy")
    assert table.height == 3 * adata.n_obs and table["markers_excluded"].max() == 8
    back = indices_from_table(table)
    pd.testing.assert_frame_equal(
        back["shares"], result.of("shares"), check_names=False, check_freq=False
    )


def test_reference_methods_use_the_kept_controls_and_control_z_is_per_stratum(tmp_path):
    adata = bretigea_cohort(n_donors=(6, 6), regions=("frontal", "motor"))
    adata.obs["qc_exclusion"] = ""
    adata.obs.loc[adata.obs_names[-1], "qc_exclusion"] = "sex_mismatch"
    expected = (adata.obs["condition"] == "control").to_numpy()
    expected[-1] = False
    np.testing.assert_array_equal(reference_samples(adata.obs), expected)
    assert dataset_indexer(adata, method="mean_z").is_reference.sum() == 11
    values = dataset_indexer(adata).indices().values
    z = control_z(values, expected, adata.obs["region"])
    for region in ("frontal", "motor"):
        rows = ((adata.obs["region"] == region).to_numpy()) & expected
        np.testing.assert_allclose(z[rows].mean(), 0, atol=1e-12)
        np.testing.assert_allclose(z[rows].std(ddof=1), 1)
    assert control_z(values, expected, None, min_controls=12).isna().all().all()
    bad = pl.DataFrame({"sample": ["a"], "neurons": [0.1]})
    bad.write_parquet(path := tmp_path / "cell_indices.parquet")
    with pytest.raises(AlsigError, match="not an alsig cell_indices table"):
        read_cell_indices(path)


# -- the covariate rule ----------------------------------------------------------------------
def _indices(rng, n, loadings, noise=0.1):
    latent = rng.normal(size=(n, np.shape(loadings)[0]))
    values = latent @ np.asarray(loadings) + rng.normal(0, noise, (n, np.shape(loadings)[1]))
    return pd.DataFrame(
        values,
        index=[f"s{i}" for i in range(n)],
        columns=[f"type{j}" for j in range(np.shape(loadings)[1])],
    )


def test_few_indices_are_used_as_they_are():
    rng = np.random.default_rng(0)
    indices = _indices(rng, 40, np.eye(2))
    choice = adjustment_covariates(indices)
    assert choice.estimable and list(choice.covariates.columns) == [
        "cellmix_type0",
        "cellmix_type1",
    ]
    assert choice.max_allowed == 3
    np.testing.assert_allclose(choice.covariates.std(ddof=1), 1.0)


def test_principal_components_until_80_percent():
    rng = np.random.default_rng(1)
    one_factor = _indices(rng, 50, np.ones((1, 6)))  # one shared factor: PC1 ~ 99 %
    choice = adjustment_covariates(one_factor)
    assert choice.estimable and list(choice.covariates.columns) == ["cellmix_pc1"]
    assert (
        choice.variance_explained[0] > 0.8 and "first 1 principal component" in choice.description
    )
    two_factors = _indices(rng, 50, [[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]])
    choice = adjustment_covariates(two_factors)
    assert list(choice.covariates.columns) == ["cellmix_pc1", "cellmix_pc2"]
    assert np.cumsum(choice.variance_explained)[1] >= 0.8 > choice.variance_explained[0]


def test_donors_cap_the_covariates_and_count_donors_not_samples():
    rng = np.random.default_rng(2)
    two_factors = _indices(rng, 60, [[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]])
    donors = pd.Series([f"d{i // 4}" for i in range(60)], index=two_factors.index)  # 15 donors
    choice = adjustment_covariates(two_factors, donors)
    assert not choice.estimable and choice.max_allowed == 1
    assert (
        "2 principal components are needed" in choice.reason
        and "15 donors allow at most 1" in choice.reason
    )
    few = adjustment_covariates(two_factors.iloc[:36], donors.iloc[:36])  # 9 donors
    assert not few.estimable and "9 donors allow no covariate" in few.reason
    independent = _indices(rng, 200, np.eye(6))  # 6 unrelated indices: 5 PCs for 80 %
    choice = adjustment_covariates(independent)
    assert not choice.estimable and choice.max_allowed == 3
    assert "80%" in choice.reason


def test_covariate_rule_rejects_missing_index_values():
    indices = _indices(np.random.default_rng(3), 30, np.eye(2))
    indices.iloc[4, 1] = np.nan
    with pytest.raises(AlsigError, match=r"missing values.*\['type1'\]"):
        adjustment_covariates(indices)


# -- effects with and without adjustment -------------------------------------------------------
def _signature_score(adata, genes):
    expression = log_cpm(adata.to_df())
    return expression[genes].mean(axis=1)


def _design(obs):
    return pd.DataFrame(
        {"Intercept": 1.0, "condition[T.ALS]": (obs["condition"] == "ALS").astype(float)},
        index=obs.index,
    )


def test_adjustment_removes_a_composition_difference_and_keeps_a_cell_intrinsic_one():
    adata = mixed_cohort(seed=7, n_donors=(40, 40), de_fraction=0.05, de_log2fc=0.8)
    expression = log_cpm(adata.to_df())
    indices = cell_indices(expression, toy_markers(adata, n=30)).values
    choice = adjustment_covariates(indices, adata.obs["subject"])
    assert choice.estimable and choice.covariates.shape[1] == 3  # 80 donors: the 3 indices
    design = _design(adata.obs)
    # composition-driven: neuron genes that are not among the index markers
    neuron_genes = list(adata.var_names[adata.var["marker_of"] == "neurons"][30:])
    composition = effect_with_and_without(
        _signature_score(adata, neuron_genes), design, choice.covariates, "condition[T.ALS]"
    )
    # cell-intrinsic: genes with a planted ALS effect in every cell, unrelated to the mix
    up = list(adata.var_names[adata.var["true_log2fc"] > 0])
    intrinsic = effect_with_and_without(
        _signature_score(adata, up), design, choice.covariates, "condition[T.ALS]"
    )
    assert composition.model == intrinsic.model == "ols"
    # composition: a clear unadjusted drop, almost all of it removed
    assert composition.estimate + 1.96 * composition.se < 0
    assert abs(composition.estimate_adjusted) < 0.1 * abs(composition.estimate)
    assert composition.share.share_low > 0.8 and composition.share.share_high > 0.95
    # cell-intrinsic: kept (CI excludes 0), and the share removed is compatible with none
    assert intrinsic.estimate_adjusted - 1.96 * intrinsic.se_adjusted > 0
    assert intrinsic.share.share_low < 0 < intrinsic.share.share_high
    assert abs(intrinsic.share.share) < 0.2


def test_mixed_model_pair_matches_the_axis_tests_fit():
    from alsig.stages.axes.effects import Design, fit_score

    adata = mixed_cohort(
        seed=8, n_donors=(25, 25), regions=("frontal", "motor"), donor_sd=0.3, de_fraction=0.05
    )
    expression = log_cpm(adata.to_df())
    indices = cell_indices(expression, toy_markers(adata)).values
    choice = adjustment_covariates(indices, adata.obs["subject"])
    design = _design(adata.obs).assign(
        **{"region[T.motor]": (adata.obs["region"] == "motor").astype(float)}
    )
    y = _signature_score(adata, list(adata.var_names[adata.var["true_log2fc"] > 0]))
    pair = effect_with_and_without(
        y, design, choice.covariates, "condition[T.ALS]", adata.obs["subject"]
    )
    subjects = adata.obs["subject"].astype(str)
    groups = adata.obs["condition"].astype(str)
    plain = fit_score(y, Design(design, "condition[T.ALS]", subjects, groups, True))
    with_cov = pd.concat([design, choice.covariates], axis=1)
    adjusted = fit_score(y, Design(with_cov, "condition[T.ALS]", subjects, groups, True))
    assert pair.model == plain.model == "mixed_random_subject"
    # the GLS map at the REML variances reproduces statsmodels' estimates and SEs exactly
    assert pair.estimate == pytest.approx(plain.estimate, rel=1e-8)
    assert pair.estimate_adjusted == pytest.approx(adjusted.estimate, rel=1e-8)
    assert (pair.se, pair.se_adjusted) == pytest.approx((plain.se, adjusted.se), rel=1e-8)
    assert pair.sd == pytest.approx(plain.sd, rel=1e-8)
    assert pair.pvalue_adjusted == pytest.approx(adjusted.pvalue, rel=1e-6)
    # both refer the mixed model's coefficient to t on its Satterthwaite df: between the
    # donors' 50 - 2 and the samples' 100 minus the coefficients (the covariates vary within
    # donors)
    assert pair.df == pytest.approx(adjusted.df, rel=1e-9) and 48 < pair.df < 95
    # the difference is far more precise than either estimate: they share the samples
    assert pair.share.difference_se < 0.5 * min(pair.se, pair.se_adjusted)


def test_cluster_fallback_when_the_mixed_model_fails(monkeypatch):
    import statsmodels.api as sm

    from alsig.cellmix import adjustment

    adata = mixed_cohort(seed=10, n_donors=(20, 20), regions=("frontal", "motor"), donor_sd=0.3)
    expression = log_cpm(adata.to_df())
    covariates = adjustment_covariates(
        cell_indices(expression, toy_markers(adata)).values[["neurons"]], adata.obs["subject"]
    ).covariates
    y = _signature_score(adata, list(adata.var_names[adata.var["marker_of"] == "neurons"][30:]))
    monkeypatch.setattr(adjustment, "_mixed_fit", lambda *args: None)
    pair = effect_with_and_without(
        y, _design(adata.obs), covariates, "condition[T.ALS]", adata.obs["subject"]
    )
    assert pair.model == "ols_cluster_se" and "mixed model failed" in pair.note
    X = pd.concat([_design(adata.obs), covariates], axis=1)
    groups = pd.factorize(adata.obs["subject"])[0]
    reference = sm.OLS(y.to_numpy(), X).fit(
        cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False}
    )
    assert pair.estimate_adjusted == pytest.approx(reference.params["condition[T.ALS]"])
    n_clusters = 40
    assert pair.se_adjusted == pytest.approx(
        reference.bse["condition[T.ALS]"] * np.sqrt(n_clusters / (n_clusters - 1)), rel=1e-6
    )
    assert pair.df == n_clusters - 1


def test_covariates_must_cover_the_fitted_samples():
    adata = mixed_cohort(seed=11, n_donors=(10, 10))
    expression = log_cpm(adata.to_df())
    covariates = cell_indices(expression, toy_markers(adata)).values[["neurons"]].iloc[2:]
    with pytest.raises(AlsigError, match=r"missing for 2 fitted sample\(s\)"):
        effect_with_and_without(
            expression.iloc[:, 0], _design(adata.obs), covariates, "condition[T.ALS]"
        )


def test_difference_interval_keeps_its_coverage_on_planted_truth():
    """OLS: y = condition + C gamma + noise with C correlated with condition; the true
    conditional difference is e_j'(X'X)^-1 X'C gamma. 600 datasets: the joint-covariance
    interval covers it ~95 % of the time; treating the two estimates as independent would
    cover it almost always (far too wide)."""
    rng = np.random.default_rng(0)
    n, covered, naive, runs = 60, 0, 0, 600
    gamma = np.array([0.8, -0.5])
    for _ in range(runs):
        condition = np.repeat([1.0, 0.0], n // 2)
        C = rng.normal(size=(n, 2)) + np.outer(condition, [0.7, 0.3])
        y = 0.5 * condition + C @ gamma + rng.normal(size=n)
        index = [f"s{i}" for i in range(n)]
        X = pd.DataFrame({"Intercept": 1.0, "condition[T.ALS]": condition}, index=index)
        covariates = pd.DataFrame(C, index=index, columns=["c1", "c2"])
        pair = effect_with_and_without(pd.Series(y, index=index), X, covariates, "condition[T.ALS]")
        truth = np.linalg.solve(X.T @ X, X.T @ C)[1] @ gamma
        covered += pair.share.difference_low <= truth <= pair.share.difference_high
        naive += abs(pair.share.difference - truth) <= 2.0 * np.hypot(pair.se, pair.se_adjusted)
    assert 0.925 <= covered / runs <= 0.975
    assert naive / runs > 0.99


def test_share_interval_is_bounded_only_for_a_clear_unadjusted_effect():
    clear = share_removed(1.0, 0.4, np.array([[0.01, 0.009], [0.009, 0.012]]))
    assert clear.share == pytest.approx(0.6)
    assert clear.share_low < 0.6 < clear.share_high and clear.note == ""
    assert clear.difference == pytest.approx(0.6)
    unclear = share_removed(0.1, 0.05, np.array([[0.04, 0.035], [0.035, 0.05]]))
    assert unclear.share_low is None and unclear.share_high is None
    assert "not distinguishable from 0" in unclear.note


def test_pooled_pair_uses_the_meta_analysis_weights():
    from alsig.stages.catalog.meta import dersimonian_laird

    u = np.array([0.5, 0.3, 0.8])
    a = np.array([0.2, 0.25, 0.3])
    cov = np.array(
        [
            [[0.02, 0.018], [0.018, 0.025]],
            [[0.05, 0.04], [0.04, 0.06]],
            [[0.03, 0.02], [0.02, 0.04]],
        ]
    )
    meta = dersimonian_laird(u, cov[:, 0, 0])
    pooled_u, pooled_a, pooled_cov = pooled_pair(u, a, cov, meta.tau2)
    assert pooled_u == pytest.approx(meta.effect)
    assert np.sqrt(pooled_cov[0, 0]) == pytest.approx(meta.se)
    # heterogeneity shared by both views does not widen the difference
    var_d = pooled_cov[0, 0] + pooled_cov[1, 1] - 2 * pooled_cov[0, 1]
    _, _, no_tau = pooled_pair(u, a, cov, 0.0)
    weights = 1 / (cov[:, 0, 0] + meta.tau2)
    weights /= weights.sum()
    d_var = cov[:, 0, 0] + cov[:, 1, 1] - 2 * cov[:, 0, 1]
    assert var_d == pytest.approx(np.sum(weights**2 * d_var))
    assert no_tau[0, 0] < pooled_cov[0, 0]
    # weights from the unadjusted rows' own variances: the meta-analysis estimate exactly
    own = np.array([0.021, 0.052, 0.028])
    meta_own = dersimonian_laird(u, own)
    assert pooled_pair(u, a, cov, meta_own.tau2, own)[0] == pytest.approx(meta_own.effect)


# -- the validation set -----------------------------------------------------------------------
@needs_shared
def test_allen_validation_reproduces_the_issue_number_and_white_matter_direction():
    folder = SHARED_DATA / "annotation/bretigea"
    fpkm = pd.read_csv(folder / "aba_adtbi_marker_fpkm.tsv.gz", sep="\t", index_col=0)
    ihc = pd.read_csv(folder / "aba_adtbi_ihc.tsv.gz", sep="\t").set_index("id")
    expression = np.log2(fpkm.T + 1)
    svd = cell_indices(expression, method="svd").values
    iba1 = ihc["ihc_iba1_ffpe"].notna().to_numpy()
    r = np.corrcoef(svd["microglia"][iba1], ihc["ihc_iba1_ffpe"][iba1])[0, 1]
    assert r == pytest.approx(0.38, abs=0.02)  # issue 27's BRETIGEA number
    default = cell_indices(expression).values
    region = ihc["structure_acronym.x"].to_numpy()
    white, cortex = region == "FWM", np.isin(region, ["TCx", "PCx"])
    assert default["neurons"][white].mean() < default["neurons"][cortex].mean()
    assert default["oligodendrocytes"][white].mean() > default["oligodendrocytes"][cortex].mean()
