"""The subtype stage on the real cohorts: the workflow run's readouts in ``bench/results/subtypes.md``.

Reads the output folder of a run of ``config/examples/shared_cohorts.yaml`` with
``subtypes: {discovery: true}`` (``alsig.planning.subtype_targets`` lists the stage's files) and
writes the section "Workflow run" of ``bench/results/subtypes.md`` between its markers (the rest
of the file is ``bench/subtype_reference.py``'s). Nothing here tunes anything: the model files
are frozen (the last commit that changed them is named) and the stage's settings are the
defaults.

With ``--published-de`` it also fits, for GSE124439 only, the DE and the enrichment of each
*published* subtype (Tam et al. 2019 Table S1A, ``../shared/data``) against the controls with the
stage's own functions and settings and compares them with the stage's per-subtype tables. The
published labels are read here, in the bench, and never enter the package. The GSE122649 labels
(Table S1C) are never used.

Usage::

    snakemake -s workflow/Snakefile --configfile config/examples/shared_cohorts.yaml
        --config output_dir=/tmp/cohorts 'subtypes={discovery: true}' --cores 2  (one line)
    nice -n 10 python bench/subtypes.py --run /tmp/cohorts [--published-de]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import polars as pl
import yaml
from scipy.stats import spearmanr
from sklearn.metrics import adjusted_rand_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's alsig

from alsig.settings import RunSettings  # noqa: E402
from alsig.stages.subtypes.reference_model import CLASSES, load_shipped  # noqa: E402

OUT = ROOT / "bench" / "results" / "subtypes.md"
START = "<!-- workflow run: bench/subtypes.py -->"
END = "<!-- end of workflow run -->"
DATASETS = ("GSE124439", "GSE122649", "GSE67196")
CALLS = (*CLASSES, "unassigned", "out_of_reference")
SHARED = Path(os.environ.get("ALSIG_SHARED_DATA", ROOT.parent / "shared" / "data"))
#: the shipped model file whose last change is the models' freeze commit
MODEL_FILE = "resources/subtypes/genes_te.json"


def model_commit() -> str:
    """Return the short hash of the last commit that changed the shipped models (their freeze).

    Read from git (``git log -1 -- resources/subtypes/genes_te.json``), so a regenerated section
    names the models it ran, not those of an earlier version.

    Returns
    -------
    str
        The short commit hash.

    Raises
    ------
    SystemExit
        Not a git checkout, or the model file was never committed (the freeze must be named).
    """
    found = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h", "--", MODEL_FILE],
        capture_output=True,
        text=True,
    )
    commit = found.stdout.strip()
    if found.returncode != 0 or not commit:
        why = found.stderr.strip() or "never committed"
        raise SystemExit(
            f"bench/subtypes.py: no commit changed {MODEL_FILE} in {ROOT} ({why}); run it in a "
            "git checkout with the models committed."
        )
    return commit


def _read(results: Path, dataset: str, name: str) -> pl.DataFrame:
    path = results / dataset / "subtypes" / name
    if name.endswith(".parquet"):
        return pl.read_parquet(path)
    return pl.read_csv(path, separator="\t", infer_schema_length=None)


def _counts(values: pl.Series) -> str:
    counts = dict(values.value_counts().iter_rows())
    return " | ".join(str(counts.get(c, 0)) for c in CALLS)


def overview(results: Path) -> list[str]:
    """One row per dataset x condition: model, coverage, distances, calls."""
    lines = [
        "| dataset | model | condition | samples | gene cov. | TE cov. | distance median "
        "(threshold) | > threshold | ALS-Ox | ALS-Glia | ALS-TE | unassigned | out_of_reference "
        "| out by region | reference samples |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for dataset in DATASETS:
        table = _read(results, dataset, "subtypes.parquet")
        for (condition,), part in table.group_by("condition", maintain_order=True):
            te = part["te_coverage"][0]
            distance = part["reference_distance"]
            threshold = part["distance_threshold"][0]
            lines.append(
                f"| {dataset} | {part['subtype_model'][0]} | {condition} | {part.height} | "
                f"{part['gene_coverage'][0]:.3f} | {'-' if te is None else f'{te:.3f}'} | "
                f"{cast(float, distance.median()):.3f} ({threshold:.3f}) | {(distance > threshold).sum()} | "
                f"{_counts(part['subtype_call'])} | "
                f"{(part['out_of_reference_by'] == 'region').sum()} | "
                f"{part['reference_sample'].sum()} |"
            )
    return lines


def shares_beside(results: Path) -> list[str]:
    """ALS shares among the called beside the controls' calls (not a false-positive rate)."""
    lines = [
        "| dataset | condition | called | ALS-Ox | ALS-Glia | ALS-TE | donors (donor view): "
        "Ox / Glia / TE / unassigned / out |",
        "|---|---|---|---|---|---|---|",
        "| GSE124439 published (Tam et al. 2019) | ALS | 148 | 61 % | 19 % | 20 % | - |",
    ]
    for dataset in DATASETS:
        shares = _read(results, dataset, "shares.tsv")
        for (condition,), part in shares.group_by("condition", maintain_order=True):
            rows = {r["subtype_call"]: r for r in part.iter_rows(named=True)}
            called = sum(rows[c]["n_samples"] for c in CLASSES)
            cells = [f"{100 * rows[c]['share_called']:.0f} %" if called else "-" for c in CLASSES]
            donors = " / ".join(str(rows[c]["n_donors"]) for c in CALLS)
            lines.append(
                f"| {dataset} | {condition} | {called} / {part['n_samples'].sum()} | "
                + " | ".join(cells)
                + f" | {donors} |"
            )
    return lines


def reference_check(results: Path) -> list[str]:
    """Check GSE124439's reference samples in the stage.

    Their calls against the stored outer-fold calls and the published labels, sample by sample
    and by donor.
    """
    table = _read(results, "GSE124439", "subtypes.parquet").to_pandas().set_index("sample")
    model = load_shipped(str(table["subtype_model"].iloc[0]))
    stored = model.reference_calls
    assert stored is not None
    reference = table[table["reference_sample"]]
    same = (reference["subtype_call"] == stored.loc[reference.index, "subtype_call"]).sum()
    labels = pd.read_csv(SHARED / "GSE124439/GSE124439_tam2019_subtypes.tsv.gz", sep="\t")
    labels = labels.set_index("sample_id")["subtype"]
    als = table[table["condition"] == "ALS"]
    truth = labels.reindex(als.index)
    recall = {c: float((als.loc[truth == c, "subtype_call"] == c).mean()) for c in CLASSES}
    ba = float(np.mean(list(recall.values())))
    donors = _read(results, "GSE124439", "donors.tsv").to_pandas().set_index("subject")
    als_donors = donors[donors["condition"] == "ALS"]
    multi = als_donors[als_donors["n_in_reference"] >= 2]
    label_donor = pd.DataFrame({"label": truth, "subject": als["subject"]}).groupby("subject")
    uniform = label_donor["label"].agg(lambda v: v.iloc[0] if v.nunique() == 1 else None)
    agreeing = uniform.dropna()
    donor_right = (als_donors.loc[agreeing.index, "donor_call"] == agreeing).mean()
    return [
        f"- {len(reference)} of {len(als)} ALS samples recognised as reference samples by their "
        f"counts (the 17 controls and 11 other-neurological samples are not training samples); "
        f"{same} of {len(reference)} carry exactly the stored outer-fold call "
        "(`resources/subtypes/reference_calls.tsv`, nested repeat 0), never an in-sample one.",
        f"- Against the published labels, sample by sample: balanced accuracy {ba:.2f} "
        f"(recall ALS-Ox {recall['ALS-Ox']:.2f}, ALS-Glia {recall['ALS-Glia']:.2f}, ALS-TE "
        f"{recall['ALS-TE']:.2f}); the 13 disagreements are listed in section 1. This is one "
        "repeat of the nested CV (repeat 0, the calls the stage emits); the estimate of the "
        "issue's goal is the mean over the 5 repeats, section 1.",
        f"- Donor view of the outer-fold calls: {len(als_donors)} ALS donors, {len(multi)} with "
        f"several samples, of which {int((multi['donor_concordance'] == 'concordant').sum())} "
        f"concordant and {int((multi['donor_concordance'] == 'discordant').sum())} discordant "
        f"(published labels differ within 14 of the 42 multi-sample donors). Donors whose "
        f"published labels agree ({len(agreeing)}): donor call = that label for "
        f"{100 * donor_right:.0f} %.",
    ]


def library_view(results: Path) -> list[str]:
    """GSE122649 (collapsed by donor): the donor's two libraries projected one by one."""
    donors = _read(results, "GSE122649", "donors.tsv")
    lines = [
        "| condition | donors | both libraries within reference: same call | different calls "
        "| one library within | none within | donors called (summed libraries) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (condition,), part in donors.group_by("condition", maintain_order=True):
        counts = {"same": 0, "different": 0, "one": 0, "none": 0}
        for text in part["library_calls"]:
            calls = [c.split(":", 1)[1] for c in text.split(";")]
            within = [c for c in calls if c != "out_of_reference"]
            if len(within) < len(calls):
                counts["one" if within else "none"] += 1
            else:
                counts["same" if len(set(within)) == 1 else "different"] += 1
        called = part.filter(pl.col("donor_call").is_in(CLASSES)).height
        lines.append(
            f"| {condition} | {part.height} | {counts['same']} | {counts['different']} | "
            f"{counts['one']} | {counts['none']} | {called} |"
        )
    lines += [
        "",
        "| donor | condition | call (summed) | p_ox / p_glia / p_te | distance | libraries |",
        "|---|---|---|---|---|---|",
    ]
    for row in donors.iter_rows(named=True):
        p = (
            "-"
            if row["p_ox"] is None
            else f"{row['p_ox']:.2f} / {row['p_glia']:.2f} / {row['p_te']:.2f}"
        )
        lines.append(
            f"| {row['subject']} | {row['condition']} | {row['donor_call']} | {p} | "
            f"{row['reference_distance']:.2f} | {row['library_calls']} |"
        )
    return lines


def gse67196(results: Path) -> list[str]:
    """GSE67196: the out-of-reference rule by region, then by distance."""
    table = _read(results, "GSE67196", "subtypes.parquet")
    lines = [
        "| region | samples | out by region | out by distance | distance 10 / 50 / 90 % |",
        "|---|---|---|---|---|",
    ]
    for (region,), part in table.group_by("region", maintain_order=True):
        q = [part["reference_distance"].quantile(x) for x in (0.1, 0.5, 0.9)]
        lines.append(
            f"| {region} | {part.height} | {(part['out_of_reference_by'] == 'region').sum()} | "
            f"{(part['out_of_reference_by'] == 'distance').sum()} | "
            + " / ".join(f"{v:.2f}" for v in q)
            + " |"
        )
    return lines


def carried(results: Path) -> list[str]:
    """Per dataset x subtype: DE genes, model features among them, top Hallmark sets."""
    lines = [
        "| dataset | subtype vs control | samples | DE model | DE genes padj < 0.05 (up / down) "
        "| model "
        "features among DE genes (share; among all tested) | top Hallmark sets by camera p: "
        "prerank NES (camera FDR; model features in the set) |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset in DATASETS:
        for subtype in CLASSES:
            summary = _read(results, dataset, f"de/{subtype}.summary.tsv").row(0, named=True)
            de = _read(results, dataset, f"de/{subtype}.parquet")
            if de.is_empty():
                lines.append(f"| {dataset} | {subtype} | - | - | {summary['note']} | - | - |")
                continue
            sig = de.filter(pl.col("padj") < 0.05)
            up = int((sig["log2_fold_change"] > 0).sum())
            features = int(sig["model_feature"].sum())
            share_sig = f"{100 * features / sig.height:.0f} %" if sig.height else "-"
            share_all = cast(float, de["model_feature"].mean())  # of a bool column: a float
            enrich = _read(results, dataset, f"enrich/{subtype}.parquet")
            top = (
                enrich.filter(
                    (pl.col("method") == "prerank") & (pl.col("collection") == "hallmark")
                )
                .sort("camera_pvalue")
                .head(3)
                .iter_rows(named=True)
            )
            terms = "; ".join(
                f"{r['term'].removeprefix('HALLMARK_')} {r['nes']:+.2f} ({r['camera_fdr']:.2g}; "
                f"{r['n_model_features']})"
                for r in top
            )
            lines.append(
                f"| {dataset} | {subtype} | {summary['n_test']} vs {summary['n_reference']} | "
                f"{summary['model']} | {sig.height} ({up} / {sig.height - up}) | {features} ({share_sig}; "
                f"{100 * share_all:.1f} %) | {terms} |"
            )
    return lines


def axis_rows(results: Path) -> list[str]:
    """Axis composites (singscore) of each subtype vs controls: standardised effect [95 % CI]."""
    lines = []
    for dataset in DATASETS:
        tests = _read(results, dataset, "axis_tests.parquet").filter(
            (pl.col("method") == "singscore") & pl.col("signature").str.starts_with("axis:")
        )
        if tests.is_empty():
            lines += [f"- {dataset}: no subtype with enough samples.", ""]
            continue
        contrasts = list(dict.fromkeys(tests["contrast"].to_list()))
        lines += [
            f"{dataset} ({tests['model'][0]}):",
            "",
            "| axis | " + " | ".join(contrasts) + " |",
            "|---|" + "---|" * len(contrasts),
        ]
        for signature in sorted(set(tests["signature"])):
            cells = []
            for contrast in contrasts:
                row = tests.filter(
                    (pl.col("signature") == signature) & (pl.col("contrast") == contrast)
                )
                if row.is_empty() or row["std_effect"][0] is None:
                    cells.append("-")
                    continue
                r = row.row(0, named=True)
                half = 1.96 * r["std_se"]
                mark = " *" if r["qvalue"] is not None and r["qvalue"] < 0.05 else ""
                cells.append(
                    f"{r['std_effect']:+.2f} [{r['std_effect'] - half:+.2f}, "
                    f"{r['std_effect'] + half:+.2f}]{mark}"
                )
            lines.append(f"| {signature.removeprefix('axis:')} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def cellmix_rows(results: Path) -> list[str]:
    """R² of each state and probability on the BRETIGEA indices, per dataset."""
    lines = [
        "| dataset | view | name | ALS samples | R² (adj.) | follows most (Spearman) |",
        "|---|---|---|---|---|---|",
    ]
    for dataset in DATASETS:
        table = _read(results, dataset, "state_cellmix.tsv")
        for row in table.iter_rows(named=True):
            r2 = (
                "-"
                if row["r_squared"] is None
                else f"{row['r_squared']:.2f} ({row['adj_r_squared']:.2f})"
            )
            top = (
                "-"
                if row["top_cell_type"] is None
                else f"{row['top_cell_type']} ({row['top_rho']:+.2f})"
            )
            lines.append(
                f"| {dataset} | {row['view']} | {row['name']} | {row['n_samples']} | {r2} | {top} |"
            )
    return lines


def nmf_rows(results: Path) -> list[str]:
    """Summarise the optional consensus NMF: rank, PAC and agreement with the projected calls."""
    lines = [
        "| dataset | ALS samples | k | PAC | ARI vs subtype_call (called samples) | clusters "
        "(named by state) |",
        "|---|---|---|---|---|---|",
    ]
    for dataset in DATASETS:
        nmf = _read(results, dataset, "nmf.tsv")
        if nmf.is_empty():
            lines.append(f"| {dataset} | - | - | - | - | - |")
            continue
        called = nmf.filter(pl.col("subtype_call").is_in(CLASSES))
        ari = (
            adjusted_rand_score(called["subtype_call"], called["nmf_cluster"])
            if called.height > 2
            else float("nan")
        )
        clusters = nmf.group_by("nmf_cluster", "nmf_cluster_state").len().sort("nmf_cluster")
        text = "; ".join(f"{c}: {s} (n = {n})" for c, s, n in clusters.iter_rows())
        lines.append(
            f"| {dataset} | {nmf.height} | {nmf['nmf_k'][0]} | {nmf['nmf_pac'][0]:.3f} | "
            f"{ari:.2f} | {text} |"
        )
    return lines


def cost_rows(results: Path) -> list[str]:
    """Snakemake benchmark of the subtype jobs."""
    lines = ["| dataset | job | wall s | peak RSS MB |", "|---|---|---|---|"]
    for dataset in DATASETS:
        folder = results / dataset / "benchmarks"
        paths = [folder / "subtypes.tsv", folder / "subtypes_discovery.tsv"]
        paths += [folder / "subtypes/de.tsv", folder / "subtypes/enrich.tsv"]
        paths += [folder / "subtypes_axis_tests.tsv"]
        for path in paths:
            if path.exists():
                bench = pl.read_csv(path, separator="\t")
                job = str(path.relative_to(folder)).removesuffix(".tsv")
                lines.append(
                    f"| {dataset} | {job} | {bench['s'][0]:.1f} | {bench['max_rss'][0]:.0f} |"
                )
    return lines


def _significant(table: pl.DataFrame, column: str, keys: list[str]) -> set[tuple[str, ...]]:
    """Return the key tuples of the rows with ``column`` < 0.05."""
    return set(table.filter(pl.col(column) < 0.05).select(keys).iter_rows())


def _jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> str:
    return f"{len(a & b) / len(a | b):.2f}" if a | b else "-"


def _spearman(left: pl.DataFrame, right: pl.DataFrame, keys: list[str], column: str) -> str:
    """Spearman of ``column`` over the rows both tables have (by ``keys``)."""
    merged = left.select(*keys, column).join(
        right.select(*keys, pl.col(column).alias("other")), on=keys
    )
    merged = merged.drop_nulls([column, "other"]).filter(
        pl.col(column).is_finite() & pl.col("other").is_finite()
    )
    if merged.height < 3:
        return "-"
    return f"{spearmanr(merged[column], merged['other']).statistic:.3f} (n = {merged.height})"


def published_carried(results: Path, configfile: Path) -> list[str]:
    """GSE124439: DE and enrichment of the *published* subtypes vs controls, beside the stage's.

    The stage's own functions on the same QC'd counts, design, DE model and gene-set
    collections (``subtypes_de``, ``subtype_enrichment_table``), with the published label of
    each ALS sample in place of its call; bench only, the labels never enter the package.
    """
    from alsig.io import read_h5ad_counts
    from alsig.stages.subtypes.carry import subtype_residuals, subtypes_de
    from alsig.stages.subtypes.enrich_job import subtype_enrichment_table, subtype_gene_sets

    settings = RunSettings(yaml.safe_load(configfile.read_text()))["GSE124439"]
    adata = read_h5ad_counts(results / "GSE124439/qc/filtered.h5ad")
    labels = pd.read_csv(SHARED / "GSE124439/GSE124439_tam2019_subtypes.tsv.gz", sep="\t")
    labels = labels.set_index("sample_id")["subtype"]
    disease = adata.obs_names[adata.obs["condition"].astype(str) == settings.subtypes.disease_label]
    missing = sorted(set(disease) - set(labels.index))
    assert not missing, f"ALS samples without a published label: {missing[:10]}"
    model = load_shipped(str(_read(results, "GSE124439", "subtypes.parquet")["subtype_model"][0]))
    published = subtypes_de(
        adata,
        labels.reindex(adata.obs_names),
        CLASSES,
        dataset="GSE124439",
        de_settings=settings.de,
        settings=settings.subtypes,
        model_gene_ids=set(model.genes),
        n_cpus=2,
    )
    residuals = subtype_residuals(
        adata,
        labels.reindex(adata.obs_names),
        CLASSES,
        de_settings=settings.de,
        settings=settings.subtypes,
        source="GSE124439 published labels",
    )
    gene_sets = subtype_gene_sets(settings.enrich, settings.subtypes)
    term = ["collection", "term"]
    first = published[CLASSES[0]][1]
    lines = [
        f"Model `{model.name}`; DE model {first['model']} with design `{first['design']}` "
        f"({first['n_subjects']} donors; as the stage's fit); enrichment: "
        f"prerank on {', '.join(gene_sets)} ({sum(len(s) for s in gene_sets.values())} sets). "
        "Model features among DE genes: the calls and the published labels both follow these "
        "genes, so their p-values are not evidence.",
        "",
        "| subtype vs control | samples: published / stage | DE genes padj < 0.05: published "
        "/ stage | lowest padj: published / stage | model features among the DE genes: "
        "published / stage | Spearman of DE stat | "
        "Jaccard of DE sets | sets at camera FDR < 0.05: published / stage | Jaccard of those sets | "
        "Spearman of NES |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for subtype in CLASSES:
        de, summary = published[subtype]
        stage = _read(results, "GSE124439", f"de/{subtype}.parquet")
        stage_summary = _read(results, "GSE124439", f"de/{subtype}.summary.tsv").row(0, named=True)
        enrich = subtype_enrichment_table(
            de,
            gene_sets,
            enrich_settings=settings.enrich,
            model_symbols=set(model.gene_symbols),
            threads=2,
            source=f"GSE124439 published {subtype} vs control",
            residuals=residuals[subtype],
        ).filter(pl.col("method") == "prerank")
        stage_enrich = _read(results, "GSE124439", f"enrich/{subtype}.parquet").filter(
            pl.col("method") == "prerank"
        )
        de_sets = [_significant(t, "padj", ["gene_id"]) for t in (de, stage)]
        features = [
            int(t.filter(pl.col("padj") < 0.05)["model_feature"].sum()) for t in (de, stage)
        ]
        enriched = [_significant(t, "camera_fdr", term) for t in (enrich, stage_enrich)]
        lines.append(
            f"| {subtype} | {summary['n_test']} / {stage_summary['n_test']} vs "
            f"{summary['n_reference']} | {len(de_sets[0])} / {len(de_sets[1])} | "
            f"{cast(float, de['padj'].min()):.2g} / {cast(float, stage['padj'].min()):.2g} | "
            f"{features[0]} / {features[1]} | {_spearman(de, stage, ['gene_id'], 'stat')} | "
            f"{_jaccard(*de_sets)} | {len(enriched[0])} / {len(enriched[1])} | "
            f"{_jaccard(*enriched)} | {_spearman(enrich, stage_enrich, term, 'nes')} |"
        )
    return lines


def section(results: Path, configfile: Path, with_published: bool) -> list[str]:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    lines = [
        START,
        "## 3. The workflow run (the subtypes stage on the three cohorts)",
        "",
        f"Written by `python bench/subtypes.py --run <output_dir>"
        f"{' --published-de' if with_published else ''}` (alsig {commit}) from a run of "
        "`config/examples/shared_cohorts.yaml` with `--config output_dir=<output_dir> "
        "'subtypes={discovery: true}'` (every other `subtypes:` setting at its default; "
        "GSE122649 collapsed by donor as that config says; GSE124439 and GSE67196 per library). "
        "Frozen: the model files are those of commit "
        f"`{model_commit()}`; nothing was tuned on these calls. Molecular subtypes associated "
        "with resistance biology, not a prediction of any patient's drug response.",
        "",
        "### Calls, distances and coverage (every sample; controls are scored as every sample is)",
        "",
        *overview(results),
        "",
        "### ALS shares beside the controls' calls (share among the called; the reference has no "
        "controls, so a control's call is its position in the reference's subtype space, not a "
        "false-positive rate)",
        "",
        *shares_beside(results),
        "",
        "### GSE124439: reference samples in the stage",
        "",
        *reference_check(results),
        "",
        "### GSE122649: donors (summed libraries) and their two libraries projected one by one",
        "",
        *library_view(results),
        "",
        "### GSE67196: one out-of-reference rule, region then distance",
        "",
        *gse67196(results),
        "",
        "### What each called subtype carries (DE and Hallmark enrichment vs controls; "
        "descriptive: model features are circular)",
        "",
        *carried(results),
        "",
    ]
    if with_published:
        lines += [
            "GSE124439 with the *published* labels (Tam et al. 2019 Table S1A) instead of the "
            "stage's calls: the stage's own DE and enrichment functions, design, DE model and "
            "collections (bench only). Stage = the tables above; DE genes and sets are compared by "
            "identity, the statistics over the genes / sets both tables have:",
            "",
            *published_carried(results, configfile),
            "",
        ]
    lines += [
        "### Axis tests across subtypes (singscore axis composites, standardised effect vs "
        "controls [95 % CI], * q < 0.05)",
        "",
        *axis_rows(results),
        "### How much of each state (and subtype probability) is cell mix",
        "",
        *cellmix_rows(results),
        "",
        "### Discovery view (consensus NMF, `subtypes.discovery: true`)",
        "",
        *nmf_rows(results),
        "",
        "### Cost of the subtype jobs (Snakemake benchmark)",
        "",
        *cost_rows(results),
        "",
        END,
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--run", type=Path, required=True, help="the run's output_dir (<run>/<dataset>/subtypes)"
    )
    parser.add_argument(
        "--configfile",
        type=Path,
        default=ROOT / "config/examples/shared_cohorts.yaml",
        help="the run's config (its settings for --published-de)",
    )
    parser.add_argument("--published-de", action="store_true")
    args = parser.parse_args()
    block = "\n".join(section(args.run, args.configfile, args.published_de))
    text = OUT.read_text()
    start, end = text.find(START), text.find(END)
    if 0 <= start < end:
        text = text[:start] + block + text[end + len(END) :]
    else:
        text = text.replace("## Reading", block + "\n\n## Reading", 1)
    OUT.write_text(text)
    print(block)


if __name__ == "__main__":
    main()
