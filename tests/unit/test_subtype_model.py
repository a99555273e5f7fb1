"""Subtype reference model: per-sample features, planted three-state recovery, sample stability,
model file round trip and rebuild, the out-of-reference rule and bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from alsig.errors import AlsigError
from alsig.signatures import Signature
from alsig.stages.score.retrotransposons import te_log2cpm
from alsig.stages.subtypes.features import (
    counts_by_entrez,
    gene_rank_features,
    rank_normal_scores,
    te_features,
    te_subfamily_counts,
)
from alsig.stages.subtypes.projection import (
    calibrated_probabilities,
    call_rule,
    canonical_region,
    choose_model,
    project,
    reweight_priors,
)
from alsig.stages.subtypes.reference_model import (
    CLASSES,
    GENES_MODEL,
    GENES_TE_MODEL,
    OUT_OF_REFERENCE,
    PROBABILITY_COLUMNS,
    load_model,
    load_shipped,
    save_model,
    save_reference_calls,
)
from alsig.subtype_model.cross_validation import call_metrics, predict_rows
from alsig.subtype_model.training import (
    Candidate,
    TrainingSet,
    TrainingSettings,
    inner_cv,
    select_and_fit,
)
from alsig.toy import toy_cohort
from tests.conftest import REPO

FAST = TrainingSettings(
    gene_grid=(20, 60), c_grid=(0.01, 0.1), inner_folds=3, inner_repeats=1, min_log2cpm=1.0
)
PROGRAMMES = {"ALS-Ox": 15, "ALS-Glia": 15, "ALS-TE": 15}


def toy_training(seed: int = 3, n_als: int = 48, te: bool = False) -> TrainingSet:
    """A toy cohort with three planted programmes: donors (two regions each) carry one state."""
    adata = toy_cohort(
        n_donors=(n_als, 2),
        regions=("Frontal Cortex", "Motor Cortex"),
        n_genes=400,
        programmes=PROGRAMMES,
        programme_log2fc=0.8,
        donor_sd=0.2,
        seed=seed,
    )
    adata = adata[adata.obs["condition"] == "ALS"].copy()
    counts = pd.DataFrame(adata.X, index=adata.obs_names, columns=adata.var["gene_id"].tolist())
    symbols = dict(zip(adata.var["gene_id"], adata.var["symbol"], strict=True))
    meta = pd.DataFrame(
        {
            "label": adata.obs["true_state"].to_numpy(),
            "subject": adata.obs["subject"].to_numpy(),
            "region": adata.obs["region"].to_numpy(),
            "batch": adata.obs["batch"].to_numpy(),
        },
        index=adata.obs_names,
    )
    te_counts = None
    if te:
        rng = np.random.default_rng(seed)
        names = [f"L1PA{i}:L1:LINE" for i in range(2, 30)]
        boost = (meta["label"] == "ALS-TE").to_numpy()[:, None] * 2.0
        te_counts = pd.DataFrame(
            rng.poisson(200 * (1 + boost), (len(meta), len(names))),
            index=meta.index,
            columns=names,
        )
    return TrainingSet(counts, symbols, meta, te_counts)


@pytest.fixture(scope="module")
def toy() -> TrainingSet:
    return toy_training()


@pytest.fixture(scope="module")
def split(toy):
    """Train on the first 32 donors, hold out the rest (all samples of a donor on one side)."""
    donors = sorted(toy.meta["subject"].unique())
    held = np.isin(toy.groups, donors[32:])
    return np.flatnonzero(~held), np.flatnonzero(held)


@pytest.fixture(scope="module")
def toy_model(toy, split):
    model, _ = select_and_fit(toy, split[0], FAST, name=GENES_MODEL)
    return model


def test_inner_cv_on_some_cells_gives_their_losses_and_choices_to_the_bit(toy, split):
    """The build script's spot check (--spot-cells) stands for the whole grid only if a grid
    point's loss does not depend on which others are judged beside it."""
    whole = inner_cv(toy, split[0], FAST)
    best = whole.chosen
    other = Candidate(20 if best.n_genes == 60 else 60, 0, 0.01)
    spot = inner_cv(toy, split[0], FAST, cells=[other, best])
    key = ["n_genes", "n_te", "C"]
    pd.testing.assert_frame_equal(
        spot.losses, whole.losses.merge(spot.losses[key]), check_exact=True
    )
    assert spot.chosen == best
    assert (spot.temperature, spot.distance_threshold) == (
        whole.temperature,
        whole.distance_threshold,
    )
    np.testing.assert_array_equal(spot.bias, whole.bias)
    with pytest.raises(ValueError, match="outside the settings' grid"):
        inner_cv(toy, split[0], FAST, cells=[Candidate(30, 0, 0.01)])


# -- features -----------------------------------------------------------------------------------


def test_rank_normal_scores_are_within_sample_quantiles_and_ignore_missing():
    counts = np.array([[0.0, 10.0, 5.0, 5.0], [1.0, np.nan, 3.0, 2.0]])
    scores = rank_normal_scores(counts)
    assert scores[0] == pytest.approx(norm.ppf((np.array([1, 4, 2.5, 2.5]) - 0.5) / 4))
    assert np.isnan(scores[1, 1])
    assert scores[1, [0, 2, 3]] == pytest.approx(norm.ppf((np.array([1, 3, 2]) - 0.5) / 3))
    # depth does not move ranks: doubling a library gives the same features
    assert rank_normal_scores(counts * 2) == pytest.approx(scores, nan_ok=True)


def test_gene_rank_features_mark_absent_genes_missing():
    counts = pd.DataFrame([[5, 1, 9]], index=["s1"], columns=["10", "20", "30"])
    features = gene_rank_features(counts, ["30", "99", "10"])
    assert list(features.columns) == ["30", "99", "10"]
    assert np.isnan(features.loc["s1", "99"])
    assert features.loc["s1", "30"] > features.loc["s1", "10"]


def test_te_features_are_the_retrotransposon_axis_normalisation():
    te = pd.DataFrame(
        [[30, 10, 4], [0, 5, 8]],
        index=["a", "b"],
        columns=["L1HS:L1:LINE", "AluY:Alu:SINE", "AluY:Alu:SINE?"],
    )
    libraries = np.array([1e6, 2e6])
    features = te_features(te, libraries, ["AluY", "L1HS", "SVA_A"])
    axis = te_log2cpm(te, libraries, [Signature("x", "retrotransposons", up=["AluY"])])
    assert features["AluY"].to_numpy() == pytest.approx(axis[:, 0])
    assert features.loc["a", "L1HS"] == pytest.approx(np.log2(30 + 1))
    assert features["SVA_A"].isna().all()
    assert te_subfamily_counts(te).loc["a", "AluY"] == 14


def test_canonical_region_reads_the_cohorts_spellings():
    assert canonical_region("Motor Cortex (Lateral)") == "motor cortex"
    assert canonical_region("motor cortex") == "motor cortex"
    assert canonical_region("Frontal Cortex") == "frontal cortex"
    assert canonical_region("FCX") == "frontal cortex"
    assert canonical_region("Cerebellum") == "cerebellum"
    assert canonical_region(None) is None and canonical_region(np.nan) is None


# -- planted truth and stability ----------------------------------------------------------------


def test_planted_three_states_are_recovered_on_held_out_donors(toy, split, toy_model):
    projected = predict_rows(toy_model, toy, split[1])
    frame = projected.assign(label=toy.meta.iloc[split[1]]["label"].to_numpy())
    metrics = call_metrics(frame)
    assert metrics["ba"] >= 0.9, metrics
    assert min(metrics["auc"].values()) >= 0.95, metrics
    assert projected[list(PROBABILITY_COLUMNS)].sum(axis=1).to_numpy() == pytest.approx(1.0)
    assert set(projected["subtype_model"]) == {GENES_MODEL}
    assert (projected["gene_coverage"] == 1.0).all()


def test_scoring_a_subset_gives_identical_calls(toy, split, toy_model):
    everyone = project(toy_model, toy.gene_counts, regions=toy.meta["region"])
    subset = toy.samples[::3]
    part = project(toy_model, toy.gene_counts.loc[subset], regions=toy.meta["region"])
    pd.testing.assert_frame_equal(part, everyone.loc[subset])


def test_a_shuffled_label_model_does_not_recover_the_states(toy, split):
    """The recovery test can fail: with permuted labels the held-out donors are near chance."""
    rng = np.random.default_rng(0)
    shuffled = toy.meta.copy()
    shuffled["label"] = rng.permutation(shuffled["label"].to_numpy())
    noise = TrainingSet(toy.gene_counts, toy.gene_symbols, shuffled)
    model, _ = select_and_fit(noise, split[0], FAST)
    frame = predict_rows(model, noise, split[1]).assign(
        label=toy.meta.iloc[split[1]]["label"].to_numpy()
    )
    assert call_metrics(frame)["ba"] < 0.7


# -- the model file -----------------------------------------------------------------------------


def test_model_round_trip_and_rebuild_are_bit_for_bit(toy, split, toy_model, tmp_path):
    json_path, parquet_path = save_model(toy_model, tmp_path / "a")
    loaded = load_model(json_path)
    pd.testing.assert_frame_equal(
        project(loaded, toy.gene_counts), project(toy_model, toy.gene_counts)
    )
    # the same training again writes the same bytes
    rebuilt, _ = select_and_fit(toy, split[0], FAST, name=GENES_MODEL)
    again = save_model(rebuilt, tmp_path / "b")
    assert json_path.read_bytes() == again[0].read_bytes()
    assert parquet_path.read_bytes() == again[1].read_bytes()
    # and what was loaded writes back unchanged
    third = save_model(loaded, tmp_path / "c")
    assert json_path.read_bytes() == third[0].read_bytes()
    document = json.loads(json_path.read_text())
    assert document["classes"] == list(CLASSES)
    assert document["features"][0]["kind"] == "gene" and document["features"][0]["symbol"]


def test_model_stores_choices_made_in_the_inner_cv(toy_model):
    hyper = toy_model.hyperparameters
    assert hyper["n_genes"] in FAST.gene_grid and hyper["C"] in FAST.c_grid
    assert toy_model.min_probability in FAST.probability_grid
    assert toy_model.calibration_target in ("prevalence", "balanced")
    assert toy_model.distance_threshold > 0


def test_training_samples_get_their_stored_outer_fold_call_never_an_in_sample_one(
    toy, split, toy_model, tmp_path
):
    training = list(toy_model.reference_samples)
    assert training == [toy.samples[i] for i in split[0]]
    # without stored outer-fold calls a training sample gets no call at all
    bare = project(toy_model, toy.gene_counts.loc[training[:3]])
    assert bare["reference_sample"].all() and (bare["subtype_call"] == "unassigned").all()
    assert bare["p_ox"].isna().all()
    stored = pd.DataFrame(
        {
            "subtype_model": toy_model.name,
            "sample": training,
            "p_ox": 0.2,
            "p_glia": 0.3,
            "p_te": 0.5,
            "reference_distance": 0.25,
            "subtype_call": "ALS-TE",
        }
    )
    json_path, _ = save_model(toy_model, tmp_path)
    save_reference_calls(stored, tmp_path)
    loaded = load_model(json_path)
    held = [toy.samples[i] for i in split[1][:4]]
    projected = project(loaded, toy.gene_counts.loc[training[:5] + held])
    assert projected.loc[training[:5], "reference_sample"].all()
    assert (projected.loc[training[:5], "subtype_call"] == "ALS-TE").all()
    assert projected.loc[training[:5], "p_te"].to_numpy() == pytest.approx(0.5)
    assert not projected.loc[held, "reference_sample"].any()
    # recognised by content: a renamed training sample is still a reference sample
    renamed = toy.gene_counts.loc[[training[0]]].rename(index={training[0]: "new_name"})
    assert project(loaded, renamed)["reference_sample"].iloc[0]
    # a call table that misses reference samples is refused
    save_reference_calls(stored.iloc[1:], tmp_path)
    with pytest.raises(AlsigError, match="each of its 64 reference samples once"):
        load_model(json_path)


# -- out of reference ---------------------------------------------------------------------------


def test_cerebellum_and_far_samples_are_out_of_reference(toy, split, toy_model):
    held = [toy.samples[i] for i in split[1]]
    regions = toy.meta["region"].copy()
    regions.loc[held[0]] = "Cerebellum"
    regions.loc[held[1]] = None  # unknown region: judged by distance only
    counts = toy.gene_counts.loc[held].copy()
    rng = np.random.default_rng(1)
    counts.iloc[2] = rng.permutation(counts.iloc[2].to_numpy())  # another tissue entirely
    projected = project(toy_model, counts, regions=regions)
    assert projected.loc[held[0], "subtype_call"] == OUT_OF_REFERENCE
    assert projected.loc[held[0], "in_reference_region"] == False  # noqa: E712
    assert projected.loc[held[1], "subtype_call"] != OUT_OF_REFERENCE
    assert projected.loc[held[1], "in_reference_region"] is None
    assert projected.loc[held[2], "subtype_call"] == OUT_OF_REFERENCE
    assert projected.loc[held[2], "reference_distance"] > toy_model.distance_threshold
    within = projected.drop(index=held[:3])
    assert (within["subtype_call"] != OUT_OF_REFERENCE).mean() >= 0.9


def test_reference_regions_can_be_narrowed(toy, split, toy_model):
    held = [toy.samples[i] for i in split[1]]
    projected = project(
        toy_model,
        toy.gene_counts.loc[held],
        regions=toy.meta["region"],
        reference_regions=["frontal cortex"],
    )
    motor = projected["region"] == "motor cortex"
    assert (projected.loc[motor, "subtype_call"] == OUT_OF_REFERENCE).all()


# -- bad input ----------------------------------------------------------------------------------


def test_missing_genes_lower_coverage_and_below_half_are_refused(toy, toy_model):
    genes = toy_model.genes
    partial = toy.gene_counts.drop(columns=genes[: int(0.3 * len(genes))])
    projected = project(toy_model, partial)
    assert projected["gene_coverage"].iloc[0] == pytest.approx(
        1 - int(0.3 * len(genes)) / len(genes)
    )
    too_few = toy.gene_counts.drop(columns=genes[: int(0.6 * len(genes))])
    with pytest.raises(AlsigError, match=r"only 40 % of its genes .*minimum 50 %"):
        project(toy_model, too_few)


def test_symbols_instead_of_entrez_ids_are_refused(toy, toy_model):
    by_symbol = toy.gene_counts.rename(columns=toy.gene_symbols)
    with pytest.raises(AlsigError, match="Entrez ids"):
        project(toy_model, by_symbol)


def test_wrong_model_files_are_refused_with_the_file_named(toy_model, tmp_path):
    with pytest.raises(AlsigError, match="not found"):
        load_model(tmp_path / "none.json")
    text = tmp_path / "counts.json"
    text.write_text("gene\tS1\nA\t1\n")
    with pytest.raises(AlsigError, match=r"counts\.json.*not a JSON subtype model"):
        load_model(text)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(AlsigError, match="not an alsig subtype model"):
        load_model(other)
    json_path, parquet_path = save_model(toy_model, tmp_path / "m")
    document = json.loads(json_path.read_text())
    document["features"][0]["scale"] = 0
    broken = tmp_path / "m" / "broken.json"
    broken.write_text(json.dumps(dict(document, name="broken")))
    with pytest.raises(AlsigError, match="feature 0"):
        load_model(broken)
    # a reference matrix from another build
    other_model = dataclasses.replace(toy_model, reference=toy_model.reference[:-1])
    save_model(other_model, tmp_path / "n")
    (tmp_path / "n" / f"{GENES_MODEL}.reference.parquet").replace(parquet_path)
    with pytest.raises(AlsigError, match="does not match"):
        load_model(json_path)


def test_te_model_needs_te_counts_and_the_genes_model_is_chosen_without(tmp_path):
    data = toy_training(seed=5, n_als=30, te=True)
    settings = dataclasses.replace(FAST, te_grid=(5, 20), min_te_log2cpm=0.0)
    with_te, _ = select_and_fit(data, settings=settings, name=GENES_TE_MODEL)
    genes_only, _ = select_and_fit(data, settings=FAST, name=GENES_MODEL)
    assert with_te.uses_te and not genes_only.uses_te
    with pytest.raises(AlsigError, match="no TE counts"):
        project(with_te, data.gene_counts)
    models = {GENES_MODEL: genes_only, GENES_TE_MODEL: with_te}
    assert choose_model(None, models).name == GENES_MODEL
    assert choose_model(data.te_counts, models).name == GENES_TE_MODEL
    renamed = data.te_counts.rename(columns=lambda c: "X" + c)
    assert choose_model(renamed, models).name == GENES_MODEL
    projected = project(with_te, data.gene_counts, te_counts=data.te_counts)
    assert (projected["te_coverage"] == 1.0).all()


def test_calibrated_probabilities_sum_to_one():
    logits = np.array([[1.0, 2.0, -3.0], [100.0, 0.0, 0.0]])
    p = calibrated_probabilities(logits, 2.0, np.array([0.0, 0.5, -0.5]))
    assert p.sum(axis=1) == pytest.approx(1.0)
    assert p[1].argmax() == 0
    equal = np.array([[1 / 3, 1 / 3, 1 / 3]])
    assert reweight_priors(equal, [0.6, 0.2, 0.2])[0] == pytest.approx([0.6, 0.2, 0.2])


# -- the shipped models on the real reference (../shared/data) ----------------------------------


def test_shipped_models_carry_outer_fold_calls_for_every_reference_sample():
    for name in (GENES_MODEL, GENES_TE_MODEL):
        model = load_shipped(name)
        assert len(model.reference_samples) == 148 == model.reference.shape[0]
        calls = model.reference_calls
        assert calls is not None and calls["reference_sample"].all()
        assert set(calls["subtype_call"]) <= {*CLASSES, "unassigned", OUT_OF_REFERENCE}
        # the outer folds' thresholds (cv_predictions.tsv) re-make every stored call by the rule
        remade = call_rule(
            calls[list(PROBABILITY_COLUMNS)].to_numpy(),
            calls["reference_distance"].to_numpy(),
            np.ones(len(calls), dtype=bool),
            classes=model.classes,
            min_probability=calls["min_probability"].to_numpy(),
            distance_threshold=calls["distance_threshold"].to_numpy(),
        )
        assert list(remade) == list(calls["subtype_call"])
        report = model.cv_report
        assert report["nested"]["repeats"] >= 5 and "batch_held_out" in report
        assert model.uses_te == (name == GENES_TE_MODEL)
        assert all(symbol for _, _, symbol in model.features if _ == "gene")


def test_the_report_caption_states_the_shipped_models_outer_fold_accuracy():
    caption = (REPO / "workflow/report/subtypes_table.rst").read_text()
    for name in (GENES_TE_MODEL, GENES_MODEL):
        ba = load_shipped(name).cv_report["nested"]["metrics"]["ba"]["estimate"]
        assert f"{ba:.2f} for ``{name}``" in caption


def test_gse67196_cerebellum_is_out_of_reference(shared_data):
    folder = shared_data / "GSE67196"
    raw = pd.read_csv(folder / "GSE67196_Petrucelli2015_ALS_genes.rawcount.txt.gz", sep="\t")
    raw = raw.drop(columns="Chr").groupby("GeneID", sort=False).sum()
    samples = pd.read_csv(folder / "GSE67196_samples.tsv.gz", sep="\t").set_index("sample_id")
    counts, _ = counts_by_entrez(raw.T.loc[samples.index])
    model = choose_model(None)
    assert model.name == GENES_MODEL
    projected = project(model, counts, regions=samples["tissue"])
    cerebellum = samples["tissue"] == "Cerebellum"
    assert cerebellum.sum() == 26
    assert (projected.loc[cerebellum, "subtype_call"] == OUT_OF_REFERENCE).all()
    # the distance rule alone flags them too: cerebellum is far from any cortex sample
    unknown = project(model, counts.loc[cerebellum])
    assert (unknown["subtype_call"] == OUT_OF_REFERENCE).mean() >= 0.9
    assert not projected["reference_sample"].any()
