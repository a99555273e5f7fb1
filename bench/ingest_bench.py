"""Ingest wall time and peak memory on the real cohorts in ../shared/data.

Usage: python bench/ingest_bench.py [--shared ../shared/data]  -> bench/results/ingest.md
Each dataset is ingested in a fresh process so peak RSS is that dataset's alone.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time, yaml
from alsig.stages.ingest import ingest_local
settings = json.loads(sys.argv[1])
start = time.perf_counter()
adata = ingest_local(sys.argv[2], settings)
seconds = time.perf_counter() - start
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_mb": rss_mb, "n_obs": adata.n_obs, "n_vars": adata.n_vars,
                  "storage": adata.uns["provenance"]["x_storage"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=ROOT / "config/examples/shared_cohorts.yaml")
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    rows = []
    for dataset, settings in config["datasets"].items():
        for key in ("counts", "samples"):
            settings[key] = str((ROOT / settings[key]).resolve())
        out = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(settings), dataset],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((dataset, result))
        print(dataset, result, flush=True)
    lines = [
        "# Ingest: wall time and peak memory",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on this project's machine (2 cores, 24 GB) with "
        "`python bench/ingest_bench.py` (one process per dataset; peak RSS includes the Python "
        "interpreter and imported libraries, about 250 MB).",
        "",
        "| dataset | samples | genes after harmonisation | X storage | wall time (s) | peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for dataset, r in rows:
        lines.append(
            f"| {dataset} | {r['n_obs']} | {r['n_vars']} | {r['storage']} | {r['seconds']:.1f} | {r['rss_mb']:.0f} |"
        )
    (ROOT / "bench/results/ingest.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
