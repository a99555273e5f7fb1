"""alsig DE (pydeseq2) vs R DESeq2 on GSE124439: agreement, wall time and peak memory.

Usage: python bench/de_vs_deseq2_r.py [--threads 2] [--design "~ sex + region + condition"]

1. Ingest GSE124439 from ../shared/data (config/examples/shared_cohorts.yaml) and run alsig QC
   with default settings (cached in bench/work/GSE124439_qc.h5ad).
2. Write the expressed genes' counts and the sample table for R (bench/work/).
3. Run the DE step of each tool in its own process, timing wall clock and sampling the resident
   memory of the whole process tree (pydeseq2's joblib workers included) every 0.2 s:
   - alsig: ``alsig.stages.de.run_de`` (reads the QC h5ad; fit + Wald test + LFC shrinkage);
   - R: ``bench/de_vs_deseq2_r.R`` (DESeq2 ``DESeq`` + ``results`` + ``lfcShrink(type="normal")``;
     type="apeglm", the estimator pydeseq2 follows, needs the apeglm package, not in Debian).
   Both fit all 176 samples (ALS, control, other) with the same design and test ALS vs control.
4. Compare MLE log2 fold changes (Pearson r), padj < 0.05 sets (Jaccard), Wald statistics.
   Writes bench/results/de_vs_deseq2_r.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
OUT = ROOT / "bench" / "results" / "de_vs_deseq2_r.md"
CONFIG = ROOT / "config" / "examples" / "shared_cohorts.yaml"
DATASET = "GSE124439"
CONTRAST = ["condition", "ALS", "control"]


def run_measured(cmd: list[str], log_path: Path) -> dict[str, float]:
    """Run ``cmd``; wall seconds and peak RSS (MB) summed over the process tree."""
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        parent = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                procs = [parent, *parent.children(recursive=True)]
                rss = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        rss += p.memory_info().rss
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.2)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed (exit {proc.returncode}); see {log_path}")
    return {"wall_s": wall, "peak_rss_mb": peak / 1e6}


def prepare(threads: int) -> tuple[Path, dict]:
    import anndata as ad

    from alsig.deseq import shutdown_workers
    from alsig.settings import complete
    from alsig.stages.ingest import ingest_local
    from alsig.stages.qc import run_qc
    from alsig.stages.qc.tables import clean_obs

    h5ad = WORK / f"{DATASET}_qc.h5ad"
    meta = WORK / f"{DATASET}_qc.json"
    if h5ad.exists() and meta.exists():
        return h5ad, json.loads(meta.read_text())
    WORK.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load(CONFIG.read_text())["datasets"][DATASET]
    for key in ("counts", "samples"):
        settings[key] = str((ROOT / settings[key]).resolve())
    t0 = time.perf_counter()
    adata = ingest_local(DATASET, settings)
    t1 = time.perf_counter()
    filtered, _, summary = run_qc(adata, complete("qc"), n_cpus=threads)
    shutdown_workers()
    t2 = time.perf_counter()
    filtered.obs = clean_obs(filtered.obs)
    filtered.write_h5ad(h5ad)
    info = {
        "ingest_s": t1 - t0,
        "qc_s": t2 - t1,
        "n_samples": int(filtered.n_obs),
        "n_genes": int(filtered.n_vars),
        "n_expressed": int(filtered.var["expressed"].sum()),
        "qc_flagged": summary["n_samples_flagged"],
        "vst": summary["normalisation"],
    }
    meta.write_text(json.dumps(info, indent=2))
    _ = ad  # anndata imported for its side effect of registering readers
    return h5ad, info


def export_for_r(h5ad: Path, design_vars: list[str]) -> tuple[Path, Path]:
    import anndata as ad
    import pandas as pd

    adata = ad.read_h5ad(h5ad)
    expressed = adata.var["expressed"].to_numpy(bool)
    counts = np.asarray(adata.X[:, expressed])
    frame = pd.DataFrame(counts.T, index=adata.var_names[expressed], columns=adata.obs_names)
    counts_path = WORK / f"{DATASET}_expressed_counts.tsv.gz"
    frame.to_csv(counts_path, sep="\t", index_label="gene", compression="gzip")
    coldata = adata.obs[design_vars].astype(str)
    coldata_path = WORK / f"{DATASET}_coldata.tsv"
    coldata.to_csv(coldata_path, sep="\t", index_label="sample")
    return counts_path, coldata_path


ALSIG_SNIPPET = """
import json, sys, time, anndata as ad
from alsig.settings import Contrast, complete
from alsig.stages.de import run_de
t0 = time.perf_counter()
adata = ad.read_h5ad(sys.argv[1])
table, summary = run_de(adata, Contrast("ALS_vs_control", *{contrast!r}),
                        complete("de", {{"design": {design!r}}}), n_cpus={threads})
table.write_parquet(sys.argv[2])
print("ALSIG_SUMMARY", json.dumps(summary))
print("ALSIG_TOTAL_S", time.perf_counter() - t0)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--design", default="~ sex + region + condition")
    parser.add_argument("--skip-r", action="store_true", help="reuse the last R result")
    args = parser.parse_args()

    h5ad, prep = prepare(args.threads)
    print("prepared", prep, flush=True)
    from alsig.stages.de.design import design_variables

    design_vars = design_variables(args.design)
    alsig_out = WORK / f"{DATASET}_alsig_de.parquet"
    snippet = ALSIG_SNIPPET.format(contrast=CONTRAST, design=args.design, threads=args.threads)
    alsig_log = WORK / "alsig_de.log"
    alsig_m = run_measured([sys.executable, "-c", snippet, str(h5ad), str(alsig_out)], alsig_log)
    print("alsig", alsig_m, flush=True)
    summary_line = [ln for ln in alsig_log.read_text().splitlines() if ln.startswith("ALSIG_SUM")]
    alsig_summary = json.loads(summary_line[-1].split(" ", 1)[1])

    r_out = WORK / f"{DATASET}_deseq2_r.tsv"
    r_log = WORK / "deseq2_r.log"
    r_meta = WORK / "deseq2_r_measure.json"
    if args.skip_r and r_out.exists() and r_meta.exists():
        r_m = json.loads(r_meta.read_text())
    else:
        counts_path, coldata_path = export_for_r(h5ad, design_vars)
        r_m = run_measured(
            [
                "Rscript",
                str(ROOT / "bench" / "de_vs_deseq2_r.R"),
                str(counts_path),
                str(coldata_path),
                args.design,
                *CONTRAST,
                str(r_out),
            ],
            r_log,
        )
        r_text = r_log.read_text()
        for line in r_text.splitlines():
            if line.startswith("R_TIMING"):
                r_m.update({k: float(v) for k, v in (t.split("=") for t in line.split()[1:])})
            if line.startswith("R_VERSION"):
                r_m["version"] = line.split(" ", 1)[1]
        r_meta.write_text(json.dumps(r_m))
    print("R", r_m, flush=True)

    ours = pl.read_parquet(alsig_out)
    ref = pl.read_csv(r_out, separator="\t", null_values=[""], infer_schema_length=100000)
    joined = ours.join(ref, on="symbol", suffix="_r", how="inner")
    both = joined.filter(
        pl.col("log2_fold_change").is_finite() & pl.col("log2_fold_change_r").is_finite()
    )
    r_lfc = float(np.corrcoef(both["log2_fold_change"], both["log2_fold_change_r"])[0, 1])
    nan = float("nan")
    shrunk = (
        joined.filter(
            pl.col("log2_fold_change_shrunk").is_finite()
            & pl.col("log2_fold_change_shrunk_r").is_finite()
        )
        if "log2_fold_change_shrunk_r" in joined.columns
        else joined.clear()
    )
    r_shrunk = (
        float(
            np.corrcoef(shrunk["log2_fold_change_shrunk"], shrunk["log2_fold_change_shrunk_r"])[
                0, 1
            ]
        )
        if shrunk.height > 2
        else nan
    )
    st = joined.filter(pl.col("stat").is_finite() & pl.col("stat_r").is_finite())
    r_stat = float(np.corrcoef(st["stat"], st["stat_r"])[0, 1])
    max_abs_lfc = float((both["log2_fold_change"] - both["log2_fold_change_r"]).abs().max())
    sig_ours = set(ours.filter(pl.col("padj") < 0.05)["symbol"].to_list())
    sig_ref = set(ref.filter(pl.col("padj") < 0.05)["symbol"].to_list())
    union = sig_ours | sig_ref
    jaccard = len(sig_ours & sig_ref) / len(union) if union else 1.0
    padj_na_ours = int(ours["padj"].is_null().sum())
    padj_na_ref = int(ref["padj"].is_null().sum())

    s = alsig_summary
    lines = [
        "# DE: alsig (pydeseq2) vs R DESeq2 on GSE124439",
        "",
        f"Produced by `bench/de_vs_deseq2_r.py --threads {args.threads}` on "
        f"{time.strftime('%Y-%m-%d')} (2-core VM shared with other jobs; timings are indicative).",
        "",
        f"Data: GSE124439 from `../shared/data` (ingest + alsig QC defaults): {prep['n_samples']} "
        f"samples, {prep['n_genes']} genes, {prep['n_expressed']} expressed (filterByExpr-like) "
        "genes tested by both tools. Design "
        f"`{args.design}`, contrast ALS vs control (all samples fitted, incl. 'other' neurological "
        f"controls; ALS {s['n_test']}, control {s['n_reference']}). Both tools get the same "
        "counts; each computes its own size factors (median of ratios).",
        "",
        "## Agreement",
        "",
        "| metric | value | target |",
        "|---|---|---|",
        f"| genes compared | {joined.height} | |",
        f"| Pearson r, MLE log2 fold change | {r_lfc:.5f} | >= 0.999 |",
        f"| max abs difference, log2 fold change | {max_abs_lfc:.4f} | |",
        f"| Pearson r, Wald statistic | {r_stat:.5f} | |",
        f"| padj < 0.05: alsig / R / both | {len(sig_ours)} / {len(sig_ref)} / "
        f"{len(sig_ours & sig_ref)} | |",
        f"| Jaccard of padj < 0.05 sets | {jaccard:.4f} | >= 0.98 |",
        f"| padj NA (Cook's / independent filtering): alsig / R | {padj_na_ours} / "
        f"{padj_na_ref} | |",
        "",
        "## Time and memory of the DE step (separate processes)",
        "",
        "| tool | threads | wall time (s) | of which fit (s) | peak RSS, process tree (MB) |",
        "|---|---|---|---|---|",
        f"| alsig `run_de` (pydeseq2 0.5.4, incl. LFC shrinkage) | {args.threads} | "
        f"{alsig_m['wall_s']:.1f} | {s['fit_seconds']:.1f} | {alsig_m['peak_rss_mb']:.0f} |",
        f'| R DESeq2 {r_m.get("version", "")} (`DESeq` + `results` + `lfcShrink(type="normal")`)'
        f" | 1 | {r_m['wall_s']:.1f} "
        f"| {r_m.get('fit_s', nan) + r_m.get('shrink_s', nan):.1f} | {r_m['peak_rss_mb']:.0f} |",
        "",
        f"alsig fit breakdown: model fit (size factors, dispersions, LFC, Cook's refit) "
        f"{s['fit_model_seconds']:.1f} s, Wald test + filtering {s['wald_seconds']:.1f} s, LFC "
        f"shrinkage {s['shrink_seconds']:.1f} s (apeglm-like prior). R: DESeq + results "
        f"{r_m.get('fit_s', nan):.1f} s, lfcShrink (normal prior; apeglm is not packaged for "
        f"Debian) {r_m.get('shrink_s', nan):.1f} s. Shrunken LFC Pearson r alsig vs R: "
        f"{r_shrunk:.4f} (different priors: indicative only).",
        "",
        f"Like for like (model fit + Wald test, no shrinkage): alsig "
        f"{s['fit_model_seconds'] + s['wald_seconds']:.1f} s vs R "
        f"{r_m.get('fit_s', float('nan')):.1f} s.",
        "",
        "Wall time includes interpreter start-up and reading the input (alsig: the QC h5ad; R: "
        "the expressed-gene count TSV). 'fit' is the model fit + tests (alsig: also the "
        "shrinkage). Peak RSS sums the process and its children (pydeseq2's joblib workers), "
        "sampled every 0.2 s.",
        "",
        "## GSE124439 DE summary (alsig)",
        "",
        f"ALS vs control, `{args.design}`: {s['n_genes_tested']} genes tested, "
        f"{s['n_significant']} at padj < 0.05 ({s['n_up']} up, {s['n_down']} down); "
        f"{s['n_cooks_refitted']} genes with Cook's outliers replaced and refitted. "
        f"QC (defaults): {prep['qc_flagged']} samples flagged (none excluded); QC step "
        f"{prep['qc_s']:.1f} s, ingest {prep['ingest_s']:.1f} s.",
        "",
    ]
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
