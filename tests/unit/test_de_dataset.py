"""The DE job of a dataset: one fit per design, the model for repeated donors, LRTs, subsets.

- Planted donor null (``alsig.toy``: 6 + 6 donors x 3 regions, donor SD drawn per gene, no
  condition effect) through the DE job: the default (``repeated_subjects: auto`` -> dream) keeps
  p < 0.05 within 3-7 % of genes and padj < 0.05 at <= 1 %; ``ignore`` (DESeq2, samples
  independent) does not. A planted effect is found by the same model.
- One fit serves every contrast: the Wald tests of the committed R DESeq2 fixture (3-level
  condition) come out of one engine fit; a non-reference contrast is a contrast vector with its
  shrinkage under the releveled design.
- The LRT through the stage is held to R ``DESeq(test = "LRT")`` (committed fixture).
- ``de.engine: alsig`` and ``pydeseq2`` give the same table; threads and chunk size change
  nothing.
- ``de.samples: contrast``, subset contrasts with their own design, errors naming the subset.
- ``dupcor`` is refused with its measured reason; ``adjust_cell_mix`` adds covariates that take
  up a planted composition shift.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy.stats import spearmanr

from alsig.cellmix import load_markers
from alsig.errors import AlsigError
from alsig.settings import Contrast, complete
from alsig.stages.de import run, run_dataset, run_de
from alsig.stages.de.design import design_matrix
from alsig.toy import toy_cohort
from tests.conftest import uses_voom_kernels
from tests.unit.test_deseq2_engine import FIXTURE, fixture_data, r_table

pytestmark = uses_voom_kernels

DONOR_DESIGN = "~ sex + region + condition"
ALS_VS_CONTROL = Contrast("ALS_vs_control", "condition", "ALS", "control")


def donor_cohort(seed: int, **kwargs) -> ad.AnnData:
    """6 ALS + 6 control donors, frontal + motor + spinal sample each, donor SD per gene."""
    return toy_cohort(
        (6, 6),
        regions=("frontal", "motor", "spinal"),
        n_genes=kwargs.pop("n_genes", 2000),
        seed=seed,
        donor_sd=0.5,
        region_log2fc=0.3,
        mean_log=(5.0, 1.0),
        **kwargs,
    )


def shares(table: pl.DataFrame) -> tuple[float, float]:
    """% of genes at p < 0.05 and at padj < 0.05."""
    p = table["pvalue"].drop_nulls().to_numpy()
    q = table["padj"].fill_null(1.0).to_numpy()
    return 100 * float((p < 0.05).mean()), 100 * float((q < 0.05).mean())


def fixture_cohort(subjects: bool = False) -> ad.AnnData:
    """The committed DESeq2 fixture cohort (R's Wald and LRT results are in tests/data/deseq2)."""
    counts, coldata = fixture_data()
    obs = coldata.astype(str)
    if subjects:
        obs["subject"] = [name.split("_")[0] for name in obs.index]
    adata = ad.AnnData(counts.to_numpy(np.int64), obs=obs, var=pd.DataFrame(index=counts.columns))
    adata.var["expressed"] = True
    return adata


# -- repeated donors ------------------------------------------------------------------------------


def test_planted_donor_null_keeps_its_error_rate_through_the_de_job(tmp_path: Path):
    settings = complete("de", {"design": DONOR_DESIGN})
    per_dataset = []
    for seed in (1, 2):
        adata = donor_cohort(seed)
        h5ad = tmp_path / f"cohort{seed}.h5ad"
        adata.write_h5ad(h5ad)
        folder = tmp_path / f"de{seed}"
        folder.mkdir()
        run({"h5ad": str(h5ad)}, {"summary": str(folder / "summary.tsv")}, settings, 2, dataset="t")
        table = pl.read_parquet(folder / "ALS_vs_control.parquet")
        assert set(table["model"]) == {"voom_dream"}
        assert table["log2_fold_change_shrunk"].null_count() == table.height  # no shrinkage
        assert table["icc"].drop_nulls().len() == table.height
        per_dataset.append(shares(table))
        summary = pl.read_csv(folder / "ALS_vs_control.summary.tsv", separator="\t").row(
            0, named=True
        )
        assert summary["model"] == "voom_dream" and "auto -> dream" in summary["model_reason"]
        assert summary["n_subjects"] == 12 and summary["n_subjects_repeated"] == 12
        assert (
            summary["per_level"] == "ALS: 18 samples / 6 subjects; control: 18 samples / 6 subjects"
        )
        assert 0.2 < summary["consensus_correlation"] < 0.9
        assert summary["top_icc_genes"].count(";") == 9
        assert summary["mde_median"] > 0.3  # 6 vs 6 donors cannot see small effects
    mean_p = np.mean([p for p, _ in per_dataset])
    assert 3.0 <= mean_p <= 7.0, per_dataset
    assert all(q <= 1.0 for _, q in per_dataset), per_dataset
    # the naive model (every sample independent) fails the same null
    ignore = complete("de", {"design": DONOR_DESIGN, "repeated_subjects": "ignore"})
    (naive,) = run_dataset(donor_cohort(1), ignore, n_cpus=2)
    assert naive.summary["model"] == "deseq2_wald"
    p_naive, q_naive = shares(naive.table)
    assert p_naive > 10.0 and q_naive > 2.0, (p_naive, q_naive)


def test_repeated_donor_model_finds_a_planted_effect_and_run_de_uses_it():
    adata = donor_cohort(7, n_genes=1500, de_fraction=0.1, de_log2fc=1.2)
    table, summary = run_de(
        adata, ALS_VS_CONTROL, complete("de", {"design": DONOR_DESIGN}), n_cpus=2
    )
    assert summary["model"] == "voom_dream"
    truth = adata.var["is_de"]
    hits = set(table.filter(pl.col("padj") < 0.05)["symbol"])
    planted = set(truth.index[truth])
    assert len(hits & planted) >= 0.4 * len(planted), (len(hits & planted), len(planted))
    assert len(hits - planted) <= 0.1 * max(len(hits), 1)
    up = table.filter(pl.col("symbol").is_in(list(planted)))
    signs = np.sign(up["log2_fold_change"].to_numpy())
    expected = np.sign(adata.var.loc[up["symbol"].to_list(), "true_log2fc"].to_numpy())
    assert (signs == expected).mean() > 0.9


def test_lrt_with_repeated_donors_is_the_moderated_f_test():
    adata = donor_cohort(3, n_genes=800)
    settings = complete(
        "de",
        {
            "design": DONOR_DESIGN,
            "tests": {"region": {"test": "lrt", "reduced": "~ sex + condition"}},
        },
    )
    contrast, test = run_dataset(adata, settings, n_cpus=2)
    assert test.kind == "test" and test.summary["model"] == "voom_dream"
    table = test.table
    assert set(table["df"]) == {2.0}  # motor and spinal vs frontal
    assert table["df_denominator"].min() > 2.0
    assert table["log2_fold_change"].null_count() == table.height
    assert test.summary["tested_coefficients"] == "region[T.motor];region[T.spinal]"
    # region effects were planted in every gene (SD 0.3 log2): the F test finds many
    assert test.summary["n_significant"] > 0.3 * table.height
    assert contrast.summary["fit"] == test.summary["fit"]


# -- one fit, many contrasts; the LRT against R ---------------------------------------------------


def test_one_fit_serves_every_contrast_as_r_deseq2_does(monkeypatch):
    import alsig.deseq2

    calls = []
    real = alsig.deseq2.fit_deseq2
    monkeypatch.setattr(
        alsig.deseq2, "fit_deseq2", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    settings = complete(
        "de",
        {
            "design": "~ region + condition",
            "contrasts": {
                "ALS_vs_control": ["condition", "ALS", "control"],
                "other_vs_control": ["condition", "other", "control"],
                "other_vs_ALS": ["condition", "other", "ALS"],
            },
        },
    )
    outcomes = run_dataset(fixture_cohort(), settings, n_cpus=1)
    # one model for three contrasts; their permutation null (de.null_permutations: auto, 20)
    # shares one refit per permutation too: the three contrasts are of one factor
    assert len(calls) == 1 + 20
    assert {o.summary["null_permutations"] for o in outcomes} == {20}
    by_name = {o.name: o.table.sort("symbol") for o in outcomes}
    for name in ("ALS_vs_control", "other_vs_control"):
        ours = by_name[name].to_pandas().set_index("symbol")
        theirs = r_table(f"r_wald_{name}.tsv").loc[ours.index]
        big = (theirs["baseMean"] >= 10).to_numpy()
        np.testing.assert_allclose(
            ours["log2_fold_change"][big], theirs["log2FoldChange"][big], atol=0.01
        )
        assert np.corrcoef(ours["stat"][big], theirs["stat"][big])[0, 1] > 0.9999
    # the non-reference contrast: a contrast vector of the same fit ...
    lfc = {k: v["log2_fold_change"].to_numpy() for k, v in by_name.items()}
    np.testing.assert_allclose(
        lfc["other_vs_ALS"], lfc["other_vs_control"] - lfc["ALS_vs_control"], atol=1e-9
    )
    # ... and its shrinkage re-runs only the IRLS under the releveled design (ALS, other, rest)
    summary = {o.name: o.summary for o in outcomes}
    assert summary["other_vs_ALS"]["lfc_shrink_coefficient"] == "condition[T.other]"
    counts, coldata = fixture_data()
    fit = real(counts, design_matrix(coldata, "~ region + condition"))
    releveled = coldata.assign(
        condition=pd.Categorical(coldata["condition"], ["ALS", "other", "control"])
    )
    expected = fit.lfc_shrink(
        "condition[T.other]", design=design_matrix(releveled, "~ region + condition")
    )
    expected_log2 = pd.Series(expected.lfc / np.log(2), index=fit.gene_names)
    shrunk = by_name["other_vs_ALS"].select("symbol", "log2_fold_change_shrunk").to_pandas()
    np.testing.assert_allclose(
        shrunk["log2_fold_change_shrunk"], expected_log2.loc[shrunk["symbol"]], atol=1e-9
    )


def test_lrt_through_the_stage_matches_r_deseq2_fixture():
    settings = complete(
        "de",
        {
            "design": "~ region + condition",
            "tests": {
                "condition": {
                    "test": "lrt",
                    "reduced": "~ region",
                    "coefficient": "condition[T.ALS]",
                }
            },
        },
    )
    (contrast, test) = run_dataset(fixture_cohort(), settings, n_cpus=1)
    assert contrast.summary["fit"] == test.summary["fit"]  # the LRT reuses the contrast's fit
    ours = test.table.to_pandas().set_index("symbol")
    theirs = r_table("r_lrt.tsv").loc[ours.index]
    assert set(ours["model"]) == {"deseq2_lrt"} and (ours["df"] == 2).all()
    assert (ours["pvalue"].isna() == theirs["pvalue"].isna()).all()  # the same Cook's genes
    big = (theirs["baseMean"] >= 10).to_numpy()
    np.testing.assert_allclose(ours["stat"][big], theirs["stat"][big], rtol=5e-3, atol=1e-3)
    np.testing.assert_allclose(
        ours["log2_fold_change"][big], theirs["log2FoldChange"][big], atol=1e-3
    )
    ok = ours["pvalue"].notna().to_numpy()
    rho = spearmanr(-np.log10(ours["pvalue"][ok]), -np.log10(theirs["pvalue"][ok])).correlation
    assert rho > 0.999
    assert test.summary["reduced_design"] == "~ region"
    assert test.summary["tested_coefficients"] == "condition[T.ALS];condition[T.other]"
    assert (FIXTURE / "VERSION").read_text().startswith("DESeq2=")


def test_lrt_refusals_name_the_test():
    with pytest.raises(AlsigError, match="pydeseq2 has no likelihood-ratio test"):
        complete("de", {"engine": "pydeseq2", "tests": {"x": {"test": "lrt", "reduced": "~ 1"}}})
    with pytest.raises(AlsigError, match="'ALS_vs_control' is also a contrast name"):
        complete("de", {"tests": {"ALS_vs_control": {"test": "lrt", "reduced": "~ 1"}}})
    settings = complete(
        "de",
        {"design": "~ condition", "tests": {"t1": {"test": "lrt", "reduced": "~ region"}}},
    )
    with pytest.raises(
        AlsigError, match=r"test 't1': the reduced design '~ region' uses \['region'\]"
    ):
        run_dataset(fixture_cohort(), settings, n_cpus=1)


# -- engines, determinism -------------------------------------------------------------------------


def test_engines_alsig_and_pydeseq2_give_the_same_table():
    pytest.importorskip("pydeseq2")
    adata = fixture_cohort()[:, :60].copy()
    tables = {}
    for engine in ("alsig", "pydeseq2"):
        settings = complete("de", {"design": "~ region + condition", "engine": engine})
        table, summary = run_de(adata, ALS_VS_CONTROL, settings, n_cpus=1)
        assert summary["engine"] == engine and summary["model"] == "deseq2_wald"
        tables[engine] = table.sort("symbol").to_pandas()
    ours, theirs = tables["alsig"], tables["pydeseq2"]
    assert ours["symbol"].tolist() == theirs["symbol"].tolist()
    for column in ("log2_fold_change", "stat"):
        assert np.corrcoef(ours[column], theirs[column])[0, 1] > 0.9999, column
    np.testing.assert_allclose(ours["base_mean"], theirs["base_mean"], rtol=1e-9)
    np.testing.assert_allclose(
        ours["log2_fold_change_shrunk"], theirs["log2_fold_change_shrunk"], atol=0.01
    )
    assert set(ours["symbol"][ours["padj"] < 0.05]) == set(theirs["symbol"][theirs["padj"] < 0.05])


@pytest.mark.parametrize("repeated", ["ignore", "auto"])
def test_tables_do_not_depend_on_threads_or_chunk_size(repeated):
    adata = donor_cohort(4, n_genes=600)
    settings = complete("de", {"design": DONOR_DESIGN, "repeated_subjects": repeated})
    (one,) = run_dataset(adata, settings, n_cpus=1, chunk_size=37)
    (two,) = run_dataset(adata, settings, n_cpus=2)
    assert one.table.equals(two.table, null_equal=True)


# -- sample sets and subsets ----------------------------------------------------------------------


def test_samples_contrast_gives_each_contrast_its_own_samples_and_fit():
    settings = complete(
        "de",
        {
            "design": "~ region + condition",
            "samples": "contrast",
            "contrasts": {
                "ALS_vs_control": ["condition", "ALS", "control"],
                "other_vs_control": ["condition", "other", "control"],
            },
        },
    )
    adata = fixture_cohort()
    levels = adata.obs["condition"].value_counts()
    als, other = run_dataset(adata, settings, n_cpus=1)
    assert als.summary["n_samples"] == levels["ALS"] + levels["control"]
    assert other.summary["n_samples"] == levels["other"] + levels["control"]
    assert als.summary["fit"] != other.summary["fit"]
    assert "samples of condition ALS / control" in als.summary["fit"]
    assert als.summary["n_samples_dropped"] == levels["other"]


def test_subset_contrast_with_its_own_design_fits_one_region():
    settings = complete(
        "de",
        {
            "design": DONOR_DESIGN,
            "contrasts": {
                "ALS_vs_control": ["condition", "ALS", "control"],
                "ALS_vs_control_frontal": {
                    "contrast": ["condition", "ALS", "control"],
                    "subset": {"region": ["frontal"]},
                    "design": "~ sex + condition",
                },
            },
        },
    )
    pooled, frontal = run_dataset(donor_cohort(5, n_genes=500), settings, n_cpus=2)
    assert pooled.summary["model"] == "voom_dream"
    # one sample per donor in a region: the DESeq2 model, with its shrinkage
    assert frontal.summary["model"] == "deseq2_wald" and frontal.summary["n_samples"] == 12
    assert frontal.summary["subset"] == "region in [frontal]"
    assert frontal.summary["design"] == "~ sex + condition"
    assert "one fitted sample" in frontal.summary["model_reason"]
    assert frontal.table["log2_fold_change_shrunk"].null_count() == 0


def test_subset_problems_name_the_contrast_and_the_values():
    adata = donor_cohort(5, n_genes=200)
    for subset, message in (
        ({"tissue": ["frontal"]}, "subset column 'tissue' is not a sample column"),
        ({"region": ["Frontal"]}, r"subset region = \['Frontal'\]: no sample has that value"),
    ):
        contrast = {"contrast": ["condition", "ALS", "control"], "subset": subset}
        settings = complete("de", {"design": "~ condition", "contrasts": {"c": contrast}})
        with pytest.raises(AlsigError, match=message) as info:
            run_dataset(adata, settings, n_cpus=1)
        assert "fit of c" in str(info.value)


def test_a_subject_with_two_conditions_is_a_sample_sheet_error():
    adata = donor_cohort(5, n_genes=200)
    first = adata.obs_names[adata.obs["subject"] == adata.obs["subject"].iloc[0]]
    adata.obs["condition"] = adata.obs["condition"].astype(str)
    adata.obs.loc[first[0], "condition"] = (
        "control" if adata.obs.loc[first[1], "condition"] == "ALS" else "ALS"
    )
    with pytest.raises(AlsigError, match=r"1 subject\(s\) have samples with different conditions"):
        run_dataset(adata, complete("de", {"design": DONOR_DESIGN}), n_cpus=1)


# -- settings: dupcor refused; cell mix -----------------------------------------------------------


def test_dupcor_is_refused_with_its_measured_reason():
    with pytest.raises(AlsigError) as info:
        complete("de", {"repeated_subjects": "dupcor"})
    message = str(info.value)
    assert "config key de.repeated_subjects: 'dupcor'" in message
    assert "8.8 % of genes at p < 0.05" in message and "bench/results/repeated_donors.md" in message
    assert complete("de", {"repeated_subjects": "dream"}).repeated_subjects == "dream"


def test_adjust_cell_mix_adds_covariates_that_take_up_a_composition_shift():
    ranked = load_markers().ranked
    names = [*ranked["neurons"][:20], *ranked["microglia"][:20]]
    adata = toy_cohort(
        (12, 12),
        n_genes=600,
        seed=5,
        cell_types={"neurons": 20, "microglia": 20},
        cell_mix_sd=0.3,
        cell_mix_condition_shift={"neurons": -1.5},  # fewer neurons in ALS, no gene changes
        gene_names=names,
        mean_log=(5.0, 1.0),
    )
    neurons = set(adata.var_names[adata.var["marker_of"] == "neurons"])
    found = {}
    for adjust in (False, True):
        settings = complete("de", {"design": "~ sex + condition", "adjust_cell_mix": adjust})
        table, summary = run_de(adata, ALS_VS_CONTROL, settings, n_cpus=1)
        found[adjust] = set(table.filter(pl.col("padj") < 0.05)["symbol"])
        found[f"summary {adjust}"] = summary
    assert len(found[False] & neurons) >= 15  # the shift shows up as neuron markers "down"
    assert len(found[True] & neurons) <= 2
    adjusted = found["summary True"]
    assert adjusted["design"] == "~ sex + condition + cellmix_neurons + cellmix_microglia"
    assert adjusted["cell_mix_adjustment"].startswith("2 cell-type indices")
    assert found["summary False"]["cell_mix_adjustment"] == ""


def test_enrichment_ranks_a_contrast_but_refuses_a_test_table():
    from alsig.stages.enrich.ranking import prepare_ranking

    adata = donor_cohort(3, n_genes=300)
    settings = complete(
        "de",
        {
            "design": DONOR_DESIGN,
            "tests": {"region": {"test": "lrt", "reduced": "~ sex + condition"}},
        },
    )
    contrast, test = run_dataset(adata, settings, n_cpus=1)
    ranking, _ = prepare_ranking(contrast.table)  # the moderated t: signed, a ranking
    stats = ranking.stats
    assert (np.diff(stats) <= 0).all() and stats[0] > 0 > stats[-1]
    with pytest.raises(AlsigError, match="cannot rank genes for GSEA"):
        prepare_ranking(test.table)


def test_the_resource_model_counts_the_fits_the_job_makes():
    from alsig import planning
    from alsig.stages.de.plan import fit_groups

    contrasts = {
        "a": ["condition", "ALS", "control"],
        "b": ["condition", "other", "control"],
        "b_reversed": ["condition", "control", "other"],  # the same two levels: the same fit
        "c": {"contrast": ["condition", "ALS", "control"], "subset": {"region": ["frontal"]}},
    }
    tests = {
        "t": {"test": "lrt", "reduced": "~ region"},
        "u": {"test": "lrt", "reduced": "~ 1", "design": "~ condition"},
    }
    for samples, expected in (("all", 3), ("contrast", 5)):
        settings = complete(
            "de",
            {
                "design": "~ region + condition",
                "contrasts": contrasts,
                "tests": tests,
                "samples": samples,
            },
        )
        assert planning.de_fits(settings) == len(fit_groups(settings)) == expected


def test_the_memory_model_follows_the_model_the_job_may_fit(tmp_path):
    from alsig import planning

    path = tmp_path / "qc.h5ad"
    ad.AnnData(np.zeros((2000, 600), dtype=np.int32)).write_h5ad(path)  # 1.2 M cells
    estimate = {
        key: planning.de_mem_mb(str(path), 1, complete("de", settings))
        for key, settings in (
            ("auto", {}),
            ("ignore", {"repeated_subjects": "ignore"}),
            ("pydeseq2", {"repeated_subjects": "ignore", "engine": "pydeseq2"}),
        )
    }
    job = planning.JOB_OVERHEAD_MB  # the job's own Snakemake processes, not scaled on retry
    assert estimate["ignore"] == int(500 + 9 * 1.2 + job)  # alsig's engine
    assert estimate["auto"] == int(600 + 16.5 * 1.2 + job)  # the mixed model may run: its peak
    assert estimate["pydeseq2"] == int(1500 + 50 * 1.2 + job)
    assert planning.de_mem_mb(str(path), 2, complete("de", {})) == int(2 * (600 + 16.5 * 1.2) + job)
