"""Design covariates (issue 29): "not known" spellings are missing, not levels; a numeric column
with text entries, or integer codes for a batch, is reported with the choice made and the key
that overrides it (de.categorical); the notes reach the DE summary."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from alsig.errors import AlsigError
from alsig.settings import Contrast, complete
from alsig.stages import de
from alsig.stages.axes.models import model_design
from alsig.stages.de.design import design_matrix, prepare_metadata
from alsig.toy import toy_cohort

CONTRAST = ["condition", "ALS", "control"]


@pytest.fixture(scope="module")
def cohort():
    adata = toy_cohort((6, 6), n_genes=200, seed=3, de_fraction=0.1, batches=3)
    rng = np.random.default_rng(3)
    adata.obs["age"] = rng.integers(50, 85, adata.n_obs).astype(str)
    adata.obs["batch_code"] = (
        adata.obs["batch"].str.removeprefix("B").astype(int).add(1).astype(str)
    )
    return adata


def test_unknown_in_a_numeric_covariate_is_missing_not_a_level(cohort, caplog):
    obs = cohort.obs.copy()
    unknown = list(obs.index[[1, 7]])
    obs.loc[unknown, "age"] = ["Unknown", "NA"]
    with pytest.raises(AlsigError) as info:
        prepare_metadata(obs, "~ age + condition", "c", CONTRAST)
    assert f"'age' missing for 2 sample(s) ({unknown[0]}, {unknown[1]})" in str(info.value)
    assert "de.missing_covariates: drop" in str(info.value)
    with caplog.at_level(logging.WARNING):
        meta, dropped = prepare_metadata(
            obs, "~ age + condition", "c", CONTRAST, missing_covariates="drop"
        )
    # before: 'Unknown' and 'NA' were levels, age a many-level factor; now it stays numeric
    assert meta["age"].dtype == float and dropped == unknown
    assert design_matrix(meta, "~ age + condition").shape[1] == 3
    assert f"'Unknown' for 1 sample(s) ({unknown[0]}) read as missing" in caplog.text
    assert any("'NA'" in n for n in meta.attrs["design_notes"])


def test_na_text_in_a_categorical_covariate_is_missing(cohort):
    obs = cohort.obs.copy()
    obs.loc[obs.index[0], "sex"] = "N/A"
    meta, dropped = prepare_metadata(
        obs, "~ sex + condition", "c", CONTRAST, missing_covariates="drop"
    )
    assert list(meta["sex"].cat.categories) == ["female", "male"] and dropped == [obs.index[0]]


def test_integer_batch_codes_are_reported_and_de_categorical_overrides(cohort):
    meta, _ = prepare_metadata(cohort.obs, "~ batch_code + condition", "c", CONTRAST)
    assert meta["batch_code"].dtype == float
    (note,) = meta.attrs["design_notes"]
    assert "integer codes (1, 2, 3)" in note and "de.categorical: [batch_code]" in note
    meta, _ = prepare_metadata(
        cohort.obs, "~ batch_code + condition", "c", CONTRAST, categorical=["batch_code"]
    )
    assert list(meta["batch_code"].cat.categories) == ["1", "2", "3"]
    assert meta.attrs["design_notes"] == []
    assert design_matrix(meta, "~ batch_code + condition").shape[1] == 4  # two batch columns
    meta, _ = prepare_metadata(cohort.obs, "~ C(batch_code) + condition", "c", CONTRAST)
    assert meta.attrs["design_notes"] == []  # C(x) in the formula says categorical too


def test_mostly_numeric_covariate_with_text_is_categorical_and_named(cohort):
    obs = cohort.obs.copy()
    obs.loc[obs.index[4], "age"] = "90+"
    with pytest.raises(AlsigError) as info:  # a 12-sample cohort cannot fit an 11-level age
        prepare_metadata(obs, "~ age + condition", "c", CONTRAST)
    message = str(info.value)
    assert "not full rank" in message and f"'90+' ({obs.index[4]}) are not" in message
    assert "used as categorical with 11 levels" in message


def test_design_notes_reach_the_de_summary_only_when_there_is_one(cohort):
    settings = {"design": "~ batch_code + condition", "lfc_shrink": False}
    contrast = Contrast("ALS_vs_control", *CONTRAST)
    _, summary = de.run_de(cohort, contrast, complete("de", settings), n_cpus=1)
    assert "integer codes" in summary["design_notes"]
    with_categorical = complete("de", {**settings, "categorical": ["batch_code"]})
    _, summary = de.run_de(cohort, contrast, with_categorical, n_cpus=1)
    assert "design_notes" not in summary


def test_a_yaml_boolean_level_gets_a_hint(cohort):
    with pytest.raises(AlsigError, match="quote the level in de.contrasts"):
        prepare_metadata(cohort.obs, "~ condition", "c", ["condition", "True", "control"])


def test_axis_tests_type_covariates_as_the_de_fit_does(cohort):
    """de.categorical reaches the axis tests: integer batch codes become levels there too."""
    contrast = Contrast("ALS_vs_control", *CONTRAST)
    design = "~ batch_code + condition"
    numeric, _ = model_design(cohort.obs, design, contrast, exclude={})
    levels, _ = model_design(cohort.obs, design, contrast, exclude={}, categorical=["batch_code"])
    assert "batch_code" in numeric.matrix.columns  # one slope over the codes
    assert {"batch_code[T.2]", "batch_code[T.3]"} <= set(levels.matrix.columns)
