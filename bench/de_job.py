"""The whole DE job (rule ``de_<dataset>``) timed as the workflow runs it, per model.

Usage (from the checkout; niced, not part of CI)::

    nice -n 10 python bench/de_job.py [--runs 3] [--threads 2] [--cohorts gse124439 synthetic]

Each run is a fresh process that calls the rule's entry point, :func:`alsig.stages.de.job.run`,
on a QC'd h5ad: read it (``alsig.io.read_h5ad_counts``), fit, test every contrast and test,
shrink, write every ``de_results`` table (parquet + TSV), the summaries and the volcano and MA
PNGs. The phases are timed inside the process (imports, read, fits + tests, tables + figures);
wall time, CPU seconds of the process and the peak RSS of its tree from outside
(:func:`de_vs_deseq2_r.run_measured`). One warm-up run per variant fills
numba's cache; the variants then run in interleaved rounds.

Cohorts and variants:

* ``gse124439``: alsig's QC output of GSE124439 (``results/shared_cohorts/GSE124439/qc/
  filtered.h5ad`` from ``snakemake --configfile config/examples/shared_cohorts.yaml``, else
  ``bench/work/GSE124439_qc.h5ad`` of ``bench/de_vs_deseq2_r.py``): ALS vs control under
  ``~ sex + region + condition`` with ``de.repeated_subjects: ignore`` (the DESeq2 path, issue
  28's job; R DESeq2 took 46.9 s) and ``auto`` (the mixed model: 49 of 94 donors repeat), and the
  example config's whole ``de:`` section (pooled mixed model, frontal only, the region x
  condition F test: three fits).
* ``synthetic``: ``bench/deseq2_engine_scale.py``'s 2,000 x 60,000 cohort (two regions per
  subject), ``~ condition``, ``ignore`` and ``auto`` (the default, the mixed model).

Writes ``bench/results/de_job_<cohorts>.md`` (``de_job_gse124439.md``, ``de_job_synthetic.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "src")]
from de_vs_deseq2_r import run_measured  # noqa: E402

WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
R_SECONDS = 46.9  # R DESeq2 1.38 DESeq() + results() on the same inputs (issue 28)

JOB = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import alsig.stages.de.job as job
from alsig.settings import complete
t_import = time.perf_counter()
spent = {}
def timed(name, function):
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - began
    return wrapper
job.read_h5ad_counts = timed("read", job.read_h5ad_counts)
job.run_dataset = timed("fit_and_tests", job.run_dataset)
job.write_outcome = timed("tables_and_figures", job.write_outcome)
settings = complete("de", json.loads(sys.argv[3]))
job.run({"h5ad": sys.argv[1]}, {"summary": sys.argv[2] + "/summary.tsv"}, settings,
        int(sys.argv[4]), dataset="bench")
t_end = time.perf_counter()
import polars as pl
summary = pl.read_csv(sys.argv[2] + "/summary.tsv", separator="\t", infer_schema_length=None)
usage = resource.getrusage(resource.RUSAGE_SELF)
print("JOB", json.dumps({
    "import_s": t_import - t0, "total_s": t_end - t0, **{k + "_s": v for k, v in spent.items()},
    "cpu_s": usage.ru_utime + usage.ru_stime, "max_rss_mb": usage.ru_maxrss / 1024,
    "rows": summary.select("contrast", "model", "n_samples", "n_subjects", "n_genes_tested",
                           "n_significant", "fit_seconds", "test_seconds",
                           "fit_phase_seconds").to_dicts(),
}))
"""


def gse124439_h5ad() -> Path:
    """Return the QC'd GSE124439 h5ad (the shared-cohorts run, else the DE bench's cache)."""
    for path in (
        ROOT / "results/shared_cohorts/GSE124439/qc/filtered.h5ad",
        WORK / "GSE124439_qc.h5ad",
    ):
        if path.exists():
            return path
    sys.exit(
        "no QC'd GSE124439: run `snakemake --configfile config/examples/shared_cohorts.yaml "
        "results/shared_cohorts/GSE124439/qc/filtered.h5ad` first"
    )


def variants(cohorts: list[str]) -> dict[str, tuple[Path, dict]]:
    """Return ``{variant: (h5ad, de settings)}`` of the chosen cohorts."""
    out: dict[str, tuple[Path, dict]] = {}
    if "gse124439" in cohorts:
        h5ad = gse124439_h5ad()
        one = {"design": "~ sex + region + condition"}
        out["GSE124439 ignore (DESeq2, alsig engine)"] = (
            h5ad,
            {**one, "repeated_subjects": "ignore"},
        )
        out["GSE124439 auto (mixed model)"] = (h5ad, one)
        config = yaml.safe_load((ROOT / "config/examples/shared_cohorts.yaml").read_text())
        de = config["datasets"]["GSE124439"]["de"]
        out["GSE124439 example config (3 fits)"] = (h5ad, de)
    if "synthetic" in cohorts:
        from deseq2_engine_scale import cohort

        h5ad = cohort(2000, 60000)
        out["synthetic 2000x60000 ignore (DESeq2)"] = (h5ad, {"repeated_subjects": "ignore"})
        out["synthetic 2000x60000 auto (mixed model)"] = (h5ad, {})
    return out


def run_once(name: str, h5ad: Path, de: dict, threads: int, tag: str) -> dict:
    """Run the job once in a fresh process; its timings, CPU and memory."""
    slug = "".join(c if c.isalnum() else "_" for c in name)
    folder = WORK / f"de_job_{slug}_{tag}"
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = [sys.executable, "-c", JOB, str(h5ad), str(folder), json.dumps(de), str(threads)]
    measured = run_measured(cmd, folder / "job.log", env=env)
    line = [ln for ln in (folder / "job.log").read_text().splitlines() if ln.startswith("JOB ")]
    job = json.loads(line[-1].split(" ", 1)[1])
    job.update(measured)  # the process's CPU from outside replaces the job's own figure
    return job


def spread(values: list[float], digits: int = 1) -> str:
    """Return ``median (min-max)``."""
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}-{max(values):.{digits}f})"
    )


def main() -> None:
    """Run every variant ``--runs`` times (interleaved) after a warm-up; write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cohorts", nargs="+", default=["gse124439", "synthetic"])
    args = parser.parse_args()
    chosen = variants(args.cohorts)
    load_before = os.getloadavg()
    for name, (h5ad, de) in chosen.items():
        print(f"warm-up: {name}", flush=True)
        run_once(name, h5ad, de, args.threads, "warm")
    results: dict[str, list[dict]] = {name: [] for name in chosen}
    for i in range(args.runs):
        for name, (h5ad, de) in chosen.items():
            job = run_once(name, h5ad, de, args.threads, f"run{i}")
            results[name].append(job)
            print(
                f"round {i} {name}: wall {job['wall_s']:.1f} s, cpu {job['cpu_s']:.1f} s, "
                f"peak {job['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    write_report(args, chosen, results, load_before, os.getloadavg())


def write_report(args, chosen, results, load_before, load_after) -> None:
    """Write ``bench/results/de_job_<cohorts>.md``."""
    lines = [
        "# The whole DE job per model: "
        + " and ".join(
            {"gse124439": "GSE124439", "synthetic": "2,000 x 60,000"}[c] for c in args.cohorts
        ),
        "",
        f"Produced by `bench/de_job.py --runs {args.runs} --threads {args.threads}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')} ({platform.machine()}, {os.cpu_count()} cores), "
        f"run with `nice -n 10` on a machine shared with other engineers' jobs: load average "
        f"{load_before[0]:.1f} / {load_before[1]:.1f} / {load_before[2]:.1f} before, "
        f"{load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f} after. Wall times are "
        "inflated by that load; CPU seconds of the job (all its threads) are the stable measure "
        "of its work. Each run is a fresh process calling the rule's entry point "
        "(`alsig.stages.de.job.run`): read the QC h5ad, fit, tests, shrinkage, every table, "
        "summary and figure; after one warm-up run per variant (numba's cache). Median "
        "(min-max) over the runs.",
        "",
        "| variant | whole job wall (s) | job CPU (s) | peak RSS (MB) | imports (s) | read (s) | "
        "fits + tests (s) | tables + figures (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        lines.append(
            f"| {name} | {spread([r['wall_s'] for r in runs])} | "
            f"{spread([r['cpu_s'] for r in runs])} | "
            f"{spread([max(r['peak_rss_mb'], r['max_rss_mb']) for r in runs], 0)} | "
            f"{spread([r['import_s'] for r in runs])} | {spread([r['read_s'] for r in runs])} | "
            f"{spread([r['fit_and_tests_s'] for r in runs])} | "
            f"{spread([r['tables_and_figures_s'] for r in runs])} |"
        )
    lines += ["", "What each job fitted (first run):", ""]
    lines += [
        "| variant | contrast / test | model | samples | subjects | genes | padj < 0.05 | "
        "fit (s) | test (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        for row in runs[0]["rows"]:
            lines.append(
                f"| {name} | {row['contrast']} | {row['model']} | {row['n_samples']} | "
                f"{row['n_subjects']} | {row['n_genes_tested']} | {row['n_significant']} | "
                f"{row['fit_seconds']} | {row['test_seconds']} |"
            )
    lines += ["", "Fit phases (first run, seconds):", ""]
    for name, runs in results.items():
        for row in runs[0]["rows"]:
            lines.append(f"- {name}, {row['contrast']}: {row['fit_phase_seconds']}")
    ignore = [n for n in results if n.startswith("GSE124439 ignore")]
    mixed = [n for n in results if n.startswith("GSE124439 auto")]
    if ignore and mixed:
        w_ignore = statistics.median(r["wall_s"] for r in results[ignore[0]])
        w_mixed = statistics.median(r["wall_s"] for r in results[mixed[0]])
        c_ignore = statistics.median(r["cpu_s"] for r in results[ignore[0]])
        c_mixed = statistics.median(r["cpu_s"] for r in results[mixed[0]])
        lines += [
            "",
            f"GSE124439: the DESeq2 job takes {w_ignore:.1f} s wall (target <= 10 s; R DESeq2 "
            f"{R_SECONDS} s on the same inputs, issue 28), the mixed-model job {w_mixed:.1f} s "
            f"({w_mixed / w_ignore:.1f}x; target <= 2x); in CPU seconds {c_ignore:.1f} and "
            f"{c_mixed:.1f} ({c_mixed / c_ignore:.1f}x).",
        ]
    lines.append("")
    (RESULTS / f"de_job_{'_'.join(args.cohorts)}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
