"""Build the R reference fixtures of alsig.voom's tests (tests/data/voom/).

Usage: python scripts/build_voom_fixtures.py [--out tests/data/voom] [--seed 11]

1. Simulate a cohort with alsig.toy.toy_cohort: 12 donors x 3 regions, per-gene donor SD drawn
   from a gamma distribution (some genes strongly donor-correlated, many barely), a planted
   condition effect on 10 % of genes; then drop samples so that donors have 1, 2 or 3 samples.
2. Write the inputs (counts, design ``~ sex + region + condition`` with control as reference,
   subjects, effective library sizes from alsig's median-of-ratios normalisation).
3. Run scripts/voom_reference.R (limma 3.54 voom / lmFit / eBayes / duplicateCorrelation; lme4 +
   lmerTest per gene) and keep its TSV outputs next to the inputs; everything is gzipped.

The tests read the committed files, so CI checks agreement with R without R installed; the live
test (tests/unit/test_voom_r.py) reruns this script with another seed when Rscript exists.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from alsig.stages.de.design import design_matrix
from alsig.toy import toy_cohort
from alsig.voom.normalise import effective_library_sizes

ROOT = Path(__file__).resolve().parents[1]
R_SCRIPT = ROOT / "scripts" / "voom_reference.R"
COEF = "condition[T.ALS]"
FTEST = ("region[T.motor]", "region[T.spinal]")
DESIGN = "~ sex + region + condition"


def simulate(seed: int, n_genes: int = 300):
    """Simulate the fixture cohort: counts (samples x genes), sample table, design matrix."""
    adata = toy_cohort(
        n_donors=(6, 6),
        regions=("frontal", "motor", "spinal"),
        n_genes=n_genes,
        seed=seed,
        de_fraction=0.1,
        de_log2fc=1.0,
        donor_sd=0.5,
        donor_sd_spread=0.6,
        region_log2fc=0.4,
    )
    rng = np.random.default_rng(seed)
    obs = adata.obs
    drop = []
    for i, donor in enumerate(sorted(obs["subject"].unique())):
        samples = obs.index[obs["subject"] == donor].tolist()
        n_drop = (0, 1, 2)[i % 3]  # donors with 3, 2 and 1 samples
        drop += list(rng.choice(samples, size=n_drop, replace=False))
    keep = ~obs.index.isin(drop)
    adata = adata[keep].copy()
    counts = np.asarray(adata.X)
    keep_genes = counts.sum(axis=0) > 0
    adata = adata[:, keep_genes].copy()
    meta = adata.obs[["sex", "region", "condition", "subject"]].copy()
    meta["condition"] = pd.Categorical(meta["condition"], categories=["control", "ALS"])
    design = design_matrix(meta, DESIGN).astype(float)
    return np.asarray(adata.X), adata.obs, adata.var_names.astype(str), design


def write_inputs(out: Path, seed: int) -> None:
    """Write the R script's inputs to ``out``."""
    counts, obs, genes, design = simulate(seed)
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(counts.T, index=genes, columns=obs.index)
    frame.to_csv(out / "counts.tsv", sep="\t", index_label="gene")
    design.index = obs.index
    design.to_csv(out / "design.tsv", sep="\t", index_label="sample")
    obs[["subject"]].to_csv(out / "samples.tsv", sep="\t", index_label="sample")
    lib = effective_library_sizes(counts)
    pd.DataFrame({"sample": obs.index, "lib_size": lib}).to_csv(
        out / "lib_size.tsv", sep="\t", index=False
    )
    pd.DataFrame({"key": ["coef", "ftest", "seed"], "value": [COEF, ",".join(FTEST), seed]}).to_csv(
        out / "spec.tsv", sep="\t", index=False
    )


def main() -> None:
    """Write the fixture inputs, run the R reference on them and compress the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "voom")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    write_inputs(args.out, args.seed)
    result = subprocess.run(
        ["Rscript", str(R_SCRIPT), str(args.out), str(args.out)], capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"voom_reference.R failed:\n{result.stderr[-3000:]}")
    print(result.stdout.strip())
    compress(args.out)
    print(f"fixtures in {args.out}")


def compress(folder: Path) -> None:
    """Gzip every TSV of ``folder`` (the tests read ``*.tsv.gz``)."""
    for path in sorted(folder.glob("*.tsv")):
        with open(path, "rb") as src, gzip.open(f"{path}.gz", "wb", compresslevel=9) as dst:
            shutil.copyfileobj(src, dst)
        path.unlink()


if __name__ == "__main__":
    main()
