"""Axis statistics: condition effects under the design (repeated donors), both views (without
and with the cell-mix covariates, the share removed), the cross-cohort meta-analysis of both,
the PC-covariate diagnostic and the composition share on the cell indices."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

from alsig.cellmix import indices_from_table, pooled_pair, share_removed
from alsig.distributions import benjamini_hochberg, t_ppf
from alsig.settings import Contrast
from alsig.signatures import signatures_of_run
from alsig.signatures.model import Signature
from alsig.stages.axes.effects import axis_tests
from alsig.stages.axes.figures import plot_axis_forest
from alsig.stages.catalog.figures import plot_axis_meta
from alsig.stages.catalog.meta import axis_meta, dersimonian_laird
from alsig.stages.qc.covariates import pc_covariates
from alsig.stages.score.composition import composition_share
from tests.conftest import uses_voom_kernels
from tests.helpers import bretigea_cohort, score_result

pytestmark = uses_voom_kernels

ALS = Contrast("ALS_vs_control", "condition", "ALS", "control")


def repeated_cohort(seed=0, n_subjects=40, effect=1.0, subject_sd=1.0, noise_sd=0.3):
    """Donors with three regions each; a strong donor effect; ALS shifts the score by ``effect``."""
    rng = np.random.default_rng(seed)
    rows, scores = [], []
    for s in range(n_subjects):
        condition = "ALS" if s % 2 else "control"
        donor = rng.normal(0, subject_sd)
        for region, shift in (("frontal", 0.0), ("motor_lateral", 0.4), ("motor_medial", 0.2)):
            sample = f"s{s}_{region}"
            value = (
                donor + shift + (effect if condition == "ALS" else 0.0) + rng.normal(0, noise_sd)
            )
            rows.append(
                {
                    "sample": sample,
                    "subject": f"d{s}",
                    "condition": condition,
                    "region": region,
                    "sex": "female" if s % 3 else "male",
                }
            )
            scores.append((sample, value))
    obs = pd.DataFrame(rows).set_index("sample")
    return obs, long_table(scores, obs)


def long_table(scores, obs, signature="axis:oxidative_stress", axis="oxidative_stress"):
    return pl.DataFrame(
        {
            "dataset": "sim",
            "sample": [s for s, _ in scores],
            "method": "singscore",
            "signature": signature,
            "axis": axis,
            "score": [v for _, v in scores],
            "condition": obs.loc[[s for s, _ in scores], "condition"].tolist(),
        }
    )


def unadjusted(table: pl.DataFrame) -> dict:
    """The single ``adjustment == none`` row of a table."""
    (row,) = table.filter(pl.col("adjustment") == "none").to_dicts()
    return row


def test_mixed_model_recovers_the_effect_and_does_not_count_repeated_donors_as_independent():
    obs, scores = repeated_cohort()
    row = unadjusted(axis_tests(scores, obs, design="~ sex + region + condition", contrast=ALS))
    assert row["model"] == "mixed_random_subject"
    assert row["ci_low"] < 1.0 < row["ci_high"] and row["estimate"] == pytest.approx(1.0, abs=0.5)
    assert row["n_test"] == 60 and row["n_subjects_test"] == 20
    assert row["std_effect"] > 0 and row["pvalue"] < 0.05
    # naive OLS on the 120 samples as if independent: a much smaller (wrong) standard error
    import statsmodels.formula.api as smf

    frame = obs.assign(score=scores["score"].to_numpy())
    naive = smf.ols("score ~ sex + region + condition", frame).fit()
    assert row["se"] > 1.5 * naive.bse["condition[T.control]"]


def test_mixed_model_refers_a_few_donors_contrast_to_t_on_satterthwaite_df():
    # 8 donors x 3 regions, balanced: the REML between-donor contrast is exactly the t test of
    # the donor means on 8 - 2 df (Satterthwaite's df reproduces it), not a normal z
    from scipy import stats

    obs, scores = repeated_cohort(seed=4, n_subjects=8, effect=0.0, subject_sd=1.0)
    row = unadjusted(axis_tests(scores, obs, design="~ region + condition", contrast=ALS))
    means = obs.assign(score=scores["score"].to_numpy()).groupby("subject")
    donor = means.agg(score=("score", "mean"), condition=("condition", "first"))
    by_hand = stats.ttest_ind(
        donor.loc[donor["condition"] == "ALS", "score"],
        donor.loc[donor["condition"] == "control", "score"],
    )
    assert row["model"] == "mixed_random_subject"
    assert row["df"] == pytest.approx(6.0, rel=1e-5)
    assert row["statistic"] == pytest.approx(by_hand.statistic, rel=1e-6)
    assert row["pvalue"] == pytest.approx(by_hand.pvalue, rel=1e-5)
    half_width = stats.t.ppf(0.975, 6.0) * row["se"]
    assert row["ci_high"] - row["estimate"] == pytest.approx(half_width, rel=1e-5)


def test_mixed_model_at_zero_donor_variance_uses_donor_df_for_a_between_donor_contrast():
    # donor means equal within each condition: REML puts the donor variance at 0, where
    # lmerTest's df would count the 24 samples (n - p = 21); the contrast has 8 - 2 donor df
    from scipy import stats

    obs, _ = repeated_cohort(seed=5, n_subjects=8)
    rng = np.random.default_rng(5)
    noise = pd.Series(rng.normal(0, 1, len(obs)), index=obs.index)
    noise -= noise.groupby(obs["subject"]).transform("mean")
    values = noise + 0.8 * (obs["condition"] == "ALS")
    scores = long_table(list(values.items()), obs)
    row = unadjusted(axis_tests(scores, obs, design="~ condition", contrast=ALS))
    assert row["model"] == "mixed_random_subject" and row["df"] == 6.0
    assert row["pvalue"] == pytest.approx(2 * stats.t.sf(abs(row["statistic"]), 6), rel=1e-9)


def test_one_sample_per_donor_is_ordinary_least_squares_and_exclusions_are_listed():
    rng = np.random.default_rng(1)
    obs = pd.DataFrame(
        {"condition": ["ALS"] * 12 + ["control"] * 8, "subject": [f"d{i}" for i in range(20)]},
        index=[f"s{i}" for i in range(20)],
    )
    values = rng.normal(0, 0.1, 20) + np.r_[np.full(12, 0.5), np.zeros(8)]
    scores = long_table(list(zip(obs.index, values, strict=True)), obs)
    exclude = {"s0": "sex_mismatch(reported female, inferred male)"}
    row = unadjusted(axis_tests(scores, obs, design="~ condition", contrast=ALS, exclude=exclude))
    assert row["model"] == "ols" and row["n_test"] == 11 and row["n_excluded"] == 1
    assert row["df"] == 17.0  # 19 fitted samples - 2 coefficients
    assert row["excluded"] == "s0(sex_mismatch(reported female, inferred male))"
    assert row["estimate"] == pytest.approx(values[1:12].mean() - values[12:].mean(), rel=1e-9)


def test_unscored_signature_gives_a_null_row_with_a_note():
    obs, scores = repeated_cohort(n_subjects=10)
    scores = scores.with_columns(pl.lit(None, dtype=pl.Float64).alias("score"))
    rows = axis_tests(scores, obs, design="~ condition", contrast=ALS).to_dicts()
    assert [r["adjustment"] for r in rows] == ["none", "cell_mix"]
    for row in rows:
        assert row["estimate"] is None and row["qvalue"] is None and "not scored" in row["note"]


def test_benjamini_hochberg_matches_the_textbook_example():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.20])
    q = benjamini_hochberg(p)
    # ranks 1..4 of 4: 0.01*4, 0.03*4/2 -> 0.04*4/3 (monotone), 0.04*4/3, 0.2
    assert q[:3] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3]) and np.isnan(q[3]) and q[4] == 0.2


def test_dersimonian_laird_against_a_hand_computed_example():
    combined = dersimonian_laird(np.array([0.5, 0.3, 0.9]), np.array([0.04, 0.09, 0.05]))
    # w = 25, 11.11, 20; FE = 0.60297; Q = 3.0495; C = 56.11 - 1193.46/56.11 = 34.84
    assert combined.effect_fixed == pytest.approx(0.602970, abs=1e-6)
    assert combined.q == pytest.approx(3.049505, abs=1e-6)
    assert combined.tau2 == pytest.approx(0.029444, abs=1e-6)
    assert combined.effect == pytest.approx(0.595039, abs=1e-6)
    assert combined.se == pytest.approx(0.168169, abs=1e-6)
    assert combined.i2 == pytest.approx(0.344156, abs=1e-6)
    same = dersimonian_laird(np.array([0.4, 0.4, 0.4]), np.array([0.04, 0.09, 0.05]))
    assert same.tau2 == 0 and same.i2 == 0 and same.se == pytest.approx(same.se_fixed)


def test_axis_meta_combines_datasets_and_reports_agreement():
    obs, scores = repeated_cohort(seed=2)
    tests = [
        axis_tests(
            scores.with_columns(pl.lit(name).alias("dataset")),
            obs,
            design="~ region + condition",
            contrast=ALS,
        )
        for name in ("a", "b")
    ]
    row = unadjusted(axis_meta(pl.concat(tests)))
    assert row["k"] == 2 and row["direction_agreement"] == "2/2 up" and row["consistent"]
    assert row["i2"] == 0 and row["effect"] == pytest.approx(tests[0]["std_effect"][0])


def test_a_single_dataset_meta_row_keeps_its_own_t_test():
    """One dataset: the meta row's p and CI are the dataset's own (t on its df), not the
    normal's (t = 2.5 on 8 df: p 0.037, the normal 0.012)."""
    obs, scores = repeated_cohort(seed=2)
    (tests,) = [
        axis_tests(
            scores.with_columns(pl.lit("a").alias("dataset")),
            obs,
            design="~ region + condition",
            contrast=ALS,
        )
    ]
    own = unadjusted(tests)
    forged = tests.with_columns(
        pl.lit(2.5 * own["std_se"]).alias("std_effect"),
        pl.lit(8.0).alias("df"),
        pl.lit(0.0368).alias("pvalue"),
    )
    row = unadjusted(axis_meta(forged))
    assert row["k"] == 1 and row["pvalue"] == pytest.approx(0.0368)
    half_width = float(t_ppf(0.975, 8.0)) * own["std_se"]  # 2.306, not 1.96
    assert row["ci_low"] == pytest.approx(2.5 * own["std_se"] - half_width)
    assert row["ci_high"] == pytest.approx(2.5 * own["std_se"] + half_width)


def test_axis_meta_adjusts_pooled_pvalues_per_family_and_names_cochrans_q():
    parts = []
    for d, dataset in enumerate(("a", "b", "c")):
        for k, (signature, effect) in enumerate(
            (("axis:er_stress", 1.0), ("axis:heat_shock", 0.3), ("axis:drug_efflux", 0.0))
            + (("HSP_core", 0.1),)
        ):
            obs, scores = repeated_cohort(seed=10 * d + k, n_subjects=12, effect=effect)
            table = long_table(
                list(zip(scores["sample"], scores["score"], strict=True)), obs, signature
            )
            parts.append(table.with_columns(pl.lit(dataset).alias("dataset")))
    tests = pl.concat(
        axis_tests(part, obs, design="~ region + condition", contrast=ALS)
        for part in pl.concat(parts).partition_by("dataset")
    )
    meta = axis_meta(tests).filter(pl.col("adjustment") == "none")
    assert "q" not in meta.columns and "cochran_q" in meta.columns
    axes = meta.filter(pl.col("signature").str.starts_with("axis:"))
    # BH over the three axes only: the signature is its own family (its q is its p)
    assert axes["qvalue"].to_list() == pytest.approx(
        benjamini_hochberg(axes["pvalue"].to_numpy()).tolist()
    )
    signature = meta.filter(pl.col("signature") == "HSP_core").row(0, named=True)
    assert signature["qvalue"] == pytest.approx(signature["pvalue"])
    row = axes.filter(pl.col("signature") == "axis:er_stress").row(0, named=True)
    effects = np.array([float(e.split("=")[1].split("(")[0]) for e in row["effects"].split(";")])
    ses = np.array([float(e.split("(")[1].rstrip(")")) for e in row["effects"].split(";")])
    assert row["cochran_q"] == pytest.approx(dersimonian_laird(effects, ses**2).q, rel=1e-3)


def test_meta_figure_stars_significance_and_boxes_sign_agreement():
    from matplotlib.patches import Rectangle

    obs, scores = repeated_cohort(seed=3, n_subjects=12)
    tests = pl.concat(
        axis_tests(
            long_table(
                list(zip(scores["sample"], scores["score"], strict=True)), obs, name
            ).with_columns(pl.lit(dataset).alias("dataset")),
            obs,
            design="~ region + condition",
            contrast=ALS,
        )
        for dataset in ("a", "b")
        for name in ("axis:er_stress", "axis:heat_shock")
    )
    # one axis consistent in sign but not significant, the other the reverse
    meta = axis_meta(tests).with_columns(
        consistent=pl.col("signature") == "axis:heat_shock",
        qvalue=pl.when(pl.col("signature") == "axis:heat_shock").then(0.3).otherwise(0.01),
    )
    fig = plot_axis_meta(meta)
    panel = fig.axes[0]  # no adjustment; rows sorted: er_stress, heat_shock
    combined = [t for t in panel.texts if t.get_position()[0] == 2]
    assert [t.get_text().endswith("*") for t in combined] == [True, False]
    boxes = [p for p in panel.patches if isinstance(p, Rectangle)]
    assert [round(b.get_y() + b.get_height() / 2) for b in boxes] == [1]  # heat_shock's cell
    assert (
        "* q < 0.05" in fig._suptitle.get_text() and "not significance" in fig._suptitle.get_text()
    )


def test_a_cohort_listed_twice_is_named_in_every_pooled_row(tmp_path):
    """Two config entries for one cohort (or a re-release under new ids) would be pooled as two
    independent cohorts: the job says so in its log and in each row's note."""
    from alsig.stages.catalog import run_meta
    from alsig.stages.catalog.overlap import overlap_note, shared_samples

    obs, scores = repeated_cohort(seed=2)
    sheet = pl.DataFrame(
        {
            "sample": [f"s{i}" for i in range(4)],
            "total_counts": [1e7, 2e7, 3e7, 4e7],
            "n_genes_detected": [100, 200, 300, 400],
        }
    )
    renamed = sheet.with_columns(("GSM" + pl.col("sample")).alias("sample"))  # re-released
    other = sheet.with_columns(pl.col("total_counts") + 1)  # another cohort, other ids
    other = other.with_columns(("x" + pl.col("sample")).alias("sample"))
    shared = shared_samples({"a": sheet, "b": sheet, "c": renamed, "d": other})
    assert shared[("a", "b")] == ["s0", "s1", "s2", "s3"]
    assert shared[("a", "c")] == ["s0=GSMs0", "s1=GSMs1", "s2=GSMs2", "s3=GSMs3"]
    assert not any("d" in pair for pair in shared)
    assert overlap_note({("a", "b"): ["s0", "s1"]}) == (
        "not independent: a and b share 2 samples (s0, s1)"
    )
    inputs: dict[str, list[str]] = {"tests": [], "samples": []}
    for name, table in (("a", sheet), ("b", sheet)):
        (tmp_path / name / "qc").mkdir(parents=True)
        table.write_csv(tmp_path / name / "qc" / "sample_qc.tsv", separator="\t")
        inputs["samples"].append(str(tmp_path / name / "qc" / "sample_qc.tsv"))
        tests = axis_tests(
            scores.with_columns(pl.lit(name).alias("dataset")),
            obs,
            design="~ region + condition",
            contrast=ALS,
        )
        tests.write_parquet(tmp_path / f"{name}.parquet")
        inputs["tests"].append(str(tmp_path / f"{name}.parquet"))
    outputs = {k: str(tmp_path / f"meta.{k}") for k in ("parquet", "tsv", "figure")}
    outputs["figure"] = str(tmp_path / "meta.png")
    run_meta(inputs, outputs, None, 1)
    notes = pl.read_parquet(outputs["parquet"])["note"].to_list()
    assert all("not independent: a and b share 4 samples (s0, s1, s2, s3)" in n for n in notes)


def test_pc_covariates_finds_a_planted_batch_on_pc1():
    rng = np.random.default_rng(3)
    batch = np.repeat(["b1", "b2", "b3"], 10)
    obs = pd.DataFrame(
        {
            "batch": batch,
            "condition": rng.permutation(["ALS"] * 15 + ["control"] * 15),
            "age_at_death": list(rng.normal(65, 8, 29).round(1)) + ["Unknown"],
        },
        index=[f"s{i}" for i in range(30)],
    )
    pcs = np.column_stack(
        [
            np.select([batch == "b1", batch == "b2"], [-3, 0], 3) + rng.normal(0, 0.3, 30),
            rng.normal(0, 1, 30),
        ]
    )
    table = pc_covariates(pcs, [0.6, 0.1], obs, library_size=rng.uniform(1e7, 2e7, 30))
    r2 = {(r["pc"], r["covariate"]): r for r in table.to_dicts()}
    assert r2[("PC1", "batch")]["r2"] > 0.9 and r2[("PC1", "batch")]["pvalue"] < 1e-10
    assert r2[("PC1", "condition")]["r2"] < 0.3
    assert r2[("PC1", "age")]["kind"] == "continuous" and r2[("PC1", "age")]["n"] == 29


def test_pc_covariates_read_a_mostly_numeric_column_as_numbers_and_name_its_text_cells():
    rng = np.random.default_rng(4)
    n = 20
    age = rng.normal(65, 8, n).round().astype(int).astype(str).tolist()
    pmi = [f"{v:.1f}" for v in rng.uniform(2, 12, n)]
    age[0], pmi[1], pmi[2] = "90+", "4,5", "Unknown"
    obs = pd.DataFrame(
        {"condition": ["ALS", "control"] * (n // 2), "age_at_death": age, "pmi_hours": pmi},
        index=[f"s{i}" for i in range(n)],
    )
    pcs = rng.normal(0, 1, (n, 2))
    report: dict = {}
    table = pc_covariates(pcs, [0.5, 0.2], obs, report=report)
    rows = {(r["pc"], r["covariate"]): r for r in table.to_dicts()}
    # one level per donor would explain nearly all of PC1; as numbers, age is no driver
    assert rows[("PC1", "age")]["kind"] == "continuous" and rows[("PC1", "age")]["n"] == n - 1
    assert rows[("PC1", "pmi")]["kind"] == "continuous" and rows[("PC1", "pmi")]["n"] == n - 2
    assert rows[("PC1", "age")]["r2"] < 0.3
    warnings = report["warnings"]
    assert "QC covariate 'age' ('age_at_death') is mostly numbers but '90+' (s0)" in warnings[0]
    assert "'4,5' (s1) ('4,5' has a decimal comma: write '4.5')" in warnings[1]
    assert "age ('age_at_death') continuous, 19 of 20 sample(s) known" in report["readings"]


# -- the cell_mix view ---------------------------------------------------------------------------
def composition_cohort(seed=0, n_subjects=50, regions=("frontal", "motor"), index_noise=0.3):
    """Donors whose tissue loses neurons and gains glia in ALS (one latent factor ``f``).

    Returns obs, the four cell indices (noisy readouts of ``f``) and the long table of two
    scores: ``composition`` (= -f + noise: an ALS difference carried entirely by the cell mix)
    and ``intrinsic`` (0.8 SD higher in ALS in every cell, unrelated to the mix).
    """
    rng = np.random.default_rng(seed)
    rows, f = [], []
    for s in range(n_subjects):
        condition = "ALS" if s % 2 else "control"
        donor = rng.normal(0, 0.3)
        for region in regions:
            rows.append(
                {
                    "sample": f"s{s}_{region}",
                    "subject": f"d{s}",
                    "condition": condition,
                    "region": region,
                    "sex": "female" if s % 3 else "male",
                    "_donor": donor,
                }
            )
            f.append(rng.normal(0, 1) + (0.8 if condition == "ALS" else 0.0))
    obs = pd.DataFrame(rows).set_index("sample")
    f = np.asarray(f)
    loadings = {"neurons": -1.0, "astrocytes": 0.8, "microglia": 1.0, "oligodendrocytes": 0.6}
    indices = pd.DataFrame(
        {t: w * f + rng.normal(0, index_noise, len(f)) for t, w in loadings.items()},
        index=obs.index,
    )
    als = (obs["condition"] == "ALS").to_numpy()
    donor = obs.pop("_donor").to_numpy()
    scores = {
        "composition": -f + donor + rng.normal(0, 0.3, len(f)),
        "intrinsic": 0.8 * als + donor + rng.normal(0, 0.5, len(f)),
    }
    long = pl.concat(
        [
            long_table(list(zip(obs.index, v, strict=True)), obs, name, name)
            for name, v in scores.items()
        ]
    )
    return obs, indices, long


def cell_mix_rows(table: pl.DataFrame) -> dict[str, dict]:
    return {r["signature"]: r for r in table.filter(pl.col("adjustment") == "cell_mix").to_dicts()}


def test_cell_mix_view_removes_a_composition_difference_and_keeps_a_cell_intrinsic_one():
    obs, indices, scores = composition_cohort()
    indices_of = {"composition": indices, "intrinsic": indices}
    table = axis_tests(
        scores, obs, design="~ sex + region + condition", contrast=ALS, cell_indices=indices_of
    )
    assert table.height == 4 and table["adjustment"].to_list() == ["none", "cell_mix"] * 2
    plain = axis_tests(scores, obs, design="~ sex + region + condition", contrast=ALS)
    # the unadjusted view does not depend on the cell indices
    assert table.filter(pl.col("adjustment") == "none").equals(
        plain.filter(pl.col("adjustment") == "none")
    )
    none = {r["signature"]: r for r in table.filter(pl.col("adjustment") == "none").to_dicts()}
    adjusted = cell_mix_rows(table)
    composition, intrinsic = adjusted["composition"], adjusted["intrinsic"]
    assert composition["model"] == "mixed_random_subject"
    assert "principal component" in composition["covariates"]  # 4 correlated indices -> PC1
    # composition-driven: a clear unadjusted drop, most of it removed, the share CI above 1/2
    assert none["composition"]["ci_high"] < 0
    assert composition["share_removed"] > 0.75 and composition["share_ci_low"] > 0.5
    assert composition["difference_ci_high"] < 0 or composition["difference_ci_low"] > 0
    # cell-intrinsic: kept (CI excludes 0); the share removed is compatible with none
    assert intrinsic["ci_low"] > 0
    assert intrinsic["share_ci_low"] < 0 < intrinsic["share_ci_high"]
    assert abs(intrinsic["share_removed"]) < 0.25
    # one ruler: the share is the same in score units and standardised units
    std_share = 1 - intrinsic["std_effect"] / none["intrinsic"]["std_effect"]
    assert std_share == pytest.approx(intrinsic["share_removed"], rel=1e-6)
    # the joint covariance is a covariance
    joint = np.array(
        [
            [intrinsic["std_joint_var_none"], intrinsic["std_joint_cov"]],
            [intrinsic["std_joint_cov"], intrinsic["std_joint_var_cell_mix"]],
        ]
    )
    assert np.all(np.linalg.eigvalsh(joint) > 0)


def test_cell_mix_row_is_null_with_the_reason_when_not_estimable():
    obs, indices, scores = composition_cohort(n_subjects=8, regions=("frontal",))
    table = axis_tests(
        scores,
        obs,
        design="~ condition",
        contrast=ALS,
        cell_indices={"composition": indices, "intrinsic": indices},
    )
    for row in cell_mix_rows(table).values():
        assert row["estimate"] is None and row["share_removed"] is None
        assert row["covariates"] == "not estimable"
        assert row["note"] == "not estimable: 8 donors allow no covariate (one per 10 donors)"
    assert table.filter(pl.col("adjustment") == "none")["estimate"].null_count() == 0
    # a composition residual is not adjusted again; without indices the row says so
    residual = scores.with_columns(pl.lit("singscore_adjusted").alias("method"))
    table = axis_tests(residual, obs, design="~ condition", contrast=ALS, cell_indices={})
    notes = cell_mix_rows(table)
    assert "already the residual" in notes["composition"]["note"]
    table = axis_tests(scores, obs, design="~ condition", contrast=ALS, cell_indices={})
    assert cell_mix_rows(table)["intrinsic"]["note"] == "no cell indices for this score"


def test_meta_pools_both_views_with_the_unadjusted_weights():
    tests = []
    for name, seed, n in (("a", 1, 50), ("b", 2, 40), ("c", 3, 8)):
        obs, indices, scores = composition_cohort(seed=seed, n_subjects=n)
        tests.append(
            axis_tests(
                scores.with_columns(pl.lit(name).alias("dataset")),
                obs,
                design="~ region + condition",
                contrast=ALS,
                cell_indices={"composition": indices, "intrinsic": indices},
            )
        )
    tests = pl.concat(tests)
    meta = axis_meta(tests)
    assert meta.height == 4 and set(meta["adjustment"]) == {"none", "cell_mix"}
    row = meta.filter(
        (pl.col("signature") == "composition") & (pl.col("adjustment") == "cell_mix")
    ).row(0, named=True)
    plain = meta.filter(
        (pl.col("signature") == "composition") & (pl.col("adjustment") == "none")
    ).row(0, named=True)
    assert plain["k"] == 3 and row["n_datasets"] == 3 and row["k"] == 2
    assert row["note"] == "c: not estimable: 8 donors allow no covariate (one per 10 donors)"
    # by hand: the two estimable datasets' pairs, the unadjusted view's DL weights
    rows = tests.filter(pl.col("signature") == "composition").sort("dataset", "adjustment")
    u = rows.filter((pl.col("adjustment") == "none") & (pl.col("dataset") != "c"))
    a = rows.filter((pl.col("adjustment") == "cell_mix") & (pl.col("dataset") != "c"))
    covs = np.array(
        [
            [
                [r["std_joint_var_none"], r["std_joint_cov"]],
                [r["std_joint_cov"], r["std_joint_var_cell_mix"]],
            ]
            for r in a.iter_rows(named=True)
        ]
    )
    var_u = u["std_se"].to_numpy() ** 2
    tau2 = dersimonian_laird(u["std_effect"].to_numpy(), var_u).tau2
    pooled_u, pooled_a, cov = pooled_pair(
        u["std_effect"].to_numpy(), a["std_effect"].to_numpy(), covs, tau2, var_u
    )
    share = share_removed(pooled_u, pooled_a, cov)
    assert row["effect"] == pytest.approx(pooled_a) and row["pooled_unadjusted"] == pytest.approx(
        pooled_u
    )
    assert row["share_removed"] == pytest.approx(share.share)
    assert row["share_ci_low"] == pytest.approx(share.share_low)
    assert row["share_removed"] > 0.75 and row["share_ci_low"] > 0.5  # composition, pooled
    intrinsic = meta.filter(
        (pl.col("signature") == "intrinsic") & (pl.col("adjustment") == "cell_mix")
    ).row(0, named=True)
    assert intrinsic["share_ci_low"] < 0 < intrinsic["share_ci_high"] and intrinsic["ci_low"] > 0
    # one dataset: the pooled pair is that dataset's pair
    single = axis_meta(tests.filter(pl.col("dataset") == "a"))
    one = single.filter(
        (pl.col("signature") == "composition") & (pl.col("adjustment") == "cell_mix")
    ).row(0, named=True)
    own = cell_mix_rows(tests.filter(pl.col("dataset") == "a"))["composition"]
    assert one["share_removed"] == pytest.approx(own["share_removed"])
    assert one["effect"] == pytest.approx(own["std_effect"])


# -- the whole chain on BRETIGEA-named toy genes: score -> composition, axis tests, figures ----
@pytest.fixture(scope="module")
def neuron_loss_cohort():
    """60 donors whose ALS tissue has fewer neurons; a neuronal and a cell-intrinsic signature."""
    adata = bretigea_cohort(
        n_donors=(30, 30),
        n_genes=1200,
        cell_mix_condition_shift={"neurons": -0.8},
        planted_log2fc={f"G{i:05d}": 0.3 for i in range(30)},
        seed=11,
    )
    neurons = list(adata.var_names[adata.var["marker_of"] == "neurons"])
    signatures = [
        # neuron markers the index does not use (list ranks 51-60): composition only
        _signature("neuronal", neurons[50:], "tdp43_loss"),
        # shares 10 of the index's neuron markers: the index is recomputed without them
        _signature("with_markers", neurons[:10] + [f"G{i:05d}" for i in range(40, 70)], "other"),
        # genes with a planted ALS effect in every sample: cell-intrinsic
        _signature("intrinsic", [f"G{i:05d}" for i in range(30)], "er_stress"),
    ]
    _, te_signatures = signatures_of_run((), replace=False, harmonise=False)
    result = score_result(
        adata,
        signatures,
        te_signatures,  # no TE counts here: the retrotransposon axis is drawn as not scored
        methods=["singscore", "singscore_adjusted"],
        dataset="toy",
    )
    return adata, result


def _signature(name, genes, axis):
    return Signature(name=name, axis=axis, up=list(genes))


def test_composition_share_uses_the_cell_indices_without_the_signatures_genes(neuron_loss_cohort):
    adata, result = neuron_loss_cohort
    share = {
        r["signature"]: r
        for r in composition_share(result.long, result.cell_indices)
        .filter(pl.col("method") == "singscore")
        .to_dicts()
    }
    assert share["neuronal"]["r2"] > 0.6 and share["neuronal"]["top_cell_type"] == "neurons"
    assert (
        share["neuronal"]["top_cell_type_sign"] == "positive"
        and share["neuronal"]["n_cell_types"] == 4
    )
    # the cell-intrinsic score goes with the indices only through the ALS neuron loss
    assert share["intrinsic"]["r2"] < 0.5 * share["neuronal"]["r2"]
    # the signature's own neuron markers are not in the index that explains it
    assert (
        share["with_markers"]["markers_excluded"] == 10
        and share["neuronal"]["markers_excluded"] == 0
    )
    mine = result.cell_indices.by_signature["with_markers"]
    assert not mine["neurons"].equals(result.cell_indices.base.values["neurons"])
    assert "singscore_adjusted" not in set(
        composition_share(result.long, result.cell_indices)["method"]
    )


def test_axis_tests_on_the_score_stage_indices_shrink_the_composition_effect(neuron_loss_cohort):
    adata, result = neuron_loss_cohort
    indices = indices_from_table(result.cell_indices.table("toy"))
    table = axis_tests(
        result.long, adata.obs, design="~ sex + condition", contrast=ALS, cell_indices=indices
    )
    rows = {
        (r["method"], r["signature"], r["adjustment"]): r
        for r in table.filter(pl.col("method") == "singscore").to_dicts()
    }
    neuronal = rows[("singscore", "neuronal", "cell_mix")]
    assert rows[("singscore", "neuronal", "none")]["ci_high"] < 0  # fewer neurons in ALS
    # independent toy abundances: 3 PCs of the 4 indices keep most, not all, of the neuron index
    assert neuronal["share_removed"] > 0.5 and neuronal["share_ci_low"] > 0.3
    intrinsic = rows[("singscore", "intrinsic", "cell_mix")]
    assert intrinsic["ci_low"] > 0 and intrinsic["share_ci_low"] < 0 < intrinsic["share_ci_high"]
    # 60 donors afford 3 covariates; the four indices need principal components
    assert neuronal["covariates"].startswith("first ")
    # singscore_adjusted: its own rows have the composition removed, and no second adjustment
    residual = table.filter(
        (pl.col("method") == "singscore_adjusted") & (pl.col("signature") == "neuronal")
    ).to_dicts()
    assert residual[0]["ci_low"] < 0 < residual[0]["ci_high"] and residual[1]["estimate"] is None


def test_forest_and_meta_figures_show_both_views(neuron_loss_cohort):
    adata, result = neuron_loss_cohort
    indices = indices_from_table(result.cell_indices.table("toy"))
    table = axis_tests(
        result.long, adata.obs, design="~ sex + condition", contrast=ALS, cell_indices=indices
    )
    fig = plot_axis_forest(table, dataset="toy")
    assert fig._suptitle.get_text().startswith("toy: condition effect")
    forest = fig.axes[0]
    assert forest.get_title() == "ALS_vs_control: ALS n=30 (30 donors) vs control n=30 (30 donors)"
    labels = [t.get_text().strip() for t in forest.get_yticklabels()]
    # grouped by axis, the composite first; the TE axis drawn (here: no TE input)
    assert labels.index("er_stress") + 1 == labels.index("intrinsic")
    assert "retrotransposons (TE, log2 CPM)" in labels
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0] == "no adjustment" and legend[1].startswith("adjusted for the cell mix")
    shares = [t.get_text() for t in fig.axes[1].texts]
    assert any(t.startswith("+") and "[" in t for t in shares)  # a bounded share removed
    # a cohort that cannot afford the covariates: one panel, the reason in the title
    obs, indices, scores = composition_cohort(n_subjects=8, regions=("frontal",))
    small = axis_tests(
        scores, obs, design="~ condition", contrast=ALS, cell_indices={"composition": indices}
    )
    fig = plot_axis_forest(small, dataset="small")
    assert len(fig.axes) == 1 and "8 donors allow no covariate" in fig._suptitle.get_text()
    # no test at all (no subtype called): one empty panel that says why, no empty forest
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's identical-ylims warning
        fig = plot_axis_forest(
            table.clear(), dataset="d", empty_note="no axis tests: ALS-Ox: 0 vs 17 control"
        )
    assert (
        len(fig.axes) == 1
        and fig._suptitle.get_text() == "d: condition effect per axis and signature"
    )
    assert [t.get_text() for t in fig.axes[0].texts] == ["no axis tests: ALS-Ox: 0 vs 17 control"]
    meta = plot_axis_meta(axis_meta(table))
    assert [ax.get_title() for ax in meta.axes[:2]] == [
        "no adjustment",
        "adjusted for the cell mix",
    ]
