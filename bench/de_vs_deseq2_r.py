"""DE on alsig's own inputs: the alsig DESeq2 engine, pydeseq2 and R DESeq2 side by side.

Usage: nice -n 10 python bench/de_vs_deseq2_r.py [--datasets GSE124439 demo] [--runs 3]
                                                [--threads 2] [--skip-r] [--skip-pydeseq2]

For each dataset (GSE124439 from ../shared/data, or ``ALSIG_SHARED_DATA``; the bundled demo):

1. Ingest and QC with alsig's defaults (the dataset's ``qc:`` settings; cached in bench/work/),
   then build the DE inputs as the ``de`` stage does (:func:`alsig.stages.de.prepare_metadata`:
   QC exclusions out, the contrast's reference first; the expressed genes with counts). Every
   tool gets exactly these counts and sample table.
2. Run each tool in its own process, the three interleaved, ``--runs`` rounds (wall time and peak
   RSS of the process tree sampled every 0.2 s; in-process timings after loading):
   - alsig: :func:`alsig.deseq2.fit_deseq2`, ``results`` (Wald, Cook's and independent
     filtering), ``lfc_shrink`` and ``lrt``;
   - pydeseq2 0.5.4: ``DeseqDataSet.deseq2()`` step by step, ``DeseqStats.summary()``,
     ``lfc_shrink``;
   - R DESeq2 (``bench/de_vs_deseq2_r.R``): ``DESeq`` + ``results`` and
     ``DESeq(test = "LRT")`` + ``results``.
3. Compare alsig with pydeseq2 and with R (log2 fold changes, Wald statistics, p-values, padj
   sets, Cook's genes, independent filtering; the LRT against R; shrunken LFC against pydeseq2)
   and list every gene beyond the agreement bounds with its reason
   (``bench/results/de_vs_deseq2_r_beyond_bounds.tsv``).

Writes ``bench/results/de_vs_deseq2_r.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd
import psutil
import yaml
from scipy.stats import f as f_distribution
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's alsig, not an installed one
from alsig import settings as alsig_settings  # noqa: E402
from alsig.deseq import shutdown_workers  # noqa: E402
from alsig.deseq2 import fit_deseq2  # noqa: E402
from alsig.keys import excluded_samples  # noqa: E402
from alsig.stages.de.dataset import genes_to_test  # noqa: E402
from alsig.stages.de.design import (  # noqa: E402
    design_matrix,
    design_variables,
    prepare_metadata,
)
from alsig.stages.ingest import ingest_local  # noqa: E402
from alsig.stages.qc import run_qc  # noqa: E402
from alsig.stages.qc.tables import clean_obs  # noqa: E402

WORK = ROOT / "bench" / "work"
OUT = ROOT / "bench" / "results" / "de_vs_deseq2_r.md"
BEYOND = ROOT / "bench" / "results" / "de_vs_deseq2_r_beyond_bounds.tsv"
SHARED = Path(os.environ.get("ALSIG_SHARED_DATA", ROOT.parent / "shared" / "data"))
if not (SHARED / "PROVENANCE.md").exists() and Path("/work/shared/data/PROVENANCE.md").exists():
    SHARED = Path("/work/shared/data")  # worktrees sit one level deeper than the checkout


class DatasetSpec(TypedDict):
    """A benchmarked dataset: its config, full and reduced designs, and Wald contrast."""

    config: Path
    design: str
    reduced: str
    contrast: list[str]


DATASETS: dict[str, DatasetSpec] = {
    "GSE124439": {
        "config": ROOT / "config" / "examples" / "shared_cohorts.yaml",
        "design": "~ sex + region + condition",
        "reduced": "~ sex + region",
        "contrast": ["condition", "ALS", "control"],
    },
    "demo": {
        "config": ROOT / "config" / "config.yaml",
        "design": "~ condition",
        "reduced": "~ 1",
        "contrast": ["condition", "ALS", "control"],
    },
}
#: agreement bounds of issue 28
BOUNDS = {"r": 0.9999, "lfc_abs": 0.01, "lfc_share": 0.999, "spearman": 0.999, "jaccard": 0.995}


def run_measured(cmd: list[str], log_path: Path, env: dict | None = None) -> dict[str, float]:
    """Run ``cmd``: its wall seconds, CPU seconds and peak RSS (MB), over the process tree.

    CPU is user + sys of the process and the children it waited for; RSS is summed over the
    tree's processes, sampled every 0.2 s.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
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
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed (exit {proc.returncode}); see {log_path}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak / 1e6}


# ------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------
def dataset_settings(name: str) -> dict:
    settings = yaml.safe_load(DATASETS[name]["config"].read_text())["datasets"][name]
    for key in ("counts", "samples", "te_counts"):
        if key in settings:
            path = settings[key]
            if path.startswith("../shared/data"):
                path = str(SHARED / path.removeprefix("../shared/data/"))
            settings[key] = str((ROOT / path).resolve())
    return settings


def prepare(name: str, threads: int) -> tuple[Path, dict]:
    """Run alsig ingest + QC of ``name`` (cached)."""
    h5ad = WORK / f"{name}_qc.h5ad"
    meta = WORK / f"{name}_qc.json"
    if h5ad.exists() and meta.exists():
        return h5ad, json.loads(meta.read_text())
    WORK.mkdir(parents=True, exist_ok=True)
    settings = dataset_settings(name)
    t0 = time.perf_counter()
    adata = ingest_local(name, settings)
    t1 = time.perf_counter()
    filtered, _, summary = run_qc(
        adata, alsig_settings.complete("qc", settings.get("qc", {})), n_cpus=threads
    )
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
    }
    meta.write_text(json.dumps(info, indent=2))
    return h5ad, info


def de_inputs(name: str, h5ad: Path) -> dict:
    """Write the DE stage's inputs of ``name`` for the three tools."""
    import anndata as ad

    spec = DATASETS[name]
    adata = ad.read_h5ad(h5ad)
    excluded = excluded_samples(adata.obs)
    obs = adata.obs.loc[[s for s in adata.obs_names if s not in excluded]]
    meta, dropped = prepare_metadata(obs, spec["design"], "bench", spec["contrast"])
    s = alsig_settings.complete("de", {"design": spec["design"]})
    counts, var = genes_to_test(adata, meta, s.genes, "bench")
    counts = np.asarray(counts, dtype=np.int64)
    prefix = WORK / f"{name}_de"
    np.save(f"{prefix}_counts.npy", counts)
    meta.to_pickle(f"{prefix}_meta.pkl")
    pd.Series(var.index.astype(str)).to_csv(f"{prefix}_genes.tsv", sep="\t", index=False)
    frame = pd.DataFrame(counts.T, index=var.index.astype(str), columns=meta.index)
    frame.to_csv(f"{prefix}_counts.tsv.gz", sep="\t", index_label="gene")
    coldata = meta[design_variables(spec["design"])].astype(str)
    coldata.to_csv(f"{prefix}_coldata.tsv", sep="\t", index_label="sample")
    factor, test, ref = spec["contrast"]
    return {
        "prefix": str(prefix),
        "n_samples": int(counts.shape[0]),
        "n_genes": int(counts.shape[1]),
        "n_excluded": len(excluded),
        "n_dropped": len(dropped),
        "levels": {str(k): int(v) for k, v in meta[factor].value_counts().items()},
    }


# ------------------------------------------------------------------------------------------------
# the three jobs
# ------------------------------------------------------------------------------------------------
ALSIG_JOB = r"""
import json, sys, time
import numpy as np, pandas as pd
from alsig.deseq2 import fit_deseq2
from alsig.stages.de.design import design_matrix
prefix, design, reduced, threads, out = sys.argv[1:6]
factor, test, ref = sys.argv[6:9]
counts = np.load(prefix + "_counts.npy")
meta = pd.read_pickle(prefix + "_meta.pkl")
genes = pd.read_csv(prefix + "_genes.tsv", sep="\t").iloc[:, 0].astype(str).to_numpy()
full, small = design_matrix(meta, design), design_matrix(meta, reduced)
coefficient = f"{factor}[T.{test}]"
warm = fit_deseq2(counts[:, :64], full, n_threads=int(threads))  # numba's cache into memory
warm.results(warm.contrast_vector(factor, test, ref)); warm.lfc_shrink(coefficient)
warm.lrt(small, coefficient=coefficient)
t0 = time.perf_counter()
fit = fit_deseq2(counts, full, gene_names=genes, n_threads=int(threads))
t1 = time.perf_counter()
res = fit.results(fit.contrast_vector(factor, test, ref), alpha=0.05)
t2 = time.perf_counter()
shrunk = fit.lfc_shrink(coefficient)
t3 = time.perf_counter()
lrt = fit.lrt(small, coefficient=coefficient, alpha=0.05)
t4 = time.perf_counter()
res.table.to_parquet(out + "_wald.parquet")
lrt.table.to_parquet(out + "_lrt.parquet")
pd.DataFrame({"shrunk": shrunk.lfc / np.log(2), "evaluations": shrunk.evaluations},
             index=genes).to_parquet(out + "_shrunk.parquet")
fit.var.to_parquet(out + "_var.parquet")
print("TIMING", json.dumps({
    "fit_s": t1 - t0, "wald_s": t2 - t1, "shrink_s": t3 - t2, "lrt_s": t4 - t3,
    "phases_wall": fit.timings, "phases_cpu": fit.cpu_timings,
    "filter_cutoff": res.filtering.cutoff if res.filtering else None,
    "lrt_filter_cutoff": lrt.filtering.cutoff if lrt.filtering else None,
    "trend": list(fit.trend.coefficients), "trend_kind": fit.trend.kind,
    "prior_variance": fit.prior.variance,
}))
"""

PYDESEQ2_JOB = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.simplefilter("ignore")
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from pydeseq2.ds import DeseqStats
prefix, design, threads, out = sys.argv[1:5]
factor, test, ref = sys.argv[5:8]
counts = np.load(prefix + "_counts.npy")
meta = pd.read_pickle(prefix + "_meta.pkl")
genes = pd.read_csv(prefix + "_genes.tsv", sep="\t").iloc[:, 0].astype(str).to_numpy()
frame = pd.DataFrame(counts, index=meta.index, columns=genes)
inference = DefaultInference(n_cpus=int(threads))
dds = DeseqDataSet(counts=frame, metadata=meta, design=design, inference=inference, quiet=True)
phases = {}
steps = [
    ("size factors", lambda: dds.fit_size_factors()),
    ("genewise dispersions", dds.fit_genewise_dispersions),
    ("dispersion trend and prior", lambda: (dds.fit_dispersion_trend(), dds.fit_dispersion_prior())),
    ("MAP dispersions", dds.fit_MAP_dispersions),
    ("log fold changes", dds.fit_LFC),
    ("Cook's distances", dds.calculate_cooks),
    ("Cook's refit", dds.refit),
    ("Cook's outliers", dds.cooks_outlier),
]
t0 = time.perf_counter()
for name, step in steps:
    s = time.perf_counter(); step(); phases[name] = time.perf_counter() - s
t1 = time.perf_counter()
stats = DeseqStats(dds, contrast=[factor, test, ref], alpha=0.05, inference=inference, quiet=True)
stats.summary()
t2 = time.perf_counter()
res = stats.results_df.copy()
stats.lfc_shrink(coeff=f"{factor}[T.{test}]")
t3 = time.perf_counter()
res.to_parquet(out + "_wald.parquet")
pd.DataFrame({"shrunk": stats.results_df["log2FoldChange"].to_numpy()},
             index=genes).to_parquet(out + "_shrunk.parquet")
keep = ["_normed_means", "genewise_dispersions", "_genewise_converged", "fitted_dispersions",
        "MAP_dispersions", "_MAP_converged", "dispersions", "_outlier_genes", "replaced",
        "refitted", "_pvalue_cooks_outlier"]
var = dds.var[[c for c in keep if c in dds.var]].copy()
for c in var.columns:
    if str(var[c].dtype) == "boolean":
        var[c] = var[c].fillna(False).astype(bool)
var.to_parquet(out + "_var.parquet")
print("TIMING", json.dumps({"fit_s": t1 - t0, "wald_s": t2 - t1, "shrink_s": t3 - t2,
                            "phases_wall": phases,
                            "trend": [float(v) for v in dds.uns.get("trend_coeffs", [])],
                            "prior_variance": float(dds.uns["prior_disp_var"])}))
"""


def run_round(name: str, inputs: dict, args, round_: int) -> dict:
    """One round: alsig, pydeseq2, R, each in its own process."""
    spec = DATASETS[name]
    prefix = inputs["prefix"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    factor, test, ref = spec["contrast"]
    out: dict = {}
    jobs = [
        (
            "alsig",
            [
                sys.executable,
                "-c",
                ALSIG_JOB,
                prefix,
                spec["design"],
                spec["reduced"],
                str(args.threads),
                f"{prefix}_alsig",
                factor,
                test,
                ref,
            ],
        )
    ]
    if not args.skip_pydeseq2:
        jobs.append(
            (
                "pydeseq2",
                [
                    sys.executable,
                    "-c",
                    PYDESEQ2_JOB,
                    prefix,
                    spec["design"],
                    str(args.threads),
                    f"{prefix}_pydeseq2",
                    factor,
                    test,
                    ref,
                ],
            )
        )
    if not args.skip_r:
        r_coef = f"{factor}_{test}_vs_{ref}"
        jobs.append(
            (
                "R",
                [
                    "Rscript",
                    str(ROOT / "bench" / "de_vs_deseq2_r.R"),
                    f"{prefix}_counts.tsv.gz",
                    f"{prefix}_coldata.tsv",
                    spec["design"],
                    spec["reduced"],
                    factor,
                    test,
                    ref,
                    r_coef,
                    f"{prefix}_r",
                ],
            )
        )
    for tool, cmd in jobs:
        log = WORK / f"{name}_{tool}_round{round_}.log"
        measured: dict[str, float | str] = dict(run_measured(cmd, log, env=env))
        text = log.read_text()
        for line in text.splitlines():
            if line.startswith("TIMING "):
                measured.update(json.loads(line.split(" ", 1)[1]))
            if line.startswith("R_TIMING"):
                measured.update({k: float(v) for k, v in (t.split("=") for t in line.split()[1:])})
                measured["fit_s"] = measured["wald_s"]  # DESeq + results (timed together)
            if line.startswith("R_VERSION"):
                measured["version"] = line.split(" ", 1)[1]
        out[tool] = measured
        print(
            f"{name} round {round_} {tool}: wall {measured['wall_s']:.1f} s, "
            f"fit+tests {measured.get('fit_s', float('nan')):.2f} s",
            flush=True,
        )
    return out


# ------------------------------------------------------------------------------------------------
# agreement
# ------------------------------------------------------------------------------------------------
def agreement(ours: pd.DataFrame, ref: pd.DataFrame) -> dict:
    """Return the issue's agreement measures of ``ours`` against ``ref`` (pydeseq2 names)."""
    ref = ref.loc[ours.index]
    m: dict = {}
    for col in ("log2FoldChange", "stat"):
        ok = np.isfinite(ours[col]) & np.isfinite(ref[col])
        m[f"r_{col}"] = float(np.corrcoef(ours[col][ok], ref[col][ok])[0, 1])
    big = (
        (ref["baseMean"] >= 10)
        & np.isfinite(ours["log2FoldChange"])
        & np.isfinite(ref["log2FoldChange"])
    )
    d = (ours["log2FoldChange"] - ref["log2FoldChange"]).abs()
    m["n_big"] = int(big.sum())
    m["lfc_share"] = float((d[big] <= BOUNDS["lfc_abs"]).mean())
    m["lfc_max_abs"] = float(d[big].max())
    ok = (
        np.isfinite(ours["pvalue"])
        & np.isfinite(ref["pvalue"])
        & (ref["pvalue"] > 0)
        & (ours["pvalue"] > 0)
    )
    m["spearman"] = float(spearmanr(-np.log10(ours["pvalue"][ok]), -np.log10(ref["pvalue"][ok]))[0])
    a = set(ours.index[ours["padj"] < 0.05])
    b = set(ref.index[ref["padj"] < 0.05])
    m["n_sig"] = (len(a), len(b), len(a & b))
    m["jaccard"] = len(a & b) / len(a | b) if a | b else 1.0
    # Cook's genes: p-value removed while the gene has counts
    ca = set(ours.index[ours["pvalue"].isna() & (ours["baseMean"] > 0)])
    cb = set(ref.index[ref["pvalue"].isna() & (ref["baseMean"] > 0)])
    m["cooks"] = (len(ca), len(cb), len(ca ^ cb))
    # independent filtering: genes with a p-value but no adjusted p-value
    fa = set(ours.index[ours["pvalue"].notna() & ours["padj"].isna()])
    fb = set(ref.index[ref["pvalue"].notna() & ref["padj"].isna()])
    m["filtered"] = (len(fa), len(fb), len(fa ^ fb))
    return m


def _truthy(value) -> bool:
    """Read a flag from a table: NA is false."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return bool(value) and str(value).upper() != "FALSE"


def cooks_reason(
    gene: str, ours_var: pd.DataFrame, ref_name: str, r: pd.Series | None, cutoff: float
) -> str:
    """Why a gene's p-value is removed by Cook's filtering in one tool only."""
    v = ours_var.loc[gene]
    if ref_name == "R" and r is not None:
        max_cooks = float(r.get("maxCooks", np.nan))
        if bool(v["refitted"]) and _truthy(r.get("replace")):
            return (
                "Cook's after the refit: R recomputes the distances on the replaced counts "
                f"(max {max_cooks:.2f} > cutoff {cutoff:.2f}); pydeseq2 and alsig keep the "
                "first fit's distances of the samples not replaced"
            )
        if np.isfinite(max_cooks) and abs(max_cooks / cutoff - 1) < 0.05:
            return f"Cook's distance at the cutoff (R max {max_cooks:.3f}, cutoff {cutoff:.3f})"
    return "Cook's outlier / refit"


def reason(
    gene: str,
    ours_var: pd.DataFrame,
    ref_name: str,
    ref_var: pd.DataFrame | None,
    ours: pd.Series,
    ref: pd.Series,
) -> str:
    """Why ``gene`` differs between alsig and the reference (first matching cause)."""
    v = ours_var.loc[gene]
    r = ref_var.loc[gene] if ref_var is not None and gene in ref_var.index else None
    cooks = bool(v["refitted"] or v["replaced"] or v["cooks_outlier"])
    if r is not None:
        if ref_name == "R":
            cooks |= _truthy(r.get("replace"))
        else:
            cooks |= _truthy(r.get("refitted")) or _truthy(r.get("_pvalue_cooks_outlier"))
    if cooks:
        return "Cook's outlier / refit"
    grid = int(v["genewise_status"]) == 3 or int(v["MAP_status"]) == 3
    if r is not None and ref_name == "pydeseq2":
        grid |= not _truthy(r.get("_genewise_converged", True)) or not _truthy(
            r.get("_MAP_converged", True)
        )
    if r is not None and ref_name == "R":
        grid |= float(r.get("dispGeneIter", 0)) >= 100 or float(r.get("dispIter", 0)) >= 100
    if grid:
        return "grid fallback (a dispersion search did not converge)"
    ref_gw = None
    if r is not None:
        ref_gw = float(r["dispGeneEst"] if ref_name == "R" else r["genewise_dispersions"])
    if (
        int(v["genewise_status"]) in (1, 2, 4)
        or float(v["genewise_dispersions"]) < 1e-6
        or (ref_gw is not None and ref_gw < 1e-6)
    ):
        return "boundary dispersion (gene-wise at min_disp / flat start)"
    if r is not None:
        ref_out = _truthy(r["dispOutlier"] if ref_name == "R" else r["_outlier_genes"])
        if ref_out != bool(v["_outlier_genes"]):
            return "dispersion outlier rule (gene-wise kept in one tool only)"
    if np.isnan(ours["padj"]) != np.isnan(ref["padj"]):
        return "independent filtering threshold"
    if min(ours["padj"], ref["padj"]) < 0.05 <= max(ours["padj"], ref["padj"]) < 0.06:
        return "padj at the 0.05 boundary"
    if r is not None and ref_name == "R":
        fitted_ratio = float(v["fitted_dispersions"]) / float(r["dispFit"])
        if abs(fitted_ratio - 1) > 0.005:
            return f"dispersion trend (alsig/R fitted {fitted_ratio:.3f})"
    disp_ratio = (
        float(v["dispersions"])
        / float(r["dispersion"] if r is not None and ref_name == "R" else r["dispersions"])
        if r is not None
        else float("nan")
    )
    return f"optimiser precision (final dispersion ratio {disp_ratio:.4f})"


def design_size(name: str) -> int:
    """Coefficients of the dataset's design."""
    meta = pd.read_pickle(WORK / f"{name}_de_meta.pkl")
    return int(design_matrix(meta, DATASETS[name]["design"]).shape[1])


def replay_pydeseq2_shrinkage(
    prefix: str, spec: DatasetSpec, alsig_var: pd.DataFrame, genes
) -> str:
    """Rerun pydeseq2's own per-gene shrinkage on the genes that differ by more than 0.01.

    pydeseq2's ``utils.nbinomGLM`` with alsig's dispersions and size factors: does alsig's
    optimiser reproduce pydeseq2's given the same inputs?
    """
    if len(genes) == 0:
        return "No gene differs by more than 0.01."
    from pydeseq2.utils import nbinomGLM  # heavy, and only needed here

    counts = np.load(f"{prefix}_counts.npy")
    meta = pd.read_pickle(f"{prefix}_meta.pkl")
    names = pd.read_csv(f"{prefix}_genes.tsv", sep="\t").iloc[:, 0].astype(str).tolist()
    design = design_matrix(meta, spec["design"])
    fit = fit_deseq2(counts, design, gene_names=names)
    factor, test, _ = spec["contrast"]
    k = fit.design.coefficient_index(f"{factor}[T.{test}]")
    shrunk = fit.lfc_shrink(f"{factor}[T.{test}]")
    offset = np.log(fit.size_factors)
    worst = 0.0
    for gene in genes:
        j = names.index(gene)
        beta, _, _ = nbinomGLM(
            fit.design.matrix,
            counts[:, j].astype(float),
            1 / alsig_var.at[gene, "dispersions"],
            offset,
            15,
            shrunk.prior_scale,
            "L-BFGS-B",
            k,
        )
        worst = max(worst, abs(beta[k] / np.log(2) - shrunk.lfc[j] / np.log(2)))
    return (
        f"pydeseq2's own optimiser (`pydeseq2.utils.nbinomGLM`) rerun on these {len(genes)} genes "
        f"with alsig's dispersions and prior gives alsig's values to {worst:.1e} (largest "
        "difference): the differences come from the dispersions (which agree to ~1e-6 relative "
        "for most genes) moving L-BFGS-B's early stop, not from the shrinkage."
    )


def beyond_bounds(
    name: str,
    test: str,
    ref_name: str,
    ours: pd.DataFrame,
    ref: pd.DataFrame,
    ours_var: pd.DataFrame,
    ref_var: pd.DataFrame | None,
    cutoff: float,
    cooks_var: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """List the genes beyond the bounds, each with its reason.

    |dLFC| > 0.01 at base mean >= 10 (Wald), padj < 0.05 in one tool only, a Cook's flag in one
    tool only.
    """
    ref = ref.loc[ours.index]
    rows = []
    d = (ours["log2FoldChange"] - ref["log2FoldChange"]).abs()
    lfc_bad = (ref["baseMean"] >= 10) & (d > BOUNDS["lfc_abs"]) if test == "Wald" else d < -1
    sig_a, sig_b = ours["padj"] < 0.05, ref["padj"] < 0.05
    cooks_a = ours["pvalue"].isna() & (ours["baseMean"] > 0)
    cooks_b = ref["pvalue"].isna() & (ref["baseMean"] > 0)
    for criterion, mask in (
        ("|dLFC| > 0.01", lfc_bad),
        ("padj < 0.05 in one only", sig_a ^ sig_b),
        ("Cook's flag in one only", cooks_a ^ cooks_b),
    ):
        for gene in ours.index[mask.to_numpy()]:
            if criterion.startswith("Cook's") or bool(cooks_a[gene]) != bool(cooks_b[gene]):
                source = cooks_var if cooks_var is not None else ref_var
                row = source.loc[gene] if source is not None and gene in source.index else None
                why = cooks_reason(gene, ours_var, ref_name, row, cutoff)
            else:
                why = reason(gene, ours_var, ref_name, ref_var, ours.loc[gene], ref.loc[gene])
            rows.append(
                {
                    "dataset": name,
                    "reference": ref_name,
                    "test": test,
                    "criterion": criterion,
                    "gene": gene,
                    "base_mean": float(ref.at[gene, "baseMean"]),
                    "lfc_alsig": float(ours.at[gene, "log2FoldChange"]),
                    "lfc_reference": float(ref.at[gene, "log2FoldChange"]),
                    "padj_alsig": float(ours.at[gene, "padj"]),
                    "padj_reference": float(ref.at[gene, "padj"]),
                    "reason": why,
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------
def med(values) -> str:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "n/a"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def ok(value: float, bound: float) -> str:
    return f"{value:.5f}" + ("" if value >= bound else " **below bound**")


def dataset_section(
    name: str, prep: dict, inputs: dict, rounds: list[dict], args
) -> tuple[list[str], pd.DataFrame]:
    prefix = inputs["prefix"]
    spec = DATASETS[name]
    alsig_wald = pd.read_parquet(f"{prefix}_alsig_wald.parquet")
    alsig_lrt = pd.read_parquet(f"{prefix}_alsig_lrt.parquet")
    alsig_var = pd.read_parquet(f"{prefix}_alsig_var.parquet")
    alsig_shrunk = pd.read_parquet(f"{prefix}_alsig_shrunk.parquet")
    refs: dict[str, tuple[pd.DataFrame, pd.DataFrame | None]] = {}
    if not args.skip_pydeseq2:
        refs["pydeseq2"] = (
            pd.read_parquet(f"{prefix}_pydeseq2_wald.parquet"),
            pd.read_parquet(f"{prefix}_pydeseq2_var.parquet"),
        )
    r_lrt = None
    if not args.skip_r:
        read = lambda p: pd.read_csv(p, sep="\t", index_col=0, na_values=[""])  # noqa: E731
        refs["R"] = (read(f"{prefix}_r_wald.tsv"), read(f"{prefix}_r_mcols.tsv"))
        r_lrt = read(f"{prefix}_r_lrt.tsv")
        r_meta = read(f"{prefix}_r_meta.tsv")["value"]
    lines = [f"## {name}", ""]
    lines += [
        f"Inputs: alsig ingest + QC defaults ({prep['n_samples']} samples after QC, "
        f"{prep['n_expressed']} expressed genes); the DE stage's selection leaves "
        f"{inputs['n_samples']} samples ({inputs['n_excluded']} excluded by QC, "
        f"{inputs['n_dropped']} dropped; levels {inputs['levels']}) and {inputs['n_genes']} genes "
        f"with counts. Design `{spec['design']}`, Wald test {spec['contrast'][1]} vs "
        f"{spec['contrast'][2]}; LRT against `{spec['reduced']}`. All three tools get the same "
        "counts and sample table; each computes its own size factors.",
        "",
        "### Agreement (Wald test)",
        "",
        "| measure | alsig vs pydeseq2 | alsig vs R | pydeseq2 vs R | bound |",
        "|---|---|---|---|---|",
    ]
    stats = {k: agreement(alsig_wald, v[0]) for k, v in refs.items()}
    if "pydeseq2" in refs and "R" in refs:
        stats["pyd_R"] = agreement(refs["pydeseq2"][0], refs["R"][0])

    def cell(key: str, field: str, fmt) -> str:
        return fmt(stats[key][field]) if key in stats else "n/a"

    for label, field, fmt, bound in (
        (
            "Pearson r, log2 fold change",
            "r_log2FoldChange",
            lambda x: ok(x, BOUNDS["r"]),
            ">= 0.9999",
        ),
        ("Pearson r, Wald statistic", "r_stat", lambda x: ok(x, BOUNDS["r"]), ">= 0.9999"),
        (
            "share with abs dLFC <= 0.01, base mean >= 10",
            "lfc_share",
            lambda x: ok(x, BOUNDS["lfc_share"]),
            ">= 0.999",
        ),
        ("max abs dLFC, base mean >= 10", "lfc_max_abs", lambda x: f"{x:.4f}", ""),
        ("Spearman, -log10 p", "spearman", lambda x: ok(x, BOUNDS["spearman"]), ">= 0.999"),
        ("padj < 0.05: first / second / both", "n_sig", lambda x: f"{x[0]} / {x[1]} / {x[2]}", ""),
        ("Jaccard, padj < 0.05", "jaccard", lambda x: ok(x, BOUNDS["jaccard"]), ">= 0.995"),
        (
            "Cook's genes: first / second / differing",
            "cooks",
            lambda x: f"{x[0]} / {x[1]} / {x[2]}",
            "0 differing",
        ),
        (
            "filtered by independent filtering: first / second / differing",
            "filtered",
            lambda x: f"{x[0]} / {x[1]} / {x[2]}",
            "0 differing",
        ),
    ):
        lines.append(
            f"| {label} | {cell('pydeseq2', field, fmt)} | {cell('R', field, fmt)} | "
            f"{cell('pyd_R', field, fmt)} | {bound} |"
        )
    a0 = rounds[0]["alsig"]
    thresholds = [f"alsig {a0['filter_cutoff']:.4g}"]
    if "R" in refs:
        thresholds.append(f"R {float(r_meta['wald_filter_threshold']):.4g}")
    lines += ["", "Independent filtering base-mean cutoff: " + ", ".join(thresholds) + ".", ""]

    p = design_size(name)
    cutoff = float(f_distribution.ppf(0.99, p, inputs["n_samples"] - p))
    beyond = [
        beyond_bounds(name, "Wald", k, alsig_wald, v[0], alsig_var, v[1], cutoff)
        for k, v in refs.items()
    ]
    if "pydeseq2" in refs:
        pyd_shrunk = pd.read_parquet(f"{prefix}_pydeseq2_shrunk.parquet")["shrunk"]
        d = (alsig_shrunk["shrunk"] - pyd_shrunk).abs()
        okm = np.isfinite(d)
        replay = replay_pydeseq2_shrinkage(prefix, spec, alsig_var, d.index[d > 0.01])
        lines += [
            "### Shrunken log2 fold changes (alsig vs pydeseq2's `lfc_shrink`)",
            "",
            f"Pearson r {np.corrcoef(alsig_shrunk['shrunk'][okm], pyd_shrunk[okm])[0, 1]:.7f}; "
            f"max abs difference {d.max():.4f}; genes differing by more than 0.01: "
            f"{int((d > 0.01).sum())}, by more than 0.001: {int((d > 0.001).sum())} (pydeseq2's "
            "L-BFGS-B stops at a relative decrease of 1e-8, so the last digits of both depend on "
            "the optimiser's path; alsig runs the same iteration). L-BFGS evaluations per gene: "
            f"median {alsig_shrunk['evaluations'].median():.0f}, "
            f"99th percentile {alsig_shrunk['evaluations'].quantile(0.99):.0f}.",
            "",
            replay,
            "",
        ]
    if r_lrt is not None:
        s = agreement(alsig_lrt, r_lrt)
        lines += [
            '### Likelihood-ratio test (alsig `lrt` vs R `DESeq(test = "LRT")`)',
            "",
            "| measure | alsig vs R | bound |",
            "|---|---|---|",
            f"| Pearson r, LRT statistic | {s['r_stat']:.5f} | |",
            f"| Pearson r, log2 fold change ({spec['contrast'][0]} {spec['contrast'][1]}) | "
            f"{ok(s['r_log2FoldChange'], BOUNDS['r'])} | >= 0.9999 |",
            f"| Spearman, -log10 p | {ok(s['spearman'], BOUNDS['spearman'])} | >= 0.999 |",
            f"| padj < 0.05: alsig / R / both | {s['n_sig'][0]} / {s['n_sig'][1]} / "
            f"{s['n_sig'][2]} | |",
            f"| Jaccard, padj < 0.05 | {ok(s['jaccard'], BOUNDS['jaccard'])} | >= 0.995 |",
            f"| Cook's genes: alsig / R / differing | {s['cooks'][0]} / {s['cooks'][1]} / "
            f"{s['cooks'][2]} | 0 differing |",
            f"| filtered: alsig / R / differing | {s['filtered'][0]} / {s['filtered'][1]} / "
            f"{s['filtered'][2]} | 0 differing |",
            "",
            f"LRT filtering cutoff: alsig {a0['lrt_filter_cutoff']:.4g}, R "
            f"{float(r_meta['lrt_filter_threshold']):.4g}.",
            "",
        ]
        lrt_mcols = read(f"{prefix}_r_lrt_mcols.tsv")
        beyond.append(
            beyond_bounds(
                name, "LRT", "R", alsig_lrt, r_lrt, alsig_var, refs["R"][1], cutoff, lrt_mcols
            )
        )
    table = (
        pd.concat([b for b in beyond if len(b)], ignore_index=True)
        if any(len(b) for b in beyond)
        else pd.DataFrame()
    )
    lines += ["### Genes beyond the bounds", ""]
    if len(table):
        counts = table.groupby(["reference", "test", "criterion", "reason"]).size()
        lines += ["| reference | test | criterion | reason | genes |", "|---|---|---|---|---|"]
        for (ref_name, test, criterion, why), n in counts.items():
            lines.append(f"| {ref_name} | {test} | {criterion} | {why} | {n} |")
        lines += ["", f"Every gene with its numbers: `{BEYOND.relative_to(ROOT)}`.", ""]
    else:
        lines += ["None.", ""]
    lines += timing_section(name, rounds, args)
    return lines, table


def timing_section(name: str, rounds: list[dict], args) -> list[str]:
    tools = [t for t in ("alsig", "pydeseq2", "R") if t in rounds[0]]
    get = lambda tool, key: [r[tool].get(key) for r in rounds]  # noqa: E731
    lines = [
        "### Time and memory",
        "",
        f"Median (min-max) of {len(rounds)} interleaved rounds (alsig, pydeseq2, R in turn), each "
        f"tool in a fresh process; alsig and pydeseq2 with {args.threads} threads / workers, R "
        "single-threaded. In-process timings start after loading the inputs (alsig: after a "
        "64-gene warm-up that loads numba's compiled kernels).",
        "",
        "| tool | fit + Wald + Cook's + filtering (s) | LFC shrinkage (s) | LRT (s) | "
        "whole process (s) | peak RSS, process tree (MB) |",
        "|---|---|---|---|---|---|",
    ]
    r_version = rounds[0].get("R", {}).get("version", "").split(" ")[0].replace("=", " ")
    labels = {"alsig": "alsig engine", "pydeseq2": "pydeseq2 0.5.4", "R": f"R {r_version}"}
    for tool in tools:
        fit = (
            [a + b for a, b in zip(get(tool, "fit_s"), get(tool, "wald_s"), strict=True)]
            if (tool != "R")
            else get(tool, "wald_s")
        )
        lrt = get(tool, "lrt_s")
        lines.append(
            f"| {labels[tool]} | {med(fit)} | {med(get(tool, 'shrink_s'))} | {med(lrt)} | "
            f"{med(get(tool, 'wall_s'))} | {med(get(tool, 'peak_rss_mb'))} |"
        )
    ratios = []
    if "R" in tools:
        alsig_fit = statistics.median(r["alsig"]["fit_s"] + r["alsig"]["wald_s"] for r in rounds)
        r_fit = statistics.median(r["R"]["wald_s"] for r in rounds)
        ratios.append(f"fit + tests: R / alsig = {r_fit / alsig_fit:.1f}x")
        ratios.append(
            f"LRT: R (a second DESeq run) / alsig (reduced fit on the shared fit) = "
            f"{statistics.median(r['R']['lrt_s'] for r in rounds) / statistics.median(r['alsig']['lrt_s'] for r in rounds):.1f}x"
        )
    if "pydeseq2" in tools:
        p_fit = statistics.median(r["pydeseq2"]["fit_s"] + r["pydeseq2"]["wald_s"] for r in rounds)
        a_fit = statistics.median(r["alsig"]["fit_s"] + r["alsig"]["wald_s"] for r in rounds)
        ratios.append(f"fit + tests: pydeseq2 / alsig = {p_fit / a_fit:.1f}x")
        ratios.append(
            f"shrinkage: pydeseq2 / alsig = "
            f"{statistics.median(r['pydeseq2']['shrink_s'] for r in rounds) / statistics.median(r['alsig']['shrink_s'] for r in rounds):.1f}x"
        )
    lines += ["", "Ratios of medians: " + "; ".join(ratios) + ".", ""]
    phases = list(rounds[0]["alsig"]["phases_wall"])
    lines += [
        "Per phase (median seconds; alsig wall / CPU of all threads; pydeseq2 wall):",
        "",
        "| phase | alsig wall | alsig CPU | pydeseq2 wall |",
        "|---|---|---|---|",
    ]
    for phase in phases:
        aw = statistics.median(r["alsig"]["phases_wall"].get(phase, 0.0) for r in rounds)
        ac = statistics.median(r["alsig"]["phases_cpu"].get(phase, 0.0) for r in rounds)
        pw = (
            f"{statistics.median(r['pydeseq2']['phases_wall'].get(phase, 0.0) for r in rounds):.2f}"
            if "pydeseq2" in tools and phase in rounds[0]["pydeseq2"]["phases_wall"]
            else ""
        )
        lines.append(f"| {phase} | {aw:.3f} | {ac:.3f} | {pw} |")
    lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["GSE124439", "demo"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-r", action="store_true")
    parser.add_argument("--skip-pydeseq2", action="store_true")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the report from the last runs' saved measurements",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    sections: list[str] = []
    tables = []
    n_rounds = args.runs
    for name in args.datasets:
        saved = WORK / f"{name}_rounds.json"
        if args.report_only:
            prep, inputs, rounds = json.loads(saved.read_text())
        else:
            h5ad, prep = prepare(name, args.threads)
            inputs = de_inputs(name, h5ad)
            print(name, prep, inputs, flush=True)
            rounds = [run_round(name, inputs, args, i) for i in range(args.runs)]
            saved.write_text(json.dumps([prep, inputs, rounds]))
        n_rounds = len(rounds)
        lines, table = dataset_section(name, prep, inputs, rounds, args)
        sections += lines
        tables.append(table)
    load_after = os.getloadavg()
    header = [
        "# DE: the alsig DESeq2 engine, pydeseq2 and R DESeq2 on alsig's own inputs",
        "",
        f"Produced by `bench/de_vs_deseq2_r.py --runs {n_rounds} --threads {args.threads}` on "
        f"{time.strftime('%Y-%m-%d')} ({platform.machine()}, {os.cpu_count()} cores), run with "
        "`nice -n 10` on a machine shared with other engineers' jobs (load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after): wall times include that load; "
        "alsig's per-phase CPU seconds are the stable measure of its work.",
        "",
        "Agreement bounds (issue 28): log2 fold change and Wald statistic Pearson r >= 0.9999; "
        "abs dLFC <= 0.01 for 99.9 % of genes with base mean >= 10; Spearman of -log10 p >= 0.999; "
        "Jaccard of padj < 0.05 >= 0.995; the same Cook's genes and filtering. R and pydeseq2 "
        "differ from each other too (third column): pydeseq2 fits the trend to every gene-wise "
        "dispersion (R only to those >= 1e-6) and uses its own lowess in the filter.",
        "",
    ]
    scale = ROOT / "bench" / "results" / "deseq2_engine_scale.md"
    if scale.exists():  # the engine's DE job at 2,000 x 60,000 (bench/deseq2_engine_scale.py)
        text = scale.read_text().splitlines()
        table = [ln for ln in text if ln.startswith("|")][:9]
        sections += [
            "## The engine at scale: 2,000 samples x 60,000 genes",
            "",
            f"From `{scale.relative_to(ROOT)}` (`bench/deseq2_engine_scale.py`; its "
            "header says when and under what load):",
            "",
            *table,
            "",
        ]
    OUT.write_text("\n".join(header + sections))
    tables = [t for t in tables if len(t)]
    if tables:
        pd.concat(tables, ignore_index=True).to_csv(
            BEYOND, sep="\t", index=False, float_format="%.6g"
        )
    print("\n".join(header + sections))


if __name__ == "__main__":
    main()
