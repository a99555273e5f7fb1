"""The subtype stage: the projection wired in (schema, out-of-reference by region and by distance,
controls scored, stage-level sample stability, reference samples and collapsed reference donors),
the donor view, what each subtype carries (DE, enrichment, axis tests with the model features
flagged), the label-free states and their cell mix, the optional consensus NMF and its rank rule
on planted clusters, the TDP-43 proxy's new name, and the TE inputs (reader and axis)."""

from __future__ import annotations

import dataclasses
import gzip
import zlib

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal
from sklearn.metrics import adjusted_rand_score

from alsig import planning
from alsig.cellmix import marker_lists
from alsig.errors import AlsigError
from alsig.newsamples.subtypes import subtype_columns
from alsig.settings import RunSettings, complete
from alsig.signatures import signatures_of_run
from alsig.signatures.library import TE_TABLE
from alsig.signatures.readers import DEFAULT_TABLE, read_signatures
from alsig.stages.ingest.te_counts import attach_te_counts, read_te_counts
from alsig.stages.qc.replicates import collapse_replicates
from alsig.stages.subtypes import subtype_table
from alsig.stages.subtypes.calls import PROJECTION_COLUMNS, project_dataset, projection_columns
from alsig.stages.subtypes.carry import (
    SUBTYPES,
    subtype_axis_tests,
    subtype_de,
    subtype_design,
    subtype_residuals,
    subtypes_de,
)
from alsig.stages.subtypes.carry_enrich import subtype_enrichment
from alsig.stages.subtypes.discovery import discovery_table
from alsig.stages.subtypes.donors import donor_calls
from alsig.stages.subtypes.enrich_job import subtype_enrichment_table, subtype_gene_sets
from alsig.stages.subtypes.features import counts_by_entrez
from alsig.stages.subtypes.nmf import discover, nmf_features
from alsig.stages.subtypes.reference_model import CLASSES, GENES_MODEL, PROBABILITY_COLUMNS
from alsig.stages.subtypes.statemix import state_cellmix, state_genes
from alsig.stages.subtypes.states import STATES, call_states, member_z
from alsig.stages.subtypes.table import SCHEMA_VERSION
from alsig.subtype_model.training import TrainingSet, select_and_fit
from alsig.tables import schemas
from alsig.toy import toy_cohort
from tests.conftest import REPO
from tests.helpers import score_result
from tests.unit.test_subtype_model import FAST

PLANTED = {"ox": "Ox-like", "glia": "Glia-like", "te": "TE-like"}


def planted_scores(seed=0, per_state=20, n_controls=10, shift=2.0) -> tuple[pl.DataFrame, dict]:
    """A long table of member z scores: controls ~ N(0, 1); each disease sample has one state's
    members raised by ``shift``."""
    rng = np.random.default_rng(seed)
    truth, rows = {}, []
    samples = [(f"c{i}", "control", None) for i in range(n_controls)]
    for state in STATES:
        samples += [(f"{state}{i}", "ALS", state) for i in range(per_state)]
    for sample, condition, state in samples:
        truth[sample] = PLANTED[state] if state else None
        for name, members in STATES.items():
            for member in members:
                z = rng.normal(0, 0.6) + (shift if name == state else 0.0)
                method = "log2cpm" if member == "axis:retrotransposons" else "singscore"
                rows.append((sample, condition, member, method, z))
    table = pl.DataFrame(
        rows, schema=["sample", "condition", "signature", "method", "z_vs_control"], orient="row"
    )
    return table, truth


def test_three_planted_states_are_recovered():
    scores, truth = planted_scores()
    z = member_z(scores)
    calls = call_states(z, [truth[s] is None for s in z.index], margin=0.5, min_score=1.0).call
    disease = [s for s, t in truth.items() if t]
    accuracy = np.mean([calls[s] == truth[s] for s in disease])
    assert accuracy >= 0.9
    controls = [s for s, t in truth.items() if not t]
    # with min_score, a call also needs the state raised against the controls' own spread
    assert (calls[controls] == "unassigned").mean() >= 0.6


def test_a_call_does_not_change_when_more_disease_samples_are_added():
    scores, _ = planted_scores(seed=1)
    subset = scores.filter(~pl.col("sample").str.starts_with("glia"))
    full_z, sub_z = member_z(scores), member_z(subset)
    full_calls = call_states(
        full_z, [s.startswith("c") for s in full_z.index], margin=0.5, min_score=None
    )
    sub_calls = call_states(
        sub_z, [s.startswith("c") for s in sub_z.index], margin=0.5, min_score=None
    )
    shared = sub_calls.call.index
    pd.testing.assert_series_equal(full_calls.call[shared], sub_calls.call)
    pd.testing.assert_series_equal(full_calls.confidence[shared], sub_calls.confidence)


def test_unassigned_without_a_clear_lead_and_confidence_grows_with_it():
    z = pd.DataFrame(
        {
            "axis:oxidative_stress": [2.0, 2.0, -1.0],
            "axis:microglia_activation": [1.8, 0.0, -2.0],
            "axis:tdp43_loss": [0.0, 0.0, -1.5],
        },
        index=["close", "clear", "low"],
    )
    calls = call_states(z, None, margin=0.5, min_score=0.0)
    assert calls.call.tolist() == ["unassigned", "Ox-like", "unassigned"]
    assert calls.confidence["clear"] == pytest.approx(2.0 / 2.5)
    assert calls.members_used["te"] == ["axis:tdp43_loss"]


def write_te_table(path, samples, *, with_genes=False, extra_rows=()):
    lines = ["gene/TE\t" + "\t".join(samples)]
    if with_genes:
        lines.append("GAPDH\t" + "\t".join("1000" for _ in samples))
    for te, value in (("L1HS:L1:LINE", 50), ("AluY:Alu:SINE", 400), ("HERVK-int:ERVK:LTR", 8)):
        lines.append(te + "\t" + "\t".join(str(value + i) for i, _ in enumerate(samples)))
    lines += list(extra_rows)
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")


@pytest.mark.parametrize("with_genes", [False, True], ids=["te_only", "tecount_combined"])
def test_te_counts_both_layouts(tmp_path, with_genes):
    path = tmp_path / "te.tsv.gz"
    write_te_table(path, ["S1", "S2", "S3"], with_genes=with_genes)
    te = read_te_counts(path, sample_ids=["S3", "S1"])
    assert list(te.index) == ["S3", "S1"] and list(te.columns) == [
        "L1HS:L1:LINE",
        "AluY:Alu:SINE",
        "HERVK-int:ERVK:LTR",
    ]
    assert te.loc["S3", "L1HS:L1:LINE"] == 52 and te.loc["S1", "AluY:Alu:SINE"] == 400


def test_te_counts_bad_inputs_name_the_problem(tmp_path):
    path = tmp_path / "te.tsv.gz"
    write_te_table(path, ["S1", "S2"])
    with pytest.raises(
        AlsigError, match=r"1 sample\(s\) of the gene matrix are not TE-count columns \('S9'\)"
    ):
        read_te_counts(path, sample_ids=["S1", "S9"])
    write_te_table(path, ["S1", "S2"], extra_rows=["L1HS:L1:LINE\t1\t2"])
    with pytest.raises(AlsigError, match=r"line 5: TE id 'L1HS:L1:LINE' repeats line 2"):
        read_te_counts(path, sample_ids=["S1"])
    write_te_table(path, ["S1", "S2"], extra_rows=["SVA_A:SVA_A:Other\t1.5\t2"])
    with pytest.raises(AlsigError, match="S1"):
        read_te_counts(path, sample_ids=["S1"])
    (tmp_path / "genes.tsv").write_text("gene\tS1\nGAPDH\t5\n")
    with pytest.raises(AlsigError, match="no transposable-element row"):
        read_te_counts(tmp_path / "genes.tsv", sample_ids=["S1"])


def test_retrotransposon_axis_is_higher_in_a_planted_te_high_group():
    rng = np.random.default_rng(5)
    n, genes = 24, [f"G{i}" for i in range(200)]
    counts = rng.poisson(200, size=(n, len(genes)))
    obs = pd.DataFrame(
        {"condition": ["control"] * 8 + ["ALS"] * 16}, index=[f"s{i}" for i in range(n)]
    )
    adata = ad.AnnData(X=counts.astype(np.int32), obs=obs, var=pd.DataFrame(index=genes))
    adata.layers["vst"] = np.log2(counts + 1.0)
    adata.obs["total_counts"] = counts.sum(axis=1)
    te_ids = [
        "L1HS:L1:LINE",
        "L1PA2:L1:LINE",
        "AluY:Alu:SINE",
        "HERVK-int:ERVK:LTR",
        "SVA_A:SVA_A:Other",
    ]
    te = rng.poisson(30, size=(n, len(te_ids))).astype(np.int64)
    te[16:] *= 4  # the last 8 ALS samples de-repress every TE
    attach_te_counts(adata, pd.DataFrame(te, index=obs.index, columns=te_ids))
    result = score_result(
        adata, [], read_signatures(TE_TABLE), methods=["singscore"], min_coverage=0.1
    )
    axis = result.long.filter(pl.col("signature") == "axis:retrotransposons")
    high = axis.filter(pl.col("sample").is_in([f"s{i}" for i in range(16, 24)]))["z_vs_control"]
    low = axis.filter(pl.col("sample").is_in([f"s{i}" for i in range(8, 16)]))["z_vs_control"]
    assert high.min() > low.max() and high.mean() > 3


# =============================================================================================
# The projection in the stage
# =============================================================================================

TOY_PROGRAMMES = {"ALS-Ox": 15, "ALS-Glia": 15, "ALS-TE": 15}
#: ALS donors the toy model is trained on; the other donors and every control are new to it
N_TRAINING_DONORS = 30


def toy_cohort_with_controls() -> ad.AnnData:
    """48 ALS donors (each carries one planted programme) and 8 controls, two regions each, as
    the QC'd AnnData gives them: counts, ``gene_id``, condition/subject/region, a VST layer."""
    adata = toy_cohort(
        n_donors=(48, 8),
        regions=("Frontal Cortex", "Motor Cortex (Lateral)"),
        n_genes=400,
        programmes=TOY_PROGRAMMES,
        programme_log2fc=0.8,
        donor_sd=0.2,
        seed=3,
    )
    adata.obs["total_counts"] = np.asarray(adata.X.sum(axis=1), dtype=float).ravel()
    adata.layers["vst"] = np.log2(
        adata.X / adata.obs["total_counts"].to_numpy()[:, None] * 1e6 + 1.0
    ).astype(np.float32)
    return adata


@pytest.fixture(scope="module")
def toy_reference():
    """The training set (the first ALS donors) and a genes model trained on all of it."""
    adata = toy_cohort_with_controls()
    donors = [f"D{i:03d}" for i in range(N_TRAINING_DONORS)]
    train = adata[adata.obs["subject"].isin(donors).to_numpy()]
    counts = pd.DataFrame(
        train.X, index=train.obs_names, columns=train.var["gene_id"].astype(str).tolist()
    )
    meta = pd.DataFrame(
        {
            "label": train.obs["true_state"].to_numpy(),
            "subject": train.obs["subject"].to_numpy(),
            "region": train.obs["region"].to_numpy(),
            "batch": train.obs["batch"].to_numpy(),
        },
        index=train.obs_names,
    )
    symbols = dict(zip(counts.columns, train.var["symbol"], strict=True))
    training = TrainingSet(counts, symbols, meta)
    model, _ = select_and_fit(training, np.arange(len(training.samples)), FAST, name=GENES_MODEL)
    return training, model


def stage_cohort(n_als: int = 18, n_controls: int = 8) -> ad.AnnData:
    """Donors the toy model never saw: ``n_als`` ALS donors and ``n_controls`` controls."""
    adata = toy_cohort_with_controls()
    subjects = adata.obs["subject"].astype(str)
    als = [f"D{i:03d}" for i in range(N_TRAINING_DONORS, N_TRAINING_DONORS + n_als)]
    controls = [f"D{i:03d}" for i in range(48, 48 + n_controls)]
    return adata[subjects.isin(als + controls).to_numpy()].copy()


def member_scores(samples, conditions, seed=0) -> pl.DataFrame:
    """A long score table of the state members (z vs control), random but fixed per sample."""
    rows = []
    for sample, condition in zip(samples, conditions, strict=True):
        rng = np.random.default_rng([seed, zlib.crc32(sample.encode())])
        for members in STATES.values():
            for member in members:
                method = "log2cpm" if member == "axis:retrotransposons" else "singscore"
                rows.append((sample, condition, member, method, float(rng.normal())))
    return pl.DataFrame(
        rows, schema=["sample", "condition", "signature", "method", "z_vs_control"], orient="row"
    )


def stage_result(adata, toy_reference, **settings):
    _, model = toy_reference
    scores = member_scores(list(adata.obs_names), adata.obs["condition"].tolist())
    chosen = complete("subtypes", {"model": "genes", **settings})
    return subtype_table("toy", scores, adata, chosen, models={GENES_MODEL: model})


def test_stage_table_follows_schema_v2_and_recovers_the_planted_subtypes(toy_reference):
    adata = stage_cohort()
    result = stage_result(adata, toy_reference)
    table = result.table
    schema = yaml.safe_load((REPO / "workflow/schemas/subtypes.schema.yaml").read_text())
    assert table.columns == schema["required"] == list(schema["properties"])
    assert schema["x-schema-version"] == SCHEMA_VERSION == "2"
    assert table.height == adata.n_obs
    assert set(table["subtype_model"]) == {GENES_MODEL}
    _, model = toy_reference
    assert (table["distance_threshold"] == model.distance_threshold).all()
    assert (table["min_probability"] == model.min_probability).all()
    probabilities = table.select(PROBABILITY_COLUMNS).to_numpy()
    assert probabilities.sum(axis=1) == pytest.approx(1.0)
    truth = adata.obs["true_state"].reindex(table["sample"].to_list()).to_numpy()
    als = (table["condition"] == "ALS").to_numpy()
    right = table["subtype_call"].to_numpy()[als] == truth[als]
    assert right.mean() >= 0.9
    # the regions' spellings are read: "Motor Cortex (Lateral)" is motor cortex, in reference
    assert set(table["region"]) == {"frontal cortex", "motor cortex"}
    assert table["in_reference_region"].all()
    assert table["out_of_reference_by"].null_count() == table.height


def test_controls_are_scored_and_their_calls_shown_beside_the_als_shares(toy_reference):
    result = stage_result(stage_cohort(), toy_reference)
    controls = result.table.filter(pl.col("condition") == "control")
    assert controls.height == 16
    assert controls["p_ox"].null_count() == 0
    assert set(controls["subtype_call"]) <= {*CLASSES, "unassigned", "out_of_reference"}
    shares = result.shares
    assert set(shares["condition"]) == {"ALS", "control"}
    for condition, n in (("ALS", 36), ("control", 16)):
        part = shares.filter(pl.col("condition") == condition)
        assert part.height == 5 and part["n_samples"].sum() == n
        assert part["share_samples"].sum() == pytest.approx(1.0)
    schemas.validate(shares, "subtypes_shares", "shares")


def test_out_of_reference_by_region_then_by_distance(toy_reference):
    adata = stage_cohort()
    names = list(adata.obs_names)
    adata.obs["region"] = adata.obs["region"].astype(str)
    adata.obs.loc[names[0], "region"] = "Cerebellum"  # donor D030: one region out
    far = names[2]  # D031 frontal: its counts shuffled, another tissue entirely
    rng = np.random.default_rng(1)
    adata.X[2] = rng.permutation(np.asarray(adata.X[2]))
    table = stage_result(adata, toy_reference).table.to_pandas().set_index("sample")
    assert table.loc[names[0], "subtype_call"] == "out_of_reference"
    assert table.loc[names[0], "out_of_reference_by"] == "region"
    assert not table.loc[names[0], "in_reference_region"]
    assert table.loc[far, "subtype_call"] == "out_of_reference"
    assert table.loc[far, "out_of_reference_by"] == "distance"
    assert table.loc[far, "reference_distance"] > table.loc[far, "distance_threshold"]
    others = table.drop(index=[names[0], far])
    assert (others["subtype_call"] != "out_of_reference").mean() >= 0.95
    # the donor view leaves out-of-reference samples out: D030 rests on its motor cortex sample
    donor = table.loc[names[1]]
    assert donor["donor_call"] == table.loc[names[1], "subtype_call"]
    assert donor["donor_concordance"] == "single"


def test_too_few_model_genes_refuse_the_projection_but_not_the_stage(toy_reference):
    _, model = toy_reference
    adata = stage_cohort(6, 2)
    kept = [
        g not in set(model.genes[: int(0.6 * len(model.genes))])
        for g in adata.var["gene_id"].astype(str)
    ]
    result = stage_result(adata[:, kept].copy(), toy_reference)
    table = result.table
    assert (table["subtype_call"] == "out_of_reference").all()
    assert (table["out_of_reference_by"] == "coverage").all()
    assert table["p_ox"].null_count() == table.height
    assert table["gene_coverage"][0] == pytest.approx(0.4, abs=0.05)
    assert set(result.donors["donor_call"]) == {"out_of_reference"}
    assert table["state_call"].null_count() == 0  # the label-free states are still there


def test_reference_regions_match_the_sheets_spellings(toy_reference):
    adata = stage_cohort(6, 2)
    table = stage_result(adata, toy_reference, reference_regions=["FCX"]).table
    motor = table.filter(pl.col("region") == "motor cortex")
    assert (motor["out_of_reference_by"] == "region").all() and motor.height == 8
    assert table.filter(pl.col("region") == "frontal cortex")["in_reference_region"].all()
    spelled = stage_result(
        adata, toy_reference, reference_regions=["MOTOR  cortex", "Frontal Cortex"]
    )
    assert spelled.table["in_reference_region"].all()


def test_min_probability_override_makes_more_samples_unassigned(toy_reference):
    adata = stage_cohort(6, 2)
    strict = stage_result(adata, toy_reference, min_probability=0.999).table
    assert (strict["min_probability"] == 0.999).all()
    top = strict.select(pl.max_horizontal(*PROBABILITY_COLUMNS)).to_series()
    assert ((top < 0.999) == (strict["subtype_call"] == "unassigned")).all()


def test_scoring_a_subset_of_the_disease_samples_gives_identical_calls(toy_reference):
    adata = stage_cohort()
    full = stage_result(adata, toy_reference).table
    als = adata.obs_names[adata.obs["condition"] == "ALS"]
    keep = [s for s in adata.obs_names if s not in set(als[::2])]  # half the ALS, same controls
    part = stage_result(adata[keep].copy(), toy_reference).table
    columns = [
        "sample",
        "subtype_call",
        *PROBABILITY_COLUMNS,
        "reference_distance",
        "ox_score",
        "glia_score",
        "te_score",
        "state_call",
        "state_confidence",
    ]
    expected = full.filter(pl.col("sample").is_in(keep)).select(columns)
    assert_frame_equal(part.select(columns), expected)


# -- the donor view -----------------------------------------------------------------------------


def test_donor_view_means_probabilities_and_names_discordant_donors():
    table = pd.DataFrame(
        {
            "p_ox": [0.7, 0.3, 0.8, 0.2, 0.1, 0.5],
            "p_glia": [0.2, 0.1, 0.1, 0.2, 0.1, 0.3],
            "p_te": [0.1, 0.6, 0.1, 0.6, 0.8, 0.2],
            "subtype_call": [
                "ALS-Ox",
                "ALS-TE",
                "ALS-Ox",
                "out_of_reference",
                "out_of_reference",
                "ALS-Ox",
            ],
            "reference_distance": [0.5, 0.6, 0.4, 2.0, 3.0, 0.7],
            "reference_sample": [False] * 6,
        },
        index=["a1", "a2", "b1", "b2", "c1", "d1"],
    )
    subjects = pd.Series(["A", "A", "B", "B", "C", "D"], index=table.index)
    donors = donor_calls(table, subjects, min_probability=0.0)
    # A: two samples, different calls -> discordant; call from the mean (0.5, 0.15, 0.35)
    assert donors.loc["A", "donor_concordance"] == "discordant"
    assert donors.loc["A", ["p_ox", "p_glia", "p_te"]].tolist() == pytest.approx([0.5, 0.15, 0.35])
    assert donors.loc["A", "donor_call"] == "ALS-Ox"
    # B: the out-of-reference sample is left out of the mean
    assert donors.loc["B", "n_in_reference"] == 1 and donors.loc["B", "p_ox"] == 0.8
    assert donors.loc["B", "donor_concordance"] == "single"
    # C: nothing within the reference
    assert donors.loc["C", "donor_call"] == "out_of_reference"
    assert np.isnan(donors.loc["C", "p_ox"])
    # the same rule: below min_probability the donor is unassigned
    strict = donor_calls(table, subjects, min_probability=0.6)
    assert strict.loc["A", "donor_call"] == "unassigned"
    assert strict.loc["D", "donor_call"] == "unassigned"
    assert donors.loc["A", "sample_calls"] == "a1:ALS-Ox;a2:ALS-TE"


def test_stage_donor_table_flags_donors_whose_regions_disagree(toy_reference):
    adata = stage_cohort()
    # donor D030's motor cortex sample carries D031's profile (another programme)
    names = list(adata.obs_names)
    donor_rows = [i for i, s in enumerate(names) if s.startswith("D031_")]
    adata.X[1] = np.asarray(adata.X[donor_rows[1]])
    result = stage_result(adata, toy_reference)
    donors = result.donors.to_pandas().set_index("subject")
    assert donors.loc["D030", "donor_concordance"] == "discordant"
    schemas.validate(result.donors, "subtypes_donors", "donors")
    samples = result.table.to_pandas().set_index("sample")
    assert samples.loc[names[0], "donor_concordance"] == "discordant"
    assert set(donors["donor_concordance"]) <= {"single", "concordant", "discordant"}
    assert donors["n_libraries"].isna().all()  # not collapsed: no library view


def test_reference_libraries_and_collapsed_reference_donors_get_outer_fold_values(toy_reference):
    training, model = toy_reference
    libraries = list(model.reference_samples)
    rng = np.random.default_rng(4)
    stored = pd.DataFrame(
        rng.dirichlet([1, 1, 1], size=len(libraries)), columns=PROBABILITY_COLUMNS
    )
    stored.index = libraries
    stored["reference_distance"] = 0.5
    stored["subtype_call"] = np.asarray(CLASSES, dtype=object)[
        stored[list(PROBABILITY_COLUMNS)].to_numpy().argmax(axis=1)
    ]
    with_calls = dataclasses.replace(model, reference_calls=stored)
    counts = training.gene_counts.loc[libraries]
    obs = training.meta.loc[libraries, ["subject"]].assign(condition="ALS", region="frontal cortex")
    adata = ad.AnnData(
        X=counts.to_numpy().astype(np.int64),
        obs=obs,
        var=pd.DataFrame(
            {"gene_id": counts.columns.astype(str)}, index=[f"g{c}" for c in counts.columns]
        ),
    )
    settings = complete("subtypes", {"model": "genes", "min_probability": 0.0})
    models = {GENES_MODEL: with_calls}
    # libraries as configured: each recognised by its counts, its stored outer-fold values
    direct = project_dataset(adata, settings, models=models).samples
    assert direct["reference_sample"].all()
    assert direct[list(PROBABILITY_COLUMNS)].to_numpy() == pytest.approx(
        stored[list(PROBABILITY_COLUMNS)].to_numpy()
    )
    # collapsed by donor (both libraries of a donor now one summed sample)
    collapsed = collapse_replicates(adata, "subject")
    assert (collapsed.obs["n_collapsed"] == 2).all()
    projection = project_dataset(collapsed, settings, libraries=adata, models=models)
    table = projection.samples
    assert table["reference_sample"].all()
    for donor, members in projection.members.items():
        expected = stored.loc[members, list(PROBABILITY_COLUMNS)].mean(axis=0)
        assert table.loc[donor, list(PROBABILITY_COLUMNS)].to_numpy(dtype=float) == pytest.approx(
            expected.to_numpy()
        )
        assert table.loc[donor, "subtype_call"] == CLASSES[int(expected.to_numpy().argmax())]
    # without the libraries the summed donor is not recognised: an in-sample call would follow
    bare = project_dataset(collapsed, settings, models=models).samples
    assert not bare["reference_sample"].any()
    # the donor table's library view over the libraries
    result = subtype_table(
        "toy",
        member_scores(list(collapsed.obs_names), ["ALS"] * collapsed.n_obs),
        collapsed,
        settings,
        libraries=adata,
        models=models,
    )
    donors = result.donors.to_pandas().set_index("subject")
    assert (donors["n_libraries"] == 2).all()
    for donor, members in projection.members.items():
        calls = set(stored.loc[members, "subtype_call"])
        expected = "concordant" if len(calls) == 1 else "discordant"
        assert donors.loc[donor, "library_concordance"] == expected


def reference_libraries_with_fold_calls(toy_reference):
    """The toy model's training libraries as a dataset (frontal or motor cortex by donor, across
    the folds), and the model with stored outer-fold values: probabilities, distance 0.5, and per outer fold
    (by donor) the thresholds it chose: fold 0 min_probability 0.0 and distance threshold 0.45
    (so its libraries are out of reference by distance), fold 1 min_probability 0.6 and 1.0."""
    training, model = toy_reference
    libraries = list(model.reference_samples)
    subjects = training.meta.loc[libraries, "subject"].astype(str)
    fold = subjects.map({s: i % 2 for i, s in enumerate(sorted(set(subjects)))}).to_numpy()
    rng = np.random.default_rng(5)
    stored = pd.DataFrame(
        rng.dirichlet([2, 2, 2], size=len(libraries)), columns=PROBABILITY_COLUMNS, index=libraries
    )
    stored["reference_distance"] = 0.5
    stored["min_probability"] = np.where(fold == 0, 0.0, 0.6)
    stored["distance_threshold"] = np.where(fold == 0, 0.45, 1.0)
    top = stored[list(PROBABILITY_COLUMNS)].to_numpy()
    stored["subtype_call"] = np.where(
        fold == 0,
        "out_of_reference",
        np.where(
            top.max(axis=1) < 0.6, "unassigned", np.asarray(CLASSES, dtype=object)[top.argmax(1)]
        ),
    )
    counts = training.gene_counts.loc[libraries]
    regions = subjects.map(
        {
            s: ("Frontal Cortex", "Motor Cortex")[i // 2 % 2]
            for i, s in enumerate(sorted(set(subjects)))
        }
    )
    obs = pd.DataFrame(
        {"subject": subjects, "condition": "ALS", "region": regions.to_numpy()}, index=libraries
    )
    adata = ad.AnnData(
        X=counts.to_numpy().astype(np.int64),
        obs=obs,
        var=pd.DataFrame(
            {"gene_id": counts.columns.astype(str)}, index=[f"g{c}" for c in counts.columns]
        ),
    )
    assert (stored["subtype_call"] == "unassigned").any() and (fold == 1).any()
    return adata, {GENES_MODEL: dataclasses.replace(model, reference_calls=stored)}, stored


def test_reference_samples_keep_their_outer_fold_call_at_the_default_settings(
    toy_reference, caplog
):
    adata, models, stored = reference_libraries_with_fold_calls(toy_reference)
    with caplog.at_level("INFO", logger="alsig.stages.subtypes.projection"):
        table = project_dataset(adata, complete("subtypes", {"model": "genes"}), models=models)
    table = table.samples.loc[stored.index]
    assert table["reference_sample"].all()
    assert list(table["subtype_call"]) == list(stored["subtype_call"])
    # each row shows the thresholds its call was made with: its outer fold's
    assert list(table["min_probability"]) == list(stored["min_probability"])
    assert list(table["distance_threshold"]) == list(stored["distance_threshold"])
    out = table["subtype_call"] == "out_of_reference"
    assert (table.loc[out, "out_of_reference_by"] == "distance").all()
    assert f"{len(stored)} reference (training) sample(s) recognised by their counts" in caplog.text
    assert "WARNING" not in caplog.text


def test_reference_samples_follow_the_runs_reference_regions(toy_reference, caplog):
    adata, models, stored = reference_libraries_with_fold_calls(toy_reference)
    settings = complete("subtypes", {"model": "genes", "reference_regions": ["motor cortex"]})
    with caplog.at_level("INFO", logger="alsig.stages.subtypes.projection"):
        table = project_dataset(adata, settings, models=models).samples.loc[stored.index]
    frontal = (table["region"] == "frontal cortex").to_numpy()
    assert frontal.any() and table.loc[frontal, "reference_sample"].all()
    assert (table.loc[frontal, "subtype_call"] == "out_of_reference").all()
    assert (table.loc[frontal, "out_of_reference_by"] == "region").all()
    # motor cortex reference samples keep their outer-fold call
    assert list(table.loc[~frontal, "subtype_call"]) == list(stored.loc[~frontal, "subtype_call"])
    moved = int((stored.loc[frontal, "subtype_call"] != "out_of_reference").sum())
    assert (
        moved
        and (
            f"subtypes.reference_regions changed the call of {moved} of the {len(stored)} reference "
            "samples from their stored outer-fold call"
        )
        in caplog.text
    )


def test_reference_samples_follow_the_runs_min_probability(toy_reference, caplog):
    adata, models, stored = reference_libraries_with_fold_calls(toy_reference)
    settings = complete("subtypes", {"model": "genes", "min_probability": 0.9})
    with caplog.at_level("INFO", logger="alsig.stages.subtypes.projection"):
        result = subtype_table(
            "toy",
            member_scores(list(adata.obs_names), ["ALS"] * adata.n_obs),
            adata,
            settings,
            models=models,
        )
    table = result.table.to_pandas().set_index("sample").loc[stored.index]
    assert (table["min_probability"] == 0.9).all()
    top = table[list(PROBABILITY_COLUMNS)].max(axis=1)
    within = table["subtype_call"] != "out_of_reference"
    assert ((top < 0.9) & within).any()
    assert (table.loc[(top < 0.9) & within, "subtype_call"] == "unassigned").all()
    assert table["subtype_call"].isin(CLASSES).sum() == ((top >= 0.9) & within).sum()
    assert "subtypes.min_probability changed the call of" in caplog.text
    # the donor view follows the same threshold
    donors = result.donors.to_pandas().set_index("subject")
    called = donors[donors["donor_call"].isin(CLASSES)]
    assert (called[list(PROBABILITY_COLUMNS)].max(axis=1) >= 0.9).all()


def test_alsig_score_gives_new_samples_the_stages_subtype_columns(toy_reference):
    """``alsig score``'s subtype columns are the stage's, by the stage's code: frontal samples of
    training donors (reference samples: outer-fold values) and of new donors score the same
    through both; with too few model genes both say out_of_reference by coverage."""
    _, models, _ = reference_libraries_with_fold_calls(toy_reference)
    adata = toy_cohort_with_controls()
    donors = [f"D{i:03d}" for i in range(N_TRAINING_DONORS - 4, N_TRAINING_DONORS + 6)]
    keep = adata.obs["subject"].isin(donors) & (adata.obs["region"] == "Frontal Cortex")
    adata = adata[keep.to_numpy()].copy()
    settings = complete("subtypes", {"model": "genes"})
    stage = project_dataset(adata, settings, models=models).samples
    assert stage["reference_sample"].sum() == 4 and (~stage["reference_sample"]).sum() == 6
    counts = pd.DataFrame(
        np.asarray(adata.X), index=adata.obs_names, columns=adata.var["symbol"].astype(str)
    )
    gene_ids = dict(
        zip(adata.var["symbol"].astype(str), adata.var["gene_id"].astype(str), strict=True)
    )
    new = subtype_columns(counts, gene_ids, "Frontal Cortex", None, models=models)
    expected = pl.DataFrame({"sample": list(stage.index), **projection_columns(stage)})
    assert new.columns == ["sample", *PROJECTION_COLUMNS]
    assert_frame_equal(new, expected)
    # too few of the model's genes: out_of_reference by coverage in both, not a null call
    _, model = toy_reference
    dropped = set(model.genes[: int(0.6 * len(model.genes))])
    few = [g not in dropped for g in adata.var["gene_id"].astype(str)]
    stage = project_dataset(adata[:, few].copy(), settings, models=models).samples
    new = subtype_columns(counts.loc[:, few], gene_ids, "Frontal Cortex", None, models=models)
    assert set(new["subtype_call"]) == {"out_of_reference"}
    assert set(new["out_of_reference_by"]) == {"coverage"} and new["p_ox"].null_count() == 10
    assert_frame_equal(
        new, pl.DataFrame({"sample": list(stage.index), **projection_columns(stage)})
    )


def test_gse67196_cerebellum_is_out_of_reference_by_region_in_the_stage(shared_data):
    folder = shared_data / "GSE67196"
    raw = pd.read_csv(folder / "GSE67196_Petrucelli2015_ALS_genes.rawcount.txt.gz", sep="\t")
    raw = raw.drop(columns="Chr").groupby("GeneID", sort=False).sum()
    sheet = pd.read_csv(folder / "GSE67196_samples.tsv.gz", sep="\t").set_index("sample_id")
    counts, symbols = counts_by_entrez(raw.T.loc[sheet.index])
    adata = ad.AnnData(
        X=counts.to_numpy().astype(np.int64),
        obs=pd.DataFrame(
            {"condition": sheet["group"], "subject": sheet["subject"], "region": sheet["tissue"]},
            index=sheet.index.astype(str),
        ),
        var=pd.DataFrame({"gene_id": counts.columns}, index=[symbols[c] for c in counts.columns]),
    )
    projection = project_dataset(adata, complete("subtypes"))
    table = projection.samples
    assert projection.model.name == GENES_MODEL  # no TE counts
    cerebellum = (sheet["tissue"] == "Cerebellum").to_numpy()
    assert cerebellum.sum() == 26
    assert (table.loc[cerebellum, "subtype_call"] == "out_of_reference").all()
    assert (table.loc[cerebellum, "out_of_reference_by"] == "region").all()
    assert (table.loc[~cerebellum, "in_reference_region"] == True).all()  # noqa: E712


# -- what each subtype carries ------------------------------------------------------------------


#: genes the DE tests fit (pydeseq2 costs ~0.1 s per gene on a loaded 2-core machine): the 45
#: programme genes come first in the toy cohort, then unplanted genes
DE_GENES = 150


@pytest.fixture(scope="module")
def carried(toy_reference):
    """Calls of the new donors, and their ALS-Ox vs control DE (first DE_GENES genes)."""
    _, model = toy_reference
    adata = stage_cohort()
    result = stage_result(adata, toy_reference)
    calls = pd.Series(
        result.table["subtype_call"].to_list(), index=result.table["sample"].to_list()
    )
    fitted = adata[:, :DE_GENES].copy()
    table, summary = subtype_de(
        fitted,
        calls,
        "ALS-Ox",
        dataset="toy",
        de_settings=complete("de", {"design": "~ region + condition", "lfc_shrink": False}),
        settings=complete("subtypes"),
        model_gene_ids=set(model.genes),
        n_cpus=1,
    )
    return adata, calls, fitted, table, summary


def test_subtype_de_has_the_de_columns_and_flags_the_model_features(carried, toy_reference):
    adata, _, fitted, table, summary = carried
    _, model = toy_reference
    de_schema = yaml.safe_load((REPO / "workflow/schemas/de_results.schema.yaml").read_text())
    assert table.columns == [*de_schema["required"], "model_feature"]
    assert set(table["contrast"]) == {"ALS-Ox_vs_control"}
    assert table.height == int(fitted.var["expressed"].sum())
    tested_model_genes = set(table["gene_id"]) & set(model.genes)
    assert table["model_feature"].sum() == len(tested_model_genes) > 0
    assert summary["n_model_features_tested"] == len(tested_model_genes)
    assert "not evidence" in summary["note"]
    assert summary["design"] == "~ region + subtype_call"
    als = adata.obs_names[adata.obs["condition"] == "ALS"]
    assert summary["n_test"] == int((carried[1][als] == "ALS-Ox").sum()) > 0
    # the planted ALS-Ox programme is what this subtype carries
    ox = table.filter(pl.col("symbol").str.starts_with("ALS_OX_P"))
    assert (ox["log2_fold_change"] > 0).mean() >= 0.9
    # every toy donor gives two regions, so the DE is the donor-intercept model (dream): 15 planted
    # genes on 26 donors, 8 reach padj < 0.05 and 12 p < 0.05; none of the background genes does
    assert summary["model"] == "voom_dream"
    assert (ox["padj"] < 0.05).mean() >= 0.5
    assert (ox["pvalue"] < 0.05).mean() >= 0.75
    background = table.filter(~pl.col("symbol").str.starts_with("ALS_"))
    assert (background["padj"] < 0.05).sum() == 0
    glia = table.filter(pl.col("symbol").str.starts_with("ALS_GLIA_P"))
    assert (glia["padj"] < 0.05).mean() <= 0.2


def test_the_subtypes_share_one_fit(carried, toy_reference):
    """The three contrasts come from one fit of the shared design: each table is the one of its
    own fit (the first to the last bit; the others to the REML search's tolerance), and the
    summaries name the same fit."""
    adata, calls, fitted, table, summary = carried
    _, model = toy_reference
    arguments = {
        "dataset": "toy",
        "de_settings": complete("de", {"design": "~ region + condition", "lfc_shrink": False}),
        "settings": complete("subtypes"),
        "model_gene_ids": set(model.genes),
        "n_cpus": 1,
    }
    joint = subtypes_de(fitted, calls, ["ALS-Ox", "ALS-Glia", "ALS-TE"], **arguments)
    assert list(joint) == ["ALS-Ox", "ALS-Glia", "ALS-TE"]
    assert joint["ALS-Ox"][0].equals(table)
    assert len({s["fit"] for _, s in joint.values()}) == 1
    alone = subtype_de(fitted, calls, "ALS-Glia", **arguments)[0]
    together = joint["ALS-Glia"][0]
    assert together["contrast"].unique().to_list() == ["ALS-Glia_vs_control"]
    np.testing.assert_allclose(
        together["log2_fold_change"].to_numpy(), alone["log2_fold_change"].to_numpy(), atol=1e-5
    )
    assert (together["padj"] < 0.05).to_list() == (alone["padj"] < 0.05).to_list()


def test_a_subtype_with_too_few_samples_gets_an_empty_table_and_says_why(carried, toy_reference):
    adata, calls = carried[0], carried[1]
    _, model = toy_reference
    only_two = calls.where(calls != "ALS-TE", "unassigned")
    first_te = calls.index[calls == "ALS-TE"][:1]
    only_two[first_te] = "ALS-TE"
    table, summary = subtype_de(
        adata,
        only_two,
        "ALS-TE",
        dataset="toy",
        de_settings=complete("de", {"design": "~ condition"}),
        settings=complete("subtypes"),
        model_gene_ids=set(model.genes),
        n_cpus=1,
    )
    assert table.height == 0 and table.columns[-1] == "model_feature"
    assert summary["note"].startswith("not fitted: 1 ALS-TE and 16 control samples")


def test_subtype_enrichment_lists_each_sets_model_features(carried, toy_reference):
    _, _, fitted, de, _ = carried
    _, model = toy_reference
    symbols = fitted.var_names.tolist()
    sets = {
        "OX": [s for s in symbols if s.startswith("ALS_OX_P")],
        "GLIA": [s for s in symbols if s.startswith("ALS_GLIA_P")],
        "OTHER": symbols[-20:],
    }
    table = subtype_enrichment(
        de,
        sets,
        collection="toy",
        enrich_settings=complete("enrich", {"permutations": 200, "min_size": 5}),
        model_symbols=set(model.gene_symbols),
        threads=1,
        source="toy DE",
    )
    enrichment = yaml.safe_load((REPO / "workflow/schemas/enrichment.schema.yaml").read_text())
    assert table.columns == [*enrichment["required"], "n_model_features", "model_features"]
    prerank = table.filter(pl.col("method") == "prerank").to_pandas().set_index("term")
    for term, genes in sets.items():
        overlap = sorted(set(genes) & set(model.gene_symbols))
        assert prerank.loc[term, "n_model_features"] == len(overlap)
        assert prerank.loc[term, "model_features"] == ";".join(overlap)
    assert prerank.loc["OX", "n_model_features"] > 0
    assert prerank.loc["OX", "nes"] > 0 and prerank.loc["OX", "fdr"] < 0.05
    # an empty DE table (subtype not fitted) gives an empty table with the same columns
    empty = subtype_enrichment(
        de.head(0),
        sets,
        collection="toy",
        enrich_settings=complete("enrich"),
        model_symbols=set(model.gene_symbols),
        threads=1,
        source="empty",
    )
    assert empty.height == 0 and empty.columns == table.columns


def test_a_subtypes_enrichment_table_stacks_the_runs_collections(carried, toy_reference):
    """The subtypes_enrich job's table (and the bench's published-label comparison): every
    collection of subtypes.enrich_collections, each as subtype_enrichment gives it alone."""
    _, _, fitted, de, _ = carried
    _, model = toy_reference
    symbols = fitted.var_names.tolist()
    collections = {
        "ox": {"OX": [s for s in symbols if s.startswith("ALS_OX_P")]},
        "glia": {"GLIA": [s for s in symbols if s.startswith("ALS_GLIA_P")]},
    }
    arguments = {
        "enrich_settings": complete("enrich", {"permutations": 200, "min_size": 5}),
        "model_symbols": set(model.gene_symbols),
        "threads": 1,
        "source": "toy DE",
    }
    table = subtype_enrichment_table(de, collections, **arguments)
    assert table["collection"].unique(maintain_order=True).to_list() == ["ox", "glia"]
    alone = subtype_enrichment(de, collections["glia"], collection="glia", **arguments)
    assert table.filter(pl.col("collection") == "glia").equals(alone)
    none = subtype_enrichment_table(de, {}, **arguments)
    assert none.height == 0 and none.columns == table.columns
    # the run's collections, in subtypes.enrich_collections order
    sets = subtype_gene_sets(complete("enrich"), complete("subtypes"))
    assert list(sets) == ["hallmark", "alsig_resistance"]
    assert len(sets["hallmark"]) == 50


def test_subtype_enrichment_calls_prerank_sets_by_camera_on_the_subtype_fit(carried, toy_reference):
    """Per-subtype enrichment gets camera's columns from the residuals of the subtypes' own DE
    fit (same samples and design), as the enrich stage does for the main contrasts; a subtype
    too small to fit gets no residuals."""
    _, calls, fitted, de, _ = carried
    _, model = toy_reference
    de_settings = complete("de", {"design": "~ region + condition", "lfc_shrink": False})
    residuals = subtype_residuals(
        fitted,
        calls,
        ["ALS-Ox"],
        de_settings=de_settings,
        settings=complete("subtypes"),
        source="toy",
    )
    ox = residuals["ALS-Ox"]
    assert ox is not None
    # the fit's genes, and n - p residual dimensions of the samples DE fitted
    assert ox.genes == fitted.var_names.tolist()
    assert ox.values.shape == (fitted.n_vars, ox.df_residual)
    symbols = fitted.var_names.tolist()
    sets = {
        "OX": [s for s in symbols if s.startswith("ALS_OX_P")],
        "GLIA": [s for s in symbols if s.startswith("ALS_GLIA_P")],
    }
    table = subtype_enrichment_table(
        de,
        {"toy": sets},
        enrich_settings=complete("enrich", {"permutations": 200, "min_size": 5}),
        model_symbols=set(model.gene_symbols),
        threads=1,
        source="toy DE",
        residuals=ox,
    ).filter(pl.col("method") == "prerank")
    assert table["camera_pvalue"].null_count() == 0
    ox_row = table.filter(pl.col("term") == "OX").row(0, named=True)
    assert ox_row["camera_direction"] == "up" and ox_row["camera_fdr"] < 0.05
    too_small = subtype_residuals(
        fitted,
        calls,
        ["ALS-Ox"],
        de_settings=complete("de", {"design": "~ region + condition", "min_samples_per_level": 99}),
        settings=complete("subtypes"),
        source="toy",
    )
    assert too_small == {"ALS-Ox": None}


def test_subtypes_of_one_fit_share_one_computation_of_residuals(carried):
    """The subtypes' contrasts are one fit (same samples and design): their residuals are
    computed once and shared; with de.samples: contrast each subtype's own samples get theirs."""
    _, calls, fitted, _, _ = carried
    arguments = {"calls": calls, "settings": complete("subtypes"), "source": "toy"}
    subtypes = ["ALS-Ox", "ALS-Glia", "ALS-TE"]
    design = {"design": "~ region + condition", "lfc_shrink": False}
    shared = subtype_residuals(
        fitted, subtypes=subtypes, de_settings=complete("de", design), **arguments
    )
    computed = [r for r in shared.values() if r is not None]
    assert len(computed) >= 2  # the toy calls fit at least two subtypes
    assert len({id(r) for r in computed}) == 1
    own = subtype_residuals(
        fitted,
        subtypes=subtypes,
        de_settings=complete("de", {**design, "samples": "contrast"}),
        **arguments,
    )
    separate = [r for r in own.values() if r is not None]
    assert len({id(r) for r in separate}) == len(separate)
    assert separate[0].df_residual < computed[0].df_residual  # fewer samples each


def test_axis_tests_across_subtypes_find_the_planted_axis(carried):
    adata, calls = carried[0], carried[1]
    truth = adata.obs["true_state"]
    rng = np.random.default_rng(2)
    samples = list(adata.obs_names)
    score = (truth == "ALS-Ox").to_numpy() * 1.5 + rng.normal(0, 0.5, len(samples))
    scores = pl.DataFrame(
        {
            "dataset": "toy",
            "method": "singscore",
            "signature": "axis:oxidative_stress",
            "axis": "oxidative_stress",
            "sample": samples,
            "score": score,
        }
    )
    table, skipped = subtype_axis_tests(
        scores,
        adata.obs,
        calls,
        de_settings=complete("de", {"design": "~ region + condition"}),
        settings=complete("subtypes"),
    )
    assert skipped == []
    assert set(table["adjustment"]) == {"none", "cell_mix"}
    rows = table.filter(pl.col("adjustment") == "none").to_pandas().set_index("contrast")
    assert set(rows.index) == {f"{s}_vs_control" for s in CLASSES}
    assert rows.loc["ALS-Ox_vs_control", "estimate"] > 1.0
    assert rows.loc["ALS-Ox_vs_control", "pvalue"] < 1e-3
    assert rows.loc["ALS-Glia_vs_control", "pvalue"] > 0.01
    assert rows.loc["ALS-Ox_vs_control", "model"].startswith("mixed")  # donors repeat


def test_subtype_design_swaps_the_main_factor():
    assert subtype_design("~ sex + region + condition", "condition") == (
        "~ sex + region + subtype_call"
    )
    assert subtype_design("~ C(condition) + batch", "condition") == "~ C(subtype_call) + batch"
    assert subtype_design("~ sex", "condition") == "~ sex + subtype_call"
    assert subtype_design("~ condition_group + condition", "condition") == (
        "~ condition_group + subtype_call"
    )


# -- label-free states and their cell mix -------------------------------------------------------


def test_state_cellmix_says_how_much_of_a_state_is_cell_mix():
    adata = toy_cohort(
        (30, 0),
        n_genes=600,
        seed=4,
        cell_types={"neurons": 40, "microglia": 40},
        cell_mix_sd=0.6,
        gene_names=[*(f"N{i}" for i in range(40)), *(f"M{i}" for i in range(40))],
    )
    expression = pd.DataFrame(
        np.log2(adata.X + 1.0), index=adata.obs_names, columns=adata.var_names
    )
    markers = marker_lists(
        {"neurons": [f"N{i}" for i in range(40)], "microglia": [f"M{i}" for i in range(40)]}
    )
    neurons = adata.obs["true_neurons"].to_numpy(dtype=float)
    rng = np.random.default_rng(0)
    states = pd.DataFrame(
        {"ox": rng.normal(size=30), "te": -np.log(neurons) + rng.normal(0, 0.05, 30)},
        index=adata.obs_names,
    )
    genes = {"ox": [], "te": ["N0", "N1"]}  # the TE-like state shares two neuron markers
    table = state_cellmix(expression, states, genes, markers=markers).set_index("name")
    assert table.loc["TE-like", "r_squared"] > 0.8
    assert table.loc["TE-like", "top_cell_type"] == "neurons"
    assert table.loc["TE-like", "top_rho"] < -0.8
    assert table.loc["TE-like", "n_genes_left_out"] == 2
    assert table.loc["Ox-like", "adj_r_squared"] < 0.3


def test_state_genes_follow_the_axes_of_the_signature_library():
    signatures, _ = signatures_of_run((), replace=False, harmonise=False)
    genes = state_genes(signatures)
    assert {"STMN2", "UNC13A"} <= set(genes["te"])  # the TDP-43 proxy is in the TE-like state
    assert "GAD2" in genes["ox"]  # ALS-Ox markers
    assert "P2RY12" in genes["glia"]  # microglia markers and homeostatic microglia


def test_the_stmn2_unc13a_signature_is_named_and_described_as_a_confounded_proxy():
    signatures = {s.name: s for s in read_signatures(DEFAULT_TABLE)}
    assert "tdp43_cryptic_exon_targets" not in signatures
    proxy = signatures["tdp43_proxy_stmn2_unc13a"]
    assert proxy.axis == "tdp43_loss" and proxy.down == ["STMN2", "UNC13A"]
    for source in proxy.sources.values():
        assert "neuron-content-confounded proxy of TDP-43 loss" in source
    version = (DEFAULT_TABLE.parent / "VERSION").read_text().strip()
    assert int(version.split(".")[0]) >= 2  # a renamed signature is a major version
    changelog = (DEFAULT_TABLE.parent / "CHANGELOG.md").read_text()
    assert "`tdp43_cryptic_exon_targets` -> `tdp43_proxy_stmn2_unc13a`" in changelog


# -- the optional consensus NMF -----------------------------------------------------------------


def planted_clusters(seed=2, k=3, per_cluster=15, log2fc=2.0):
    """``k`` programmes of 40 genes (toy cohort; each ALS donor carries one) and the log2
    expression of the donors at equal depth; the truth is each donor's programme."""
    adata = toy_cohort(
        (k * per_cluster, 0),
        n_genes=max(120, 40 * k + 20),
        seed=seed,
        programmes={name: 40 for name in "ABCD"[:k]},
        programme_log2fc=log2fc,
        mean_log=(3.0, 0.5),
        size_factor_range=(1.0, 1.0),
    )
    vst = pd.DataFrame(np.log2(adata.X + 1.0), index=[f"s{i}" for i in range(adata.n_obs)])
    return vst, pd.Categorical(adata.obs["true_state"]).codes


@pytest.mark.parametrize(
    ("k", "seed"),
    # seeds 0, 3, 4, 5: where the former rule (cophenetic, then silhouette) chose k = 2
    [(3, 0), (3, 3), (3, 4), (3, 5), (2, 1), (4, 0)],
)
def test_consensus_nmf_finds_the_planted_rank_and_clusters(k, seed):
    vst, truth = planted_clusters(seed=seed, k=k)
    found = discover(
        nmf_features(vst, None, 100), list(vst.index), ranks=range(2, 6), restarts=8, seed=123
    )
    assert found.k == k
    assert adjusted_rand_score(truth, found.chosen.labels) > 0.9
    assert found.chosen.pac <= 0.02


def test_ranks_with_tiny_clusters_are_not_chosen():
    vst, _ = planted_clusters(seed=1, k=2, per_cluster=6)
    found = discover(
        nmf_features(vst, None, 100), list(vst.index), ranks=range(2, 8), restarts=8, seed=5
    )
    assert np.bincount(found.chosen.labels).min() >= 3
    assert found.k == 2


def test_consensus_is_seeded():
    vst, _ = planted_clusters(seed=2)
    features = nmf_features(vst, None, 100)
    one = discover(features, list(vst.index), ranks=range(2, 4), restarts=4, seed=7)
    two = discover(features, list(vst.index), ranks=range(2, 4), restarts=4, seed=7)
    assert np.array_equal(one.chosen.labels, two.chosen.labels)
    assert np.array_equal(one.chosen.consensus, two.chosen.consensus)


def test_discovery_is_optional_and_planned_only_when_asked():
    config = {
        "datasets": {
            "d": {
                "source": "local",
                "counts": "c.tsv",
                "samples": "s.tsv",
                "condition": {"column": "group"},
            }
        }
    }
    off = RunSettings(config)
    assert off["d"].subtypes.discovery is False
    targets = planning.subtype_targets("out/d", off["d"])
    assert not any(t.endswith(("nmf.tsv", "nmf_consensus.png")) for t in targets)
    for subtype in CLASSES:
        assert f"out/d/subtypes/de/{subtype}.parquet" in targets
        assert f"out/d/subtypes/enrich/{subtype}.parquet" in targets
        assert f"out/d/subtypes/enrich/{subtype}.tsv" in targets
    on = RunSettings({**config, "subtypes": {"discovery": True}})
    assert "out/d/subtypes/nmf_consensus.png" in planning.subtype_targets("out/d", on["d"])
    assert planning.SUBTYPE_CONTRASTS == SUBTYPES == CLASSES
    # the copies kept where the reference model cannot be imported (parse-time planning, the
    # report, the palette leaf) spell the same calls
    from alsig.palette import SUBTYPE
    from alsig.report.summary import CALL_ORDER
    from alsig.stages.subtypes.reference_model import OUT_OF_REFERENCE, UNASSIGNED

    assert (*CLASSES, UNASSIGNED, OUT_OF_REFERENCE) == CALL_ORDER
    assert set(CALL_ORDER) <= set(SUBTYPE)


def test_discovery_table_lays_clusters_beside_the_calls(toy_reference):
    adata = stage_cohort(9, 4)
    result = stage_result(adata, toy_reference)
    settings = complete(
        "subtypes", {"nmf_features": 60, "nmf_k_max": 4, "nmf_restarts": 4, "nmf_min_samples": 5}
    )
    found = discovery_table("toy", adata, result.table, settings)
    table = found.table
    assert table.height == 18 and set(table["condition"]) == {"ALS"}
    schemas.validate(table, "subtypes_nmf", "nmf")
    assert table["nmf_k"].n_unique() == 1 and table["nmf_pac"].max() <= 1
    few = discovery_table("toy", adata, result.table, complete("subtypes", {"nmf_min_samples": 50}))
    assert few.table.height == 0 and "nmf_min_samples" in few.note


def test_a_subtype_label_in_another_letter_case_is_refused(toy_reference, caplog):
    """subtypes.control_label: Control left the states unstandardised without a word."""
    adata = stage_cohort()
    with pytest.raises(AlsigError, match="subtypes.control_label: 'Control' matches no sample"):
        stage_result(adata, toy_reference, control_label="Control")
    with caplog.at_level("WARNING"):
        stage_result(adata, toy_reference, disease_label="FTD")
    assert "config key subtypes.disease_label: 'FTD' matches no sample" in caplog.text
