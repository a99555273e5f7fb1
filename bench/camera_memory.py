"""Memory of camera's residuals: the enrichment job's and the subtypes' enrichment job's model.

Synthetic QC'd AnnData (Poisson counts, int32, ``var['expressed']`` on the first share of the
genes, one sample per donor, ``~ sex + condition``), written by this script. Each measurement
runs in its own process and reports its peak RSS above the process after its imports:

* ``enrich``: :func:`alsig.stages.enrich.residuals.contrast_residuals` and camera on 500 random
  sets of 100 genes (the enrich job's camera part);
* ``subtypes``: :func:`alsig.stages.subtypes.carry.subtype_residuals` over random calls of the
  three subtypes (the subtypes_enrich job's camera part).

Beside it, what :func:`alsig.planning.camera_mem_mb` plans (without the enrichment job's base,
which covers the imports). Usage (one core, about a minute)::

    OPENBLAS_NUM_THREADS=1 python bench/camera_memory.py --work /tmp/camera_memory

Writes ``bench/results/camera_memory.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from alsig import __version__, planning

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "camera_memory.md"
#: (samples, genes, expressed share)
SHAPES = ((300, 30_000, 2 / 3), (1000, 30_000, 2 / 3), (1000, 20_000, 1.0))

MEASURE = """
import json, resource, sys
import numpy as np, pandas as pd
from alsig.settings import complete
kind, path = sys.argv[1], sys.argv[2]
if kind == "enrich":  # only what the enrich job's camera part imports
    from alsig.stages.enrich.residuals import contrast_residuals
    from alsig.stages.enrich.camera import camera_table
    from alsig.stages.enrich.ranking import Ranking
else:
    from alsig.io import read_h5ad_counts
    from alsig.stages.subtypes.carry import subtype_residuals, SUBTYPES
def rss_mb():  # the resident set now (the peak so far may be an import's)
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20
base = rss_mb()
de = complete("de", {"design": "~ sex + condition",
                     "contrasts": {"c": ["condition", "ALS", "control"]}})
if kind == "enrich":
    genes = contrast_residuals(path, de, "c").residuals
    rng = np.random.default_rng(1)
    sets = {f"S{k}": list(rng.choice(genes.genes, 100, replace=False)) for k in range(500)}
    camera_table(Ranking(genes.genes, rng.normal(size=len(genes.genes))), sets, genes,
                 collection="x")
else:
    adata = read_h5ad_counts(path)
    rng = np.random.default_rng(0)
    calls = pd.Series(rng.choice(["ALS-Ox", "ALS-Glia", "ALS-TE"], adata.n_obs),
                      index=adata.obs_names.astype(str))
    subtype_residuals(adata, calls, SUBTYPES, de_settings=de,
                      settings=complete("subtypes", {}), source=path)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"added_mb": peak - base}))
"""


def write_cohort(path: Path, samples: int, genes: int, expressed: float) -> None:
    """Write a synthetic QC'd AnnData (the shape of ``bench/results/camera_memory.md``)."""
    rng = np.random.default_rng(0)
    mu = np.exp(rng.normal(4, 1.5, genes)).astype(np.float32)
    depth = rng.uniform(0.7, 1.4, samples).astype(np.float32)
    counts = rng.poisson(mu[None, :] * depth[:, None]).astype(np.int32)
    obs = pd.DataFrame(
        {
            "condition": np.where(np.arange(samples) % 2, "ALS", "control"),
            "subject": [f"D{i}" for i in range(samples)],
            "sex": rng.choice(["male", "female"], samples),
        },
        index=[f"S{i}" for i in range(samples)],
    )
    var = pd.DataFrame(
        {"expressed": np.arange(genes) < expressed * genes},
        index=[f"G{i:05d}" for i in range(genes)],
    )
    ad.AnnData(X=counts, obs=obs, var=var).write_h5ad(path)


def measure(kind: str, path: Path) -> float:
    """Return the peak memory (MB) one measurement adds, in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["added_mb"])


def main() -> None:
    """Measure each shape and write the results page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Memory of camera's residuals",
        "",
        f"`python bench/camera_memory.py`; alsig {__version__}, {dt.date.today()}, "
        f"{platform.processor() or platform.machine()}, one core. Peak RSS a measurement adds "
        "in its own process; planned: `alsig.planning.camera_mem_mb` (the enrichment job's "
        "600 MB base, which covers the imports and about 70 MB of the camera part here, comes "
        "on top). `subtypes` computes the three subtypes' residuals once (one fit, one sample "
        "set) and holds the matrix twice (the copy that carries the subtype factor).",
        "",
        "| samples | genes | expressed (tested) | job | measured MB | planned MB |",
        "|---:|---:|---:|---|---:|---:|",
    ]
    for samples, genes, expressed in SHAPES:
        path = args.work / f"cohort_{samples}x{genes}.h5ad"
        if not path.exists():
            write_cohort(path, samples, genes, expressed)
        for kind, copies in (("enrich", 1), ("subtypes", 2)):
            planned = planning.camera_mem_mb(str(path), None, cell_mix=False, matrix_copies=copies)
            measured = measure(kind, path)
            lines.append(
                f"| {samples:,} | {genes:,} | {round(expressed * genes):,} | {kind} | "
                f"{measured:.0f} | {planned:.0f} |"
            )
            print(lines[-1], flush=True)
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
