"""DE: contrast validation before fitting, planted-gene recovery, outputs of the rule entry point."""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import polars as pl
import pytest

from alsig import planning
from alsig.errors import AlsigError
from alsig.settings import Contrast, complete
from alsig.stages.de import run, run_de
from alsig.stages.de.design import prepare_metadata
from alsig.stages.de.tables import LABEL_COLUMNS, SUMMARY_COLUMNS
from alsig.tables.schemas import polars_schema
from alsig.toy import toy_cohort


def simulate_de(seed: int = 7) -> ad.AnnData:
    """8 ALS vs 8 control donors (toy cohort), 500 well-expressed genes, 30 of them with a planted
    |log2 FC| of 2 (half up, half down); region and a numeric-text age as covariates."""
    adata = toy_cohort(
        (8, 8), n_genes=500, seed=seed, de_fraction=0.06, de_log2fc=2.0, mean_log=(6.0, 0.8)
    )
    adata.obs_names = [f"S{i:02d}" for i in range(adata.n_obs)]
    del adata.obs["batch"]  # a design variable the tests want absent
    adata.obs["region"] = ["frontal", "motor"] * 8
    rng = np.random.default_rng(seed)
    adata.obs["age"] = rng.normal(60, 8, adata.n_obs).round(1).astype(str)  # -> continuous
    return adata


@pytest.fixture(scope="module")
def simulated():
    return simulate_de()


@pytest.fixture(scope="module")
def de_result(simulated):
    return run_de(
        simulated,
        Contrast("ALS_vs_control", "condition", "ALS", "control"),
        complete("de", {"design": "~ sex + condition"}),
        n_cpus=1,
    )


def test_recovers_planted_genes(de_result, simulated):
    table, summary = de_result
    assert table.columns == [c for c in polars_schema("de_results") if c not in LABEL_COLUMNS]
    hits = set(table.filter(pl.col("padj") < 0.05)["symbol"].to_list())
    truth = simulated.var
    planted = set(truth.index[truth["is_de"]])
    assert len(planted) == 30
    assert len(hits & planted) >= 27  # most planted genes found
    assert len(hits - planted) <= 3  # few false positives among 470 null genes
    by_symbol = {r["symbol"]: r for r in table.iter_rows(named=True)}
    up = truth.index[truth["true_log2fc"] > 0][0]
    down = truth.index[truth["true_log2fc"] < 0][0]
    assert by_symbol[up]["log2_fold_change"] == pytest.approx(2.0, abs=0.6)
    assert by_symbol[down]["log2_fold_change"] == pytest.approx(-2.0, abs=0.6)
    # shrinkage pulls towards 0 and keeps the sign
    assert 0 < by_symbol[up]["log2_fold_change_shrunk"] <= by_symbol[up]["log2_fold_change"]
    assert summary["n_up"] + summary["n_down"] == summary["n_significant"] == len(hits)
    assert summary["lfc_shrink_coefficient"] == "condition[T.ALS]"
    assert summary["n_test"] == summary["n_reference"] == 8
    assert by_symbol[up]["gene_id"] == truth.loc[up, "gene_id"]


def test_no_leaked_future_warning_filter(de_result):
    assert not any(f[0] == "ignore" and f[2] is FutureWarning for f in warnings.filters)


def _prepare(adata, design, contrast, **kwargs):
    return prepare_metadata(adata.obs, design, "c1", contrast, **kwargs)


def test_missing_level_names_contrast_and_counts(simulated):
    with pytest.raises(AlsigError) as err:
        _prepare(simulated, "~ condition", ["condition", "ALS", "healthy"])
    msg = str(err.value)
    assert "contrast 'c1' (condition: ALS vs healthy) with design '~ condition'" in msg
    assert "level 'healthy' has no samples" in msg
    assert "control: 8" in msg and "ALS: 8" in msg


def test_too_few_samples_per_level(simulated):
    adata = simulated.copy()
    adata.obs["condition"] = ["control"] * 15 + ["ALS"]
    with pytest.raises(AlsigError, match=r"level 'ALS' has 1 sample\(s\), at least 2 needed"):
        _prepare(adata, "~ condition", ["condition", "ALS", "control"])


def test_factor_missing_or_not_in_design(simulated):
    with pytest.raises(AlsigError, match="factor 'diagnosis' is not a sample column"):
        _prepare(simulated, "~ condition", ["diagnosis", "ALS", "control"])
    with pytest.raises(AlsigError, match="the contrast factor 'condition' is not in the design"):
        _prepare(simulated, "~ sex", ["condition", "ALS", "control"])
    with pytest.raises(AlsigError, match=r"design variable\(s\) \['batch'\] are not sample"):
        _prepare(simulated, "~ batch + condition", ["condition", "ALS", "control"])
    with pytest.raises(AlsigError, match="is not a formula"):
        _prepare(simulated, "condition", ["condition", "ALS", "control"])


def test_rank_deficient_design(simulated):
    adata = simulated.copy()
    adata.obs["site"] = np.where(adata.obs["condition"] == "ALS", "A", "B")  # confounded
    with pytest.raises(AlsigError) as err:
        _prepare(adata, "~ site + condition", ["condition", "ALS", "control"])
    msg = str(err.value)
    assert "not full rank (rank 2 < 3 columns" in msg
    assert "contrast 'c1'" in msg and "'~ site + condition'" in msg
    assert "'site' x 'condition'" in msg


def test_missing_covariate_error_or_drop(simulated):
    adata = simulated.copy()
    adata.obs["sex"] = adata.obs["sex"].astype(object)
    adata.obs.loc[["S00", "S09"], "sex"] = None
    with pytest.raises(AlsigError) as err:
        _prepare(adata, "~ sex + condition", ["condition", "ALS", "control"])
    assert "'sex' missing for 2 sample(s) (S00, S09)" in str(err.value)
    assert "de.missing_covariates: drop" in str(err.value)
    meta, dropped = _prepare(
        adata, "~ sex + condition", ["condition", "ALS", "control"], missing_covariates="drop"
    )
    assert dropped == ["S00", "S09"] and len(meta) == 14


def test_metadata_types_and_reference_level(simulated):
    meta, _ = _prepare(simulated, "~ age + region + condition", ["condition", "ALS", "control"])
    assert meta["age"].dtype == float  # numeric text -> continuous
    assert list(meta["condition"].cat.categories)[:2] == ["control", "ALS"]
    meta, dropped = _prepare(
        simulated, "~ condition", ["condition", "ALS", "control"], samples="contrast"
    )
    assert dropped == []


def test_settings_are_checked_against_the_schema_naming_the_key():
    with pytest.raises(
        AlsigError, match=r"config key de.contrasts.bad: \['condition', 'ALS'\] is too short"
    ):
        complete("de", {"contrasts": {"bad": ["condition", "ALS"]}})
    with pytest.raises(
        AlsigError, match="config key de.contrasts: 'ALS vs control' does not match"
    ):
        complete("de", {"contrasts": {"ALS vs control": ["condition", "ALS", "control"]}})
    with pytest.raises(
        AlsigError, match="config key de.missing_covariates: 'impute' is not one of"
    ):
        complete("de", {"missing_covariates": "impute"})
    with pytest.raises(AlsigError, match="de.contrasts.same: test and reference level are both"):
        complete("de", {"contrasts": {"same": ["condition", "ALS", "ALS"]}})


def test_rule_entry_point_writes_every_contrast_and_test_of_the_dataset(tmp_path: Path, simulated):
    h5ad = tmp_path / "filtered.h5ad"
    small = simulated[:, :120].copy()
    small.uns["dataset"] = "sim"
    small.write_h5ad(h5ad)
    settings = complete(
        "de",
        {
            "design": "~ region + condition",
            "contrasts": {
                "ALS_vs_control": ["condition", "ALS", "control"],
                "control_vs_ALS": ["condition", "control", "ALS"],
            },
            "tests": {"region": {"test": "lrt", "reduced": "~ condition"}},
        },
    )
    folder = tmp_path / "de"
    folder.mkdir()
    run({"h5ad": str(h5ad)}, {"summary": str(folder / "summary.tsv")}, settings, 1, dataset="sim")
    expected = (
        {
            f"{name}{suffix}"
            for name in ("ALS_vs_control", "control_vs_ALS")
            for suffix in planning.DE_SUFFIXES
        }
        | {f"region{suffix}" for suffix in planning.DE_TEST_SUFFIXES}
        | {"summary.tsv"}
    )
    assert {p.name for p in folder.iterdir()} == expected
    files = planning.de_files(str(tmp_path), "x", settings)
    assert {Path(p).name for paths in files.values() for p in paths} == expected
    table = pl.read_parquet(folder / "ALS_vs_control.parquet")
    assert table.columns == list(polars_schema("de_results"))
    assert set(table["dataset"]) == {"sim"} and set(table["contrast"]) == {"ALS_vs_control"}
    assert set(table["model"]) == {"deseq2_wald"}
    # the reversed contrast is the same test, sign flipped (one fit, a contrast vector)
    flipped = pl.read_parquet(folder / "control_vs_ALS.parquet").sort("symbol")
    table = table.sort("symbol")
    np.testing.assert_allclose(flipped["stat"], -table["stat"], rtol=1e-12)
    np.testing.assert_allclose(flipped["pvalue"], table["pvalue"], rtol=1e-12)
    lrt = pl.read_parquet(folder / "region.parquet")
    assert set(lrt["model"]) == {"deseq2_lrt"} and set(lrt["df"]) == {1.0}
    assert lrt["log2_fold_change"].null_count() == lrt.height  # no coefficient named
    summary = pl.read_csv(folder / "summary.tsv", separator="\t")
    assert summary["contrast"].to_list() == ["ALS_vs_control", "control_vs_ALS", "region"]
    assert summary["kind"].to_list() == ["contrast", "contrast", "test"]
    assert set(summary["dataset"]) == {"sim"} and summary["fit"].n_unique() == 1
    assert summary.columns == [c for c in SUMMARY_COLUMNS if c in summary.columns]
    assert (folder / "ALS_vs_control.volcano.png").stat().st_size > 10_000
    assert (folder / "ALS_vs_control.ma.png").stat().st_size > 10_000


def test_an_interaction_with_the_contrast_factor_is_said_in_the_design_notes(simulated, caplog):
    """With ~ sex * condition the condition coefficient is the effect in the reference sex."""
    from alsig.stages.de.design import interaction_partners

    assert interaction_partners("~ sex * condition + age", "condition") == ["sex"]
    assert interaction_partners("~ C(region):condition + sex", "condition") == ["region"]
    assert interaction_partners("~ sex + condition", "condition") == []
    with caplog.at_level("WARNING"):
        meta, _ = _prepare(simulated, "~ sex * condition", ["condition", "ALS", "control"])
    reference_sex = sorted(simulated.obs["sex"].astype(str).unique())[0]
    note = (
        "contrast 'c1': the design has an interaction of condition with sex, so it is the "
        f"condition effect where sex = {reference_sex} (its reference level) only"
    )
    assert any(n.startswith(note) for n in meta.attrs["design_notes"])
    assert note in caplog.text
    meta, _ = _prepare(simulated, "~ sex + condition", ["condition", "ALS", "control"])
    assert not any("interaction" in n for n in meta.attrs["design_notes"])
