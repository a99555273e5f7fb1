"""Scoring: singscore (hand-computed), ssGSEA (== gseapy), independence, coverage, z, composition."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse as sp

from alsig.errors import AlsigError
from alsig.settings import complete, config_schema
from alsig.signatures.model import Signature
from alsig.stages.qc.normalise import size_factors
from alsig.stages.score.composites import composition_residuals, control_reference, z_vs_control
from alsig.stages.score.scoring import METHODS, check_methods
from alsig.stages.score.singscore import singscore, singscore_sets
from alsig.stages.score.ssgsea import ssgsea_es, ssgsea_nes
from alsig.tables import schemas
from alsig.toy import toy_cohort
from tests.helpers import bretigea_cohort, score_result


def _sig(name, up=(), down=(), axis="test"):
    return Signature(name=name, axis=axis, up=list(up), down=list(down))


def _adata(X, genes, conditions, layer="vst"):
    obs = pd.DataFrame(
        {"condition": conditions, "subject": [f"subj{i}" for i in range(len(conditions))]},
        index=[f"S{i}" for i in range(len(conditions))],
    )
    adata = ad.AnnData(X=np.asarray(X, dtype=np.float32), obs=obs, var=pd.DataFrame(index=genes))
    adata.layers[layer] = np.asarray(X, dtype=np.float32)
    adata.uns["dataset"] = "toy"
    return adata


def test_singscore_hand_computed_case():
    # one sample, 6 genes; ranks (ties.method = "min"): g0=5 g1=3 g2=3 g3=1 g4=6 g5=2
    genes = ["g0", "g1", "g2", "g3", "g4", "g5"]
    X = np.array([[5.0, 3.0, 3.0, 1.0, 6.0, 2.0]])
    sig = _sig("s", up=["g0", "g4"], down=["g3", "g1"])
    score, dispersion = singscore(X, genes, [sig], chunk_size=256)
    # up: mean rank 5.5, bounds (k+1)/2 = 1.5 and (2N-k+1)/2 = 5.5 -> 1.0, centred 0.5
    # down: mean rank 2 -> (2 - 1.5) / 4 = 0.125 -> 1 - 0.125 - 0.5 = 0.375
    assert score[0, 0] == pytest.approx(0.875)
    # MAD (R constant 1.4826): up ranks [5, 6] -> 0.5 * 1.4826; down ranks [1, 3] -> 1 * 1.4826
    assert dispersion[0, 0] == pytest.approx((0.5 + 1.0) * 1.4826 / 6)
    up_only, _ = singscore(
        X, genes, [_sig("u", up=["g3", "g5"])], chunk_size=256
    )  # the two lowest genes
    assert up_only[0, 0] == pytest.approx(-0.5)
    raw, mad = singscore_sets(X, genes, {"a": ["g1", "g2", "missing"]}, chunk_size=256)
    assert raw[0, 0] == pytest.approx((3 - 1.5) / 4)  # bounds use the 2 present genes
    assert mad[0, 0] == 0.0


def test_scores_of_a_sample_do_not_depend_on_other_samples():
    rng = np.random.default_rng(7)
    genes = [f"G{i}" for i in range(300)]
    X = rng.gamma(2.0, 2.0, size=(25, 300))
    X[:, :40] = np.floor(X[:, :40])  # ties
    sigs = [_sig("a", up=genes[:30], down=genes[100:120]), _sig("b", up=genes[50:90])]
    full, full_disp = singscore(X, genes, sigs, chunk_size=7)
    alone, alone_disp = singscore(X[[3, 17]], genes, sigs, chunk_size=256)
    np.testing.assert_array_equal(full[[3, 17]], alone)
    np.testing.assert_array_equal(full_disp[[3, 17]], alone_disp)
    sparse, _ = singscore(sp.csr_matrix(X), genes, sigs, chunk_size=256)
    np.testing.assert_array_equal(full, sparse)
    # the same through the public table (singscore rows only)
    conditions = ["ALS"] * 20 + ["control"] * 5
    long_full = score_result(_adata(X, genes, conditions), sigs).long
    long_one = score_result(_adata(X[[3]], genes, ["ALS"]), sigs).long
    a = long_full.filter(pl.col("sample") == "S3").sort("signature")["score"].to_numpy()
    b = long_one.sort("signature")["score"].to_numpy()
    np.testing.assert_array_equal(a, b)


def test_ssgsea_matches_gseapy():
    gp = pytest.importorskip("gseapy")
    rng = np.random.default_rng(3)
    genes = [f"G{i}" for i in range(400)]
    X = rng.normal(size=(6, 400))
    X[0, :25] = 0.0  # ties are broken like gseapy (input order)
    X[2, 100:160] = 1.5
    sets = {
        "A": genes[5:45],
        "B": genes[100:130] + genes[0:10],
        "C": genes[300:399],
        "D": genes[150:170] + ["NOT_A_GENE"],
    }
    data = pd.DataFrame(X.T, index=genes, columns=[f"s{i}" for i in range(6)])
    res = gp.ssgsea(data=data, gene_sets=sets, outdir=None, min_size=1, threads=1).res2d
    ref_es = res.pivot(index="Name", columns="Term", values="ES").astype(float)
    ref_nes = res.pivot(index="Name", columns="Term", values="NES").astype(float)
    es = ssgsea_es(X, genes, sets, weight=0.25, chunk_size=4)
    ours_es = pd.DataFrame(es, index=data.columns, columns=list(sets))
    ours_nes = pd.DataFrame(ssgsea_nes(es), index=data.columns, columns=list(sets))
    np.testing.assert_allclose(ours_es.loc[ref_es.index, ref_es.columns], ref_es, atol=1e-6)
    np.testing.assert_allclose(ours_nes.loc[ref_nes.index, ref_nes.columns], ref_nes, atol=1e-6)


def test_low_coverage_signature_is_flagged_not_scored(caplog):
    genes = [f"G{i}" for i in range(50)]
    X = np.random.default_rng(0).normal(size=(5, 50))
    sigs = [
        _sig("good", up=genes[:10]),
        _sig("sparse", up=genes[:1] + ["X1", "X2", "X3"]),  # 1 of 4 present
        _sig("nodown", up=genes[10:20], down=["Y1"]),  # 10 of 11, but no down gene
    ]
    with caplog.at_level(logging.WARNING, logger="alsig.stages.score"):
        result = score_result(_adata(X, genes, ["ALS"] * 5), sigs, min_coverage=0.5)
    cov = {r["signature"]: r for r in result.coverage.iter_rows(named=True)}
    assert cov["good"]["flagged"] is False and cov["good"]["n_genes_used"] == 10
    assert cov["sparse"]["flagged"] is True
    assert cov["sparse"]["n_genes"] == 4 and cov["sparse"]["n_genes_used"] == 1
    assert "1 of 4 genes present" in cov["sparse"]["reason"]
    assert cov["nodown"]["flagged"] is True and "no down gene" in cov["nodown"]["reason"]
    scores = result.long.filter(pl.col("signature") == "sparse")
    assert scores["score"].null_count() == scores.height == 5
    assert (scores["n_genes_used"] == 1).all()
    assert result.long.filter(pl.col("signature") == "good")["score"].null_count() == 0
    assert "signature 'sparse' not scored" in caplog.text
    # a lower threshold scores it
    relaxed = score_result(_adata(X, genes, ["ALS"] * 5), sigs[:2], min_coverage=0.25)
    assert relaxed.long.filter(pl.col("signature") == "sparse")["score"].null_count() == 0


def test_z_vs_control_rule(caplog):
    scores = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [10.0, 7.0]])
    z, reason = z_vs_control(scores, np.array([True, True, True, False]))
    assert reason is None
    # controls 1, 2, 3: mean 2, sd 1
    np.testing.assert_allclose(z[:, 0], [-1.0, 0.0, 1.0, 8.0])
    assert np.isnan(z[:, 1]).all()  # sd of controls is 0
    # the reference statistics of a group of controls give the same z
    reference = control_reference(scores[:3])
    np.testing.assert_array_equal(reference.z(scores), z)
    assert reference.mean[0] == 2.0 and reference.sd[0] == 1.0
    assert reference.usable.tolist() == [True, False]
    z2, reason2 = z_vs_control(scores, np.array([True, True, False, False]))
    assert np.isnan(z2).all() and "2 control sample(s) (< 3)" in reason2
    # through the table: 2 controls -> all null, logged with the reason
    genes = [f"G{i}" for i in range(60)]
    X = np.random.default_rng(1).normal(size=(6, 60))
    with caplog.at_level(logging.WARNING, logger="alsig.stages.score"):
        res = score_result(
            _adata(X, genes, ["ALS"] * 4 + ["control"] * 2), [_sig("a", up=genes[:10])]
        )
    assert res.long["z_vs_control"].null_count() == res.long.height
    assert "z_vs_control is null" in caplog.text
    res3 = score_result(_adata(X, genes, ["ALS"] * 3 + ["control"] * 3), [_sig("a", up=genes[:10])])
    assert res3.long["z_vs_control"].null_count() == 0


def _planted(n_per_group=15, log2fc=1.5, seed=11):
    """15 ALS vs 15 control donors (toy cohort, log2 normalised counts as the scored layer): the
    first 30 genes rise in ALS (the up genes of 'stress'), genes 40-49 fall (the down genes of
    'loss'); genes 500-539 are a neutral signature."""
    names = [f"G{i:05d}" for i in range(1000)]
    planted = {g: log2fc for g in names[0:30]} | {g: -log2fc for g in names[40:50]}
    cohort = toy_cohort(
        (n_per_group, n_per_group),
        n_genes=1000,
        seed=seed,
        planted_log2fc=planted,
        mean_log=(5.0, 0.8),
    )
    counts = np.asarray(cohort.X, dtype=float)
    factors, _ = size_factors(counts)  # median of ratios: robust to the planted genes
    X = np.log2(counts / factors[:, None] + 1.0)
    genes = list(cohort.var_names)
    conditions = cohort.obs["condition"].tolist()
    sigs = [
        _sig("stress_up", up=genes[0:30], axis="stress"),
        _sig("loss", down=genes[40:50], axis="loss"),
        _sig("mixed", up=genes[0:30], down=genes[40:50], axis="mixed"),
        _sig("neutral", up=genes[500:540], axis="neutral"),
    ]
    return _adata(X, genes, conditions), sigs


@pytest.mark.parametrize("method", ["singscore", "ssgsea"])
def test_planted_shift_has_the_right_sign(method):
    adata, sigs = _planted()
    long = score_result(adata, sigs, methods=[method]).long
    means = (
        long.filter(pl.col("signature").str.starts_with("axis:"))
        .group_by("signature", "condition")
        .agg(pl.col("z_vs_control").mean())
        .pivot(on="condition", index="signature", values="z_vs_control")
    )
    diff = {r["signature"]: r["ALS"] - r["control"] for r in means.iter_rows(named=True)}
    assert diff["axis:stress"] > 2
    assert diff["axis:loss"] > 2  # down genes falling = mechanism active = higher score
    assert diff["axis:mixed"] > 2
    assert abs(diff["axis:neutral"]) < 1


def test_axis_composite_is_mean_of_signatures():
    adata, sigs = _planted()
    long = score_result(
        adata, sigs[:2] + [_sig("stress2", up=adata.var_names[0:10], axis="stress")]
    ).long
    wide = long.pivot(on="signature", index="sample", values="score")
    np.testing.assert_allclose(
        wide["axis:stress"], (wide["stress_up"] + wide["stress2"]) / 2, rtol=1e-12
    )
    comp = long.filter(pl.col("signature") == "axis:stress").row(0, named=True)
    assert comp["n_genes"] == 30 and comp["dispersion"] is None and comp["axis"] == "stress"


def test_composition_adjustment_removes_linear_cell_type_signal():
    rng = np.random.default_rng(5)
    n = 40
    neurons = rng.normal(size=n)
    other = rng.normal(size=n)
    y = 2.0 * neurons + 0.5 * other
    resid = composition_residuals(y[:, None], neurons[:, None])
    assert abs(np.corrcoef(resid[:, 0], neurons)[0, 1]) < 1e-8
    assert np.corrcoef(resid[:, 0], other)[0, 1] > 0.9
    # through the table: adjusted rows exist for non-cell-type signatures only, and a planted
    # neuron composition difference (markers the neuron index does not use) is removed
    adata = bretigea_cohort(n_donors=(15, 15), cell_mix_condition_shift={"neurons": -0.8})
    deep_neuron = list(adata.var_names[adata.var["marker_of"] == "neurons"][50:])
    sigs = [
        _sig("neuronal", up=deep_neuron, axis="tdp43_loss"),
        _sig("plain", up=list(adata.var_names[-40:]), axis="other"),
        _sig("celltype_x", up=list(adata.var_names[400:440]), axis="cell_type"),
    ]
    long = score_result(adata, sigs, methods=["singscore", "singscore_adjusted"]).long
    adjusted = long.filter(pl.col("method") == "singscore_adjusted")
    assert "cell_type" not in adjusted["axis"].to_list()
    assert adjusted["score"].null_count() == 0
    truth = np.log(adata.obs["true_neurons"].to_numpy())

    def corr(method):
        rows = long.filter((pl.col("method") == method) & (pl.col("signature") == "neuronal"))
        return np.corrcoef(rows["score"].to_numpy(), truth)[0, 1]

    assert corr("singscore") > 0.8 and abs(corr("singscore_adjusted")) < 0.3


def test_singscore_adjusted_is_null_with_a_reason_without_cell_markers(caplog):
    adata, sigs = _planted()  # toy gene names: no BRETIGEA marker is measured
    long = score_result(adata, sigs, methods=["singscore", "singscore_adjusted"]).long
    assert long.filter(pl.col("method") == "singscore_adjusted")["score"].null_count() > 0
    assert "no cell index, singscore_adjusted is null" in caplog.text


def test_settings_defaults_and_errors():
    settings = complete("score")
    assert settings.methods == ("singscore",) and settings.min_coverage == 0.5
    assert settings.control_label == "control"
    # the methods alsig implements are the ones the config and the output schema allow
    config_methods = config_schema()["definitions"]["score_settings"]
    assert config_methods["properties"]["methods"]["items"]["enum"] == list(METHODS)
    # ... plus log2cpm, the method of the retrotransposon signatures (scored from TE counts)
    table_methods = schemas.load("signature_scores")["properties"]["method"]["enum"]
    assert table_methods == [*METHODS, "log2cpm"]
    assert check_methods(["ssgsea", "singscore", "ssgsea"], 0.5) == ["ssgsea", "singscore"]
    with pytest.raises(AlsigError, match="score.methods"):
        check_methods(["gsva"], 0.5)
    with pytest.raises(AlsigError, match="score.methods"):
        score_result(_adata(np.ones((2, 3)), ["a", "b", "c"], ["ALS"] * 2), [], methods=[])
    with pytest.raises(AlsigError, match="score.min_coverage"):
        check_methods(["singscore"], min_coverage=1.5)
    with pytest.raises(AlsigError, match="layer 'counts' is not in the AnnData"):
        score_result(_adata(np.ones((2, 3)), ["a", "b", "c"], ["ALS"] * 2), [], layer="counts")


def test_a_control_label_that_names_no_sample(caplog):
    import pandas as pd

    from alsig.stages.score.reference import reference_strata

    obs = pd.DataFrame(
        {"condition": ["ALS", "ALS", "control", "control"]}, index=["a", "b", "c", "d"]
    )
    no_column = reference_strata(
        obs, control_column="diagnosis", control_label="control", reference_by=None
    )
    assert not no_column.is_reference.any()  # the scoring pass warns about the column
    with pytest.raises(AlsigError, match="'Control' matches no sample, but 'control' does"):
        reference_strata(
            obs, control_column="condition", control_label="Control", reference_by=None
        )
    with caplog.at_level("WARNING"):
        refs = reference_strata(
            obs, control_column="condition", control_label="healthy", reference_by=None
        )
    assert not refs.is_reference.any()
    assert (
        "'healthy' matches no sample (values: ALS, control): no control in column " in caplog.text
    )
