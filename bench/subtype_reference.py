"""Subtype reference model: the evidence report ``bench/results/subtypes.md``.

Part 1 (reference, GSE124439 with the published labels of Tam et al. 2019 Table S1A) reads the
outer-fold predictions the build script stored (``resources/subtypes/cv_predictions.tsv``) and
the models' CV reports, and adds the floors (region + seq_batch only; BRETIGEA composition
indices only), computed here on the same outer splits, the region check, the per-sample
agreement (``bench/results/subtypes_per_sample.tsv``) and a reliability plot.

Part 2 (``--transfer``) projects GSE122649 and GSE67196, which have no labels here (the
GSE122649 labels, Table S1C, are never fetched). It refuses to run unless the model files are
committed and unchanged in git ("freeze before looking"), and records the commit.

Usage:
    nice -n 10 python bench/subtype_reference.py --data ../shared/data [--transfer]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from alsig.genes import GeneMap  # noqa: E402
from alsig.stages.subtypes.features import counts_by_entrez  # noqa: E402
from alsig.stages.subtypes.projection import choose_model, project  # noqa: E402
from alsig.stages.subtypes.reference_model import (  # noqa: E402
    CLASSES,
    GENES_MODEL,
    GENES_TE_MODEL,
    OUT_OF_REFERENCE,
    PROBABILITY_COLUMNS,
    UNASSIGNED,
    load_model,
    model_paths,
)
from alsig.subtype_model.cross_validation import (  # noqa: E402
    all_splits,
    confusion,
    donor_bootstrap,
    floor_predictions,
    marker_index_design,
    region_batch_design,
    region_check,
    reliability,
)
from alsig.subtype_model.reference_data import load_reference  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "resources" / "subtypes"
OUT = ROOT / "bench" / "results" / "subtypes.md"
#: the section bench/subtypes.py writes (kept when this report is regenerated)
WORKFLOW_START = "<!-- workflow run: bench/subtypes.py -->"
WORKFLOW_END = "<!-- end of workflow run -->"
PER_SAMPLE = ROOT / "bench" / "results" / "subtypes_per_sample.tsv"
PLOT = ROOT / "bench" / "results" / "subtypes_reliability.png"
TRANSFER_TSV = ROOT / "bench" / "results" / "subtypes_transfer_calls.tsv"
N_BOOT = 1000
CALLS = (*CLASSES, UNASSIGNED, OUT_OF_REFERENCE)
WORDING = (
    "Molecular subtypes associated with resistance biology, not a prediction of any patient's "
    "drug response."
)


def fmt(row: pd.Series | dict, key: str, digits: int = 2) -> str:
    value = row[key] if isinstance(row, dict) else row.loc[key]
    if isinstance(value, dict):
        low, high = value["ci95"]
        return f"{value['estimate']:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"
    return f"{value:.{digits}f}"


def metric_row(label: str, metrics: dict) -> str:
    cells = [fmt(metrics, "ba"), fmt(metrics, "ba_called"), fmt(metrics, "coverage")]
    cells += [fmt(metrics, f"recall_{c}") for c in CLASSES]
    cells += [fmt(metrics, "macro_f1")]
    cells += [fmt(metrics, f"auc_{c}", 3) for c in CLASSES]
    cells += [fmt(metrics, "brier", 3) if "brier" in metrics else "-"]
    return f"| {label} | " + " | ".join(cells) + " |"


METRIC_HEADER = (
    "| model | BA (unassigned, out_of_reference = error) | BA among called | coverage | "
    "recall Ox | recall Glia | recall TE | macro-F1 | AUC Ox | AUC Glia | AUC TE | Brier |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def table_metrics(table: pd.DataFrame) -> dict:
    return {
        name: {"estimate": row.estimate, "ci95": [row.low, row.high]}
        for name, row in table.iterrows()
    }


def confusion_block(frame: pd.DataFrame) -> list[str]:
    table = confusion(frame)
    lines = ["| published \\ call | " + " | ".join(CALLS) + " |", "|---" * (len(CALLS) + 1) + "|"]
    for label, row in table.iterrows():
        lines.append(f"| {label} | " + " | ".join(str(int(row[c])) for c in CALLS) + " |")
    return lines


def bretigea_markers(data_dir: Path, top: int = 50) -> dict[str, list[str]]:
    """First ``top`` BRETIGEA human markers per cell type, as Entrez ids."""
    table = pd.read_csv(data_dir / "annotation/bretigea/markers_human_brain.tsv.gz", sep="\t")
    gene_map = GeneMap.load()
    out = {}
    for cell, part in table.groupby("cell", sort=True):
        records, _ = gene_map.harmonise(part["markers"].astype(str).tolist()[:top], "symbol")
        out[cell] = [r.entrez_id for r in records if r.entrez_id]
    return out


def reliability_plot(predictions: pd.DataFrame) -> None:
    fig, axes = plt.subplots(2, 3, figsize=(11, 7), sharex=True, sharey=True)
    for i, name in enumerate((GENES_TE_MODEL, GENES_MODEL)):
        part = predictions[
            (predictions["subtype_model"] == name) & (predictions["scheme"] == "nested")
        ]
        table = reliability(part)
        for j, c in enumerate(CLASSES):
            ax = axes[i, j]
            rows = table[table["class"] == c]
            ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
            ax.plot(rows["predicted"], rows["observed"], marker="o")
            for _, r in rows.iterrows():
                ax.annotate(
                    str(r["n"]),
                    (r["predicted"], r["observed"]),
                    fontsize=6,
                    xytext=(3, -8),
                    textcoords="offset points",
                )
            ax.set_title(f"{name}: {c}", fontsize=9)
            if i == 1:
                ax.set_xlabel(f"outer-fold {PROBABILITY_COLUMNS[j]} (bin mean)")
            if j == 0:
                ax.set_ylabel("observed share with this label")
    fig.suptitle(
        "Reliability of the outer-fold probabilities (GSE124439, nested CV, 5 repeats "
        "pooled; numbers = samples per bin)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


def reference_part(data_dir: Path) -> list[str]:
    predictions = pd.read_csv(MODELS / "cv_predictions.tsv", sep="\t", dtype={"fold": str})
    models = {
        name: json.loads(model_paths(MODELS, name)[0].read_text())
        for name in (GENES_TE_MODEL, GENES_MODEL)
    }
    data = load_reference(data_dir, with_te=False)
    splits = all_splits(data)
    floors = {
        "floor: region + seq_batch only": floor_predictions(data, region_batch_design, splits),
        "floor: BRETIGEA composition indices only": floor_predictions(
            data, marker_index_design(bretigea_markers(data_dir)), splits
        ),
    }
    lines = [
        "## 1. Reference: GSE124439, published labels (Tam et al. 2019 Table S1A), outer folds only",
        "",
        f"148 ALS samples, 77 donors; Ox 91 / TE 29 / Glia 28. {WORDING}",
        "",
        "Every number below is from outer folds: each outer training set went through the whole "
        "training procedure (gene filter, F-ranked features, hyper-parameters, calibration, "
        "`min_probability` and the distance threshold chosen in its own donor-grouped inner CV, "
        "5 folds x 2 repeats). Estimates are means over repeats; 95 % intervals resample donors "
        f"({N_BOOT} draws). BA = balanced accuracy with `unassigned` and `out_of_reference` "
        "counted as errors.",
        "",
    ]
    for scheme, title in (
        ("nested", "Nested donor-grouped CV (5 repeats x 5 outer folds)"),
        (
            "batch_held_out",
            "Batch held out (each `seq_batch` in turn; its donors removed from "
            "training; 15 batches pooled)",
        ),
    ):
        lines += [f"### {title}", "", METRIC_HEADER]
        for name, document in models.items():
            lines.append(metric_row(f"**{name}**", document["cv_report"][scheme]["metrics"]))
        for label, frame in floors.items():
            part = frame[frame["scheme"] == scheme]
            metrics = table_metrics(donor_bootstrap(part, n_boot=N_BOOT, seed=3))
            lines.append(metric_row(label, metrics))
        lines.append("")
        for name in models:
            part = predictions[
                (predictions["subtype_model"] == name) & (predictions["scheme"] == scheme)
            ]
            pooled = "all repeats pooled" if scheme == "nested" else "one prediction per sample"
            lines += [f"Confusion matrix, {name} ({pooled}):", "", *confusion_block(part), ""]
    lines += abstention_section(predictions)
    lines += region_section(predictions, floors)
    lines += choices_section(models)
    lines += agreement_section(predictions, data)
    reliability_plot(predictions)
    lines += [
        "### Reliability",
        "",
        f"![reliability]({PLOT.name}) — one-vs-rest, outer-fold probabilities of the nested CV "
        "binned by tenths (the Brier scores are in the tables above).",
        "",
    ]
    return lines


def region_section(predictions: pd.DataFrame, floors: dict) -> list[str]:
    lines = [
        "### Is the model a region detector?",
        "",
        "Among samples whose published label is ALS-Ox (91: 38 frontal, 53 motor cortex), AUC of "
        "the outer-fold `p_glia` (mean over repeats) for motor vs frontal cortex. 0.5 = `p_glia` "
        "does not know the region within a subtype; the region+batch floor shows what a pure "
        "region detector gives. ALS-Glia is 22/28 motor cortex, so some lift is expected from "
        "any model that learned Glia biology that is also more common in motor cortex.",
        "",
        "| predictions | AUC p_glia motor vs frontal, ALS-Ox (95 % CI, donor bootstrap) | "
        "AUC p_te frontal vs motor, ALS-Ox |",
        "|---|---|---|",
    ]
    sources = {
        name: part[part["scheme"] == "nested"]
        for name, part in predictions.groupby("subtype_model", sort=False)
    }
    sources.update({label: frame[frame["scheme"] == "nested"] for label, frame in floors.items()})
    for label, part in sources.items():
        table = donor_bootstrap(
            part,
            lambda f: {"auc": region_check(f), "auc_te": 1 - region_check(f, column="p_te")},
            n_boot=N_BOOT,
            seed=4,
        )
        auc, te = table.loc["auc"], table.loc["auc_te"]
        lines.append(
            f"| {label} | {auc.estimate:.2f} ({auc.low:.2f}-{auc.high:.2f}) | "
            f"{te.estimate:.2f} ({te.low:.2f}-{te.high:.2f}) |"
        )
    return [*lines, ""]


def without_abstention(frame: pd.DataFrame, replaced: tuple[str, ...]) -> pd.DataFrame:
    """Return ``frame`` with the ``replaced`` calls set to the class of highest probability."""
    argmax = np.asarray(CLASSES, dtype=object)[
        frame[list(PROBABILITY_COLUMNS)].to_numpy(dtype=float).argmax(axis=1)
    ]
    out = frame.copy()
    hit = out["subtype_call"].isin(replaced).to_numpy()
    out.loc[hit, "subtype_call"] = argmax[hit]
    return out


def repeat_ba(frame: pd.DataFrame) -> dict[str, float]:
    """BA (abstentions are errors) averaged over the repeats of ``frame``."""
    per_repeat = []
    for _, part in frame.groupby("repeat"):
        labels, calls = part["label"].to_numpy(), part["subtype_call"].to_numpy()
        per_repeat.append(np.mean([np.mean(calls[labels == c] == c) for c in CLASSES]))
    return {"ba": float(np.mean(per_repeat))}


def abstention_section(predictions: pd.DataFrame) -> list[str]:
    """BA as shipped beside BA with each abstention replaced by the most probable class."""
    variants = {
        "as shipped (the goal's BA)": (),
        "`unassigned` -> most probable class": (UNASSIGNED,),
        "`out_of_reference` -> most probable class": (OUT_OF_REFERENCE,),
        "both -> most probable class (no abstention)": (UNASSIGNED, OUT_OF_REFERENCE),
    }
    lines = [
        "### What the abstentions cost (a reading of the outer-fold predictions above)",
        "",
        "The BA of the goal counts `unassigned` and `out_of_reference` as errors. Below, the same "
        "outer-fold predictions with those calls replaced by the class of highest outer-fold "
        "probability: what the classifier's own calls score, and what each abstention rule costs. "
        "Nothing was changed on this reading: `min_probability` stays chosen in the inner CV at "
        "an abstention cost of 0.5, and the distance rule is the issue's (99th percentile).",
        "",
        "| model | scheme | calls | BA (95 % CI) | unassigned | out_of_reference |",
        "|---|---|---|---|---|---|",
    ]
    for (name, scheme), part in predictions.groupby(["subtype_model", "scheme"], sort=False):
        for label, replaced in variants.items():
            frame = without_abstention(part, replaced)
            ba = donor_bootstrap(frame, repeat_ba, n_boot=N_BOOT, seed=5).loc["ba"]
            counts = frame["subtype_call"].value_counts()
            lines.append(
                f"| {name} | {scheme} | {label} | {ba.estimate:.3f} ({ba.low:.3f}-{ba.high:.3f}) "
                f"| {counts.get(UNASSIGNED, 0)} | {counts.get(OUT_OF_REFERENCE, 0)} |"
            )
    out = predictions[predictions["subtype_call"] == OUT_OF_REFERENCE]
    lines += [
        "",
        "Reference samples called `out_of_reference` in an outer fold:",
        "",
        "| sample | published | model | scheme | folds out | outer-fold probability of the "
        "label (median) |",
        "|---|---|---|---|---|---|",
    ]
    for (sample, label, name, scheme), part in out.groupby(
        ["sample", "label", "subtype_model", "scheme"], sort=True
    ):
        column = PROBABILITY_COLUMNS[CLASSES.index(label)]
        lines.append(
            f"| {sample} | {label} | {name} | {scheme} | {len(part)} | "
            f"{part[column].median():.3f} |"
        )
    return [*lines, ""]


def choices_section(models: dict) -> list[str]:
    lines = ["### What the inner CV chose", ""]
    for name, document in models.items():
        report, hyper = document["cv_report"], document["hyperparameters"]
        outer = "; ".join(
            f"{c['n_genes']} genes + {c['n_te']} TE, C={c['C']:g} ({c['folds']})"
            for c in report["outer_choices"]
        )
        lines += [
            f"- **{name}** shipped: {hyper['n_genes']} genes + {hyper['n_te']} TE subfamilies, "
            f"C = {hyper['C']:g}, calibration to {hyper['calibration_target']} priors, "
            f"min_probability = {hyper['min_probability']:g}, distance threshold "
            f"{document['distance']['threshold']:.3f}. Outer folds chose: {outer}; calibration "
            f"{report['outer_calibration_targets']}; min_probability "
            f"{report['outer_min_probability']}.",
        ]
    return [*lines, ""]


def agreement_section(predictions: pd.DataFrame, data) -> list[str]:
    nested = predictions[predictions["scheme"] == "nested"]
    wide = []
    for name, part in nested.groupby("subtype_model", sort=False):
        first = part[part["repeat"] == 0].set_index("sample")
        agree = part.assign(ok=part["subtype_call"] == part["label"]).groupby("sample")["ok"].mean()
        wide.append(
            pd.DataFrame(
                {
                    f"{name}_call_repeat0": first["subtype_call"],
                    f"{name}_right_share_5_repeats": agree,
                    f"{name}_p_label_mean": part.assign(
                        p=[
                            r[PROBABILITY_COLUMNS[CLASSES.index(r["label"])]]
                            for _, r in part.iterrows()
                        ]
                    )
                    .groupby("sample")["p"]
                    .mean(),
                }
            )
        )
    batch = predictions[predictions["scheme"] == "batch_held_out"]
    for name, part in batch.groupby("subtype_model", sort=False):
        wide.append(
            part.set_index("sample")[["subtype_call"]].rename(
                columns={"subtype_call": f"{name}_call_batch_held_out"}
            )
        )
    meta = data.meta.rename(columns={"label": "published_subtype"})
    table = meta[["subject", "region", "batch", "published_subtype"]].join(wide)
    table.index.name = "sample"
    table.reset_index().to_csv(PER_SAMPLE, sep="\t", index=False, float_format="%.3f")
    key = f"{GENES_TE_MODEL}_call_repeat0"
    wrong = table[table[key] != table["published_subtype"]]
    lines = [
        "### Agreement sample by sample",
        "",
        f"All 148 samples: `{PER_SAMPLE.relative_to(ROOT)}` (published label, outer-fold call of "
        "repeat 0 — the call the stage emits for a reference sample — share of the 5 repeats "
        "that call the label, mean outer-fold probability of the label, batch-held-out call; "
        f"both models). Samples whose repeat-0 `{GENES_TE_MODEL}` call differs from the label "
        f"({len(wrong)}):",
        "",
        "| sample | donor | region | batch | published | genes_te call | right in repeats | "
        "genes call | batch-held-out call (genes_te) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sample, r in wrong.iterrows():
        lines.append(
            f"| {sample} | {r['subject']} | {r['region']} | {r['batch']} | "
            f"{r['published_subtype']} | {r[key]} | "
            f"{r[f'{GENES_TE_MODEL}_right_share_5_repeats']:.1f} | "
            f"{r[f'{GENES_MODEL}_call_repeat0']} | {r[f'{GENES_TE_MODEL}_call_batch_held_out']} |"
        )
    donors = table.groupby("subject")
    multi = donors.filter(lambda g: len(g) > 1).groupby("subject")
    discordant_labels = sum(g["published_subtype"].nunique() > 1 for _, g in multi)
    discordant_calls = sum(g[key].nunique() > 1 for _, g in multi)
    lines += [
        "",
        f"Donors with several samples: {multi.ngroups}; published labels differ within "
        f"{discordant_labels} of them, the outer-fold calls ({GENES_TE_MODEL}, repeat 0) within "
        f"{discordant_calls}.",
        "",
    ]
    return lines


# -- part 2: transfer ---------------------------------------------------------------------------


def frozen_commit() -> str:
    """Return the commit that last touched resources/subtypes; refuse uncommitted model files."""
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "resources/subtypes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if dirty.strip():
        sys.exit(
            "resources/subtypes has uncommitted changes: commit the model before looking "
            "at other cohorts (freeze before looking)."
        )
    return subprocess.run(
        ["git", "log", "-1", "--format=%H", "--", "resources/subtypes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def read_cohort(data_dir: Path, dataset: str):
    """Load a shared cohort: (counts by Entrez, TE counts or None, libraries, samples table)."""
    folder = data_dir / dataset
    if dataset == "GSE67196":
        raw = pd.read_csv(
            folder / "GSE67196_Petrucelli2015_ALS_genes.rawcount.txt.gz", sep="\t"
        ).drop(columns="Chr")
        raw = raw.groupby("GeneID", sort=False).sum()
        samples = pd.read_csv(folder / "GSE67196_samples.tsv.gz", sep="\t").set_index("sample_id")
        samples["region"] = samples["tissue"]
        te = None
    else:
        raw = pd.read_csv(folder / f"{dataset}_gene_counts.tsv.gz", sep="\t", index_col=0)
        samples = pd.read_csv(folder / f"{dataset}_samples.tsv.gz", sep="\t").set_index("sample_id")
        samples["region"] = samples["tissue"]
        samples["subject"] = samples["subject_id"]
        te = pd.read_csv(folder / f"{dataset}_te_counts.tsv.gz", sep="\t", index_col=0).T
    counts = raw.T.loc[samples.index]
    libraries = counts.sum(axis=1).to_numpy(dtype=float)
    by_entrez, _ = counts_by_entrez(counts)
    return by_entrez, None if te is None else te.loc[samples.index], libraries, samples


def transfer_part(data_dir: Path) -> list[str]:
    commit = frozen_commit()
    models = {
        name: load_model(model_paths(MODELS, name)[0]) for name in (GENES_MODEL, GENES_TE_MODEL)
    }
    lines = [
        "## 2. Transfer: GSE122649 and GSE67196 (no labels used)",
        "",
        f"Frozen before looking: the model files were committed in `{commit}` before their first "
        "run on these cohorts; nothing was tuned on these calls or shares afterwards. The "
        "GSE122649 labels (Tam 2019 Table S1C) are not fetched or used. Model used per cohort: "
        "genes+TE where TE counts exist (GSE122649), genes-only otherwise (GSE67196); GSE122649 "
        f"is also shown with the genes-only model. {WORDING}",
        "",
        "| dataset | model | group | region | samples | gene coverage | TE coverage | distance "
        "median (threshold) | > threshold | Ox | Glia | TE | unassigned | out_of_reference |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    frames = []
    for dataset in ("GSE122649", "GSE67196"):
        counts, te, libraries, samples = read_cohort(data_dir, dataset)
        chosen = choose_model(te, models)
        runs = [chosen] + ([models[GENES_MODEL]] if chosen.name != GENES_MODEL else [])
        for model in runs:
            projected = project(
                model,
                counts,
                te_counts=te if model.uses_te else None,
                libraries=libraries,
                regions=samples["region"],
            )
            projected = projected.join(samples[["group", "subject", "tissue"]])
            projected.insert(0, "dataset", dataset)
            frames.append(projected.reset_index())
            for (group, region), part in projected.groupby(["group", "region"], sort=True):
                counts_of = part["subtype_call"].value_counts()
                cells = [str(int(counts_of.get(c, 0))) for c in CALLS]
                te_cov = part["te_coverage"].iloc[0]
                lines.append(
                    f"| {dataset} | {model.name} | {group} | {region} | {len(part)} | "
                    f"{part['gene_coverage'].iloc[0]:.3f} | "
                    f"{'-' if np.isnan(te_cov) else f'{te_cov:.3f}'} | "
                    f"{part['reference_distance'].median():.3f} ({model.distance_threshold:.3f}) | "
                    f"{int((part['reference_distance'] > model.distance_threshold).sum())} | "
                    + " | ".join(cells)
                    + " |"
                )
    table = pd.concat(frames, ignore_index=True)
    table.to_csv(TRANSFER_TSV, sep="\t", index=False, float_format="%.4g")
    lines += [
        "",
        f"Per-sample calls: `{TRANSFER_TSV.relative_to(ROOT)}`. Reference distances of the "
        "reference's own samples (outer folds) sit below the threshold by construction (99th "
        "percentile).",
        "",
    ]
    lines += replicate_section(table)
    return lines


def replicate_section(table: pd.DataFrame) -> list[str]:
    lines = ["### Same donor, two samples (label-free consistency)", ""]
    for (dataset, name), part in table.groupby(["dataset", "subtype_model"], sort=True):
        pairs = part.groupby("subject").filter(lambda g: len(g) == 2).groupby("subject")
        same = sum(g["subtype_call"].nunique() == 1 for _, g in pairs)
        called_pairs = [g for _, g in pairs if g["subtype_call"].isin(CLASSES).all()]
        same_called = sum(g["subtype_call"].nunique() == 1 for g in called_pairs)
        what = "replicate libraries" if dataset == "GSE122649" else "frontal cortex + cerebellum"
        lines.append(
            f"- {dataset} / {name}: {pairs.ngroups} donors with two samples ({what}): same call "
            f"in {same}; both called in {len(called_pairs)}, of which same subtype in "
            f"{same_called}."
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("ALSIG_SHARED_DATA", ROOT.parent / "shared" / "data")),
    )
    parser.add_argument(
        "--transfer",
        action="store_true",
        help="also project GSE122649 and GSE67196 (needs committed models)",
    )
    args = parser.parse_args()
    header = [
        "# Subtypes: projection onto the published Tam et al. 2019 subtypes",
        "",
        "Generated by `python bench/subtype_reference.py` from the models and outer-fold "
        "predictions written by `scripts/build_subtype_model.py` (`resources/subtypes/`). "
        "Before this work the stage's label-free state calls reached BA 0.26 against the "
        "published labels (issue 26; their report is now `bench/results/subtype_states.md`).",
        "",
    ]
    with threadpool_limits(limits=1):
        lines = header + reference_part(args.data)
        if args.transfer:
            lines += transfer_part(args.data)
    previous = OUT.read_text() if OUT.exists() else ""
    reading = previous.split("## Reading", 1)[1] if "## Reading" in previous else "\n"
    # the workflow run's readouts (bench/subtypes.py) are kept between their markers
    start, end = previous.find(WORKFLOW_START), previous.find(WORKFLOW_END)
    workflow = previous[start : end + len(WORKFLOW_END)] + "\n\n" if 0 <= start < end else ""
    OUT.write_text("\n".join(lines) + "\n" + workflow + "## Reading" + reading)
    print(OUT.read_text())


if __name__ == "__main__":
    main()
