"""DE: the permutation null beside each contrast (``de.null_permutations``, alsig.stages.de.null).

- A planted null (labels independent of expression): the summary's null columns are there and
  sane; a planted strong effect is reached by no permutation (``null_exceedance`` 0).
- The same seed gives the same columns; the labels move between whole donors (no donor split,
  level counts over donors kept); a factor that varies within donors gets no null, said why.
- When shuffled labels find genes in more than 10 % of permutations the log warns, naming the
  numbers; a permutation that cannot be fitted is counted and named, not fatal.
- ``auto`` runs 20 permutations on small fits and says why not on large ones; the run summary
  and the job's runtime model carry them.
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd

from alsig import planning
from alsig.errors import AlsigError
from alsig.report.summary import de_genes
from alsig.settings import Contrast, complete
from alsig.stages.de import run_dataset
from alsig.stages.de.models import GeneResults, Phases
from alsig.stages.de.null import (
    AUTO_PERMUTATIONS,
    permutation_rng,
    permute_between_donors,
    plan_permutations,
    run_null,
)
from alsig.stages.de.tables import NULL_COLUMNS, SUMMARY_COLUMNS
from alsig.toy import toy_cohort
from tests.conftest import uses_voom_kernels

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
    assert summary["null_exceedance"] == 0.0
    assert summary["null_discoveries_p90"] < 5


def test_the_null_is_deterministic_with_the_seed():
    adata = cohort(donor_sd=0.3)
    first = null_of(adata, null_permutations=8, seed=11)
    again = null_of(adata, null_permutations=8, seed=11)
    assert {k: first[k] for k in NULL_COLUMNS} == {k: again[k] for k in NULL_COLUMNS}
    one, two = permutation_rng(11, "fit", "condition"), permutation_rng(11, "fit", "condition")
    assert (one.permutation(50) == two.permutation(50)).all()
    assert not (
        permutation_rng(12, "fit", "condition").permutation(50) == one.permutation(50)
    ).all()


def test_labels_move_between_whole_donors():
    adata = toy_cohort((5, 4), regions=("frontal", "motor", "spinal"), n_genes=20, seed=1)
    obs = adata.obs
    factor = pd.Series(pd.Categorical(obs["condition"], categories=["control", "ALS"]), obs.index)
    factor.name = "condition"
    subjects = obs["subject"].astype(str)
    real = factor.groupby(subjects, observed=True).first()
    rng = np.random.default_rng(0)
    for _ in range(20):
        permuted = permute_between_donors(factor, subjects, rng)
        assert permuted.dtype == factor.dtype  # the level order (reference first) stays
        per_donor = permuted.groupby(subjects, observed=True)
        assert (per_donor.nunique() == 1).all()  # no donor split
        moved = per_donor.first()
        assert sorted(moved.astype(str)) == sorted(real.astype(str))  # 5 ALS, 4 control donors
        assert not moved.astype(str).equals(real.astype(str))  # never the real grouping


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
        "null_exceedance": 0.0,
        "null_note": "",
    }
    assert len(seen) == ShiftedFit.closed == 6  # every permuted fit closed
    assert all((s.value_counts() == 4).all() for s in seen)
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert message == (
        "contrast ALS_vs_control: 5 genes at padj < 0.05 with the real labels; with condition "
        "shuffled between donors, median 3, 90th percentile 3, some gene in 6 of 6 "
        "permutations, at least 5 in 0 of 6. BH promises some gene in at most about 5 % of such "
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
        "null_exceedance": 0.05,
    }
    assert de_genes([row]) == (
        "cerebellum: 8 (8 up, 0 down, of 17,270 tested, padj < 0.05; shuffled donor labels, 20 "
        "permutations: median 0, 90th percentile 3.3, some gene in 35 %, 8 or more in 5 %)"
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
