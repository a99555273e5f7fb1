"""Summarise a finished workflow run on real cohorts into a committed markdown table.

Usage (after running the workflow, e.g. on the three cohorts of ../shared/data)::

    snakemake --configfile config/examples/shared_cohorts.yaml --cores 2 --directory /tmp/run
    python bench/cohort_run_summary.py /tmp/run bench/results/shared_cohorts_run.md

Reads only the run's outputs: every rule's Snakemake ``benchmark:`` TSV (wall time, peak RSS),
``qc/summary.json``, the DE summaries, every enrichment table and the signature-score tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
from pathlib import Path

import polars as pl
import yaml

ROOT = Path(__file__).resolve().parents[1]


def benchmark_rows(results: Path) -> pl.DataFrame:
    """One row per job benchmark: dataset, job (rule + wildcards from the path), s, max_rss."""
    rows = []
    for tsv in sorted(results.glob("*/benchmarks/**/*.tsv")):
        parts = tsv.relative_to(results).parts
        dataset, job = parts[0], "/".join(parts[2:]).removesuffix(".tsv")
        table = pl.read_csv(tsv, separator="\t", null_values=["NA", "-"])
        rows.append(
            {
                "dataset": dataset,
                "job": job,
                "wall_s": float(table["s"][0]),
                "peak_rss_mb": float(table["max_rss"][0]),
            }
        )
    return pl.DataFrame(rows, schema_overrides={"wall_s": pl.Float64, "peak_rss_mb": pl.Float64})


def enrichment_rows(results: Path) -> pl.DataFrame:
    rows = []
    for table_path in sorted(results.glob("*/enrich/*/*.parquet")):
        dataset, _, contrast, name = table_path.relative_to(results).parts
        table = pl.read_parquet(table_path)
        prerank = table.filter(pl.col("method") == "prerank")
        ora = table.filter(pl.col("method") == "ora")
        top = prerank.sort("pvalue", pl.col("nes").abs(), descending=[False, True]).head(1)
        rows.append(
            {
                "dataset": dataset,
                "contrast": contrast,
                "collection": name.removesuffix(".parquet"),
                "prerank terms": prerank.height,
                "prerank GSEA FDR<0.05": prerank.filter(pl.col("fdr") < 0.05).height,
                # the call (schema 3): GSEA's FDR assumes independent genes
                "prerank camera FDR<0.05": (
                    prerank.filter(pl.col("camera_fdr") < 0.05).height
                    if "camera_fdr" in prerank.columns
                    else None
                ),
                "ORA terms": ora.height,
                "ORA FDR<0.05": ora.filter(pl.col("fdr") < 0.05).height,
                "top prerank term (NES)": (
                    f"{top['term'][0]} ({top['nes'][0]:+.2f})" if top.height else ""
                ),
            }
        )
    return pl.DataFrame(rows)


def score_rows(results: Path) -> pl.DataFrame:
    rows = []
    for table_path in sorted(results.glob("*/scores/signature_scores.parquet")):
        table = pl.read_parquet(table_path)
        rows.append(
            {
                "dataset": table_path.relative_to(results).parts[0],
                "samples": table["sample"].n_unique(),
                "axes": table["axis"].n_unique(),
                "signatures": table["signature"].n_unique(),
                "methods": ", ".join(sorted(table["method"].unique().to_list())),
                "rows": table.height,
                "missing scores": table["score"].null_count() + int(table["score"].is_nan().sum()),
            }
        )
    return pl.DataFrame(rows)


def cohort_rows(results: Path) -> pl.DataFrame:
    rows = []
    for summary_path in sorted(results.glob("*/qc/summary.json")):
        dataset = summary_path.relative_to(results).parts[0]
        qc = json.loads(summary_path.read_text())
        de = []
        for de_summary in sorted((results / dataset / "de").glob("*.summary.tsv")):
            table = pl.read_csv(de_summary, separator="\t")
            de.append(f"{de_summary.name.removesuffix('.summary.tsv')}: " + _de_counts(table))
        rows.append(
            {
                "dataset": dataset,
                "samples in": qc["n_samples_input"],
                "samples kept": qc["n_samples_kept"],
                "flagged": qc["n_samples_flagged"],
                "genes": qc["n_genes"],
                "expressed genes": qc["n_genes_expressed"],
                "DE genes (padj < 0.05)": "; ".join(de),
            }
        )
    return pl.DataFrame(rows)


def _de_counts(summary: pl.DataFrame) -> str:
    record = summary.row(0, named=True)
    return (
        f"{record['n_up']} up / {record['n_down']} down of {record['n_genes_tested']} "
        f"(design {record['design']}; {record['n_test']} vs {record['n_reference']} samples)"
    )


def markdown(table: pl.DataFrame) -> str:
    if table.is_empty():
        return "(none)\n"
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.iter_rows()]
    return "\n".join([header, rule, *body]) + "\n"


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value).replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="the --directory the workflow ran in")
    parser.add_argument("output", type=Path, help="markdown file to write")
    parser.add_argument("--title", default="Workflow run on the real cohorts of ../shared/data")
    args = parser.parse_args(argv)
    results = args.run_dir / yaml.safe_load(
        (ROOT / "config/examples/shared_cohorts.yaml").read_text()
    ).get("output_dir", "results")
    if not results.is_dir():
        sys.exit(
            f"{results} does not exist: run the workflow with --directory {args.run_dir} first"
        )
    jobs = benchmark_rows(results)
    per_dataset = (
        jobs.group_by("dataset")
        .agg(
            pl.len().alias("jobs"),
            pl.col("wall_s").sum().alias("sum of job wall times (s)"),
            pl.col("peak_rss_mb").max().alias("largest job peak RSS (MB)"),
        )
        .sort("dataset")
    )
    text = [
        f"# {args.title}\n",
        f"Written by `python bench/cohort_run_summary.py` on {dt.date.today()} from the outputs of "
        f"a finished run ({platform.machine()}, Python {platform.python_version()}). Config: "
        "`config/examples/shared_cohorts.yaml` (default stage settings otherwise: enrichment on "
        "every shipped collection, 1000 permutations; singscore). Jobs ran with `--cores 2` on a "
        "2-core VM that was shared with other work, so times are upper bounds.\n",
        "## Cohorts, QC and DE\n",
        markdown(cohort_rows(results)),
        "## Enrichment tables (one per dataset x contrast x collection)\n",
        markdown(enrichment_rows(results)),
        "## Signature scores\n",
        markdown(score_rows(results)),
        "## Time and memory per dataset\n",
        markdown(per_dataset),
        "## Every job (Snakemake `benchmark:`)\n",
        markdown(jobs.sort("dataset", "job")),
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text("\n".join(text))
    tmp.replace(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
