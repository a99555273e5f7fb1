"""GSEA preranked engines side by side: alsig's positions-based engine vs gseapy.prerank.

Usage: python bench/enrich_engine.py [--de results/GSE124439/de/ALS_vs_control.parquet]
           [--permutations 1000] [--seed 123] [--second-seed 7] [--threads 1]
           [--collections hallmark,reactome,go_bp] [--synthetic-genes 60000]
           [--workflow-benchmarks results/demo/benchmarks/enrich]
       -> bench/results/enrich_prerank.md

On the GSE124439 ALS-vs-control DE ranking (the DE stage's table), per collection, each in its own
process (so its peak RSS is its own): the enrich job's prerank with ``engine="alsig"``
(:func:`alsig.stages.enrich.prerank.prerank_result`: ranking, eligible sets, records, table) and
``gseapy.prerank`` with the same ranking, sets, permutations, seed and threads, plus both at a
second seed (the seed-to-seed agreement each engine is judged against), and the whole enrich job
with and without the multilevel step. Then the null design (one null per set size vs one per
set: FDR < 0.05 counts over seeds), the multilevel p-values of the sets beyond every permutation
held to 100,000 permutations (``--check-permutations``), the 60,000-gene memory
bound (a whole enrich contrast, prerank + ORA, on a synthetic ranking with GO BP) and, when
given, the workflow's ``benchmark:`` files of the enrich jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DE = ROOT / "results/GSE124439/de/ALS_vs_control.parquet"

#: One prerank in a fresh process; prints one JSON line (time, CPU, peak RSS) and writes the
#: records as parquet (term, es, nes, pvalue, fdr, leading_edge).
CHILD = """
import json, resource, sys, time
import polars as pl
args = json.loads(sys.argv[1])
from alsig.stages.enrich.ranking import prepare_ranking
from alsig.stages.enrich.sets import configured_collections, eligible_sets, load_collection, upper_map, upper_sets
ranking, _ = prepare_ranking(pl.read_parquet(args["de"]))
from alsig.settings import complete
collection = next(c for c in configured_collections(complete("enrich")) if c.id == args["collection"])
sets, info = load_collection(collection)
opts = dict(permutations=args["permutations"], seed=args["seed"], threads=args["threads"])
wall, cpu = time.perf_counter(), time.process_time()
if args["engine"] == "alsig":
    from alsig.stages.enrich.prerank import prerank_options, prerank_result
    # the engines side by side: permutation p-values only (the multilevel step is timed below)
    settings = complete("enrich", {"engine": "alsig", "multilevel": False,
                                   "permutations": opts["permutations"], "seed": opts["seed"]})
    table = prerank_result(ranking, sets, collection=collection.id,
                           options=prerank_options(settings, opts["threads"])).table
    rows = table.select("term", "es", "nes", "pvalue", "fdr", pl.col("leading_edge").list.join(";"))
else:
    import gseapy, pandas as pd
    upper = upper_map(ranking.symbols)
    tested = eligible_sets(upper_sets(sets), set(upper), 15, 500)
    res = gseapy.prerank(
        rnk=pd.Series(ranking.stats, index=list(upper)), gene_sets=tested,
        outdir=None, permutation_num=opts["permutations"], seed=opts["seed"],
        threads=opts["threads"], min_size=15, max_size=500, ascending=None, no_plot=True,
        verbose=False,
    ).res2d
    rows = pl.DataFrame({
        "term": res["Term"].astype(str).tolist(), "es": res["ES"].astype(float).tolist(),
        "nes": res["NES"].astype(float).tolist(), "pvalue": res["NOM p-val"].astype(float).tolist(),
        "fdr": res["FDR q-val"].astype(float).tolist(),
        "leading_edge": res["Lead_genes"].astype(str).tolist(),
    })
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
rows.write_parquet(args["out"])
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "version": info["version"],
                  "n_sets": len(sets), "n_tested": rows.height,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

#: A whole enrich contrast (prerank + ORA) with GO BP on a synthetic DE table of n genes.
MEMORY_CHILD = """
import json, resource, sys, time
import numpy as np, polars as pl
n, permutations, threads = map(int, sys.argv[1:4])
from alsig.settings import complete
from alsig.stages.enrich import enrich_contrast
from alsig.stages.enrich.sets import configured_collections, load_collection
collection = next(c for c in configured_collections(complete("enrich")) if c.id == "go_bp")
sets, _ = load_collection(collection)
real = sorted({g for genes in sets.values() for g in genes})
symbols = real + [f"SYNTH{i:05d}" for i in range(n - len(real))]
rng = np.random.default_rng(0)
stat = rng.standard_t(8, size=n)
de = pl.DataFrame({"symbol": symbols, "stat": stat, "log2_fold_change": stat / 4,
                   "padj": np.clip(np.exp(-np.abs(stat)), 0, 1)})
wall = time.perf_counter()
settings = complete("enrich", {"permutations": permutations, "engine": "alsig"})
result = enrich_contrast(de, sets, collection="go_bp", settings=settings, threads=threads,
                         source="")
print(json.dumps({"wall_s": time.perf_counter() - wall, "n_genes": n,
                  "n_tested": result.report.n_sets_tested_prerank,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


#: The enrich rule's job (``alsig.stages.enrich.job.run``: read the DE table and the collection,
#: prerank + ORA, write parquet/tsv/coverage/json) with the default settings, as Snakemake's
#: script runs it; timed from outside, interpreter start to exit.
JOB_CHILD = """
import json, sys
args = json.loads(sys.argv[1])
from alsig.settings import complete
from alsig.stages.enrich.job import run
settings = complete("enrich", {"engine": args["engine"], "multilevel": args["multilevel"]})
outputs = {k: f"{args['out']}.{k}" for k in ("parquet", "tsv", "coverage", "json")}
run({"de": args["de"]}, outputs, settings, args["threads"], dataset="d", contrast="c",
    collection=args["collection"])
"""


def run_job(args: dict, work: Path, repeats: int = 3) -> float:
    """Median wall time (s) of the whole enrich job, a fresh interpreter each time."""
    walls = []
    for i in range(repeats):
        out = work / f"job_{args['collection']}_{args['engine']}_{args['multilevel']}_{i}"
        wall = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", JOB_CHILD, json.dumps({**args, "out": str(out)})],
            check=True,
            capture_output=True,
            env=child_env(),
        )
        walls.append(time.perf_counter() - wall)
    print(args["collection"], args["engine"], args["multilevel"], "job", walls, flush=True)
    return float(np.median(walls))


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}


def run_child(args: dict, work: Path) -> tuple[dict, pl.DataFrame]:
    """One prerank in its own process: its measurements and its records."""
    out = work / f"{args['collection']}_{args['engine']}_{args['seed']}_{args['threads']}.parquet"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({**args, "out": str(out)})],
        capture_output=True,
        text=True,
        env=child_env(),
    )
    if done.returncode:
        raise RuntimeError(done.stderr)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(args["collection"], args["engine"], args["seed"], args["threads"], result, flush=True)
    return result, pl.read_parquet(out)


def fdr_calls(rows: pl.DataFrame, alpha: float = 0.05) -> set[str]:
    return set(rows.filter(pl.col("fdr") < alpha)["term"].to_list())


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def compare(ours: pl.DataFrame, reference: pl.DataFrame) -> dict:
    """ES max |diff|, NES Pearson r and identical leading edges, joined on term."""
    both = ours.join(reference, on="term", suffix="_ref")
    lead_same = (both["leading_edge"].str.to_uppercase() == both["leading_edge_ref"]).mean()
    # polars types a Series' aggregate as any scalar; of these float and bool columns it is a float
    return {
        "n_joined": both.height,
        "es_max_diff": float(cast(float, (both["es"] - both["es_ref"]).abs().max())),
        "nes_r": float(np.corrcoef(both["nes"].to_numpy(), both["nes_ref"].to_numpy())[0, 1]),
        "lead_same": float(cast(float, lead_same)),
    }


def collection_rows(args: argparse.Namespace, work: Path) -> list[dict]:
    """Both engines at two seeds per collection (plus alsig at 2 threads).

    Measurements and agreement.
    """
    rows = []
    # warm-up: the first process after an install compiles the numba kernels into their cache
    run_job(
        {
            "de": str(args.de),
            "collection": "hallmark",
            "threads": 1,
            "engine": "alsig",
            "multilevel": True,
        },
        work,
        repeats=1,
    )
    for cid in args.collections.split(","):
        base = {
            "de": str(args.de),
            "collection": cid,
            "permutations": args.permutations,
            "threads": args.threads,
        }
        runs = {
            (engine, seed): run_child({**base, "engine": engine, "seed": seed}, work)
            for engine in ("alsig", "gseapy")
            for seed in (args.seed, args.second_seed)
        }
        two_threads, _ = run_child(
            {**base, "engine": "alsig", "seed": args.seed, "threads": 2}, work
        )
        job_wall = run_job({**base, "engine": "alsig", "multilevel": True}, work)
        job_plain = run_job({**base, "engine": "alsig", "multilevel": False}, work)
        ours, ref = runs["alsig", args.seed], runs["gseapy", args.seed]
        calls = {key: fdr_calls(records) for key, (_, records) in runs.items()}
        rows.append(
            {
                "collection": cid,
                "version": ours[0]["version"],
                "n_sets": ours[0]["n_sets"],
                "n_tested": ours[0]["n_tested"],
                "alsig": ours[0],
                "alsig_2_threads": two_threads,
                "alsig_job_s": job_wall,
                "alsig_job_plain_s": job_plain,
                "gseapy": ref[0],
                **compare(ours[1], ref[1]),
                "fdr05": {f"{e} seed {s}": len(c) for (e, s), c in calls.items()},
                "j_alsig_gseapy": jaccard(calls["alsig", args.seed], calls["gseapy", args.seed]),
                "j_gseapy_gseapy": jaccard(
                    calls["gseapy", args.seed], calls["gseapy", args.second_seed]
                ),
                "j_alsig_alsig": jaccard(
                    calls["alsig", args.seed], calls["alsig", args.second_seed]
                ),
            }
        )
    return rows


def ranked_sets(args: argparse.Namespace, cid: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return the engine's inputs for collection ``cid`` on the DE ranking.

    ``|stat|`` weights and each tested set's ranks.
    """
    from alsig.gsea.positions import set_positions
    from alsig.settings import complete
    from alsig.stages.enrich.ranking import prepare_ranking
    from alsig.stages.enrich.sets import (
        configured_collections,
        load_collection,
        upper_map,
        upper_sets,
    )

    ranking, _ = prepare_ranking(pl.read_parquet(args.de))
    collections = configured_collections(complete("enrich"))
    sets, _ = load_collection(next(c for c in collections if c.id == cid))
    genes = list(upper_map(ranking.symbols))
    positions = list(set_positions(genes, upper_sets(sets), 15, 500).values())
    return np.abs(ranking.stats), positions


def null_design(args: argparse.Namespace, cid: str, seeds: range) -> dict[str, list[int]]:
    """Return the FDR < 0.05 counts over seeds, with one null per set and one per set size.

    One null per set is the engine's; one null per distinct set size, shared by every set of
    that size, is fgsea's simple scheme.
    """
    from alsig.gsea.alsig_engine import NullScores, enrichment_scores, null_scores, set_statistics

    weights, positions = ranked_sets(args, cid)
    observed = enrichment_scores(weights, positions)
    sizes = np.array([p.size for p in positions])
    distinct, index = np.unique(sizes, return_inverse=True)
    counts: dict[str, list[int]] = {"per set": [], "per size": []}
    for seed in seeds:
        per_set = set_statistics(observed, null_scores(weights, sizes, args.permutations, seed))
        shared = null_scores(weights, distinct, args.permutations, seed).scores[index]
        per_size = set_statistics(observed, NullScores(sizes, shared))
        counts["per set"].append(int((per_set.fdr < 0.05).sum()))
        counts["per size"].append(int((per_size.fdr < 0.05).sum()))
    counts["distinct sizes"] = [int(distinct.size)]
    return counts


def multilevel_check(args: argparse.Namespace, cid: str) -> dict:
    """Return the sets no permutation reached (``args.permutations``).

    Their multilevel p against the permutation p of ``args.check_permutations`` random sets each
    (alsig's engine, another seed).
    """
    from alsig.gsea.alsig_engine import enrichment_scores, null_scores, set_statistics
    from alsig.gsea.multilevel import multilevel_pvalues

    weights, positions = ranked_sets(args, cid)
    observed = enrichment_scores(weights, positions)
    sizes = np.array([p.size for p in positions])
    stats = set_statistics(observed, null_scores(weights, sizes, args.permutations, args.seed))
    beyond = np.flatnonzero(stats.pvalue == 0)
    wall = time.perf_counter()
    estimate, bounded = multilevel_pvalues(
        weights,
        [positions[i] for i in beyond],
        observed[beyond].tolist(),
        seed=args.seed,
        eps=1e-10,
        threads=1,
    )
    multilevel_s = time.perf_counter() - wall
    many = null_scores(weights, sizes[beyond], args.check_permutations, args.seed + 1).scores
    es = observed[beyond][:, None]
    same_sign = np.where(es >= 0, many >= 0, many < 0).sum(axis=1)
    extreme = np.where(es >= 0, many >= es, many <= es).sum(axis=1)
    countable = extreme >= 10
    error = np.log10(estimate[countable] / (extreme[countable] / same_sign[countable]))
    return {
        "n_tested": len(positions),
        "n_beyond": int(beyond.size),
        "multilevel_s": multilevel_s,
        "n_bounded": int(bounded.sum()),
        "n_countable": int(countable.sum()),
        "error_mean": float(error.mean()) if error.size else float("nan"),
        "error_sd": float(error.std()) if error.size else float("nan"),
        "error_max": float(np.abs(error).max()) if error.size else float("nan"),
        "n_beyond_check": int((extreme == 0).sum()),
        "p_range_beyond_check": (
            [float(estimate[extreme == 0].min()), float(estimate[extreme == 0].max())]
            if (extreme == 0).any()
            else []
        ),
        "sizes": [
            int(sizes[beyond].min()),
            int(np.median(sizes[beyond])),
            int(sizes[beyond].max()),
        ],
    }


def multilevel_section(checks: dict, check_permutations: int) -> list[str]:
    lines = [
        "## Multilevel p-values beyond the permutation floor",
        "",
        "Sets that beat all of their random sets get a multilevel estimate of their p-value "
        "(`enrich.multilevel`, adaptive multilevel splitting as fgsea's). Held here against "
        f"{check_permutations:,} random sets per set (alsig's engine, another seed): the "
        "log10 ratio multilevel / permutation p over the sets with at least 10 random sets as "
        "extreme (fewer make the permutation p itself too noisy to judge by).",
        "",
        "| collection | sets tested | beyond 1000 permutations (sizes min/median/max) "
        "| multilevel time, 1 thread (s) | held to permutations | log10 ratio mean | sd "
        f"| max abs | beyond {check_permutations:,} permutations too: multilevel p |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for cid, c in checks.items():
        beyond = (
            f"{c['n_beyond_check']}: {c['p_range_beyond_check'][0]:.1e}-"
            f"{c['p_range_beyond_check'][1]:.1e} ({c['n_bounded']} at eps)"
            if c["p_range_beyond_check"]
            else "0"
        )
        lines.append(
            f"| {cid} | {c['n_tested']} | {c['n_beyond']} ({'/'.join(map(str, c['sizes']))}) "
            f"| {c['multilevel_s']:.1f} | {c['n_countable']} | {c['error_mean']:+.3f} "
            f"| {c['error_sd']:.3f} | {c['error_max']:.3f} | {beyond} |"
        )
    return lines


def memory_bound(args: argparse.Namespace) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            MEMORY_CHILD,
            str(args.synthetic_genes),
            str(args.permutations),
            str(args.threads),
        ],
        capture_output=True,
        text=True,
        env=child_env(),
    )
    if done.returncode:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def workflow_rows(folder: Path | None) -> list[tuple[str, float, float, float]]:
    """(job, wall s, cpu s, max RSS MB) of each enrich ``benchmark:`` TSV under ``folder``."""
    if folder is None or not folder.exists():
        return []
    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        bench = pl.read_csv(path, separator="\t")
        name = str(path.relative_to(folder).with_suffix(""))
        rows.append((name, bench["s"][0], bench["cpu_time"][0], bench["max_rss"][0]))
    return rows


def speed_table(rows: list[dict]) -> list[str]:
    lines = [
        "| collection | sets in file | sets tested | alsig wall (s) | alsig CPU (s) "
        "| alsig, 2 threads, wall (s) | gseapy.prerank wall (s) | speed-up (wall) "
        "| alsig enrich job, whole process (s) | of it multilevel (s) "
        "| job speed-up vs gseapy.prerank "
        "| alsig peak RSS (MB) | gseapy peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        a, g = r["alsig"], r["gseapy"]
        lines.append(
            f"| {r['collection']} ({r['version']}) | {r['n_sets']} | {r['n_tested']} "
            f"| {a['wall_s']:.2f} | {a['cpu_s']:.2f} | {r['alsig_2_threads']['wall_s']:.2f} "
            f"| {g['wall_s']:.1f} | {g['wall_s'] / a['wall_s']:.0f}x "
            f"| {r['alsig_job_s']:.2f} | {r['alsig_job_s'] - r['alsig_job_plain_s']:.2f} "
            f"| {g['wall_s'] / r['alsig_job_s']:.0f}x "
            f"| {a['rss_mb']:.0f} | {g['rss_mb']:.0f} |"
        )
    alsig = sum(r["alsig"]["wall_s"] for r in rows)
    gseapy = sum(r["gseapy"]["wall_s"] for r in rows)
    jobs = sum(r["alsig_job_s"] for r in rows)
    lines.append(
        f"| **all** | | {sum(r['n_tested'] for r in rows)} | **{alsig:.1f}** | | "
        f"| **{gseapy:.1f}** | **{gseapy / alsig:.0f}x** | **{jobs:.1f}** | "
        f"| **{gseapy / jobs:.0f}x** | | |"
    )
    return lines


def agreement_table(rows: list[dict], seed: int, second: int) -> list[str]:
    lines = [
        f"| collection | ES max abs diff | NES Pearson r | leading edges identical "
        f"| FDR < 0.05: alsig / gseapy (seed {seed}) | alsig / gseapy (seed {second}) "
        f"| Jaccard alsig vs gseapy (seed {seed}) | Jaccard gseapy seed {seed} vs {second} "
        f"| Jaccard alsig seed {seed} vs {second} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        f = r["fdr05"]
        lines.append(
            f"| {r['collection']} | {r['es_max_diff']:.1e} | {r['nes_r']:.5f} "
            f"| {100 * r['lead_same']:.1f}% "
            f"| {f[f'alsig seed {seed}']} / {f[f'gseapy seed {seed}']} "
            f"| {f[f'alsig seed {second}']} / {f[f'gseapy seed {second}']} "
            f"| {r['j_alsig_gseapy']:.3f} | {r['j_gseapy_gseapy']:.3f} | {r['j_alsig_alsig']:.3f} |"
        )
    return lines


def report(args, rows, design, multilevel, memory, workflow) -> str:
    import gseapy
    import numba

    lines = [
        "# Enrichment: GSEA preranked engines, alsig vs gseapy (GSE124439, ALS vs control)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} with `python bench/enrich_engine.py` on this "
        f"project's machine ({platform.machine()}, 2 cores shared with other work, so wall times "
        f"are indicative; CPU time is the engine's own), gseapy {gseapy.__version__}, numba "
        f"{numba.__version__}, {args.permutations} permutations, seed {args.seed} (second seed "
        f"{args.second_seed}), threads {args.threads} (gseapy uses at most cpu_count - 1 = 1 here), "
        "set size 15-500 genes among the ranked genes. Ranking: the DE stage's table "
        f"(`{args.de.name}`, {pl.read_parquet(args.de).height} genes, Wald `stat`). Each run is "
        "its own process (peak RSS includes Python and the imported libraries, about 350 MB); "
        "alsig: the enrich job's prerank (`prerank_result` with `engine: alsig, multilevel: false`: "
        "ranking, eligible sets, records, table; permutation p-values, as gseapy's); gseapy: `gseapy.prerank` on the same ranking and sets, timed inside "
        "its process (its import not counted). The enrich job column is the whole rule job "
        "(`alsig.stages.enrich.job.run` with the default settings: reading the DE table and the "
        "collection, prerank with the multilevel p-values of the sets beyond every permutation, "
        "ORA up and down, writing four files) in a fresh interpreter, timed from outside from "
        "start to exit, median of 3, after one warm-up process that fills numba's kernel cache; "
        "'of it multilevel' is its difference to the same job with `multilevel: false`.",
        "",
        "## Time and memory per collection",
        "",
        *speed_table(rows),
        "",
        "## Agreement",
        "",
        "ES and leading edges are computed exactly as gseapy computes them, so they agree to "
        "the last bits; NES, p and FDR rest on the random sets drawn, so alsig vs gseapy is judged "
        "against gseapy vs gseapy at another seed.",
        "",
        *agreement_table(rows, args.seed, args.second_seed),
        "",
        *design_section(design, args.permutations),
        "",
        *multilevel_section(multilevel, args.check_permutations),
        "",
        f"## Memory bound: GO BP at {memory['n_genes']:,} genes",
        "",
        f"A whole enrich contrast (prerank + ORA, `enrich_contrast(engine='alsig')`) with GO BP "
        f"on a synthetic DE table of {memory['n_genes']} genes (GO BP's genes plus filler, "
        f"t-distributed statistics): {memory['n_tested']} sets tested, {memory['wall_s']:.1f} s, "
        f"peak RSS **{memory['rss_mb']:.0f} MB** (bound: 1 GB). The engine's memory is the "
        "sets x permutations null (8 bytes each, held twice: scores and normalised scores), not "
        "genes x permutations (the gseapy engine's GO BP job peaked at 3.3 GB on the "
        "60,000-gene synthetic cohort of `scale_2000x60000.md`).",
    ]
    if workflow:
        lines += [
            "",
            f"## In the workflow (`enrich` jobs of `{args.workflow_benchmarks}`, Snakemake "
            "`benchmark:` files)",
            "",
            "| job | wall (s) | CPU (s) | max RSS (MB) |",
            "|---|---:|---:|---:|",
            *(f"| {n} | {s:.1f} | {c:.1f} | {m:.0f} |" for n, s, c, m in workflow),
        ]
    return "\n".join(lines) + "\n"


def design_section(design: dict, permutations: int) -> list[str]:
    lines = [
        "## Null design: one null per set, not one per set size",
        "",
        "FDR < 0.05 counts of the alsig engine over seeds 1-6 with each set's own random sets "
        "(the engine) and with one null per distinct set size shared by all sets of that size "
        "(fgsea's simple scheme), same observed scores, "
        f"{permutations} permutations. gseapy's FDR pools every set's null NES; a shared null "
        "enters the pool once per set of its size, so the tail rests on far fewer independent "
        "draws and the FDR calls swing with the seed.",
        "",
        "| collection | distinct sizes | one null per set | one null per size |",
        "|---|---:|---|---|",
    ]
    for cid, counts in design.items():
        lines.append(
            f"| {cid} | {counts['distinct sizes'][0]} "
            f"| {min(counts['per set'])}-{max(counts['per set'])} ({counts['per set']}) "
            f"| {min(counts['per size'])}-{max(counts['per size'])} ({counts['per size']}) |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--de", type=Path, default=DEFAULT_DE)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--second-seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--collections", default="hallmark,reactome,go_bp")
    parser.add_argument("--design-collections", default="reactome,go_bp")
    parser.add_argument("--synthetic-genes", type=int, default=60000)
    parser.add_argument("--check-permutations", type=int, default=100_000)
    parser.add_argument("--workflow-benchmarks", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/enrich_prerank.md")
    args = parser.parse_args()
    if not args.de.exists():
        sys.exit(f"{args.de}: no DE table; run the DE stage for GSE124439 (see the docstring)")
    with tempfile.TemporaryDirectory() as tmp:
        rows = collection_rows(args, Path(tmp))
    design = {
        cid: null_design(args, cid, range(1, 7)) for cid in args.design_collections.split(",")
    }
    print("null design", design, flush=True)
    memory = memory_bound(args)
    print("memory", memory, flush=True)
    multilevel = {cid: multilevel_check(args, cid) for cid in args.design_collections.split(",")}
    print("multilevel", multilevel, flush=True)
    text = report(args, rows, design, multilevel, memory, workflow_rows(args.workflow_benchmarks))
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
