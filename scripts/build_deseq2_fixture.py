"""Build the R DESeq2 fixture of ``tests/unit/test_deseq2_engine.py`` (tests/data/deseq2/).

Usage: python scripts/build_deseq2_fixture.py   (needs Rscript with DESeq2; a few seconds)

The toy cohort (:func:`fixture_cohort`: 22 donors x 2 regions, 400 genes, planted DE, a third
condition level 'other' for 4 donors, 12 planted outlier counts) is written as
``toy_counts.tsv.gz`` (genes x samples) and ``toy_coldata.tsv``; ``scripts/deseq2_fixture.R`` fits
it with R DESeq2 (Wald and LRT) and writes the ``r_*.tsv`` tables next to them. The counts are
committed with the R results, so the test does not depend on the generator's random streams.

It also writes the iterative size factors pydeseq2 computes for a small cohort in which every gene
has a zero count (``iterative_counts.tsv.gz``, ``pydeseq2_iterative_size_factors.tsv``): pydeseq2
takes ~20 s for them, too long for a unit test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from alsig.toy import toy_cohort  # noqa: E402

OUT = ROOT / "tests" / "data" / "deseq2"
#: gzip without a timestamp: rebuilding gives the same bytes
GZIP = {"method": "gzip", "mtime": 0}


def fixture_cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the fixture cohort: ``(counts genes x samples, coldata)``."""
    adata = toy_cohort(
        n_donors=(12, 10),
        regions=("frontal", "motor"),
        n_genes=400,
        seed=11,
        de_fraction=0.1,
        region_log2fc=0.3,
        mean_log=(3.0, 2.0),
    )
    obs = adata.obs[["region", "condition"]].copy()
    other = adata.obs["subject"].isin(["D008", "D009", "D010", "D011"]).to_numpy()
    obs.loc[other, "condition"] = "other"
    counts = np.asarray(adata.X).astype(np.int64)
    rng = np.random.default_rng(11)
    for gene in rng.choice(counts.shape[1], 12, replace=False):
        sample = rng.integers(counts.shape[0])
        counts[sample, gene] = counts[sample, gene] * 20 + 300
    frame = pd.DataFrame(counts.T, index=adata.var_names, columns=adata.obs_names)
    return frame, obs


def iterative_cohort() -> pd.DataFrame:
    """Return samples x genes counts with a zero in every gene (median of ratios undefined)."""
    adata = toy_cohort(n_donors=(6, 6), n_genes=120, seed=5, mean_log=(1.5, 0.7))
    counts = np.asarray(adata.X).astype(np.int64)
    rng = np.random.default_rng(0)
    for gene in np.flatnonzero(~(counts == 0).any(axis=0)):
        counts[rng.integers(counts.shape[0]), gene] = 0
    frame = pd.DataFrame(counts, index=adata.obs_names, columns=adata.var_names)
    frame.insert(0, "condition", adata.obs["condition"].to_numpy())
    return frame


def pydeseq2_iterative(frame: pd.DataFrame) -> pd.Series:
    """pydeseq2 0.5.4's size factors of :func:`iterative_cohort` (its iterative fallback)."""
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference

    meta = frame[["condition"]].astype("category")
    dds = DeseqDataSet(
        counts=frame.drop(columns="condition"),
        metadata=meta,
        design="~ condition",
        inference=DefaultInference(n_cpus=1),
        quiet=True,
    )
    dds.fit_size_factors()
    return pd.Series(dds.obs["size_factors"].to_numpy(), index=frame.index, name="size_factor")


def main() -> None:
    """Write the fixture counts, coldata and the pydeseq2/R reference tables."""
    OUT.mkdir(parents=True, exist_ok=True)
    counts, coldata = fixture_cohort()
    counts.to_csv(OUT / "toy_counts.tsv.gz", sep="\t", index_label="gene", compression=GZIP)
    coldata.to_csv(OUT / "toy_coldata.tsv", sep="\t", index_label="sample")
    run = subprocess.run(
        [
            "Rscript",
            str(ROOT / "scripts" / "deseq2_fixture.R"),
            str(OUT / "toy_counts.tsv.gz"),
            str(OUT / "toy_coldata.tsv"),
            str(OUT),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    version = [ln for ln in run.stdout.splitlines() if ln.startswith("R_VERSION")]
    (OUT / "VERSION").write_text((version[0].split(" ", 1)[1] if version else "unknown") + "\n")
    print(f"wrote {OUT}: {counts.shape[0]} genes x {counts.shape[1]} samples; {version}")
    frame = iterative_cohort()
    frame.to_csv(OUT / "iterative_counts.tsv.gz", sep="\t", index_label="sample", compression=GZIP)
    pydeseq2_iterative(frame).to_csv(
        OUT / "pydeseq2_iterative_size_factors.tsv", sep="\t", index_label="sample"
    )


if __name__ == "__main__":
    main()
