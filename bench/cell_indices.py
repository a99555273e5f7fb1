"""Cell-type marker indices: validation against immunostaining, and a reading on the real cohorts.

Writes ``bench/results/cell_indices.md``; a hand-written "## Reading" section at its end is kept
when the tables are regenerated.

Validation data (``../shared/data/annotation/bretigea/``, source S7): Allen Aging, Dementia and
TBI study bulk RNA-seq (normalised FPKM of 395 marker genes, 377 samples of 4 regions: temporal
and parietal cortex, hippocampus, frontal white matter) and, for the same tissue blocks, the
IBA1+ and GFAP+ immunoreactive *area fractions* (the share of a section's area that stains; it
measures how much microglial / astrocytic cell body and process is there, which grows with cell
number, cell size and reactivity; it is not a cell count). Neurons, oligodendrocytes, OPCs and
endothelial cells have no ground truth here.

Pre-specified before the first run (this docstring was committed before any candidate method
was scored on the IHC; only the issue's BRETIGEA number had been reproduced; nothing below was
tuned afterwards):

- input: ``log2(FPKM + 1)``, gene symbols harmonised with alsig's gene map; markers: the shipped
  BRETIGEA human lists, the first 50 present per cell type;
- four methods (``alsig.cellmix.METHODS``): 1 ``mean_z`` (mean z of the markers against a
  reference; the Allen set has no controls, so every sample is the reference), 2 ``rank``
  (singscore-style within-sample rank score; its universe here is only the 395 genes),
  3 ``svd`` (BRETIGEA's first right singular vector of the standardised markers, the
  comparator), 4 ``median_z`` (median instead of mean: robust to a minority of markers
  regulated per cell rather than by cell number);
- statistic: Pearson r of the microglia index with IBA1 and of the astrocyte index with GFAP
  within each region, pooled across the 4 regions by Fisher z (weights n - 3), 95 % CIs from
  2,000 bootstrap resamples of samples within region (index values held fixed); samples with a
  missing IHC value are left out of that correlation;
- decision: eligible defaults are the sample-stable methods (``rank``, ``mean_z``,
  ``median_z``; ``svd`` changes every sample's index when samples are added). The default is
  the eligible method with the highest mean of its microglia and astrocyte pooled r, unless
  the paired bootstrap CI of its difference from ``rank`` includes 0, in which case ``rank``
  is the default, because it alone is exactly sample-stable on QC's VST (within-sample ranks
  do not see size factors or the VST) and needs no control samples.
- check first: the number quoted in issue 27 (BRETIGEA first PC, microglia r 0.38 over all
  regions, 0.09 within cortex; astrocytes ~0) is reproduced with the source symbols.

Real cohorts: each dataset of ``config/examples/shared_cohorts.yaml`` through alsig's ingest
and QC (VST of the expressed genes), indices against the dataset's usable controls.

Workflow (``--workflow <output_dir>``): reads a finished run of
``config/examples/shared_cohorts.yaml`` up to the axis tests and ``axis_meta`` (QC's
``cell_indices``, the score stage's ``composition.tsv``, ``axis_tests`` with both adjustment views,
``axis_meta``) and rewrites only the "## Workflow" section: which cohorts afford the cell-mix
covariates, each axis without and with them and the share removed, per cohort and pooled.

Usage: python bench/cell_indices.py [--bootstrap 2000] [--no-cohorts]
       python bench/cell_indices.py --workflow results/shared_cohorts
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from alsig.cellmix import (
    METHODS,
    CellIndexer,
    adjustment_covariates,
    cell_indices,
    effect_with_and_without,
    expression_frame,
)
from alsig.genes import GeneMap
from alsig.resources import signature_table

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALSIG_SHARED_DATA", ROOT.parent / "shared" / "data"))
BRETIGEA = SHARED / "annotation" / "bretigea"
OUT = ROOT / "bench/results/cell_indices.md"
GROUND_TRUTH = (("microglia", "ihc_iba1_ffpe", "IBA1"), ("astrocytes", "ihc_gfap_ffpe", "GFAP"))
REGIONS = ("TCx", "PCx", "HIP", "FWM")
CORTEX = ("TCx", "PCx")
ELIGIBLE = ("rank", "mean_z", "median_z")
DATASETS = ("GSE124439", "GSE122649", "GSE67196")
MAJOR = ["neurons", "astrocytes", "microglia", "oligodendrocytes"]
SEED = 20240527


# -- Allen validation ------------------------------------------------------------------------
def load_allen() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(log2(FPKM + 1) samples x genes with the source symbols, IHC table indexed by sample)."""
    fpkm = pd.read_csv(BRETIGEA / "aba_adtbi_marker_fpkm.tsv.gz", sep="\t", index_col=0)
    ihc = pd.read_csv(BRETIGEA / "aba_adtbi_ihc.tsv.gz", sep="\t").set_index("id")
    if list(ihc.index) != list(fpkm.columns):
        raise SystemExit("IHC rows and expression columns are not the same samples")
    ihc = ihc.rename(columns={"structure_acronym.x": "region"})
    return np.log2(fpkm.T + 1), ihc


def issue_check(log_expr: pd.DataFrame, fpkm: pd.DataFrame, ihc: pd.DataFrame) -> list[str]:
    """Compute BRETIGEA's first PC with the source symbols, as issue 27 measured it.

    The package's own default (centred, not scaled, linear FPKM) is computed for reference.
    """
    raw = pd.read_csv(BRETIGEA / "markers_human_brain.tsv.gz", sep="\t")
    codes = {"microglia": "mic", "astrocytes": "ast", "neurons": "neu", "oligodendrocytes": "oli"}
    rows = []
    for label, data, scale in (
        ("log2(FPKM+1), markers standardised (issue 27)", log_expr, True),
        ("linear FPKM, markers centred only (BRETIGEA brainCells default)", fpkm, False),
    ):
        cells = []
        for cell_type, column, _ in GROUND_TRUTH:
            genes = [
                g
                for g in raw.loc[raw.cell == codes[cell_type], "markers"]
                if g in data.columns and (data[g] > 0).any()
            ][:50]
            pc = _first_pc(data[genes].to_numpy(), scale)
            y = ihc[column].to_numpy()
            ok = np.isfinite(y)
            ctx = ok & ihc["region"].isin(CORTEX).to_numpy()
            cells.append(f"{_r(pc[ok], y[ok]):+.3f} / {_r(pc[ctx], y[ctx]):+.3f}")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def _first_pc(x: np.ndarray, scale: bool) -> np.ndarray:
    x = x - x.mean(axis=0)
    if scale:
        x = x / x.std(axis=0, ddof=1)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    pc = u[:, 0] * s[0]
    return -pc if np.mean([_r(pc, x[:, j]) for j in range(x.shape[1])]) < 0 else pc


def _r(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1])


def harmonised(log_expr: pd.DataFrame) -> pd.DataFrame:
    """Rename the Allen genes to current symbols (as ingest names a count matrix's genes)."""
    symbols, _ = GeneMap.load().harmonise_symbols(list(log_expr.columns))
    out = log_expr.copy()
    out.columns = symbols
    return out.loc[:, ~out.columns.duplicated()]


def _pooled(index: np.ndarray, truth: np.ndarray, region: np.ndarray, samples: list[np.ndarray]):
    """Per-region r and n, and the Fisher-z pooled r over regions, for one set of samples."""
    zs, weights, per_region = [], [], {}
    for name, rows in zip(REGIONS, samples, strict=True):
        r = _r(index[rows], truth[rows])
        per_region[name] = (r, len(rows))
        zs.append(np.arctanh(r))
        weights.append(len(rows) - 3)
    return float(np.tanh(np.average(zs, weights=weights))), per_region


def validation(
    indices: dict[str, pd.DataFrame], ihc: pd.DataFrame, n_boot: int
) -> tuple[dict, dict]:
    """Correlate each method's indices with immunostaining, per cell type.

    Per-region r, pooled r with bootstrap CI, overall r; and the bootstrap distributions of the
    pooled r (paired across methods: same resamples).
    """
    rng = np.random.default_rng(SEED)
    region = ihc["region"].to_numpy()
    results, draws = {}, {}
    for cell_type, column, _ in GROUND_TRUTH:
        truth = ihc[column].to_numpy()
        ok = np.isfinite(truth)
        groups = [np.flatnonzero(ok & (region == r)) for r in REGIONS]
        resamples = [
            [rng.choice(g, size=len(g), replace=True) for g in groups] for _ in range(n_boot)
        ]
        for method, frame in indices.items():
            index = frame[cell_type].to_numpy()
            pooled, per_region = _pooled(index, truth, region, groups)
            boot = np.array([_pooled(index, truth, region, s)[0] for s in resamples])
            draws[method, cell_type] = boot
            results[method, cell_type] = {
                "pooled": pooled,
                "low": float(np.quantile(boot, 0.025)),
                "high": float(np.quantile(boot, 0.975)),
                "per_region": per_region,
                "overall": _r(index[ok], truth[ok]),
                "cortex": _r(
                    index[ok & np.isin(region, CORTEX)], truth[ok & np.isin(region, CORTEX)]
                ),
            }
    return results, draws


def white_matter(indices: dict[str, pd.DataFrame], ihc: pd.DataFrame) -> list[str]:
    """Frontal white matter minus cortex (TCx + PCx) in units of the within-region SD."""
    region = ihc["region"].to_numpy()
    rows = []
    for method, frame in indices.items():
        cells = []
        for cell_type in ("neurons", "oligodendrocytes", "microglia", "astrocytes"):
            x = frame[cell_type].to_numpy()
            wm, ctx = x[region == "FWM"], x[np.isin(region, CORTEX)]
            within = np.sqrt(np.mean([x[region == r].var(ddof=1) for r in REGIONS]))
            below = np.mean(wm[:, None] < ctx[None, :])  # P(FWM sample < cortex sample)
            cells.append(f"{(wm.mean() - ctx.mean()) / within:+.1f} ({below:.2f})")
        rows.append(f"| {method} | " + " | ".join(cells) + " |")
    return rows


def decide(results: dict, draws: dict) -> tuple[str, list[str]]:
    """Apply the pre-specified rule; returns the default and the lines that explain it."""
    mean_r = {m: np.mean([results[m, c]["pooled"] for c, _, _ in GROUND_TRUTH]) for m in METHODS}
    best = max(ELIGIBLE, key=lambda m: mean_r[m])
    lines = [
        "Mean of the microglia and astrocyte pooled r: "
        + ", ".join(f"`{m}` {mean_r[m]:+.3f}" for m in METHODS)
        + "."
    ]
    paired = {}
    for other in METHODS:
        if other == "rank":
            continue
        diff = np.mean([draws[other, c] - draws["rank", c] for c, _, _ in GROUND_TRUTH], axis=0)
        paired[other] = (mean_r[other] - mean_r["rank"], *np.quantile(diff, [0.025, 0.975]))
    lines.append(
        "Paired bootstrap difference from `rank` (mean of the two pooled r): "
        + ", ".join(f"`{m}` {d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for m, (d, lo, hi) in paired.items())
        + "."
    )
    if best == "rank":
        chosen = "rank"
        lines.append("`rank` has the highest mean r of the eligible methods: it is the default.")
    elif paired[best][1] <= 0 <= paired[best][2]:
        chosen = "rank"
        lines.append(
            f"`{best}` scores highest of the eligible methods, but its paired CI against "
            "`rank` includes 0: by the rule, `rank` is the default."
        )
    else:
        chosen = best
        lines.append(f"`{best}` beats `rank` with a paired CI excluding 0: it is the default.")
    return chosen, lines


# -- real cohorts ------------------------------------------------------------------------------
def cohort_data(dataset: str, settings: dict):
    """Ingest + QC of one shared cohort (as the workflow runs them)."""
    from alsig.settings import complete
    from alsig.stages.ingest import ingest_local
    from alsig.stages.qc import run_qc

    settings = dict(settings)
    for key in ("counts", "samples", "te_counts"):
        if key in settings:
            settings[key] = str(SHARED / Path(settings[key]).relative_to("../shared/data"))
    settings.pop("te_counts", None)  # TEs are not needed for the indices
    adata = ingest_local(dataset, settings)
    qc, _, _ = run_qc(adata, complete("qc", settings.get("qc")), n_cpus=2)
    return qc


def region_group(dataset: str, region: pd.Series) -> pd.Series:
    if dataset == "GSE124439":  # lateral, medial and unspecified motor cortex: one group
        return region.astype(str).str.replace(r"Motor Cortex.*", "Motor Cortex", regex=True)
    return region.astype(str)


def als_vs_control(obs: pd.DataFrame, values: pd.DataFrame) -> list[tuple]:
    """Compare ALS with control donors per region group and cell type, on donor means.

    ALS - control in index units with a Welch 95 % CI, Hedges' g (pooled SD), and how many ALS
    donors lie below the lowest / above the highest control (sample by sample, not only the
    mean).
    """
    from scipy import stats

    rows = []
    for group, part in obs.groupby("region_group", observed=True):
        part = part[part["condition"].isin(["ALS", "control"])]
        subjects = part["subject"].astype(str).to_numpy()
        donors = values.loc[part.index].groupby(subjects).mean()
        condition = pd.Series(part["condition"].astype(str).to_numpy(), index=subjects)
        condition = condition.groupby(level=0).first().loc[donors.index].to_numpy()
        als, ctrl = donors[condition == "ALS"], donors[condition == "control"]
        for cell_type in values.columns:
            a, c = als[cell_type].to_numpy(), ctrl[cell_type].to_numpy()
            va, vc = a.var(ddof=1) / len(a), c.var(ddof=1) / len(c)
            df = (va + vc) ** 2 / (va**2 / (len(a) - 1) + vc**2 / (len(c) - 1))
            diff = a.mean() - c.mean()
            half = stats.t.ppf(0.975, df) * np.sqrt(va + vc)
            pooled = np.sqrt(
                ((len(a) - 1) * a.var(ddof=1) + (len(c) - 1) * c.var(ddof=1))
                / (len(a) + len(c) - 2)
            )
            g = diff / pooled * (1 - 3 / (4 * (len(a) + len(c)) - 9))
            rows.append(
                (
                    group,
                    cell_type,
                    len(a),
                    len(c),
                    diff,
                    diff - half,
                    diff + half,
                    g,
                    int((a < c.min()).sum()),
                    int((a > c.max()).sum()),
                )
            )
    return rows


def paired_regions(obs: pd.DataFrame, values: pd.DataFrame, first: str, second: str) -> list[str]:
    """Within-donor difference ``first - second`` (raw index units), donors with both."""
    wide = values.assign(subject=obs["subject"].astype(str), group=obs["region_group"])
    a = wide[wide.group == first].groupby("subject").mean(numeric_only=True)
    b = wide[wide.group == second].groupby("subject").mean(numeric_only=True)
    both = a.index.intersection(b.index)
    rows = []
    for cell_type in values.columns:
        d = (a.loc[both, cell_type] - b.loc[both, cell_type]).to_numpy()
        se = d.std(ddof=1) / np.sqrt(len(d))
        rows.append(
            f"| {cell_type} | {len(d)} | {b.loc[both, cell_type].mean():+.3f} | "
            f"{a.loc[both, cell_type].mean():+.3f} | {d.mean():+.3f} "
            f"[{d.mean() - 1.96 * se:+.3f}, {d.mean() + 1.96 * se:+.3f}] |"
        )
    return rows


def tam_subtypes(result: dict, obs: pd.DataFrame) -> list[str]:
    """Ask whether the indices separate ALS-Glia from the other ALS samples (GSE124439 only).

    The labels are Tam et al. 2019's published per-sample labels (Table S1A, shipped as a
    training reference). Mean index per subtype and the AUC of ALS-Glia vs ALS-Ox + ALS-TE, per
    method.
    """
    labels = pd.read_csv(SHARED / "GSE124439/GSE124439_tam2019_subtypes.tsv.gz", sep="\t")
    subtype = labels.set_index("sample_id")["subtype"].reindex(obs.index)
    glia, other = subtype == "ALS-Glia", subtype.isin(["ALS-Ox", "ALS-TE"])
    rows = []
    for method, res in result.items():
        cells = []
        for cell_type in ("microglia", "astrocytes", "neurons", "oligodendrocytes"):
            x = res.values[cell_type]
            g, o = x[glia].to_numpy(), x[other].to_numpy()
            auc = np.mean(g[:, None] > o[None, :]) + 0.5 * np.mean(g[:, None] == o[None, :])
            cells.append(f"{auc:.2f}")
        rows.append(
            f"| {method} | {int(glia.sum())} / {int(other.sum())} | " + " | ".join(cells) + " |"
        )
    return rows


def stability(qc, reference: np.ndarray, rng) -> list[str]:
    """Measure how much the kept samples' indices move when half the ALS samples are dropped.

    Max |change| after the size factors and VST are refitted on the rest (as QC would), per
    method, in units of the index's SD over the full cohort.
    """
    from alsig.stages.qc.normalise import normalise

    als = np.flatnonzero(qc.obs["condition"].to_numpy() == "ALS")
    drop = set(rng.choice(als, size=len(als) // 2, replace=False).tolist())
    keep = np.array([i not in drop for i in range(qc.n_obs)])
    sub = normalise(qc[keep].copy(), vst_n_genes=1000, n_cpus=1)
    full_expr, sub_expr = expression_frame(qc), expression_frame(sub)
    rows = []
    for method in METHODS:
        a = cell_indices(full_expr, method=method, reference=reference).values
        b = cell_indices(sub_expr, method=method, reference=reference[keep]).values
        change = (a.loc[b.index] - b).abs().max() / a.std()
        rows.append(f"| {method} | " + " | ".join(f"{change[c]:.3f}" for c in a.columns) + " |")
    return rows


def adjustment_illustration(qc, obs: pd.DataFrame, design_formula: str) -> list[str]:
    """Test every shipped (non-cell-type) signature, ALS vs control, with and without cell mix.

    Singscores under the DE design; the indices are recomputed without the signature's genes,
    the covariate rule applied to the four major types (the six-index rule is not met, see
    above).
    """
    from alsig.settings.stages import Contrast
    from alsig.signatures import harmonise_signatures, read_signatures
    from alsig.stages.axes.effects import model_design
    from alsig.stages.score.singscore import singscore

    contrast = Contrast("ALS_vs_control", "condition", "ALS", "control")
    exclude = {s: "qc exclusion" for s, v in obs["qc_exclusion"].fillna("").items() if v}
    design, _ = model_design(obs, design_formula, contrast, exclude=exclude)
    expr = expression_frame(qc)
    signatures = [s for s in read_signatures(signature_table()) if not s.is_cell_type]
    harmonise_signatures(signatures)
    signatures = [s for s in signatures if sum(g in expr.columns for g in s.genes) >= 5]
    scores, _ = singscore(expr.to_numpy(), list(expr.columns), signatures, chunk_size=256)
    indexer = CellIndexer(expr.loc[design.matrix.index])
    rows = []
    for j, signature in enumerate(signatures):
        indices = indexer.indices(signature.genes).values[MAJOR]
        choice = adjustment_covariates(indices, design.subjects)
        if not choice.estimable:
            rows.append(
                (
                    0.0,
                    f"| {signature.name} | {signature.axis} | not estimable: {choice.reason} | | |",
                )
            )
            continue
        y = pd.Series(scores[:, j], index=expr.index)
        pair = effect_with_and_without(
            y, design.matrix, choice.covariates, design.coefficient, design.subjects
        )
        u, a, cov = pair.standardised()
        share = pair.share
        share_text = (
            f"{share.share:+.2f} [{share.share_low:+.2f}, {share.share_high:+.2f}]"
            if share.share_low is not None
            else f"{share.share:+.2f} (unbounded)"
        )
        rows.append(
            (
                abs(u),
                f"| {signature.name} | {signature.axis} | "
                f"{u:+.2f} [{u - 1.96 * np.sqrt(cov[0, 0]):+.2f}, {u + 1.96 * np.sqrt(cov[0, 0]):+.2f}] | "
                f"{a:+.2f} [{a - 1.96 * np.sqrt(cov[1, 1]):+.2f}, {a + 1.96 * np.sqrt(cov[1, 1]):+.2f}] | "
                f"{share_text} |",
            )
        )
    rows.sort(key=lambda r: -r[0])
    return [r[1] for r in rows]


def cohorts(sections: list[str]) -> None:
    config = yaml.safe_load((ROOT / "config/examples/shared_cohorts.yaml").read_text())
    rng = np.random.default_rng(SEED)
    coverage_rows, effect_rows, rule_rows, method_rows = [], [], [], []
    extra: list[str] = []
    for dataset in DATASETS:
        start = time.perf_counter()
        qc = cohort_data(dataset, config["datasets"][dataset])
        obs = qc.obs.copy()
        obs["region_group"] = region_group(dataset, obs["region"]).to_numpy()
        expr = expression_frame(qc)
        usable = obs.get("qc_exclusion", pd.Series("", index=obs.index)).fillna("") == ""
        reference = ((obs["condition"] == "control") & usable).to_numpy()
        t0 = time.perf_counter()
        result = {m: cell_indices(expr, method=m, reference=reference) for m in METHODS}
        seconds = time.perf_counter() - t0
        default = result["rank"]
        for row in default.selection.coverage.itertuples():
            coverage_rows.append(
                f"| {dataset} | {expr.shape[1]} | {row.cell_type} | "
                f"{row.n_top_present} | {row.n_used} | {row.deepest_rank} |"
            )
        for group, cell_type, n_a, n_c, diff, lo, hi, g, low, high in als_vs_control(
            obs, default.values
        ):
            effect_rows.append(
                f"| {dataset} | {group} | {cell_type} | {n_a} / {n_c} | "
                f"{diff:+.3f} [{lo:+.3f}, {hi:+.3f}] | {g:+.2f} | {low} / {high} |"
            )
        fitted = obs["condition"].isin(["ALS", "control"]) & usable
        subjects = obs.loc[fitted, "subject"].astype(str)
        for label, types in (("all 6", list(default.values.columns)), ("4 major", MAJOR)):
            choice = adjustment_covariates(default.values.loc[fitted, types], subjects)
            shares = ", ".join(f"{s:.2f}" for s in choice.variance_explained[:4])
            rule_rows.append(
                f"| {dataset} | {label} | {int(fitted.sum())} | {choice.n_donors} | "
                f"{choice.max_allowed} | {shares} | "
                f"{choice.description if choice.estimable else choice.reason} |"
            )
        agree = [
            np.mean([_r(result[m].values[c], default.values[c]) for c in default.values])
            for m in METHODS
        ]
        method_rows.append(
            f"| {dataset} | "
            + " | ".join(f"{a:.2f}" for a in agree)
            + f" | {seconds:.2f} | {time.perf_counter() - start:.0f} |"
        )
        if dataset == "GSE67196":
            extra += [
                "",
                "### GSE67196: cerebellum vs frontal cortex (same donors, `rank`)",
                "",
                "| cell type | donors | frontal cortex | cerebellum | cerebellum - frontal [95 % CI] |",
                "|---|---|---|---|---|",
                *paired_regions(obs, default.values, "Cerebellum", "Frontal Cortex"),
            ]
        if dataset == "GSE124439":
            design = config["datasets"][dataset]["de"]["design"]
            extra += [
                "",
                "### Adjustment on GSE124439 (illustration: four major types)",
                "",
                "Every shipped signature's singscore (VST of the expressed genes), ALS vs "
                f"control under `{design}` with a donor random intercept, without and "
                "with the cell mix (indices recomputed without the signature's genes; "
                "the rule applied to neurons, astrocytes, microglia and oligodendrocytes: "
                "3 PCs). Effects in SDs of the unadjusted model (one ruler for both), "
                "95 % CIs; share removed with Fieller's CI.",
                "",
                "| signature | axis | unadjusted | cell_mix | share removed |",
                "|---|---|---|---|---|",
                *adjustment_illustration(qc, obs, design),
            ]
            extra += [
                "",
                "### GSE124439: the published ALS-Glia samples (Tam et al. 2019)",
                "",
                "AUC of each index for ALS-Glia vs ALS-Ox + ALS-TE samples (0.5: no "
                "separation; > 0.5: higher in ALS-Glia). The labels come from the paper's "
                "NMF of the same data (Table S1A), so this is agreement with a published "
                "reading, not independent ground truth.",
                "",
                "| method | ALS-Glia / other ALS samples | microglia | astrocytes | neurons | oligodendrocytes |",
                "|---|---|---|---|---|---|",
                *tam_subtypes(result, obs),
            ]
            motor = obs["region_group"] == "Motor Cortex"
            extra += [
                "",
                "### GSE124439: motor minus frontal cortex (same donors, `rank`)",
                "",
                "| cell type | donors | frontal cortex | motor cortex | motor - frontal [95 % CI] |",
                "|---|---|---|---|---|",
                *paired_regions(obs, default.values, "Motor Cortex", "Frontal Cortex"),
            ]
            extra += [
                "",
                "### Sample stability (GSE124439)",
                "",
                "Half of the ALS samples dropped, size factors and VST refitted on the rest "
                "(as QC would), indices recomputed against the same controls: the largest "
                "change of a kept sample's index, in SDs of that index over the full cohort.",
                "",
                "| method | " + " | ".join(default.values.columns) + " |",
                "|---|" + "---|" * default.values.shape[1],
                *stability(qc, reference, rng),
            ]
            del motor
    sections += [
        "## Real cohorts",
        "",
        "Each dataset through alsig's ingest and QC as `config/examples/shared_cohorts.yaml` "
        "runs it (GSE122649: the two libraries of a donor summed); indices on the VST of the "
        "expressed genes; z-score methods against the usable controls.",
        "",
        "### Marker coverage (first 50 present per list)",
        "",
        "| dataset | expressed genes | cell type | of the top 50 present | used | deepest rank |",
        "|---|---|---|---|---|---|",
        *coverage_rows,
        "",
        "### ALS vs control by region (`rank`, donor means)",
        "",
        "ALS - control in index units (rank score; Welch 95 % CI), Hedges' g, and the ALS "
        "donors below the lowest / above the highest control.",
        "",
        "| dataset | region | cell type | ALS / control donors | ALS - control [95 % CI] | g | ALS below / above the control range |",
        "|---|---|---|---|---|---|---|",
        *effect_rows,
        *extra,
        "",
        "### Agreement of the methods with `rank` (mean Pearson r over cell types) and time",
        "",
        "| dataset | " + " | ".join(METHODS) + " | s (4 methods) | s (ingest + QC + indices) |",
        "|---|" + "---|" * (len(METHODS) + 2),
        *method_rows,
        "",
        "### The covariate rule on the ALS + control samples",
        "",
        "The rule of issue 27 on all six indices, and (for information only) on the four major "
        "types (neurons, astrocytes, microglia, oligodendrocytes).",
        "",
        "| dataset | indices | samples | donors | covariates allowed | PC variance shares | covariates |",
        "|---|---|---|---|---|---|---|",
        *rule_rows,
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--no-cohorts", action="store_true")
    parser.add_argument(
        "--workflow", type=Path, help="a run's output_dir: only the workflow section"
    )
    args = parser.parse_args()
    if args.workflow:
        text = OUT.read_text()
        head = text.split("\n## Workflow", 1)[0].split("\n## Reading", 1)[0].rstrip("\n")
        OUT.write_text(head + "\n\n" + "\n".join(workflow_section(args.workflow)) + _kept_reading())
        print(f"wrote the workflow section of {OUT}")
        return
    start = time.perf_counter()
    log_expr, ihc = load_allen()
    fpkm = 2**log_expr - 1
    check = issue_check(log_expr, fpkm, ihc)
    expr = harmonised(log_expr)
    indices = {m: cell_indices(expr, method=m).values for m in METHODS}
    results, draws = validation(indices, ihc, args.bootstrap)
    default, decision = decide(results, draws)
    n_ihc = {c: int(ihc[col].notna().sum()) for _, col, c in GROUND_TRUTH}
    sections = [
        "# Cell-type marker indices: validation and real cohorts",
        "",
        f"Generated by `bench/cell_indices.py` on {dt.date.today()} ({platform.node()}, "
        f"{os.cpu_count()} cores shared with other engineers, load average "
        f"{os.getloadavg()[0]:.1f} at the start: times are indicative; {args.bootstrap} "
        "bootstrap resamples). The pre-specified methods, statistic and decision rule are in the "
        "script's docstring, committed before the first run.",
        "",
        "## What the ground truth measures",
        "",
        "Allen Aging, Dementia and TBI study (377 samples: temporal cortex TCx, parietal cortex "
        "PCx, hippocampus HIP, frontal white matter FWM; BRETIGEA's copy, 395 genes). IBA1 and "
        "GFAP are immunoreactive **area fractions** of a section (how much of the tissue stains), "
        "not cell counts: they grow with cell number, size, process density and reactivity. "
        f"IBA1 is available for {n_ihc['IBA1']} samples, GFAP for {n_ihc['GFAP']}. Neurons, "
        "oligodendrocytes, OPCs and endothelial cells have no ground truth here; the only check "
        "on them is that the neuron index is far lower in white matter (and oligodendrocytes "
        "higher). The same donors gave several regions and the files carry no donor id, so the "
        "pooled CIs treat regions as independent (somewhat too narrow); within a region every "
        "sample is a different donor.",
        "",
        "## Check: the number of issue 27",
        "",
        "BRETIGEA first PC, first 50 present markers of the *source* lists (no symbol "
        "harmonisation). Pearson r over all regions / within cortex (TCx + PCx):",
        "",
        "| input | microglia vs IBA1 | astrocytes vs GFAP |",
        "|---|---|---|",
        *check,
        "",
        "The issue's numbers (microglia 0.38 / 0.09, astrocytes 0.01 / 0.09) are the first "
        "row. BRETIGEA's own default on linear FPKM (second row, not a candidate: alsig indexes "
        "log-scale expression) tracks GFAP across regions far better: white matter has both more "
        "GFAP area and more astrocyte marker RNA, and the linear scale lets a few abundant "
        "markers dominate.",
        "",
        "## Validation: Pearson r with immunostaining within region",
        "",
        "| method | cell type (IHC) | TCx | PCx | HIP | FWM | pooled within-region r [95 % CI] | all regions r | cortex r |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method in METHODS:
        for cell_type, _, label in GROUND_TRUTH:
            res = results[method, cell_type]
            regions = " | ".join(
                f"{res['per_region'][r][0]:+.2f} (n={res['per_region'][r][1]})" for r in REGIONS
            )
            sections.append(
                f"| {method} | {cell_type} ({label}) | {regions} | {res['pooled']:+.3f} "
                f"[{res['low']:+.3f}, {res['high']:+.3f}] | {res['overall']:+.3f} | "
                f"{res['cortex']:+.3f} |"
            )
    sections += [
        "",
        "## White matter (no ground truth; direction check)",
        "",
        "FWM minus cortex (TCx + PCx) mean index, in units of the pooled within-region SD (in "
        "brackets: the probability that a white-matter sample's index is below a cortex "
        "sample's):",
        "",
        "| method | neurons | oligodendrocytes | microglia | astrocytes |",
        "|---|---|---|---|---|",
        *white_matter(indices, ihc),
        "",
        "## Decision (pre-specified rule)",
        "",
        *decision,
        "",
        f"**Default: `{default}`.**",
        "",
    ]
    if not args.no_cohorts:
        cohorts(sections)
    sections.append(f"Total wall time {time.perf_counter() - start:.0f} s.")
    reading = _kept_workflow() + _kept_reading()
    OUT.write_text("\n".join(sections) + "\n" + reading)
    print(f"wrote {OUT}")


def _kept_workflow() -> str:
    if OUT.exists():
        text = OUT.read_text()
        if "\n## Workflow" in text:
            return "\n## Workflow" + text.split("\n## Workflow", 1)[1].split("\n## Reading", 1)[0]
    return ""


WORKFLOW_DATASETS = ("GSE124439", "GSE122649", "GSE67196")


def _ci(value, low, high) -> str:
    if value is None:
        return "-"
    if low is None or high is None:
        return f"{value:+.2f} (CI unbounded)"
    return f"{value:+.2f} [{low:+.2f}, {high:+.2f}]"


def _std(row) -> str:
    if row["std_effect"] is None:
        return "-"
    half = 1.96 * row["std_se"]
    return _ci(row["std_effect"], row["std_effect"] - half, row["std_effect"] + half)


def workflow_section(results: Path) -> list[str]:
    """Tabulate the cell-mix view of a workflow run: covariates, both views, the share removed.

    Parameters
    ----------
    results
        The run's output folder (``output_dir`` of the shared-cohorts config).

    Returns
    -------
    list of str
        Markdown lines of the "## Workflow" section.
    """
    import polars as pl

    lines = [
        "## Workflow",
        "",
        f"Generated by `bench/cell_indices.py --workflow` on {dt.date.today()} from a run of "
        "`config/examples/shared_cohorts.yaml` up to the axis tests and `axis_meta` "
        f"({platform.node()}, load average {os.getloadavg()[0]:.1f}: other engineers' runs were "
        "going). Effects in SDs of the unadjusted model (one ruler for both views), 95 % CIs; "
        "share removed = (unadjusted - adjusted) / unadjusted with Fieller's CI (unbounded when the "
        "unadjusted effect is not distinguishable from 0). Cell indices: the four major types, "
        "recomputed without each score's genes.",
        "",
        "### Covariates per cohort",
        "",
        "| dataset | samples (ALS / control) | donors | cell-mix covariates | axis_tests job (s) |",
        "|---|---|---|---|---|",
    ]
    tables = {}
    for dataset in WORKFLOW_DATASETS:
        tests = pl.read_parquet(results / dataset / "scores/axis_tests.parquet")
        tables[dataset] = tests
        row = tests.filter(
            (pl.col("signature") == "axis:oxidative_stress")
            & (pl.col("method") == "singscore")
            & (pl.col("adjustment") == "cell_mix")
        ).row(0, named=True)
        covariates = row["covariates"] or "-"
        if row["note"].startswith("not estimable"):
            covariates = row["note"]
        seconds = pl.read_csv(results / dataset / "benchmarks/axis_tests.tsv", separator="\t")["s"][
            0
        ]
        lines.append(
            f"| {dataset} | {row['n_test']} / {row['n_reference']} | {row['n_subjects_test']} / "
            f"{row['n_subjects_reference']} | {covariates} | {seconds:.0f} |"
        )
    lines += ["", "### Each axis without and with the cell mix (singscore; TE axis: log2 CPM)", ""]
    for dataset, tests in tables.items():
        part = tests.filter(
            pl.col("method").is_in(["singscore", "log2cpm"]) & (pl.col("axis") != "cell_type")
        )
        views = {(r["signature"], r["adjustment"]): r for r in part.iter_rows(named=True)}
        estimable = any(
            r["std_effect"] is not None for (_, a), r in views.items() if a == "cell_mix"
        )
        if not estimable:
            lines += [
                f"**{dataset}**: the cell-mix view is not estimable (above); unadjusted only.",
                "",
            ]
            continue
        lines += [
            f"**{dataset}** (axis composites, then every signature whose share has a bounded CI)",
            "",
            "| score | unadjusted | adjusted for the cell mix | difference | share removed |",
            "|---|---|---|---|---|",
        ]
        names = sorted({s for s, _ in views})
        composites = [n for n in names if n.startswith("axis:")]
        bounded = [
            n
            for n in names
            if not n.startswith("axis:") and views[(n, "cell_mix")]["share_ci_low"] is not None
        ]
        for name in composites + bounded:
            u, a = views[(name, "none")], views[(name, "cell_mix")]
            if u["std_effect"] is None:
                lines.append(f"| {name} | {u['note']} | - | - | - |")
                continue
            ratio = u["std_effect"] / u["estimate"] if u["estimate"] else float("nan")
            diff = (
                _ci(
                    a["difference"] * ratio,
                    a["difference_ci_low"] * ratio,
                    a["difference_ci_high"] * ratio,
                )
                if a["difference"] is not None
                else "-"
            )
            lines.append(
                f"| {name} | {_std(u)} | {_std(a)} | {diff} | "
                f"{_ci(a['share_removed'], a['share_ci_low'], a['share_ci_high'])} |"
            )
        lines.append("")
    composition = {
        d: pl.read_csv(results / d / "scores/composition.tsv", separator="\t").filter(
            pl.col("signature").str.starts_with("axis:") & (pl.col("method") != "ssgsea")
        )
        for d in WORKFLOW_DATASETS
    }
    lines += [
        "### Composition share (R² of the axis score on the four indices; top index and sign)",
        "",
        "| axis | " + " | ".join(WORKFLOW_DATASETS) + " |",
        "|---|" + "---|" * len(WORKFLOW_DATASETS),
    ]
    axes = sorted({s for t in composition.values() for s in t["signature"].to_list()})
    for axis in axes:
        cells = []
        for dataset in WORKFLOW_DATASETS:
            found = composition[dataset].filter(pl.col("signature") == axis)
            if not found.height or found["r2"][0] is None:
                cells.append("-")
                continue
            r = found.row(0, named=True)
            sign = "+" if r["top_cell_type_sign"] == "positive" else "-"
            cells.append(f"{r['r2']:.2f} ({r['top_cell_type']} {sign})")
        lines.append(f"| {axis} | " + " | ".join(cells) + " |")
    meta = pl.read_parquet(results / "catalog/axis_meta.parquet").filter(
        pl.col("signature").str.starts_with("axis:")
        & pl.col("method").is_in(["singscore", "log2cpm"])
    )
    lines += [
        "",
        "### Pooled over the cohorts (random effects; cell_mix: the estimable cohorts only)",
        "",
        "| axis | unadjusted, all cohorts (k) | unadjusted, same cohorts as cell_mix | cell_mix (k) | pooled share removed |",
        "|---|---|---|---|---|",
    ]
    for axis in sorted(set(meta["signature"])):
        u = meta.filter((pl.col("signature") == axis) & (pl.col("adjustment") == "none")).row(
            0, named=True
        )
        a = meta.filter((pl.col("signature") == axis) & (pl.col("adjustment") == "cell_mix")).row(
            0, named=True
        )
        pooled = f"{a['pooled_unadjusted']:+.2f}" if a["pooled_unadjusted"] is not None else "-"
        lines.append(
            f"| {axis} | {_ci(u['effect'], u['ci_low'], u['ci_high'])} ({u['k']}) | {pooled} | "
            f"{_ci(a['effect'], a['ci_low'], a['ci_high'])} ({a['k']}) | "
            f"{_ci(a['share_removed'], a['share_ci_low'], a['share_ci_high'])} |"
        )
    return [*lines, ""]


def _kept_reading() -> str:
    if OUT.exists():
        text = OUT.read_text()
        if "\n## Reading" in text:
            return "\n## Reading" + text.split("\n## Reading", 1)[1]
    return "\n## Reading\n\n(to be written)\n"


if __name__ == "__main__":
    main()
