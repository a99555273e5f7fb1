"""What the one validation layer (issue 29) costs.

Ingest wall time and peak RSS on the real cohorts with this checkout and with a baseline
checkout, and the h5ad reader on a synthetic float X (the path that now runs the text reader's
count rules).

Usage::

    git archive <baseline commit> | tar -x -C /tmp/base
    python bench/validation_overhead.py --baseline-src /tmp/base/src \
        -> bench/results/validation_overhead.md

Each measurement runs in a fresh process (peak RSS is that run's alone, interpreter and
libraries included), three repeats; the table gives the median and the range.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

INGEST = """
import json, resource, sys, time
from alsig.stages.ingest import ingest_local
settings = json.loads(sys.argv[1])
start = time.perf_counter()
ingest_local(sys.argv[2], settings)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

H5AD = """
import json, resource, sys, time, tempfile
from pathlib import Path
import anndata as ad, numpy as np, pandas as pd
from alsig.stages.ingest.counts import read_h5ad_count_matrix
n_obs, n_vars = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.negative_binomial(2, 0.01, size=(n_obs, n_vars)).astype(np.float64)
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "x.h5ad"
    ad.AnnData(X=x, obs=pd.DataFrame(index=[f"S{i}" for i in range(n_obs)]),
               var=pd.DataFrame(index=[f"G{i}" for i in range(n_vars)])).write_h5ad(path)
    del x
    start = time.perf_counter()
    read_h5ad_count_matrix(path)
    seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(src: Path, code: str, *args: str, repeats: int = 3) -> dict[str, float]:
    """Median and range of seconds and peak RSS of ``code`` run with ``src`` on the path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    seconds = [r["seconds"] for r in runs]
    rss = [r["rss_mb"] for r in runs]
    return {
        "s": statistics.median(seconds),
        "s_min": min(seconds),
        "s_max": max(seconds),
        "rss": statistics.median(rss),
    }


def cell(r: dict[str, float]) -> str:
    return f"{r['s']:.2f} ({r['s_min']:.2f}-{r['s_max']:.2f}) | {r['rss']:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=ROOT / "config/examples/shared_cohorts.yaml")
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--h5ad", default="500x20000", help="samples x genes of the synthetic X")
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    versions = {"this checkout": ROOT / "src", "baseline": args.baseline_src}
    rows = []
    for dataset, settings in config["datasets"].items():
        for key in ("counts", "samples", "te_counts"):
            if key in settings:
                settings[key] = str((ROOT / settings[key]).resolve())
        found = {
            v: measure(src, INGEST, json.dumps(settings), dataset) for v, src in versions.items()
        }
        rows.append((f"ingest {dataset}", found))
        print(dataset, found, flush=True)
    n_obs, n_vars = args.h5ad.split("x")
    found = {v: measure(src, H5AD, n_obs, n_vars) for v, src in versions.items()}
    rows.append((f"h5ad reader, float64 X {args.h5ad}", found))
    print(args.h5ad, found, flush=True)
    load = os.getloadavg()[0]
    lines = [
        "# The validation layer's cost (issue 29)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on this project's machine (2 cores shared by "
        f"about six engineers; load average {load:.1f} at the end, so the times are noisy) with "
        "`python bench/validation_overhead.py --baseline-src <checkout of main before issue 29>/src`. "
        "Each cell: median wall seconds (range of 3 fresh processes) | peak RSS MB (interpreter "
        "and libraries included).",
        "",
        "| run | this checkout: s | MB | baseline: s | MB |",
        "|---|---|---|---|---|",
    ]
    for name, found in rows:
        lines.append(f"| {name} | {cell(found['this checkout'])} | {cell(found['baseline'])} |")
    lines += [
        "",
        "The baseline h5ad reader cast X to integers without the range checks (a float 1e20 "
        "became -9223372036854775808); this checkout runs the text reader's rules on X and the "
        "gene-id rules on var_names.",
    ]
    out = ROOT / "bench" / "results" / "validation_overhead.md"
    out.write_text("\n".join(lines) + "\n")
    print(out)


if __name__ == "__main__":
    main()
