"""QC and DE wall time / peak memory on a synthetic 800-sample cohort.

Usage: python bench/de_scale.py [--samples 800] [--genes 20000] [--threads 2]

Simulates negative-binomial counts (gene means log-normal, dispersion 0.05 + 1/mean, size
factors 0.5-2, 5% of genes changed by |log2 FC| 1 between 'ALS' and 'control' (3:1), sex and a
4-level batch as covariates), writes them as an ingest-style h5ad in bench/work/, then runs in
separate measured processes (wall time; peak RSS of the process tree incl. joblib workers):

- alsig QC (``alsig.stages.qc.run_qc``: metrics, filter, size factors, VST of all genes, PCA, flags);
- alsig DE (``alsig.stages.de.run_de``, design ``~ sex + batch + condition``, with LFC shrinkage).

Appends a row per run to bench/results/de_scale.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from de_vs_deseq2_r import run_measured  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
OUT = ROOT / "bench" / "results" / "de_scale.md"

QC_SNIPPET = """
import json, sys, anndata as ad
from alsig.deseq import shutdown_workers
from alsig.settings import complete
from alsig.stages.qc import run_qc
from alsig.stages.qc.tables import clean_obs
adata = ad.read_h5ad(sys.argv[1])
out, table, summary = run_qc(adata, complete("qc"), n_cpus={threads})
shutdown_workers()
out.obs = clean_obs(out.obs)
out.write_h5ad(sys.argv[2])
print("SUMMARY", json.dumps({{k: summary[k] for k in ("n_samples_flagged", "n_genes_expressed")}}))
"""

DE_SNIPPET = """
import json, sys, anndata as ad
from alsig.settings import Contrast, complete
from alsig.stages.de import run_de
adata = ad.read_h5ad(sys.argv[1])
table, summary = run_de(adata, Contrast("ALS_vs_control", "condition", "ALS", "control"),
                        complete("de", {{"design": "~ sex + batch + condition"}}), n_cpus={threads})
print("SUMMARY", json.dumps(summary))
"""


def simulate(n_samples: int, n_genes: int, seed: int = 11):
    import anndata as ad
    import pandas as pd

    rng = np.random.default_rng(seed)
    condition = np.where(rng.random(n_samples) < 0.75, "ALS", "control")
    sex = rng.choice(["female", "male"], n_samples)
    batch = rng.choice(["b1", "b2", "b3", "b4"], n_samples)
    means = np.exp(rng.normal(3.5, 2.0, n_genes))
    lfc = np.zeros(n_genes)
    n_de = n_genes // 20
    lfc[:n_de] = rng.choice([-1.0, 1.0], n_de)
    batch_effect = rng.normal(0, 0.2, (4, n_genes))
    sf = np.exp(rng.uniform(np.log(0.5), np.log(2.0), n_samples))
    counts = np.empty((n_samples, n_genes), dtype=np.int32)
    size = 1.0 / (0.05 + 1.0 / means)
    for i in range(n_samples):
        b = int(batch[i][1]) - 1
        mu = means * sf[i] * 2.0 ** (lfc * (condition[i] == "ALS") + batch_effect[b])
        counts[i] = rng.negative_binomial(size, size / (size + mu))
    obs = pd.DataFrame(
        {
            "condition": condition,
            "sex": sex,
            "batch": batch,
            "subject": [f"P{i}" for i in range(n_samples)],
            "region": "cortex",
        },
        index=[f"S{i:04d}" for i in range(n_samples)],
    )
    names = [f"G{j}" for j in range(n_genes)]
    var = pd.DataFrame({"gene_id": names, "chromosome": "1"}, index=names)
    return ad.AnnData(X=counts, obs=obs, var=var, uns={"dataset": "synthetic"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=800)
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    tag = f"synthetic_{args.samples}x{args.genes}"
    counts_path = WORK / f"{tag}_counts.h5ad"
    qc_path = WORK / f"{tag}_qc.h5ad"
    if not counts_path.exists():
        t0 = time.perf_counter()
        simulate(args.samples, args.genes).write_h5ad(counts_path)
        print(f"simulated in {time.perf_counter() - t0:.1f} s", flush=True)

    results: dict[str, dict[str, Any]] = {}  # run_measured's numbers and the step's SUMMARY
    for step, snippet, inputs in (
        ("qc", QC_SNIPPET, [str(counts_path), str(qc_path)]),
        ("de", DE_SNIPPET, [str(qc_path)]),
    ):
        log = WORK / f"{tag}_{step}.log"
        code = snippet.format(threads=args.threads)
        measured = run_measured([sys.executable, "-c", code, *inputs], log)
        line = [ln for ln in log.read_text().splitlines() if ln.startswith("SUMMARY")][-1]
        measured["summary"] = json.loads(line.split(" ", 1)[1])
        results[step] = measured
        print(step, measured, flush=True)

    de_s = results["de"]["summary"]
    header = (
        "# QC and DE at scale (synthetic cohorts)\n\n"
        "Produced by `bench/de_scale.py` (2-core VM shared with other jobs; indicative). "
        "Negative-binomial counts, 5% of genes at |log2 FC| 1, design "
        "`~ sex + batch + condition`; each step in its own process, peak RSS of the process "
        "tree (joblib workers included), sampled every 0.2 s.\n\n"
        "| date | samples x genes | threads | step | genes (expressed / tested) | wall (s) | "
        "peak RSS (MB) | result |\n|---|---|---|---|---|---|---|---|\n"
    )
    text = OUT.read_text() if OUT.exists() else header
    date = time.strftime("%Y-%m-%d")
    shape = f"{args.samples} x {args.genes}"
    qc_s = results["qc"]
    text += (
        f"| {date} | {shape} | {args.threads} | QC (metrics, filter, VST all genes, PCA) | "
        f"{qc_s['summary']['n_genes_expressed']} | {qc_s['wall_s']:.1f} | "
        f"{qc_s['peak_rss_mb']:.0f} | {qc_s['summary']['n_samples_flagged']} samples flagged |\n"
    )
    de_m = results["de"]
    text += (
        f"| {date} | {shape} | {args.threads} | DE (pydeseq2 fit + Wald + shrinkage) | "
        f"{de_s['n_genes_tested']} | {de_m['wall_s']:.1f} | {de_m['peak_rss_mb']:.0f} | "
        f"{de_s['n_significant']} at padj < 0.05 (fit {de_s['fit_seconds']:.0f} s) |\n"
    )
    OUT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
