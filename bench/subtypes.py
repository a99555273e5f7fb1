"""Molecular states on the real cohorts.

Shares against the published subtypes, NMF rank, state score distributions, donor concordance, time
and memory.

Reads a workdir of ``config/examples/shared_cohorts.yaml`` (``bench/real_cohorts.py --run``
makes one) and writes ``bench/results/subtype_states.md``. The published per-sample labels (Tam et
al. 2019, Table S1) are not used anywhere: only the published shares (61 / 19 / 20 %).
A hand-written "## Reading" section at the end of the file is kept.

Usage: python bench/subtypes.py --workdir /tmp/cohorts
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import polars as pl
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench/results/subtype_states.md"
DATASETS = ("GSE124439", "GSE122649", "GSE67196")
PUBLISHED = {"Ox-like": 0.61, "Glia-like": 0.19, "TE-like": 0.20}
STATES = ("Ox-like", "Glia-like", "TE-like")


def shares_row(dataset: str, table: pl.DataFrame) -> str:
    als = table.filter(pl.col("condition") == "ALS")
    controls = table.filter(pl.col("condition") == "control")
    counts = dict(als["call"].value_counts().iter_rows())
    called = sum(counts.get(s, 0) for s in STATES) or 1
    cells = [f"{counts.get(s, 0)} ({100 * counts.get(s, 0) / called:.0f}%)" for s in STATES]
    control_called = controls.filter(pl.col("call") != "unassigned").height
    return (
        f"| {dataset} | {als.height} | "
        + " | ".join(cells)
        + f" | {counts.get('unassigned', 0)} | {control_called} / {controls.height} "
        f"| {als['nmf_k'][0]} | {_clusters(als)} |"
    )


def _clusters(als: pl.DataFrame) -> str:
    groups = als.group_by("nmf_cluster", "nmf_cluster_state").len().sort("nmf_cluster")
    return "; ".join(f"{c}: {s} (n={n})" for c, s, n in groups.iter_rows())


def distribution_rows(dataset: str, table: pl.DataFrame) -> list[str]:
    als = table.filter(pl.col("condition") == "ALS")
    rows = []
    for column in ("ox_score", "glia_score", "te_score"):
        values = als[column].drop_nulls()
        quantiles = [values.quantile(q) for q in (0.1, 0.25, 0.5, 0.75, 0.9)]
        rows.append(
            f"| {dataset} | {column} | " + " | ".join(f"{q:+.2f}" for q in quantiles) + " |"
        )
    return rows


def concordance_row(dataset: str, table: pl.DataFrame) -> str:
    als = table.filter(pl.col("condition") == "ALS")
    donors = als.unique("subject")
    counts = dict(donors["subject_concordance"].value_counts().iter_rows())
    multi = counts.get("concordant", 0) + counts.get("discordant", 0)
    share = f"{100 * counts.get('concordant', 0) / multi:.0f}%" if multi else "-"
    return (
        f"| {dataset} | {donors.height} | {counts.get('single', 0)} | "
        f"{counts.get('concordant', 0)} | {counts.get('discordant', 0)} | {share} |"
    )


def cost_row(results: Path, dataset: str) -> str:
    path = results / dataset / "benchmarks/subtypes.tsv"
    bench = pl.read_csv(path, separator="\t")
    return f"| {dataset} | {bench['s'][0]:.1f} | {bench['max_rss'][0]:.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    results = args.workdir / yaml.safe_load(
        (ROOT / "config/examples/shared_cohorts.yaml").read_text()
    ).get("output_dir", "results")
    tables = {d: pl.read_parquet(results / d / "subtypes/subtypes.parquet") for d in DATASETS}
    lines = [
        "# Molecular states (Ox-, Glia-, TE-like) on the real cohorts",
        "",
        f"Generated {dt.date.today()} by `python bench/subtypes.py` from a run of "
        "`config/examples/shared_cohorts.yaml` (default `subtypes:` settings). Published shares "
        "(Tam et al. 2019, 148 ALS cortex samples of GSE124439): Ox 61 %, Glia 19 %, TE 20 %. "
        "No published per-sample label is used. Molecular states associated with resistance "
        "biology, not a prediction of any patient's drug response.",
        "",
        "## Calls of the ALS samples (share among the called samples)",
        "",
        "| dataset | ALS samples | Ox-like | Glia-like | TE-like | unassigned | controls called "
        "| NMF rank | NMF clusters (named by state) |",
        "|---|---|---|---|---|---|---|---|---|",
        *(shares_row(d, t) for d, t in tables.items()),
        "",
        "## State score distributions of the ALS samples (control SDs; quantiles 10/25/50/75/90 %)",
        "",
        "| dataset | state | 10% | 25% | 50% | 75% | 90% |",
        "|---|---|---|---|---|---|---|",
        *(row for d, t in tables.items() for row in distribution_rows(d, t)),
        "",
        "## Donors with several samples",
        "",
        "| dataset | ALS donors | one sample | concordant | discordant | concordant share |",
        "|---|---|---|---|---|---|",
        *(concordance_row(d, t) for d, t in tables.items()),
        "",
        "## Cost of the subtypes job (consensus NMF included)",
        "",
        "| dataset | seconds | peak RSS (MB) |",
        "|---|---|---|",
        *(cost_row(results, d) for d in DATASETS),
        "",
    ]
    reading = (
        OUT.read_text().split("## Reading", 1)[1]
        if OUT.exists() and "## Reading" in OUT.read_text()
        else "\n"
    )
    OUT.write_text("\n".join(lines) + "\n## Reading" + reading)
    print(OUT.read_text())


if __name__ == "__main__":
    main()
