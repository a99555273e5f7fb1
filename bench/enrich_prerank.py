"""GSEA preranked time per contrast for GSE124439 (ALS vs control) with the shipped collections.

Usage: python bench/enrich_prerank.py [--de results/GSE124439/de/ALS_vs_control.parquet]
                                     [--permutations 1000] [--threads 1]
       -> bench/results/enrich_prerank.md

The DE table: the DE stage's output for GSE124439 when ``--de`` points at one (or the default path
exists). Otherwise a DE-like table is built here: ingest GSE124439 from ../shared/data (alsig's
ingest, so symbols are the canonical ones), keep ALS (148) and control (17) samples, keep genes
with CPM >= 1 in at least 17 samples, and take a Welch t statistic on log2-CPM (prior count 1) as
``stat`` (two-sided t p-values, BH ``padj``, difference of mean log2-CPM as ``log2_fold_change``).
That ranking ignores subject/region/batch structure: it is a stand-in with the DE table's shape,
good for timing, not for biology.

Each collection is one prerank call (the same call the workflow makes), in its own process so
its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from alsig.stages.enrich import benjamini_hochberg, configured_collections, prepare_ranking

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DE = ROOT / "results/GSE124439/de/ALS_vs_control.parquet"
WORKFLOW_SECTION = "## In the workflow"

CHILD = """
import json, resource, sys, time
import polars as pl
from alsig.stages.enrich import configured_collections, load_collection, prepare_ranking, run_ora, run_prerank
de_path, cid, n_perm, seed, threads = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
de = pl.read_parquet(de_path)
ranking, _ = prepare_ranking(de)
collection = next(c for c in configured_collections({}) if c.id == cid)
t0 = time.perf_counter()
sets, info = load_collection(collection)
load_s = time.perf_counter() - t0
t0 = time.perf_counter()
table = run_prerank(ranking, sets, collection=cid, permutations=n_perm, seed=seed, threads=threads)
prerank_s = time.perf_counter() - t0
t0 = time.perf_counter()
ora = run_ora(de, sets, collection=cid)
ora_s = time.perf_counter() - t0
top = (table.sort("pvalue", pl.col("nes").abs(), descending=[False, True]).head(3)
       .select("term", "nes").rows())
print(json.dumps({
    "version": info["version"], "sets": len(sets), "tested": table.height,
    "fdr05": table.filter(pl.col("fdr") < 0.05).height,
    "floor": table.filter(pl.col("pvalue_at_floor")).height,
    "load_s": load_s, "prerank_s": prerank_s, "ora_s": ora_s,
    "ora_fdr05": ora.filter(pl.col("fdr") < 0.05).height,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "top": top,
}))
"""


def welch_de_table(config_path: Path) -> tuple[pl.DataFrame, str]:
    from scipy import stats

    from alsig.stages.ingest import ingest_local

    config = yaml.safe_load(config_path.read_text())
    settings = config["datasets"]["GSE124439"]
    for key in ("counts", "samples"):
        settings[key] = str((ROOT / settings[key]).resolve())
    adata = ingest_local("GSE124439", settings)
    keep = adata.obs["condition"].isin(["ALS", "control"]).to_numpy()
    adata = adata[keep].copy()
    counts = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
    counts = counts.astype(np.float64)
    lib = counts.sum(axis=1, keepdims=True)
    cpm = counts / lib * 1e6
    is_als = (adata.obs["condition"] == "ALS").to_numpy()
    n_min = int(min(is_als.sum(), (~is_als).sum()))
    expressed = (cpm >= 1).sum(axis=0) >= n_min
    logcpm = np.log2((counts[:, expressed] + 1) / (lib + 2) * 1e6)
    t, p = stats.ttest_ind(logcpm[is_als], logcpm[~is_als], equal_var=False)
    lfc = logcpm[is_als].mean(axis=0) - logcpm[~is_als].mean(axis=0)
    var = adata.var[expressed]
    de = pl.DataFrame(
        {
            "gene_id": var["gene_id"].astype(str).to_list(),
            "symbol": var.index.astype(str).to_list(),
            "base_mean": cpm[:, expressed].mean(axis=0),
            "log2_fold_change": lfc,
            "lfc_se": lfc / np.where(t == 0, np.nan, t),
            "stat": t,
            "pvalue": p,
            "padj": benjamini_hochberg(p),
            "log2_fold_change_shrunk": lfc,
        }
    )
    how = (
        f"Welch t on log2-CPM computed by this script ({int(is_als.sum())} ALS vs "
        f"{int((~is_als).sum())} control samples, {int(expressed.sum())} of {adata.n_vars} genes "
        f"with CPM >= 1 in >= {n_min} samples); alsig's DE stage output was not available"
    )
    return de, how


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--de", type=Path, default=DEFAULT_DE)
    parser.add_argument("--config", type=Path, default=ROOT / "config/examples/shared_cohorts.yaml")
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/enrich_prerank.md")
    args = parser.parse_args()

    start = time.perf_counter()
    from_de_stage = args.de.exists()
    if from_de_stage:
        de = pl.read_parquet(args.de)
        how = f"alsig DE stage output `{args.de.relative_to(ROOT)}`"
    else:
        de, how = welch_de_table(args.config)
    de_seconds = time.perf_counter() - start
    print(f"DE table: {de.height} genes ({how}); {de_seconds:.1f} s", flush=True)

    ranking, ranking_report = prepare_ranking(de, "GSE124439 ALS_vs_control")
    work = ROOT / "bench/work"
    work.mkdir(parents=True, exist_ok=True)
    de_path = work / "GSE124439_ALS_vs_control_de.parquet"
    de.write_parquet(de_path)
    collections = [
        c for c in configured_collections({}) if c.id in ("hallmark", "reactome", "go_bp")
    ]
    rows = []
    for collection in collections:
        # one fresh process per collection: its peak RSS is that collection's alone
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(de_path),
                collection.id,
                str(args.permutations),
                str(args.seed),
                str(args.threads),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append({"collection": f"{collection.id} ({result.pop('version')})", **result})
        print(rows[-1], flush=True)
    total_prerank = sum(r["prerank_s"] for r in rows)
    total = sum(r["load_s"] + r["prerank_s"] + r["ora_s"] for r in rows)
    import gseapy

    lines = [
        "# Enrichment: GSEA preranked time per contrast (GSE124439, ALS vs control)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} with `python bench/enrich_prerank.py` on this "
        f"project's machine ({platform.machine()}, 2 cores, 24 GB), gseapy {gseapy.__version__}, "
        f"{args.permutations} permutations (gene-set permutation, the configured default), "
        f"seed {args.seed}, threads {args.threads} (gseapy uses at most cpu_count - 1 = 1 thread "
        "here), set size 15-500 genes among the ranked genes. One `prerank` call per collection, "
        "as in the workflow.",
        "",
        f"Ranking: {how}. {ranking_report['n_ranked']} genes ranked on `stat` "
        f"({ranking_report['n_dropped_null_stat']} without a statistic dropped, "
        f"{ranking_report['n_tied_genes']} genes in tied groups).",
        "",
        "| collection | sets in file | sets tested | FDR < 0.05 | p at floor | load + harmonise (s) "
        "| prerank (s) | ORA up+down (s) | ORA FDR < 0.05 | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['collection']} | {r['sets']} | {r['tested']} | {r['fdr05']} | {r['floor']} | "
            f"{r['load_s']:.1f} | {r['prerank_s']:.1f} | {r['ora_s']:.1f} | {r['ora_fdr05']} | {r['rss_mb']:.0f} |"
        )
    lines += [
        f"| **all three** | | {sum(r['tested'] for r in rows)} | | | "
        f"| **{total_prerank:.1f}** | | | |",
        "",
        f"Per contrast, all three collections: {total:.1f} s (load + prerank + ORA), "
        f"{total_prerank:.1f} s of it prerank ("
        f"{'reading the DE table' if from_de_stage else 'building the DE-like table'}: "
        f"{de_seconds:.1f} s). "
        "Peak RSS is per collection, one process each (includes Python and imported libraries, "
        "about 300 MB). alsig calls gseapy's Rust `prerank_rs` itself and turns each set's "
        "running-sum curve into its leading edge one set at a time (gseapy's `prerank` keeps "
        "every curve as Python floats), so memory grows with the permutation null "
        "(sets x permutations), not with sets x genes ranked.",
        "",
        "Scaling: gseapy's (Rust) gene-set permutation computes each set's running sum over the "
        "whole ranking for the observed and every permuted set, so time grows with sets tested x "
        "permutations x genes ranked (here about 0.07 s per set per 1000 permutations at "
        f"{ranking_report['n_ranked']} genes; the first set costs more). GO BP dominates. The "
        "workflow runs one job per collection, so on 2 cores a contrast takes about as long as "
        "its GO BP job; `enrich.threads` helps on machines with more cores (gseapy uses at most "
        "cpu_count - 1). Fewer permutations cut the time proportionally but raise the p-value "
        "floor 1/(n+1). Rule memory is estimated from these peaks "
        "(`alsig.stages.enrich.rule_mem_mb`).",
        "",
        "Top prerank terms (smallest p, then largest |NES|) — a sanity check"
        + (
            " (GSE124439's DE ranking):"
            if from_de_stage
            else " only: the ranking above is a stand-in, not alsig's DE:"
        ),
        "",
    ]
    for r in rows:
        tops = "; ".join(f"{term} (NES {nes:+.2f})" for term, nes in r["top"])
        lines.append(f"- {r['collection']}: {tops}")
    # the hand-written section on the workflow's own run (from shared_cohorts_run.md) survives
    previous = args.out.read_text() if args.out.exists() else ""
    kept = previous[previous.find(WORKFLOW_SECTION) :] if WORKFLOW_SECTION in previous else ""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n" + ("\n" + kept if kept else ""))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
