"""The DE stage's permutation null (``de.null_permutations``) on real cohorts, beside the real count.

Each case is a contrast of ``config/examples/shared_cohorts.yaml`` fitted by the DE stage's own
entry point (:func:`alsig.stages.de.dataset.run_dataset`, the dataset's resolved ``de:``
settings, one contrast) on a shared-cohorts run's QC output, with ``de.null_permutations`` set
to the case's count: the contrast factor moved between whole donors, the same model refitted,
genes at padj < 0.05 counted. Cases:

* GSE67196 cerebellum and frontal cortex (``~ condition``, one sample per donor: the DESeq2
  model), as configured, and with QC's inferred sex as a covariate (``~ sex_inferred +
  condition``: GSE67196 has no sex column, and the permuted groups differ in sex);
* GSE124439 frontal cortex (``~ sex + condition``; 3 of its 77 donors have two libraries, so
  ``auto`` fits the mixed model, voom + dream).

Usage (one core; about 6 minutes)::

    OPENBLAS_NUM_THREADS=1 python bench/de_real_null.py --results <output_dir of a
        shared_cohorts run> [--permutations 100] [--dream-permutations 20]

Writes ``bench/results/de_real_null.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import platform
import time
from pathlib import Path

import anndata as ad
import yaml

from alsig import __version__
from alsig.settings import DeSettings, resolve
from alsig.stages.de.dataset import run_dataset

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "examples" / "shared_cohorts.yaml"
OUT = ROOT / "bench" / "results" / "de_real_null.md"
#: (dataset, contrast, design override or None, which permutation count)
CASES = (
    ("GSE67196", "ALS_vs_control_cerebellum", None, "deseq2"),
    ("GSE67196", "ALS_vs_control_frontal", None, "deseq2"),
    ("GSE67196", "ALS_vs_control_cerebellum", "~ sex_inferred + condition", "deseq2"),
    ("GSE67196", "ALS_vs_control_frontal", "~ sex_inferred + condition", "deseq2"),
    ("GSE124439", "ALS_vs_control_frontal", None, "dream"),
)
#: what the reviewer measured with the same contrasts (100 permutations, its own loop over
#: alsig.stages.de.run_de, seed 5): permutations with some gene at padj < 0.05, and with at
#: least the real count
REVIEWER = {
    ("GSE67196", "ALS_vs_control_cerebellum"): "43 / 100, 19 / 100",
    ("GSE67196", "ALS_vs_control_frontal"): "38 / 100, 3 / 100",
}
COLUMNS = (
    "null_permutations",
    "null_discoveries_median",
    "null_discoveries_p90",
    "null_any_share",
    "null_exceedance",
)


def run_case(
    adata: ad.AnnData, settings: DeSettings, contrast: str, design: str | None, permutations: int
) -> dict:
    """Return the DE summary of one contrast with ``permutations`` donor-level shuffles."""
    chosen = settings.contrast(contrast)
    if design is not None:
        chosen = dataclasses.replace(chosen, design=design)
    settings = dataclasses.replace(settings, null_permutations=permutations)
    began = time.perf_counter()
    (outcome,) = run_dataset(adata, settings, n_cpus=1, contrasts=[chosen], tests=[])
    return {**outcome.summary, "seconds": time.perf_counter() - began}


def main() -> None:
    """Run every case and write the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--permutations", type=int, default=100)
    parser.add_argument("--dream-permutations", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    config = yaml.safe_load(CONFIG.read_text())
    counts = {"deseq2": args.permutations, "dream": args.dream_permutations}
    rows = []
    loaded: dict[str, ad.AnnData] = {}
    for dataset, contrast, design, kind in CASES:
        if dataset not in loaded:
            loaded[dataset] = ad.read_h5ad(args.results / dataset / "qc" / "filtered.h5ad")
        settings = resolve(config, dataset, "de")
        summary = run_case(loaded[dataset], settings, contrast, design, counts[kind])
        rows.append((dataset, contrast, summary))
        print(dataset, contrast, {k: summary.get(k) for k in ("design", "n_significant", *COLUMNS)})
    OUT.write_text(report(rows, args))


def report(rows: list[tuple[str, str, dict]], args: argparse.Namespace) -> str:
    """Return the results page."""
    lines = [
        "# The DE stage's permutation null on real cohorts",
        "",
        f"`python bench/de_real_null.py --results <shared_cohorts run> --permutations "
        f"{args.permutations} --dream-permutations {args.dream_permutations}`; alsig "
        f"{__version__}, {dt.date.today()}, {platform.processor() or platform.machine()}, one "
        "core. Each row is one contrast of `config/examples/shared_cohorts.yaml` through the DE "
        "stage (`run_dataset`, the dataset's resolved `de:` settings, `de.seed` 123) with "
        "`de.null_permutations` set to the row's count: the condition moved between whole "
        "donors (distinct splits, none the real one), the same model refitted, genes at padj < "
        "0.05 counted. BH promises some gene in at most about 5 % of permutations under a "
        "complete null. The permutation p of the real count is (1 + permutations reaching it) "
        "/ (1 + permutations), the summary's `null_exceedance`.",
        "",
        "| dataset | contrast | design | model | donors | real genes (padj < 0.05) | "
        "permutations | null median | null 90th pct | null: some gene | null: >= real | "
        "permutation p | seconds | reviewer (some gene, >= real) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for dataset, contrast, s in rows:
        # null_exceedance is the permutation p-value (1 + reached) / (1 + permutations)
        reached = round(s["null_exceedance"] * (s["null_permutations"] + 1)) - 1
        reviewer = REVIEWER.get((dataset, contrast), "") if s["design"] == "~ condition" else ""
        lines.append(
            f"| {dataset} | {contrast} | `{s['design']}` | {s['model']} | {s['n_subjects']} | "
            f"{s['n_significant']} | {s['null_permutations']} | "
            f"{s['null_discoveries_median']:g} | {s['null_discoveries_p90']:g} | "
            f"{100 * s['null_any_share']:.0f} % | {reached} | {s['null_exceedance']:.2g} | "
            f"{s['seconds']:.0f} | {reviewer} |"
        )
    lines += [
        "",
        "Reading. The DESeq2 model on one sample per donor (GSE67196's regions) finds some "
        "gene in 35-52 % of the shuffles, seven to ten times what BH promises, as the "
        "reviewer's own loop found (last column; its draws differ, seed 5). The excess is not"
        " in the marginal p-values but in whole-transcriptome shifts: most shuffles find "
        "nothing (median 0-1), a few find hundreds of genes (90th percentile, and a maximum "
        "of about 2,500 in the reviewer's run). QC's inferred sex as a covariate changes the "
        "real counts but not the null rate: the shifts are not sex alone. The real counts "
        "have permutation p-values of 0.03-0.21: the cerebellum's inside the null, whatever "
        "its padj. The mixed model on GSE124439's frontal cortex finds nothing with the real "
        "labels and something in 1 of 20 shuffles (docs/methods.md has its 100-shuffle pooled"
        " rate, 10 %).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
