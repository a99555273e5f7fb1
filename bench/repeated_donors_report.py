"""bench/results/repeated_donors.md from the parts bench/repeated_donors.py wrote."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

METHOD_LABELS = {
    "dream": "dream (voom + per-gene random donor intercept)",
    "dupcor": "dupcor (voom + consensus duplicateCorrelation)",
    "lm": "voom, samples independent",
    "pydeseq2": "pydeseq2, samples independent",
}


def _load(parts: Path, name: str) -> dict | None:
    path = parts / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _when(part: dict) -> str:
    load = ", ".join(f"{x:.1f}" for x in part.get("load_average", []))
    return f"run {part.get('date', '?')}, load average {load} on the shared 2-core VM"


def _r_agreement(part: dict | None) -> list[str]:
    if not part:
        return ["(part `r-agreement` not run)", ""]
    lines = [f"Produced by `bench/repeated_donors.py r-agreement` ({_when(part)}).", ""]
    for folder, checks in part["folders"].items():
        lines += [f"**{folder}**", "", "| check | quantity | value |", "|---|---|---|"]
        for check, values in checks.items():
            for key, value in values.items():
                shown = f"{value:.3g}" if isinstance(value, float) else str(value)
                lines.append(f"| {check} | {key} | {shown} |")
        lines.append("")
    return lines


def _null_sim(part: dict | None) -> list[str]:
    if not part:
        return ["(part `null-sim` not run)", ""]
    rows = part["datasets"]
    methods = [m for m in METHOD_LABELS if m in rows[0]]
    lines = [
        f"Produced by `bench/repeated_donors.py null-sim` ({_when(part)}). Each dataset: "
        "`alsig.toy.toy_cohort`, 6 ALS + 6 control donors x 3 regions (36 samples), per-gene "
        "donor SD ~ Gamma(shape 1, mean 0.5) on the natural-log scale, region effects SD 0.3 "
        "log2, **no condition effect**; genes with >= 10 counts in >= 6 samples "
        f"({rows[0]['n_genes']} in the first); design `~ sex + region + condition`, test ALS vs "
        "control. Target: p < 0.05 in 3-7 % of genes on average, padj < 0.05 in <= 1 % of genes "
        "in every dataset.",
        "",
        "| dataset | " + " | ".join(f"{m}: p<0.05 % / padj<0.05 %" for m in methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for row in rows:
        cells = [f"{row[m]['p05']:.2f} / {row[m]['padj05']:.2f}" for m in methods]
        lines.append(f"| seed {row['seed']} | " + " | ".join(cells) + " |")
    means = []
    verdicts = []
    for m in methods:
        p = np.mean([r[m]["p05"] for r in rows])
        worst = max(r[m]["padj05"] for r in rows)
        means.append(f"**{p:.2f}** / max {worst:.2f}")
        ok = 3 <= p <= 7 and worst <= 1
        verdicts.append("passes" if ok else "**fails**")
    lines += ["| mean / worst | " + " | ".join(means) + " |",
              "| verdict | " + " | ".join(verdicts) + " |", ""]  # fmt: skip
    lines += ["Methods: " + "; ".join(f"{m} = {METHOD_LABELS[m]}" for m in methods) + ".", ""]
    if "dream" in methods and "p05_by_donor_sd_quintile" in rows[0]["dream"]:
        q = np.mean([r["dream"]["p05_by_donor_sd_quintile"] for r in rows], axis=0)
        zero = np.mean([r["dream"]["p05_donor_variance_zero"] for r in rows])
        share = np.mean([r["dream"]["share_donor_variance_zero"] for r in rows])
        lines += [
            "dream, p < 0.05 % by quintile of the simulated donor SD (lowest to highest), mean "
            "over datasets: " + ", ".join(f"{v:.1f}" for v in q) + f". Genes whose donor "
            f"variance is estimated as 0 ({share:.1f} % of genes): {zero:.1f} % at p < 0.05 "
            "(they get the median df of the other genes; lmerTest's n - p gave 8.4 % in the "
            "development runs, see `alsig.voom.satterthwaite`).",
            "",
        ]
    return lines


def _power(part: dict | None) -> list[str]:
    if not part:
        return ["(part `power` not run)", ""]
    rows = part["datasets"]
    names = [k for k in ("dream", "pydeseq2_one_per_donor", "pydeseq2_all_samples") if k in rows[0]]
    lines = [
        f"Produced by `bench/repeated_donors.py power` ({_when(part)}). As the null datasets "
        "(3 regions per donor), with 5 % of genes changed by |log2FC| 0.5 (half up, half down), "
        "in two scenarios. dream fits all samples; pydeseq2 one sample per donor (frontal, "
        "`~ sex + condition`) and, for reference, all samples as if independent (miscalibrated, "
        "see the null). 'true at observed FDR 0.05': true genes in the longest p-value-ranked "
        "list whose observed false discovery proportion is <= 0.05 (a calibration-free "
        "comparison of ranking); 'top n': true genes among the n best-ranked, n = number of "
        "true genes.",
        "",
    ]
    for scenario in dict.fromkeys(r.get("scenario", "") for r in rows):
        part_rows = [r for r in rows if r.get("scenario", "") == scenario]
        lines += [
            f"**{scenario}** ({part_rows[0].get('n_samples', '?')} samples)",
            "",
            "| dataset | true genes | " + " | ".join(
                f"{n}: true at obs. FDR 0.05 / top n / called padj<0.05 (true, FDP)" for n in names
            ) + " |",
            "|---|---|" + "---|" * len(names),
        ]  # fmt: skip
        for row in part_rows:
            cells = [
                f"{row[n]['true_at_observed_fdr_05']} / {row[n].get('true_in_top_n_true', '')} / "
                f"{row[n]['called_padj05']} ({row[n]['true_called_padj05']}, "
                f"{row[n]['fdp_padj05']:.2f})"
                for n in names
            ]
            lines.append(f"| seed {row['seed']} | {row['n_true']} | " + " | ".join(cells) + " |")
        totals = [
            f"{sum(r[n]['true_at_observed_fdr_05'] for r in part_rows)} / "
            f"{sum(r[n].get('true_in_top_n_true', 0) for r in part_rows)}"
            for n in names
        ]
        lines.append(
            f"| total | {sum(r['n_true'] for r in part_rows)} | " + " | ".join(totals) + " |"
        )
        wins = sum(
            r["dream"]["true_at_observed_fdr_05"]
            >= r["pydeseq2_one_per_donor"]["true_at_observed_fdr_05"]
            for r in part_rows
        )
        lines += ["", f"dream finds at least as many true genes at observed FDR 0.05 as DESeq2 "
                  f"on one sample per donor in {wins} of {len(part_rows)} datasets.", ""]  # fmt: skip
    return lines


def _null_real(part: dict | None) -> list[str]:
    if not part:
        return ["(part `null-real` not run)", ""]
    lines = [
        f"Produced by `bench/repeated_donors.py null-real` ({_when(part)}). GSE124439, alsig's "
        f"QC'd input ({part['n_samples']} samples, {part['n_genes']} expressed genes), design "
        "`~ sex + region + condition`; the condition labels (ALS / control / other) permuted "
        "over whole donors (each donor keeps one label for all its samples), 20 permutations, "
        "ALS vs control. Pooled p-values, share per decile (target: 10 +- 2 points).",
        "",
        "| method | " + " | ".join(f"{10 * i}-{10 * (i + 1)} %" for i in range(10))
        + " | max deviation | verdict |",
        "|---|" + "---|" * 12,
    ]  # fmt: skip
    for method, dec in part["deciles"].items():
        dev = max(abs(d - 10) for d in dec)
        verdict = "flat" if dev <= 2 else "**not flat**"
        lines.append(f"| {method} | " + " | ".join(f"{d:.1f}" for d in dec)
                     + f" | {dev:.1f} | {verdict} |")  # fmt: skip
    perms = part["permutations"]
    for method in part["deciles"]:
        padj = [p[method]["padj05"] for p in perms]
        p05 = [p[method]["p05"] for p in perms]
        lines.append("")
        lines.append(
            f"{method}: p < 0.05 in {np.mean(p05):.2f} % of genes on average (range "
            f"{min(p05):.2f}-{max(p05):.2f}); padj < 0.05 in {np.mean(padj):.3f} % on average, "
            f"worst permutation {max(padj):.3f} %."
        )
    lines.append("")
    return lines


def _speed(part: dict | None) -> list[str]:
    if not part:
        return ["(part `speed` not run)", ""]
    lines = [
        f"Produced by `bench/repeated_donors.py speed` ({_when(part)}, {part['threads']} numba "
        f"threads). GSE124439 ALS vs control, {part['n_samples']} samples, {part['n_genes']} "
        "genes, `~ sex + region + condition`.",
        "",
        "| model | wall time (s) | genes at padj < 0.05 | phases (s) |",
        "|---|---|---|---|",
    ]
    for method in ("dream", "dupcor"):
        if method in part:
            phases = "; ".join(f"{k} {v:.2f}" for k, v in part[method]["phases"].items())
            lines.append(f"| {method} | {part[method]['wall_s']:.1f} | "
                         f"{part[method].get('n_significant', '')} | {phases} |")  # fmt: skip
    if "pydeseq2_no_shrink_s" in part:
        lines.append(f"| pydeseq2 `run_de` (no LFC shrinkage, 2 workers) | "
                     f"{part['pydeseq2_no_shrink_s']:.1f} | "
                     f"{part.get('pydeseq2_n_significant', '')} | |")  # fmt: skip
    lines.append("")
    return lines


def _real(part: dict | None) -> list[str]:
    if not part:
        return ["(part `real` not run)", ""]
    lines = [f"Produced by `bench/repeated_donors.py real` ({_when(part)}).", ""]
    for dataset, r in part.items():
        if not isinstance(r, dict) or "summary" not in r:
            continue
        s = r["summary"]
        lines += [
            f"### {dataset}: {r['contrast'][1]} vs {r['contrast'][2]}, `{r['design']}`",
            "",
            f"- Model chosen by `auto`: **{r['auto'][0]}** ({r['auto'][1]}).",
            f"- Samples per subject: {s['samples_per_subject']}; per level: {s.get('per_level')}.",
            f"- **{s['n_significant']} genes at padj < 0.05** ({s['n_up']} up, {s['n_down']} "
            f"down) of {s['n_genes_tested']} tested; dupcor: {r['dupcor']['n_significant']} "
            f"(overlap {r['dupcor']['overlap_with_dream']}).",
            f"- Consensus correlation (duplicateCorrelation): {s['consensus_correlation']:.3f} "
            f"(dupcor path: {r['dupcor']['consensus']:.3f}); gene-wise ICC median "
            f"{s['icc_median']:.3f}, 10th-90th percentile {s['icc_q10']:.3f}-{s['icc_q90']:.3f}, "
            f"{100 * s['icc_share_above_0_5']:.1f} % of genes above 0.5; donor variance 0 in "
            f"{s.get('n_subject_variance_zero', 0)} genes.",
            f"- Moderation: prior df {s['prior_df']:.1f}; median test df {s['df_median']:.1f}.",
            f"- Minimum detectable |log2FC| at 80 % power (alpha 0.05, unadjusted), median over "
            f"genes: {s['mde_median']:.2f} (IQR {s['mde_q25']:.2f}-{s['mde_q75']:.2f}).",
            f"- Fit time {s['fit_seconds']:.1f} s ({s['phase_seconds']}).",
            "",
            "Top DE genes (gene, log2FC, padj, ICC): "
            + "; ".join(f"{g} {lfc:+.2f} {p:.2g} {icc:.2f}" for g, lfc, p, icc in r["top_genes"]),
            "",
            "Most donor-correlated genes (gene, ICC, mean log2-CPM): "
            + "; ".join(f"{g} {icc:.2f} ({a:.1f})" for g, icc, a in r["top_icc"]),
            "",
            "ICC of genotype-driven sanity-check genes: "
            + ", ".join(f"{g} {v:.2f}" for g, v in r["icc_of"].items()),
            "",
        ]
    return lines


def write_report(parts: Path, out: Path, reading: str = "") -> None:
    """Assemble the markdown report."""
    lines = [
        "# Repeated donors in DE: alsig.voom (dream / dupcor) against R, nulls, power, speed, "
        "real data",
        "",
        "Issue 27, repeated-donors part, wave 1 (library `src/alsig/voom/`, not yet wired into "
        "the DE stage). Each section names the command that produced it; timings come from a "
        "2-core VM shared with ~6 engineers (the load average is given), so they are upper "
        "bounds.",
        "",
        "## Agreement with R (limma 3.54, lme4 1.1-31 + lmerTest 3.1-3)",
        "",
        *_r_agreement(_load(parts, "r-agreement")),
        "## (a) Simulated donor nulls",
        "",
        *_null_sim(_load(parts, "null-sim")),
        "## (b) Real-data null: GSE124439 with condition permuted over donors",
        "",
        *_null_real(_load(parts, "null-real")),
        "## (c) Power at a planted effect",
        "",
        *_power(_load(parts, "power")),
        "## Speed",
        "",
        *_speed(_load(parts, "speed")),
        "## Real data",
        "",
        *_real(_load(parts, "real")),
    ]
    if reading:
        lines += ["## Reading", "", reading, ""]
    out.write_text("\n".join(lines))
    print(f"wrote {out}")
