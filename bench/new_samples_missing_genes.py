"""``alsig score`` with genes missing: scoring within the shared genes vs counting them as 0.

Planted truth: a dataset sample scored as a new sample must get (about) the z it has in the
dataset's own table. Four demo samples (2 controls, 2 ALS) are placed with a random 10 %, 30 % and
50 % of the dataset's genes removed, two ways:

- ``shared``: what ``alsig score`` does (the new and the dataset's samples scored within the
  genes both have);
- ``zero``: the absent genes counted as 0 (what ``alsig score`` did before 0.2.0).

and the absolute change of each signature's z against the dataset's table is summarised.

Usage: ``python bench/new_samples_missing_genes.py <output_dir>/demo`` (a finished demo run) ->
``bench/results/new_samples_missing_genes.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl

from alsig.newsamples import score_new_samples

OUT = Path(__file__).parent / "results" / "new_samples_missing_genes.md"


def main(dataset_dir: str) -> None:
    qc = ad.read_h5ad(Path(dataset_dir) / "qc" / "filtered.h5ad")
    counts = np.asarray(qc.X.toarray() if hasattr(qc.X, "toarray") else qc.X)
    obs = qc.obs
    chosen = [
        *obs.index[obs["condition"] == "control"][:2],
        *obs.index[obs["condition"] == "ALS"][:2],
    ]
    full = pd.DataFrame(
        counts[[qc.obs_names.get_loc(s) for s in chosen]],
        index=[f"new_{s}" for s in chosen],
        columns=qc.var_names,
    )
    table = pl.read_parquet(Path(dataset_dir) / "scores" / "signature_scores.parquet").filter(
        pl.col("method") == "singscore"
    )
    rng = np.random.default_rng(0)
    lines = [
        "# `alsig score` with genes missing: within the shared genes vs absent = 0",
        "",
        f"Dataset: `{Path(dataset_dir).name}` ({qc.n_obs} samples x {qc.n_vars} genes). Samples: "
        f"{', '.join(chosen)} (2 controls, 2 ALS), each placed as a new sample with a random "
        "share of the dataset's genes removed (seed 0). |dz| = |z as a new sample - z in the "
        "dataset's table| over the signatures scored both ways.",
        "",
        "| genes absent | sample | shared: median abs dz | shared: max | zero: median abs dz "
        "| zero: max |",
        "|---|---|---|---|---|---|",
    ]
    for share in (0.1, 0.3, 0.5):
        keep = np.sort(rng.permutation(qc.n_vars)[: int(qc.n_vars * (1 - share))])
        subset = full.iloc[:, keep]
        zero = full.copy()
        zero.loc[:, ~full.columns.isin(subset.columns)] = 0
        shared = score_new_samples(subset, dataset_dir, max_missing_share=share)
        zeroed = score_new_samples(zero, dataset_dir)
        for sample in chosen:
            truth = table.filter(pl.col("sample") == sample).select("signature", "z_vs_control")
            row = [f"{share:.0%}", sample]
            for placed in (shared, zeroed):
                mine = placed.filter(pl.col("sample") == f"new_{sample}").join(
                    truth, on="signature", suffix="_truth"
                )
                dz = (mine["z_vs_control"] - mine["z_vs_control_truth"]).abs().drop_nulls()
                # polars types the aggregates as any scalar; of a float column they are floats
                row += [f"{cast(float, dz.median()):.2f}", f"{cast(float, dz.max()):.2f}"]
            lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Reading: scored within the shared genes, a dataset sample keeps its z (median shift "
        "0.02-0.2 sd); counting absent genes as 0 moves it by 1.4 sd in the median at 10 % absent "
        "and by up to ~50-190 sd, because every absent gene sinks to the bottom of the ranks. "
        "Hence `alsig score` scores within the shared genes and flags every row "
        "(`qc_flag = genes_missing(...)`), and refuses above `--max-missing-share` (default 0.5).",
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print(OUT.read_text())


if __name__ == "__main__":
    main(sys.argv[1])
