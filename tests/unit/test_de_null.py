"""DE: the permutation null beside each contrast (``de.null_permutations``, alsig.stages.de.null).

- A planted null (labels independent of expression): the summary's null columns are there and
  sane; a planted strong effect is reached by no permutation (``null_exceedance``, the
  permutation p-value, at its floor 1/(1 + permutations)).
- The same seed gives the same columns; the generator depends on the factor and the fit's
  samples, not on the fit's other contrasts; the labels move between whole donors (no donor
  split, level counts over donors kept); a factor that varies within donors gets no null, said
  why.
- The splits are distinct and never the real one or its swap of equal-size levels; with few
  donors every other split is fitted once and ``null_note`` says the null is complete.
- When shuffled labels find genes in more than 10 % of permutations the log warns, naming the
  numbers; a permutation that cannot be fitted is counted and named, not fatal.
- ``auto`` runs 20 permutations on small fits and says why not on large ones; the run summary
  and the job's runtime model carry them.
"""

from __future__ import annotations

import logging
import re

import anndata as ad
import numpy as np
import pandas as pd

from alsig import planning, settings
from alsig.errors import AlsigError
from alsig.report.summary import de_genes
from alsig.settings import Contrast, complete
from alsig.stages.de import run_dataset
from alsig.stages.de.models import GeneResults, Phases
from alsig.stages.de.null import (
    AUTO_PERMUTATIONS,
    apply_split,
    donor_levels,
    donor_splits,
    null_columns,
    permutation_rng,
    plan_permutations,
    run_null,
)
from alsig.stages.de.tables import NULL_COLUMNS, SUMMARY_COLUMNS
from alsig.toy import toy_cohort
from tests.conftest import REPO, uses_voom_kernels

ALS_VS_CONTROL = Contrast("ALS_vs_control", "condition", "ALS", "control")


def cohort(**kwargs) -> ad.AnnData:
    """6 ALS + 6 control donors, one sample each, 300 genes."""
    return toy_cohort((6, 6), n_genes=300, seed=3, mean_log=(5.0, 1.0), **kwargs)


def null_of(adata: ad.AnnData, **settings) -> dict:
    """The first contrast's summary under ``~ condition`` with the given ``de:`` keys."""
    (outcome,) = run_dataset(adata, complete("de", {"design": "~ condition", **settings}), n_cpus=1)
    return outcome.summary


def test_null_columns_of_a_planted_null_are_present_and_sane():
    summary = null_of(cohort(), null_permutations=10)
    assert set(NULL_COLUMNS) <= set(SUMMARY_COLUMNS)
    assert summary["n_significant"] == 0
    assert summary["null_permutations"] == 10
    assert summary["null_note"] == ""
    assert 0 <= summary["null_discoveries_median"] <= summary["null_discoveries_p90"] <= 300
    assert 0 <= summary["null_any_share"] <= 0.2  # labels independent of expression
    assert summary["null_exceedance"] == 1.0  # 0 real genes: every permutation reaches it


def test_a_planted_strong_effect_is_reached_by_no_permutation():
    summary = null_of(cohort(de_fraction=0.1, de_log2fc=2.0), null_permutations=10)
    assert summary["n_significant"] >= 25  # of 30 planted
    assert summary["null_exceedance"] == 1 / 11  # the floor of a 10-permutation p-value
    assert summary["null_discoveries_p90"] < 5


def test_the_null_is_deterministic_with_the_seed():
    adata = cohort(donor_sd=0.3)
    first = null_of(adata, null_permutations=8, seed=11)
    again = null_of(adata, null_permutations=8, seed=11)
    assert {k: first[k] for k in NULL_COLUMNS} == {k: again[k] for k in NULL_COLUMNS}
    samples = ["S1", "S2", "S3"]
    one = permutation_rng(11, "condition", samples)
    two = permutation_rng(11, "condition", samples[::-1])  # the sample set, not its order
    assert (one.permutation(50) == two.permutation(50)).all()
    for other in (
        permutation_rng(12, "condition", samples),
        permutation_rng(11, "sex", samples),
        permutation_rng(11, "condition", samples[:2]),
    ):
        assert not (
            other.permutation(50) == permutation_rng(11, "condition", samples).permutation(50)
        ).all()


def test_labels_move_between_whole_donors():
    adata = toy_cohort((5, 4), regions=("frontal", "motor", "spinal"), n_genes=20, seed=1)
    obs = adata.obs
    factor = pd.Series(pd.Categorical(obs["condition"], categories=["control", "ALS"]), obs.index)
    factor.name = "condition"
    subjects = obs["subject"].astype(str)
    real = donor_levels(factor, subjects)
    splits = donor_splits(real, [ALS_VS_CONTROL], 20, np.random.default_rng(0))
    assert len(splits.splits) == 20 and not splits.complete  # 126 splits of 5 + 4 donors
    for i in range(20):
        permuted = apply_split(factor, subjects, splits, i)
        assert permuted.dtype == factor.dtype  # the level order (reference first) stays
        per_donor = permuted.groupby(subjects, observed=True)
        assert (per_donor.nunique() == 1).all()  # no donor split
        moved = per_donor.first()
        assert sorted(moved.astype(str)) == sorted(real.astype(str))  # 5 ALS, 4 control donors
        assert not moved.astype(str).equals(real.astype(str))  # never the real grouping


def donors(*sizes: tuple[str, int]) -> pd.Series:
    """Each donor's level: ``sizes`` of (level, donors), donors D0, D1, ..."""
    levels = [level for level, n in sizes for _ in range(n)]
    return pd.Series(levels, index=[f"D{i}" for i in range(len(levels))], name="condition")


def swapped(split, a: str = "ALS", b: str = "control") -> tuple:
    return tuple(b if x == a else a if x == b else x for x in split)


def test_three_against_three_donors_get_every_other_split_once():
    real = donors(("ALS", 3), ("control", 3))
    splits = donor_splits(real, [ALS_VS_CONTROL], 20, permutation_rng(1, "condition", []))
    # C(6, 3) = 20 labelled splits, 10 once ALS and control may swap; the real one left out
    assert splits.complete and splits.others == 9 and len(splits.splits) == 9
    keys = {min(tuple(s), swapped(s)) for s in splits.splits}
    assert len(keys) == 9  # each split once, never also as its swap
    assert min(tuple(real), swapped(real)) not in keys  # neither the real split nor its swap
    assert all(sorted(s) == sorted(real) for s in splits.splits)


def test_unequal_levels_are_not_swapped_and_a_sampled_null_has_no_repeat():
    real = donors(("ALS", 4), ("control", 5))
    splits = donor_splits(real, [ALS_VS_CONTROL], 20, permutation_rng(1, "condition", ["a"]))
    assert splits.others == 125 and not splits.complete  # C(9, 4) - 1: no swap keeps the counts
    assert len({tuple(s) for s in splits.splits}) == 20
    assert tuple(real) not in {tuple(s) for s in splits.splits}
    again = donor_splits(real, [ALS_VS_CONTROL], 20, permutation_rng(1, "condition", ["a"]))
    assert [tuple(s) for s in again.splits] == [tuple(s) for s in splits.splits]  # the seed
    balanced = donor_splits(
        donors(("ALS", 6), ("control", 6)), [ALS_VS_CONTROL], 200, np.random.default_rng(2)
    )
    keys = [min(tuple(s), swapped(s)) for s in balanced.splits]
    assert balanced.others == 461 and len(set(keys)) == 200  # C(12, 6) / 2 - 1; no swap pairs


def test_a_swap_that_would_move_a_contrast_is_not_an_equivalence():
    real = donors(("ALS", 2), ("control", 2), ("other", 2))
    both = [ALS_VS_CONTROL, Contrast("other_vs_control", "condition", "other", "control")]
    # ALS and other may not swap (each has its own contrast with control): 90 labelled splits
    assert donor_splits(real, both, 100, np.random.default_rng(0)).others == 89
    # one contrast, ALS vs control: 'other' stays, ALS and control swap: 45 splits
    assert donor_splits(real, [ALS_VS_CONTROL], 100, np.random.default_rng(0)).others == 44


def test_too_few_donors_for_another_split_get_no_null_and_say_why():
    null = null_of_stand_in(1, 0, 20, lambda permuted: ShiftedFit(permuted))
    assert null == {
        "null_permutations": 0,
        "null_note": "skipped: the 2 donors (1 ALS, 1 control) have no other split of condition",
    }


def test_the_count_gets_a_permutation_p_value():
    assert null_columns(5, [0, 0, 7, 1])["null_exceedance"] == 2 / 5
    assert null_columns(9, [0, 0, 7, 1])["null_exceedance"] == 1 / 5  # never 0


def test_adding_a_contrast_to_the_fit_leaves_a_contrast_null_as_it_was():
    seen: dict[str, list[tuple]] = {}

    def recorder(key: str):
        def refit(permuted: pd.DataFrame) -> ShiftedFit:
            seen.setdefault(key, []).append(tuple(permuted["condition"]))
            return ShiftedFit(permuted)

        return refit

    names = [f"S{i}" for i in range(12)]
    meta = pd.DataFrame(
        {"condition": ["ALS", "control"] * 6, "sex": ["F"] * 6 + ["M"] * 6}, index=names
    )
    subjects = pd.Series(names, index=names)
    sex = Contrast("M_vs_F", "sex", "M", "F")
    for key, contrasts, label in (
        ("alone", [ALS_VS_CONTROL], "fit of ALS_vs_control (all samples)"),
        ("with sex", [ALS_VS_CONTROL, sex], "fit of ALS_vs_control, M_vs_F (all samples)"),
    ):
        run_null(
            meta,
            subjects,
            contrasts,
            {c.name: 0 for c in contrasts},
            recorder(key),
            permutations=5,
            seed=1,
            alpha=0.05,
            label=label,
        )
    assert seen["alone"] == seen["with sex"][:5]


@uses_voom_kernels
def test_a_factor_that_varies_within_donors_gets_no_null_and_says_why():
    adata = toy_cohort((4, 4), regions=("frontal", "motor"), n_genes=200, seed=2)
    settings = complete(
        "de",
        {
            "design": "~ region + condition",
            "contrasts": {"motor_vs_frontal": ["region", "motor", "frontal"]},
            "null_permutations": 5,
        },
    )
    (outcome,) = run_dataset(adata, settings, n_cpus=1)
    assert outcome.summary["model"] == "voom_dream"
    assert outcome.summary["null_permutations"] == 0
    assert outcome.summary["null_note"].startswith("skipped: region varies within 8 donor(s)")
    assert "null_any_share" not in outcome.summary


class ShiftedFit:
    """A stand-in fit whose contrast has 3 genes at padj 0.001 under any labels: the shape of
    a whole-transcriptome shift that every shuffle of the donors finds."""

    closed = 0

    def __init__(self, meta: pd.DataFrame) -> None:
        self.meta = meta

    def wald(self, contrast):
        padj = np.array([0.001, 0.001, 0.001, 0.5, np.nan])
        return GeneResults("deseq2_wald", {"padj": padj}, {}, Phases("stand-in"))

    def close(self) -> None:
        ShiftedFit.closed += 1


def null_of_stand_in(per_level: int, real: int, permutations: int, refit) -> dict:
    """``run_null`` over ``per_level`` ALS and control donors (one sample each), fits by
    ``refit``."""
    names = [f"S{i}" for i in range(2 * per_level)]
    meta = pd.DataFrame({"condition": ["ALS", "control"] * per_level}, index=names)
    subjects = pd.Series(names, index=names)
    return run_null(
        meta,
        subjects,
        [ALS_VS_CONTROL],
        {"ALS_vs_control": real},
        refit,
        permutations=permutations,
        seed=1,
        alpha=0.05,
        label="fit",
    )["ALS_vs_control"]


def test_shuffled_labels_finding_genes_warns_with_the_numbers(caplog):
    ShiftedFit.closed = 0
    seen: list[pd.Series] = []

    def refit(permuted: pd.DataFrame) -> ShiftedFit:
        seen.append(permuted["condition"])
        return ShiftedFit(permuted)

    with caplog.at_level(logging.INFO, logger="alsig"):
        null = null_of_stand_in(4, 5, 6, refit)
    assert null == {
        "null_permutations": 6,
        "null_discoveries_median": 3.0,
        "null_discoveries_p90": 3.0,
        "null_any_share": 1.0,
        "null_exceedance": 1 / 7,
        "null_note": "",
    }
    assert len(seen) == ShiftedFit.closed == 6  # every permuted fit closed
    assert all((s.value_counts() == 4).all() for s in seen)
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert message == (
        "contrast ALS_vs_control: 5 genes at padj < 0.05 with the real labels; with condition "
        "shuffled between donors, median 3, 90th percentile 3, some gene in 6 of 6 "
        "permutations, at least 5 in 0 of 6 (permutation p = 0.14). BH promises some gene in at most about 5 % of such "
        "permutations; here 100 %: on these data the contrast's padj is not a false-discovery "
        "rate. Read its 5 genes beside the null (DE summary columns null_*; docs/methods.md)."
    )


def test_a_permutation_that_cannot_be_fitted_is_counted_and_named():
    calls = iter(range(10))

    def refit(permuted: pd.DataFrame) -> ShiftedFit:
        if next(calls) == 1:
            raise AlsigError("design not full rank")
        return ShiftedFit(permuted)

    null = null_of_stand_in(3, 0, 4, refit)
    assert null["null_permutations"] == 3
    assert null["null_note"] == (
        "1 of 4 permutations not fitted: permutation 2: design not full rank"
    )


def test_auto_runs_twenty_on_small_fits_and_says_why_not_on_large_ones():
    assert plan_permutations("auto", 26, 17_270, "alsig").permutations == AUTO_PERMUTATIONS
    large = plan_permutations("auto", 175, 19_385, "alsig")
    assert large.permutations == 0
    assert large.note == (
        "skipped by de.null_permutations: auto (20 permutations x 175 samples x 19,385 genes = "
        "68 M cells > 20 M); set de.null_permutations: 20 to run them"
    )
    assert plan_permutations("auto", 26, 17_270, "pydeseq2").permutations == 0
    assert plan_permutations(5, 175, 19_385, "alsig").permutations == 5
    summary = null_of(cohort(), null_permutations=0)
    assert not any(k in summary for k in NULL_COLUMNS)  # off: no columns filled


def test_run_summary_shows_the_null_beside_the_count():
    row = {
        "contrast": "cerebellum",
        "n_significant": 8,
        "n_up": 8,
        "n_down": 0,
        "n_genes_with_padj": 17270,
        "alpha": 0.05,
        "null_permutations": 20,
        "null_discoveries_median": 0.0,
        "null_discoveries_p90": 3.3,
        "null_any_share": 0.35,
        "null_exceedance": 2 / 21,  # (1 + 1 permutation reaching 8) / (1 + 20)
    }
    assert de_genes([row]) == (
        "cerebellum: 8 (8 up, 0 down, of 17,270 tested, padj < 0.05; shuffled donor labels, 20 "
        "permutations: median 0, 90th percentile 3.3, some gene in 35 %, 8 or more in 1 of 20, "
        "permutation p = 0.095)"
    )
    skipped = {**row, "null_permutations": 0, "null_any_share": None}
    assert de_genes([skipped]) == "cerebellum: 8 (8 up, 0 down, of 17,270 tested, padj < 0.05)"


def test_the_runtime_model_counts_the_permuted_fits(tmp_path):
    path = tmp_path / "qc.h5ad"
    ad.AnnData(np.zeros((100, 500), dtype=np.int32)).write_h5ad(path)
    contrasts = {
        "a": ["condition", "ALS", "control"],
        "b": ["condition", "other", "control"],  # the same fit and factor: shares a's null
        "c": {"contrast": ["condition", "ALS", "control"], "subset": {"region": ["frontal"]}},
    }
    runtime = {
        key: planning.de_runtime_min(str(path), complete("de", {"contrasts": contrasts, **extra}))
        for key, extra in (
            ("off", {"null_permutations": 0}),
            ("auto", {}),
            ("ten", {"null_permutations": 10}),
        )
    }
    assert planning.de_null_fits(complete("de", {"contrasts": contrasts})) == 2
    assert runtime["off"] == 5 + 2 * 1  # two fits of a minute each
    assert runtime["auto"] == runtime["off"] + 2  # a minute per null at most
    assert runtime["ten"] == runtime["off"] + 2 * 10


def test_the_subtypes_de_runtime_has_no_null_minutes(tmp_path):
    path = tmp_path / "qc.h5ad"
    ad.AnnData(np.zeros((100, 500), dtype=np.int32)).write_h5ad(path)
    de = complete("de", {"null_permutations": 10})
    without = settings.de_settings_without_null(settings.as_mapping(de))
    assert planning.de_runtime_min(str(path), without) == 5 + 1  # one fit of a minute
    assert planning.de_runtime_min(str(path), de) == 5 + 1 + 10
    rules = (REPO / "workflow" / "rules" / "subtypes.smk").read_text()
    body = re.search(r"^rule subtypes_de:\n(?:(?!rule ).*\n)*", rules, re.M)
    assert body is not None
    runtime = body[0].split("runtime=")[1].split("params:")[0]
    assert "de_settings_without_null(" in runtime and "SETTINGS[wc.dataset].de" not in runtime
