"""Repeated donors in DE: error rates, power, speed and real-data readings of alsig.voom.

Usage: python bench/repeated_donors.py <part> [--threads 2]

Parts (each writes bench/work/repeated/<part>.json; ``report`` assembles
bench/results/repeated_donors.md from whatever parts exist):

* ``null-sim``: 5 simulated nulls (alsig.toy.toy_cohort: 12 donors x 3 regions, per-gene donor
  SD drawn from a gamma distribution, no condition effect), ``~ sex + region + condition``:
  dream, dupcor, voom without blocking and pydeseq2 (all samples as independent).
* ``power``: 5 simulations with 5 % of genes at |log2FC| 0.5: dream on all samples vs pydeseq2
  on one sample per donor (frontal), true genes found at an observed FDR <= 0.05.
* ``null-real``: GSE124439 (alsig's QC'd input, as bench/de_vs_deseq2_r.py builds it) with the
  condition label permuted over whole donors, 20 permutations, ALS vs control: pooled p-value
  deciles of dream (and dupcor, voom without blocking). ``null-real-pcs``: the same with QC's
  first three expression PCs in the design (a donor-level latent factor, see the report).
* ``speed``: dream and dupcor on GSE124439 ALS vs control with per-phase timings, and pydeseq2
  (alsig.stages.de.run_de) on the same input.
* ``real``: dream on GSE124439 (ALS vs control) and GSE67196 (cerebellum + frontal cortex):
  DE genes, top genes, consensus correlation, most donor-correlated genes.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
PARTS = WORK / "repeated"
OUT = ROOT / "bench" / "results" / "repeated_donors.md"
CONFIG = ROOT / "config" / "examples" / "shared_cohorts.yaml"
SHARED = Path(os.environ.get("ALSIG_SHARED_DATA", ROOT.parent / "shared" / "data"))
if not SHARED.exists():
    SHARED = Path("/work/shared/data")
REGIONS = ("frontal", "motor", "spinal")
N_SIM = 5


# --------------------------------------------------------------------------- inputs


def qc_input(dataset: str, threads: int):
    """Load a shared cohort QC'd (ingest + alsig QC defaults), cached in bench/work."""
    import anndata as ad

    from alsig.deseq import shutdown_workers
    from alsig.settings import complete
    from alsig.stages import qc
    from alsig.stages.ingest import ingest_local
    from alsig.stages.qc.tables import clean_obs

    h5ad = WORK / f"{dataset}_qc.h5ad"
    if h5ad.exists():
        return ad.read_h5ad(h5ad)
    WORK.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load(CONFIG.read_text())["datasets"][dataset]
    for key in ("counts", "samples", "te_counts"):
        if key in settings:
            settings[key] = str(SHARED / Path(settings[key]).relative_to("../shared/data"))
    adata = ingest_local(dataset, settings)
    filtered, _, _ = qc.run_qc(adata, complete("qc"), n_cpus=threads)
    shutdown_workers()
    filtered.obs = clean_obs(filtered.obs)
    filtered.write_h5ad(h5ad)
    return filtered


def stage_inputs(adata, design: str, contrast: tuple[str, str, str]):
    """Prepare what the DE stage fits: samples QC keeps, checked design, expressed genes."""
    from alsig.keys import excluded_samples
    from alsig.stages.de.dataset import genes_to_test
    from alsig.stages.de.design import design_matrix, prepare_metadata

    excluded = excluded_samples(adata.obs)
    obs = adata.obs.loc[[s for s in adata.obs_names if s not in excluded]]
    meta, _ = prepare_metadata(obs, design, "bench", contrast)
    counts, var = genes_to_test(adata, meta, "expressed", "bench")
    X = design_matrix(meta, design).astype(float)
    X.index = meta.index
    frame = pd.DataFrame(counts, index=meta.index, columns=var.index.astype(str))
    subjects = obs.loc[meta.index, "subject"].astype(str).to_numpy()
    return frame, X, subjects, meta


def simulate(
    seed: int,
    *,
    de_fraction: float = 0.0,
    de_log2fc: float = 0.5,
    n_donors: tuple[int, int] = (6, 6),
    donor_sd: float = 0.5,
):
    """Donors x 3 regions with per-gene donor SD; expressed genes only."""
    from alsig.toy import toy_cohort

    adata = toy_cohort(
        n_donors=n_donors,
        regions=REGIONS,
        n_genes=4000,
        seed=seed,
        donor_sd=donor_sd,
        donor_sd_spread=1.0,
        region_log2fc=0.3,
        de_fraction=de_fraction,
        de_log2fc=de_log2fc,
    )
    counts = np.asarray(adata.X)
    adata = adata[:, (counts >= 10).sum(axis=0) >= 6].copy()
    adata.obs["condition"] = pd.Categorical(adata.obs["condition"], ["control", "ALS"])
    return adata


def design_of(obs: pd.DataFrame, formula: str) -> pd.DataFrame:
    from alsig.stages.de.design import design_matrix

    X = design_matrix(obs, formula).astype(float)
    X.index = obs.index
    return X


def pydeseq2_pvalues(adata, formula: str) -> pd.DataFrame:
    """pydeseq2 through alsig's DE stage (samples independent); p and padj per gene."""
    from alsig.settings import complete
    from alsig.stages.de import run_de

    obs = adata.obs.copy()
    obs["condition"] = obs["condition"].astype(str)
    sub = adata.copy()
    sub.obs = obs
    settings = complete(
        "de",
        {
            "design": formula,
            "lfc_shrink": False,
            "contrasts": {"null": ["condition", "ALS", "control"]},
        },
    )
    table, _ = run_de(sub, settings.contrast("null"), settings, n_cpus=2)
    return table.to_pandas().set_index("symbol")[["pvalue", "padj"]]


def rates(p: np.ndarray, padj: np.ndarray) -> dict[str, float]:
    p = np.asarray(p, dtype=float)
    padj = np.asarray(padj, dtype=float)
    ok = np.isfinite(p)
    return {
        "p05": float(np.mean(p[ok] < 0.05) * 100),
        "padj05": float(np.nanmean(np.where(np.isfinite(padj), padj < 0.05, False)) * 100),
    }


def save(part: str, payload: dict) -> None:
    PARTS.mkdir(parents=True, exist_ok=True)
    payload["date"] = time.strftime("%Y-%m-%d %H:%M")
    payload["load_average"] = os.getloadavg()
    (PARTS / f"{part}.json").write_text(json.dumps(payload, indent=2, default=float))
    print(json.dumps(payload, indent=2, default=float)[:4000], flush=True)


# --------------------------------------------------------------------------- parts


def null_sim(threads: int) -> None:
    from alsig.voom import fit_repeated

    rows = []
    for i in range(N_SIM):
        seed = 1000 + i
        adata = simulate(seed)
        X = design_of(adata.obs, "~ sex + region + condition")
        counts = pd.DataFrame(np.asarray(adata.X), index=adata.obs_names, columns=adata.var_names)
        subjects = adata.obs["subject"].to_numpy()
        row: dict[str, Any] = {"seed": seed, "n_genes": int(adata.n_vars)}
        for method in ("dream", "dupcor", "lm"):
            began = time.perf_counter()
            fit = fit_repeated(
                counts,
                X,
                subjects,
                contrast="condition[T.ALS]",
                method=method,
                consensus=False,
                threads=threads,
            )
            row[method] = rates(fit.table["pvalue"], fit.table["padj"])
            row[method]["seconds"] = time.perf_counter() - began
            if method == "dupcor":
                row[method]["consensus"] = fit.summary["consensus_correlation"]
            if method == "dream":
                table = fit.table.join(adata.var[["donor_sd"]])
                q = pd.qcut(table["donor_sd"], 5, labels=False)
                row[method]["p05_by_donor_sd_quintile"] = [
                    float((table["pvalue"][q == k] < 0.05).mean() * 100) for k in range(5)
                ]
                row[method]["p05_donor_variance_zero"] = float(
                    (table["pvalue"][table["subject_variance_zero"]] < 0.05).mean() * 100
                )
                row[method]["share_donor_variance_zero"] = float(
                    table["subject_variance_zero"].mean() * 100
                )
        began = time.perf_counter()
        deseq = pydeseq2_pvalues(adata, "~ sex + region + condition")
        row["pydeseq2"] = rates(deseq["pvalue"], deseq["padj"])
        row["pydeseq2"]["seconds"] = time.perf_counter() - began
        rows.append(row)
        print(row, flush=True)
    save("null-sim", {"datasets": rows})


def observed_fdr_hits(pvalue: pd.Series, truth: pd.Series, fdr: float = 0.05) -> int:
    """Count the true genes in the longest p-value-ranked list whose observed FDP is <= fdr."""
    order = pvalue.dropna().sort_values(kind="stable").index
    hits = truth.reindex(order).fillna(False).to_numpy(bool)
    tp = np.cumsum(hits)
    fdp = (np.arange(1, len(hits) + 1) - tp) / np.arange(1, len(hits) + 1)
    ok = np.flatnonzero(fdp <= fdr)
    return int(tp[ok[-1]]) if ok.size else 0


class Scenario(TypedDict):
    """Keyword arguments of :func:`simulate` that a power scenario sets."""

    n_donors: tuple[int, int]
    donor_sd: float


#: power scenarios: the null's design, and a larger cohort with smaller donor effects
POWER_SCENARIOS: dict[str, Scenario] = {
    "6+6 donors, donor SD 0.5": {"n_donors": (6, 6), "donor_sd": 0.5},
    "20+20 donors, donor SD 0.3": {"n_donors": (20, 20), "donor_sd": 0.3},
}


def power(threads: int) -> None:
    from alsig.voom import fit_repeated

    rows = []
    for scenario, params in POWER_SCENARIOS.items():
        for i in range(N_SIM):
            seed = 2000 + i
            adata = simulate(seed, de_fraction=0.05, de_log2fc=0.5, **params)
            truth = adata.var["is_de"]
            X = design_of(adata.obs, "~ sex + region + condition")
            counts = pd.DataFrame(
                np.asarray(adata.X), index=adata.obs_names, columns=adata.var_names
            )
            fit = fit_repeated(
                counts,
                X,
                adata.obs["subject"].to_numpy(),
                contrast="condition[T.ALS]",
                consensus=False,
                threads=threads,
            )
            one = adata[adata.obs["region"] == "frontal"].copy()
            deseq_one = pydeseq2_pvalues(one, "~ sex + condition")
            deseq_all = pydeseq2_pvalues(adata, "~ sex + region + condition")
            row: dict[str, Any] = {
                "scenario": scenario,
                "seed": seed,
                "n_genes": int(adata.n_vars),
                "n_true": int(truth.sum()),
                "n_samples": int(adata.n_obs),
            }
            for name, table in (
                ("dream", fit.table),
                ("pydeseq2_one_per_donor", deseq_one),
                ("pydeseq2_all_samples", deseq_all),
            ):
                called = table.index[table["padj"] < 0.05]
                top = table["pvalue"].dropna().sort_values(kind="stable").index[: row["n_true"]]
                row[name] = {
                    "true_at_observed_fdr_05": observed_fdr_hits(table["pvalue"], truth),
                    "true_in_top_n_true": int(truth.reindex(top).sum()),
                    "called_padj05": int(len(called)),
                    "true_called_padj05": int(truth.reindex(called).sum()),
                    "fdp_padj05": float(1 - truth.reindex(called).mean()) if len(called) else 0.0,
                }
            rows.append(row)
            print(row, flush=True)
    save("power", {"datasets": rows})


def donor_permutation(meta: pd.DataFrame, subjects: np.ndarray, rng) -> pd.Series:
    """Condition permuted over whole donors (each donor keeps one label for all its samples)."""
    per_donor = pd.Series(meta["condition"].astype(str).to_numpy(), index=subjects)
    per_donor = per_donor.groupby(level=0).first()
    shuffled = pd.Series(rng.permutation(per_donor.to_numpy()), index=per_donor.index)
    return pd.Series(shuffled.reindex(subjects).to_numpy(), index=meta.index)


def null_real(
    threads: int,
    covariates: tuple[str, ...] = (),
    n_permutations: int = 20,
    methods: tuple[str, ...] = ("dream", "dupcor", "lm"),
    part: str = "",
) -> None:
    """Donor-permuted nulls of GSE124439; ``covariates`` (QC's PCs) join the design.

    ``n_permutations`` permutations (the first 20 are the same for any count: one seeded stream);
    each permutation's decile shares are saved so the spread over permutations can be read.
    """
    from alsig.voom import fit_repeated, subjects_with_conflicts

    adata = qc_input("GSE124439", threads)
    counts, _, subjects, meta = stage_inputs(
        adata, "~ sex + region + condition", ("condition", "ALS", "control")
    )
    conflicts = subjects_with_conflicts(subjects, meta["condition"])
    assert not conflicts, conflicts
    formula = "~ sex + region + " + "".join(f"{c} + " for c in covariates) + "condition"
    rng = np.random.default_rng(20240)
    pooled: dict[str, list[np.ndarray]] = {method: [] for method in methods}
    per_perm = []
    for k in range(n_permutations):
        permuted = meta.copy()
        for column in covariates:
            permuted[column] = adata.obs.loc[meta.index, column].astype(float)
        labels = donor_permutation(meta, subjects, rng)
        permuted["condition"] = pd.Categorical(labels, ["control", "ALS", "other"])
        X = design_of(permuted, formula)
        pc1 = adata.obs.loc[meta.index, "PC1"].astype(float)
        row: dict[str, Any] = {
            "permutation": k,
            "pc1_control_minus_als": float(
                pc1[labels == "control"].mean() - pc1[labels == "ALS"].mean()
            ),
        }
        for method in pooled:
            fit = fit_repeated(
                counts,
                X,
                subjects,
                contrast="condition[T.ALS]",
                method=method,
                consensus=False,
                threads=threads,
            )
            pooled[method].append(fit.table["pvalue"].to_numpy())
            row[method] = rates(fit.table["pvalue"], fit.table["padj"])
            row[f"{method}_deciles"] = decile_shares(fit.table["pvalue"].to_numpy())
        per_perm.append(row)
        print(row, flush=True)
    deciles = {method: decile_shares(np.concatenate(parts)) for method, parts in pooled.items()}
    save(
        part or ("null-real" + ("-pcs" if covariates else "")),
        {
            "n_genes": int(counts.shape[1]),
            "n_samples": int(counts.shape[0]),
            "design": formula,
            "deciles": deciles,
            "permutations": per_perm,
        },
    )


def decile_shares(p: np.ndarray) -> list[float]:
    """Share (%) of the finite p-values in each decile."""
    p = np.asarray(p, dtype=float)
    hist = np.histogram(p[np.isfinite(p)], bins=np.linspace(0, 1, 11))[0]
    return (hist / hist.sum() * 100).tolist()


def null_real_spread() -> str:
    """Return the pooled deciles at 20 and at 100 donor permutations (dream) as Markdown.

    With a bootstrap over permutations: genes within a permutation are correlated, so the
    permutation is the unit of resampling.
    """
    payload = json.loads((PARTS / "null-real-100.json").read_text())
    per = np.array([row["dream_deciles"] for row in payload["permutations"]])
    rng = np.random.default_rng(1)
    lines = [
        "| permutations | 0-10 % | 10-20 % | 20-30 % | 80-90 % | 90-100 % | max deviation | "
        "first decile, 95 % bootstrap interval over permutations |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in (20, len(per)):
        pooled = per[:n].mean(axis=0)  # equal genes per permutation: the pooled histogram
        boot = [per[rng.integers(0, n, n)].mean(axis=0)[0] for _ in range(2000)]
        low, high = np.percentile(boot, [2.5, 97.5])
        cells = " | ".join(f"{pooled[i]:.1f}" for i in (0, 1, 2, 8, 9))
        deviation = np.abs(pooled - 10).max()
        lines.append(f"| {n} | {cells} | {deviation:.1f} | {low:.1f} - {high:.1f} |")
    firsts = per[:, 0]
    lines.append("")
    lines.append(
        f"Per permutation, the first decile ranges {firsts.min():.1f} - {firsts.max():.1f} % "
        f"(median {np.median(firsts):.1f}); {int((firsts > 15).sum())} of {len(firsts)} "
        "permutations put more than 15 % of genes there."
    )
    return "\n".join(lines)


def speed(threads: int) -> None:
    from alsig.settings import complete
    from alsig.stages.de import run_de
    from alsig.voom import fit_repeated

    adata = qc_input("GSE124439", threads)
    began = time.perf_counter()
    counts, X, subjects, meta = stage_inputs(
        adata, "~ sex + region + condition", ("condition", "ALS", "control")
    )
    prep = time.perf_counter() - began
    out: dict[str, Any] = {
        "n_samples": int(counts.shape[0]),
        "n_genes": int(counts.shape[1]),
        "prepare_s": prep,
        "threads": threads,
    }
    # first call compiles nothing (numba caches to disk) but warms the import of statsmodels
    fit_repeated(counts.iloc[:, :200], X, subjects, contrast="condition[T.ALS]", threads=threads)
    for method in ("dream", "dupcor"):
        began = time.perf_counter()
        fit = fit_repeated(
            counts,
            X,
            subjects,
            contrast="condition[T.ALS]",
            method=method,
            groups=meta["condition"],
            threads=threads,
        )
        out[method] = {
            "wall_s": time.perf_counter() - began,
            "phases": fit.seconds,
            "n_significant": int(fit.summary["n_significant"]),
        }
        print(method, out[method], flush=True)
    began = time.perf_counter()
    settings = complete("de", {"design": "~ sex + region + condition", "lfc_shrink": False})
    _, deseq = run_de(adata, settings.contrast("ALS_vs_control"), settings, n_cpus=threads)
    out["pydeseq2_no_shrink_s"] = time.perf_counter() - began
    out["pydeseq2_n_significant"] = int(deseq["n_significant"])
    save("speed", out)


def _reading(adata, design, contrast, f_coefficients, threads, name: str) -> dict:
    from alsig.voom import fit_repeated, repeated_model

    counts, X, subjects, meta = stage_inputs(adata, design, contrast)
    method, reason = repeated_model("auto", subjects)
    coefficient = f"{contrast[0]}[T.{contrast[1]}]"
    fit = fit_repeated(
        counts,
        X,
        subjects,
        contrast=coefficient,
        method=method,
        f_coefficients=f_coefficients,
        groups=meta[contrast[0]],
        threads=threads,
    )
    table = fit.table
    sig = table[table["padj"] < 0.05]
    icc = table.sort_values("icc", ascending=False)
    fit.table.to_csv(WORK / f"{name}_dream.tsv.gz", sep="\t")
    dupcor = fit_repeated(
        counts, X, subjects, contrast=coefficient, method="dupcor", threads=threads
    )
    dsig = dupcor.table[dupcor.table["padj"] < 0.05]
    # cross-check at the donor level: counts summed per donor, voom + limma, one row per donor
    donor_meta = meta.assign(_subject=subjects).groupby("_subject", observed=True).first()
    donor_formula = "~ " + " + ".join(
        v for v in ("sex", contrast[0]) if v in design and v in donor_meta
    )
    donor_meta[contrast[0]] = pd.Categorical(
        donor_meta[contrast[0]].astype(str), meta[contrast[0]].cat.categories
    )
    summed = counts.groupby(subjects).sum().loc[donor_meta.index]
    pseudo = fit_repeated(
        summed,
        design_of(donor_meta, donor_formula),
        donor_meta.index.to_numpy(),
        contrast=coefficient,
        method="lm",
    )
    both = table.join(pseudo.table[["stat"]], rsuffix="_pseudobulk")
    return {
        "pvalue_share_05": float((table["pvalue"] < 0.05).mean()),
        "min_padj": float(table["padj"].min()),
        "pi0_estimate": float(min(1.0, 2 * (table["pvalue"] > 0.5).mean())),
        "top_by_p": [
            [
                g,
                round(r.log2_fold_change, 3),
                float(f"{r.pvalue:.3g}"),
                float(f"{r.padj:.3g}"),
                round(r.icc, 3),
            ]
            for g, r in table.head(12).iterrows()
        ],
        "pseudobulk": {
            "design": donor_formula,
            "n_donors": int(len(donor_meta)),
            "n_significant": int((pseudo.table["padj"] < 0.05).sum()),
            "pvalue_share_05": float((pseudo.table["pvalue"] < 0.05).mean()),
            "t_correlation_with_dream": float(
                np.corrcoef(both["stat"], both["stat_pseudobulk"])[0, 1]
            ),
            "top": [[g, float(f"{r.padj:.3g}")] for g, r in pseudo.table.head(8).iterrows()],
        },
        "design": design,
        "contrast": list(contrast),
        "auto": [method, reason],
        "summary": fit.summary,
        "top_genes": [
            [g, round(r.log2_fold_change, 3), float(f"{r.padj:.3g}"), round(r.icc, 3)]
            for g, r in sig.head(20).iterrows()
        ],
        "top_icc": [
            [g, round(r.icc, 3), round(r.ave_log_cpm, 2)] for g, r in icc.head(25).iterrows()
        ],
        "icc_of": {
            g: round(float(table.loc[g, "icc"]), 3)
            for g in (
                "GSTM1",
                "HLA-DRB5",
                "HLA-DRB4",
                "HLA-DQA1",
                "HLA-DQB1",
                "UTY",
                "XIST",
                "ERAP2",
                "GSTT1",
                "CYP2D6",
                "NBPF3",
                "PSPHP1",
                "ZNF890P",
                "LILRA3",
            )
            if g in table.index
        },
        "dupcor": {
            "n_significant": int(len(dsig)),
            "consensus": dupcor.summary["consensus_correlation"],
            "overlap_with_dream": int(len(set(dsig.index) & set(sig.index))),
        },
        "f_top": (
            fit.f_table.head(10).reset_index().values.tolist() if fit.f_table is not None else None
        ),
    }


def real(threads: int) -> None:
    out = {
        "GSE124439": _reading(
            qc_input("GSE124439", threads),
            "~ sex + region + condition",
            ("condition", "ALS", "control"),
            None,
            threads,
            "GSE124439",
        ),
        "GSE67196": _reading(
            qc_input("GSE67196", threads),
            "~ region + condition",
            ("condition", "ALS", "control"),
            None,
            threads,
            "GSE67196",
        ),
    }
    save("real", out)


def r_agreement(threads: int) -> None:
    """Run the fixture checks of tests/unit/voom_reference.py and keep their numbers.

    With R installed they also run on a fresh simulation (seed 23).
    """
    import shutil
    import subprocess
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.unit import voom_reference as checks

    folders = {"committed fixtures (seed 11, 300 genes, 24 samples)": ROOT / "tests/data/voom"}
    if shutil.which("Rscript"):
        fresh = WORK / "voom_r_seed23"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts/build_voom_fixtures.py"),
                "--out",
                str(fresh),
                "--seed",
                "23",
            ],
            check=True,
            cwd=ROOT,
        )
        folders["fresh R run (seed 23)"] = fresh
    out = {}
    for label, folder in folders.items():
        ref = checks.Reference(folder)
        out[label] = {
            "DESeq2 size factors (max abs diff)": {"factors": checks.check_size_factors(ref)},
            "voom": dict(
                zip(("E max abs diff", "weights max rel diff"), checks.check_voom(ref), strict=True)
            ),
            "lmFit + eBayes": checks.check_lm_ebayes(ref),
            "duplicateCorrelation + GLS": checks.check_dupcor(ref),
            "lme4 + lmerTest (Satterthwaite)": checks.check_mixed(ref),
        }
    save("r-agreement", {"folders": out})


PART_FUNCTIONS = {
    "r-agreement": r_agreement,
    "null-sim": null_sim,
    "power": power,
    "null-real": null_real,
    "null-real-pcs": lambda threads: null_real(threads, ("PC1", "PC2", "PC3")),
    "null-real-100": lambda threads: null_real(
        threads, n_permutations=100, methods=("dream",), part="null-real-100"
    ),
    "speed": speed,
    "real": real,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=[*PART_FUNCTIONS, "report", "spread"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.part == "spread":
        print(null_real_spread())
        return
    if args.part == "report":
        from repeated_donors_report import write_report

        write_report(PARTS, OUT)
        return
    PART_FUNCTIONS[args.part](args.threads)


if __name__ == "__main__":
    main()
