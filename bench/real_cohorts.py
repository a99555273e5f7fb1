"""The three real cohorts through the whole workflow, read as a domain expert would.

Runs (with ``--run``) or reads a workdir of ``config/examples/shared_cohorts.yaml`` and writes
``bench/results/real_cohorts.md``: per dataset the samples left out and why, the DE top genes
(and whether chrY genes lead them), the axis tests (ALS vs control under the design), the
cross-cohort meta-analysis, the subtype shares, and the time per dataset. A hand-written
"## Reading" section at the end of the file is kept when the tables are regenerated.

Usage: python bench/real_cohorts.py --workdir /tmp/cohorts [--run] [--cores 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench/results/real_cohorts.md"
DATASETS = ("GSE124439", "GSE122649", "GSE67196")
#: The contrast read for every cohort (the per-region contrasts are in repeated_donors.md).
CONTRAST = "ALS_vs_control"


def run_workflow(workdir: Path, cores: int) -> float:
    """Run the shared-cohorts config in ``workdir`` (absolute data paths); wall seconds."""
    config = yaml.safe_load((ROOT / "config/examples/shared_cohorts.yaml").read_text())
    for settings in config["datasets"].values():
        for key in ("counts", "samples", "te_counts"):
            if key in settings:
                settings[key] = str((ROOT / settings[key]).resolve())
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    start = time.perf_counter()
    subprocess.run(
        [
            snakemake,
            "--snakefile",
            str(ROOT / "workflow/Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(workdir / "config/config.yaml"),
            "--cores",
            str(cores),
        ],
        check=True,
    )
    return time.perf_counter() - start


def job_seconds(results: Path, dataset: str) -> dict[str, float]:
    """Seconds per rule of a dataset, from its ``benchmark:`` files."""
    times: dict[str, float] = {}
    for path in (results / dataset / "benchmarks").rglob("*.tsv"):
        rule = path.relative_to(results / dataset / "benchmarks").parts[0].removesuffix(".tsv")
        seconds = pl.read_csv(path, separator="\t")["s"][0]
        times[rule] = times.get(rule, 0.0) + float(seconds)
    return times


def dataset_section(results: Path, dataset: str) -> list[str]:
    qc = json.loads((results / dataset / "qc/summary.json").read_text())
    de = pl.read_parquet(results / dataset / "de/ALS_vs_control.parquet")
    summary = pl.read_csv(results / dataset / "de/ALS_vs_control.summary.tsv", separator="\t")
    var = pl.read_csv(results / dataset / "qc/gene_filter.tsv", separator="\t", infer_schema=False)
    chromosome = _chromosomes(results, dataset)
    top = de.head(25)["symbol"].to_list()
    chr_y = [g for g in top if chromosome.get(g) in ("Y", "X;Y")]
    sex = qc.get("sex_check", {})
    excluded = sex.get("excluded", {})
    times = job_seconds(results, dataset)
    lines = [
        f"### {dataset}",
        "",
        f"- samples: {qc['n_samples_input']} input, {qc['n_samples_after_collapse']} after "
        f"collapsing, {qc['n_samples_kept']} kept, {qc['n_samples_flagged']} flagged; sex check "
        f"(`{sex.get('mode')}`): {sex.get('n_mismatch', 0)} mismatch(es), "
        f"{sex.get('n_ambiguous', 0)} ambiguous; left out of DE and control references: "
        + (", ".join(f"{k} ({v})" for k, v in excluded.items()) or "none"),
        f"- DE ALS vs control (`{summary['design'][0]}`, {summary['n_samples'][0]} samples, "
        f"{var.height} genes, {summary['n_genes_tested'][0]} tested): "
        f"{summary['n_significant'][0]} at padj < 0.05 ({summary['n_up'][0]} up, "
        f"{summary['n_down'][0]} down); chrY genes in the top 25: {len(chr_y)}"
        + (f" ({', '.join(chr_y)})" if chr_y else ""),
        f"- top 10: {', '.join(top[:10])}",
        "- job time (s): "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(times.items()))
        + f"; total {sum(times.values()):.0f}",
        "",
    ]
    return lines + axis_table(results, dataset) + subtype_lines(results, dataset)


def _chromosomes(results: Path, dataset: str) -> dict[str, str]:
    import anndata as ad

    var = ad.read_h5ad(results / dataset / "qc/filtered.h5ad", backed="r").var
    return {str(g): str(c) for g, c in var["chromosome"].items()} if "chromosome" in var else {}


def _effect(r: dict[str, Any] | None) -> str:
    """``+0.45 [+0.12, +0.78]`` of a standardised effect, or the reason it is missing."""
    if r is None or r["std_effect"] is None:
        return "-" if r is None else (r["note"] or "-")
    half = 1.96 * r["std_se"]
    return f"{r['std_effect']:+.2f} [{r['std_effect'] - half:+.2f}, {r['std_effect'] + half:+.2f}]"


def _share(r: dict[str, Any] | None) -> str:
    """Format the share removed with its Fieller CI ("unbounded": unadjusted effect ~0)."""
    if r is None or r["share_removed"] is None:
        return "-"
    if r["share_ci_low"] is None:
        return f"{r['share_removed']:+.2f} (CI unbounded)"
    return f"{r['share_removed']:+.2f} [{r['share_ci_low']:+.2f}, {r['share_ci_high']:+.2f}]"


def axis_table(results: Path, dataset: str) -> list[str]:
    """Tabulate both views of every axis composite and the share removed."""
    tests = pl.read_parquet(results / dataset / "scores/axis_tests.parquet").filter(
        pl.col("signature").str.starts_with("axis:")
        & pl.col("method").is_in(["singscore", "log2cpm"])
        & (pl.col("contrast") == CONTRAST)  # the pooled contrast every cohort has
    )
    views = {(r["signature"], r["adjustment"]): r for r in tests.iter_rows(named=True)}
    lines = [
        "| axis | n ALS / control (donors) | unadjusted std effect [95% CI] | q | cell mix "
        "adjusted [95% CI] | q | share removed [95% CI] | model |",
        "|---|---|---|---|---|---|---|---|",
    ]
    not_estimable = ""
    for signature in sorted({s for s, _ in views}):
        r, a = views[(signature, "none")], views.get((signature, "cell_mix"))
        if a is not None and a["note"].startswith("not estimable"):
            not_estimable = a["note"]
        if r["std_effect"] is None:
            lines.append(f"| {signature} | - | {r['note']} | - | - | - | - | - |")
            continue
        q_a = f"{a['qvalue']:.2g}" if a is not None and a["qvalue"] is not None else "-"
        adjusted = "n.e." if a is not None and a["note"].startswith("not estimable") else _effect(a)
        lines.append(
            f"| {signature} | {r['n_test']} / {r['n_reference']} ({r['n_subjects_test']} / "
            f"{r['n_subjects_reference']}) | {_effect(r)} | {r['qvalue']:.2g} | {adjusted} | "
            f"{q_a} | {_share(a)} | {r['model']} |"
        )
    covariates = next(
        (
            v["covariates"]
            for v in views.values()
            if v["adjustment"] == "cell_mix" and v["covariates"]
        ),
        None,
    )
    notes = [f"- cell-mix covariates: {covariates}"] if covariates and not not_estimable else []
    if not_estimable:
        notes.append(f"- cell-mix view {not_estimable} (n.e. above)")
    return [*lines, "", *notes, ""]


def subtype_lines(results: Path, dataset: str) -> list[str]:
    table = pl.read_parquet(results / dataset / "subtypes/subtypes.parquet")
    als = table.filter(pl.col("condition") == "ALS")
    shares = {k: v / als.height for k, v in als["subtype_call"].value_counts().iter_rows()}
    called = {k: v for k, v in shares.items() if k not in ("unassigned", "out_of_reference")}
    total = sum(called.values()) or 1
    return [
        f"- projected subtypes of the {als.height} ALS samples: "
        + ", ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(shares.items()))
        + "; among the called: "
        + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in sorted(called.items()))
        + " (published for GSE124439: ALS-Ox 61%, ALS-Glia 19%, ALS-TE 20%)",
        "",
    ]


def meta_table(results: Path) -> list[str]:
    """Tabulate both views of every axis across the cohorts and the pooled share removed."""
    meta = pl.read_parquet(results / "catalog/axis_meta.parquet").filter(
        pl.col("signature").str.starts_with("axis:")
        & pl.col("method").is_in(["singscore", "log2cpm"])
        & (pl.col("contrast") == CONTRAST)
    )
    lines = [
        "| axis | view | per dataset (std effect, SE) | combined [95% CI] | p | I² | agreement | "
        "pooled share removed [95% CI] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes: dict[str, str] = {}  # dataset -> its first not-estimable reason
    for r in meta.sort("signature", "adjustment", descending=[False, True]).iter_rows(named=True):
        combined = (
            f"{r['effect']:+.2f} [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"
            if r["effect"] is not None
            else "-"
        )
        i2 = f"{100 * r['i2']:.0f}%" if r["i2"] is not None else "-"
        p = f"{r['pvalue']:.2g}" if r["pvalue"] is not None else "-"
        share = _share(r) if r["adjustment"] == "cell_mix" else ""
        if r["adjustment"] == "cell_mix" and r["note"]:
            for item in r["note"].split("; "):
                dataset, _, reason = item.partition(": ")
                if reason.startswith("not estimable"):
                    notes.setdefault(dataset, reason)
        lines.append(
            f"| {r['signature']} | {r['adjustment']} (k={r['k']}) | "
            f"{r['effects'].replace(';', '; ')} | {combined} | {p} | {i2} | "
            f"{r['direction_agreement']}{' (consistent)' if r['consistent'] else ''} | {share} |"
        )
    return [*lines, "", *(f"- cell_mix leaves out {d}: {n}" for d, n in sorted(notes.items())), ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--run", action="store_true")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--wall-seconds", type=float, help="the DAG's wall time of an earlier --run"
    )
    args = parser.parse_args()
    wall = run_workflow(args.workdir, args.cores) if args.run else args.wall_seconds
    results = args.workdir / yaml.safe_load(
        (ROOT / "config/examples/shared_cohorts.yaml").read_text()
    ).get("output_dir", "results")
    lines = [
        "# The three real cohorts through the workflow",
        "",
        f"Generated {dt.date.today()} by `python bench/real_cohorts.py` from a run of "
        f"`config/examples/shared_cohorts.yaml` on {platform.machine()} ({args.cores} cores)"
        + (f"; whole DAG wall time {wall / 60:.1f} min." if wall else "."),
        "Effects describe biology associated with treatment resistance; they predict nothing "
        "about any patient's drug response.",
        "",
        "## Per dataset",
        "",
    ]
    for dataset in DATASETS:
        lines += dataset_section(results, dataset)
    lines += ["## Cohorts compared (random-effects meta-analysis of the standardised effects)", ""]
    lines += meta_table(results)
    reading = (
        OUT.read_text().split("## Reading", 1)[1]
        if OUT.exists() and "## Reading" in OUT.read_text()
        else "\n"
    )
    OUT.write_text("\n".join(lines) + "\n## Reading" + reading)
    print(OUT.read_text())


if __name__ == "__main__":
    main()
