"""The report's figures say what their captions say: fixed palette colours, named outliers and
top genes, legends off the data, empty results said on the figure, dot plot colour = FDR and
size = set size without ``_UP`` suffixes, MultiQC problem flags as red badges."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import polars as pl
import pytest
from matplotlib.colors import LogNorm, to_hex

from alsig.palette import CONDITION, DIRECTION, QC_FLAG, SEX, colours_for, ordered_levels
from alsig.stages.de.figures import ma_plot, top_genes, volcano
from alsig.stages.enrich.dotplot import LABEL_WIDTH, dotplot, plot_label, split_half
from alsig.stages.qc.figures import plot_library_sizes, plot_pca, plot_sex_check, qc_decisions
from alsig.stages.qc.mqc import general_stats_text

matplotlib.use("Agg")


def _colour(collection) -> str:
    return to_hex(collection.get_facecolor()[0], keep_alpha=False)


def _labelled(ax) -> dict[str, object]:
    """Legend label -> its artist, for the artists drawn with a label."""
    return {a.get_label(): a for a in ax.collections if not a.get_label().startswith("_")}


def _texts(ax) -> set[str]:
    return {t.get_text() for t in ax.texts}


# ---------------------------------------------------------------------------------------------
# QC
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def qc_table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 24
    samples = [f"JR{i}" for i in range(1, n + 1)]
    table = pd.DataFrame(
        {
            "condition": ["ALS"] * 16 + ["control"] * 8,
            "sex": (["female", "male"] * 12)[:n],
            "region": "motor cortex",
            "PC1": rng.normal(size=n),
            "PC2": rng.normal(size=n),
            "total_counts": rng.uniform(1e7, 3e7, n),
            "n_genes_detected": rng.integers(15_000, 18_000, n),
            "pca_distance": rng.uniform(0, 1, n),
            "qc_outlier": False,
            "qc_kept": True,
            "qc_reasons": "",
            "qc_exclusion": "",
        },
        index=pd.Index(samples, name="sample"),
    )
    table.loc["JR3", ["PC1", "PC2", "pca_distance"]] = [9.0, 9.0, 5.0]
    table.loc["JR3", ["qc_outlier", "qc_reasons"]] = [True, "pca_distance"]
    table.loc["JR7", ["qc_outlier", "qc_reasons"]] = [True, "low_library_size"]
    table.loc["JR11", ["qc_kept", "qc_exclusion"]] = [False, "sex_mismatch(reported female)"]
    return table


def test_qc_decisions_tell_kept_flagged_and_excluded(qc_table):
    decision = dict(zip(qc_table.index, qc_decisions(qc_table), strict=True))
    assert decision["JR3"] == decision["JR7"] == "flagged"
    assert decision["JR11"] == "excluded" and decision["JR1"] == "kept"
    # as read back from the TSV: missing text is NaN, booleans are text
    from_tsv = qc_table.replace("", np.nan).astype({"qc_kept": str})
    assert list(qc_decisions(from_tsv)) == list(qc_decisions(qc_table))


def test_pca_uses_the_palette_and_names_its_outliers_in_every_panel(qc_table):
    fig = plot_pca(qc_table, [0.4, 0.2], ["condition", "sex", "region"])
    condition, sex, _, _, qc = fig.axes[:5]
    assert _colour(_labelled(condition)["ALS (n=16)"]) == CONDITION["ALS"]
    assert _colour(_labelled(condition)["control (n=8)"]) == CONDITION["control"]
    assert _colour(_labelled(sex)["female (n=12)"]) == SEX["female"]
    # legend entries in the palette's order, whatever the data's order
    assert [t.get_text() for t in condition.get_legend().get_texts()] == [
        "ALS (n=16)",
        "control (n=8)",
    ]
    assert _colour(_labelled(qc)["flagged (n=2)"]) == QC_FLAG["flagged"]
    assert _colour(_labelled(qc)["excluded (n=1)"]) == QC_FLAG["excluded"]
    for ax in (condition, sex, qc):
        assert {"JR3", "JR7", "JR11"} <= _texts(ax), ax.get_title()
        assert "JR1" not in _texts(ax)


def test_library_sizes_and_sex_check_name_and_colour(qc_table):
    fig = plot_library_sizes(qc_table)
    assert {"JR3", "JR7", "JR11"} <= _texts(fig.axes[0])
    assert _colour(_labelled(fig.axes[0])["ALS (n=16)"]) == CONDITION["ALS"]
    table = qc_table.assign(
        sex_xist=np.where(qc_table["sex"] == "female", 10.0, 0.5),
        sex_y_mean=np.where(qc_table["sex"] == "female", 0.1, 6.0),
        sex_reported=qc_table["sex"],
        sex_mismatch=[s == "JR11" for s in qc_table.index],
    )
    ax = plot_sex_check(table).axes[0]
    assert _colour(_labelled(ax)["male (n=12)"]) == SEX["male"]
    assert _texts(ax) == {"JR11"}


def test_palette_levels_keep_a_fixed_legend_order():
    assert ordered_levels("condition", ["control", "ALS", "nan"]) == ["ALS", "control", "nan"]
    assert ordered_levels("batch", ["b10", "b2", "b1"]) == ["b1", "b2", "b10"]
    assert colours_for("qc", ["flagged"])["flagged"] == QC_FLAG["flagged"]


def test_multiqc_problem_flags_read_yes_and_carry_the_red_badge_rule():
    table = pd.DataFrame(
        {
            "sample": ["a", "b"],
            "total_counts": [1e6, 2e6],
            "sex_mismatch": [True, False],
            "qc_outlier": [False, True],
            "qc_kept": [True, False],
        }
    )
    text = general_stats_text(table, "demo")
    rows = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    assert rows[0] == ["Sample", "total_counts", "sex_mismatch", "qc_outlier", "qc_kept"]
    assert rows[1][2:] == ["yes", "none", "yes"] and rows[2][2:] == ["none", "yes", "no"]
    header = "\n".join(line[2:] for line in text.splitlines() if line.startswith("#"))
    import yaml

    config = {k: v for item in yaml.safe_load(header)["pconfig"] for k, v in item.items()}
    for column in ("sex_mismatch", "qc_outlier"):
        rules = config[column]["cond_formatting_rules"]
        assert rules["fail"] == [{"s_eq": "yes"}] and rules["pass"] == [{"s_eq": "none"}]


# ---------------------------------------------------------------------------------------------
# DE
# ---------------------------------------------------------------------------------------------
def _de(n: int = 2000, n_sig: int = 40, seed: int = 2):
    rng = np.random.default_rng(seed)
    lfc = rng.normal(0, 0.3, n)
    padj = rng.uniform(0.2, 1.0, n)
    padj[:n_sig] = np.sort(rng.uniform(1e-12, 0.01, n_sig))
    lfc[:n_sig] = np.where(np.arange(n_sig) % 2, -1.5, 1.5)
    padj[-10:] = np.nan
    return lfc, padj, [f"G{i}" for i in range(n)]


def test_volcano_colours_by_direction_names_the_top_genes_and_keeps_the_legend_outside():
    lfc, padj, names = _de()
    fig = volcano(lfc, padj, labels=names, alpha=0.05, title="t")
    ax = fig.axes[0]
    layers = _labelled(ax)
    up = next(a for label, a in layers.items() if label.startswith("up"))
    down = next(a for label, a in layers.items() if label.startswith("down"))
    assert _colour(up) == DIRECTION["up"] and _colour(down) == DIRECTION["down"]
    assert "up, padj < 0.05 (n=20)" in layers and "down, padj < 0.05 (n=20)" in layers
    # the caption's promise: the ten smallest padj among the significant genes are named
    assert _texts(ax) == {f"G{i}" for i in range(10)}
    legend = ax.get_legend()
    assert "10 without padj not shown" in legend.get_title().get_text()
    fig.canvas.draw()
    assert legend.get_window_extent().x0 >= ax.get_window_extent().x1  # right of the data


def test_top_genes_break_padj_ties_by_fold_change():
    padj = np.array([0.01, 0.01, 0.2, 0.001])
    lfc = np.array([0.5, -2.0, 5.0, 0.1])
    assert top_genes(padj, lfc, 0.05, 10).tolist() == [3, 1, 0]
    assert top_genes(padj, lfc, 0.0001, 10).size == 0


def test_an_empty_contrast_says_so_on_the_volcano_and_the_ma_plot():
    lfc, padj, names = _de(n_sig=0)
    padj = np.maximum(padj, 0.3)
    ax = volcano(lfc, padj, labels=names, alpha=0.05).axes[0]
    assert "no gene at padj < 0.05" in " ".join(_texts(ax))
    assert not any(t in _texts(ax) for t in names)
    ma = ma_plot(np.linspace(1, 1e4, lfc.size), lfc, padj, alpha=0.05).axes[0]
    assert "no gene at padj < 0.05" in " ".join(_texts(ma))
    layers = _labelled(ma)
    assert _colour(next(a for k, a in layers.items() if k.startswith("padj"))) == DIRECTION["none"]


# ---------------------------------------------------------------------------------------------
# Enrichment dot plot
# ---------------------------------------------------------------------------------------------
def _enrichment(terms, nes, fdr, size) -> pl.DataFrame:
    n = len(terms)
    return pl.DataFrame(
        {
            "term": terms,
            "method": ["prerank"] * n,
            "nes": nes,
            "pvalue": [f / 10 for f in fdr],
            "fdr": fdr,
            "size": size,
            # camera's call is what the dot plot ranks and colours by (alsig.tables.enrichment)
            "camera_pvalue": [f / 10 for f in fdr],
            "camera_fdr": fdr,
        }
    )


def test_dotplot_colour_is_fdr_size_is_set_size_and_halves_are_shapes():
    table = _enrichment(
        ["autophagy_lysosome_UP", "glutamate_clearance_loss_DN", "HALLMARK_P53_PATHWAY"],
        [1.8, -1.6, 1.2],
        [0.001, 0.02, 0.2],
        [16, 40, 200],
    )
    fig = dotplot({"alsig_resistance": table}, title="t", top_n=10)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert not any(s in label for label in labels for s in ("_UP", "_DN", "_DOWN"))
    assert set(labels) == {"autophagy_lysosome", "glutamate_clearance_loss", "P53 PATHWAY"}
    colour_of, size_of = {}, {}
    for layer in ax.collections:
        for (x, _), fdr, area in zip(
            layer.get_offsets(), layer.get_array(), layer.get_sizes(), strict=True
        ):
            colour_of[round(float(x), 3)] = float(fdr)
            size_of[round(float(x), 3)] = float(area)
        assert isinstance(layer.norm, LogNorm)  # colour = FDR on a log scale
    assert colour_of == {1.8: 0.001, -1.6: 0.02, 1.2: 0.2}
    assert size_of[1.8] < size_of[-1.6] < size_of[1.2]  # area grows with the set size
    markers = {len(layer.get_paths()[0].vertices) for layer in ax.collections}
    assert len(markers) >= 2  # triangles for the halves, a circle for the plain set
    colourbar = next(a for a in fig.axes if a.get_ylabel().startswith("camera FDR"))
    assert colourbar.get_ylabel() == "camera FDR (log scale)"


def test_term_labels_drop_the_half_suffix_and_wrap():
    assert split_half("nrf2_targets_UP") == ("nrf2_targets", "up")
    assert split_half("tdp43_cryptic_exon_targets_DN") == ("tdp43_cryptic_exon_targets", "down")
    assert split_half("X_DOWN") == ("X", "down") and split_half("HALLMARK_UV") == (
        "HALLMARK_UV",
        "",
    )
    long = "REACTOME_SRP_DEPENDENT_COTRANSLATIONAL_PROTEIN_TARGETING_TO_MEMBRANE"
    label = plot_label(long)
    assert label.count("\n") == 1 and all(len(line) <= LABEL_WIDTH for line in label.split("\n"))
    assert label.replace("\n", " ") == "SRP DEPENDENT COTRANSLATIONAL PROTEIN TARGETING TO MEMBRANE"
