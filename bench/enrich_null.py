"""Are the enrichment p-values calibrated on real tissue? GSEA preranked vs camera.

Real counts (the QC'd ``filtered.h5ad`` of a shared-cohorts run), condition permuted over whole
donors (no gene and no set truly differs), alsig's own DE (``run_de``) and enrichment
(``enrich_contrast`` with the contrast's residuals, i.e. camera, at the default ``enrich:``
settings). Per permutation and collection: sets at nominal p < 0.05 and at FDR < 0.05 for GSEA
(gene-set permutation null) and camera (inter-gene correlation from the residuals).

Then planted effects: on a donor-permuted cohort, one Hallmark set's genes are thinned
binomially by 2^-0.5 in the (permuted) control samples, a log2 fold change of +0.5 ALS vs control
for every gene of the set; recorded: whether camera / GSEA call the planted set, and how many other
sets they call. Last, the real contrast (GSE124439 ALS vs control): the sets each method calls.

Usage: python bench/enrich_null.py --run /tmp/realrun3 [--perms-124439 12] [--perms-67196 20]
       [--plants 10] -> bench/results/enrich_null.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import platform
import time
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl

from alsig.settings import DeSettings, complete
from alsig.signatures.library import signatures_of_run, signatures_to_gmt
from alsig.stages.de import run_de
from alsig.stages.enrich.contrast import enrich_contrast
from alsig.stages.enrich.residuals import fit_residuals

ROOT = Path(__file__).resolve().parents[1]
HALLMARK_GMT = Path("/work/shared/data/genesets/h.all.v7.4.symbols.gmt.gz")
#: log2 fold changes planted on a whole set (the brief's 0.5 and a weaker one, for power)
SHIFTS_LOG2 = (0.5, 0.2)
ENRICH = complete("enrich")


def hallmark() -> dict[str, list[str]]:
    sets = {}
    with gzip.open(HALLMARK_GMT, "rt") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            sets[parts[0]] = parts[2:]
    return sets


def resistance() -> dict[str, list[str]]:
    signatures, _ = signatures_of_run([], replace=False, harmonise=True)
    return signatures_to_gmt(signatures)[0]


def de_settings(design: str) -> DeSettings:
    return complete(
        "de",
        {
            "design": design,
            "lfc_shrink": False,
            "contrasts": {"null": ["condition", "ALS", "control"]},
        },
    )


def permuted(adata: ad.AnnData, rng: np.random.Generator) -> ad.AnnData:
    """``adata`` with ALS / control shuffled over whole donors (other conditions kept)."""
    obs = adata.obs.copy()
    obs["condition"] = obs["condition"].astype(str)
    keep = obs["condition"].isin(["ALS", "control"])
    donors = obs.loc[keep].groupby("subject", observed=True)["condition"].first()
    shuffled = pd.Series(rng.permutation(donors.to_numpy()), index=donors.index)
    obs.loc[keep, "condition"] = obs.loc[keep, "subject"].astype(str).map(shuffled).to_numpy()
    out = adata.copy()
    out.obs = obs
    return out


def enrich_both(
    adata: ad.AnnData, settings: DeSettings, collections: dict[str, dict[str, list[str]]]
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """DE, residuals and the prerank rows (GSEA + camera) of each collection."""
    table, summary = run_de(adata, settings.contrast("null"), settings, n_cpus=1)
    residuals = fit_residuals(adata, settings, "null").residuals
    out = {}
    for name, sets in collections.items():
        result = enrich_contrast(
            table, sets, collection=name, settings=ENRICH, threads=1, source="", residuals=residuals
        )
        out[name] = result.table.filter(pl.col("method") == "prerank")
    info = {
        "model": summary["model"],
        "de_padj05": int((table["padj"] < 0.05).sum()),
        "df_residual": residuals.df_residual,
    }
    return out, info


def counts_of(prerank: pl.DataFrame) -> dict[str, Any]:
    return {
        "sets": prerank.height,
        "gsea_p05": int((prerank["pvalue"] < 0.05).sum()),
        "gsea_fdr05": int((prerank["fdr"] < 0.05).sum()),
        "camera_p05": int((prerank["camera_pvalue"] < 0.05).sum()),
        "camera_fdr05": int((prerank["camera_fdr"] < 0.05).sum()),
        "median_correlation": float(prerank["inter_gene_correlation"].median() or 0.0),  # type: ignore[arg-type]
    }


def null_rows(
    label: str,
    adata: ad.AnnData,
    design: str,
    n: int,
    seed: int,
    collections: dict[str, dict[str, list[str]]],
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    settings = de_settings(design)
    rows = []
    for i in range(n):
        started = time.monotonic()
        tables, info = enrich_both(permuted(adata, rng), settings, collections)
        for name, prerank in tables.items():
            row = {"cohort": label, "perm": i, "collection": name, **info, **counts_of(prerank)}
            rows.append(row)
            print(row, f"{time.monotonic() - started:.0f} s", flush=True)
    return rows


def plant_rows(
    label: str,
    adata: ad.AnnData,
    design: str,
    n: int,
    seed: int,
    sets: dict[str, list[str]],
    shift: float,
) -> list[dict[str, Any]]:
    """Shift one set (log2 +shift ALS vs control by thinning the controls) per donor permutation."""
    rng = np.random.default_rng(seed)
    settings = de_settings(design)
    genes = set(map(str, adata.var_names))
    eligible = [t for t, g in sets.items() if 15 <= len(genes.intersection(g)) <= 500]
    rows = []
    for i in range(n):
        cohort = permuted(adata, rng)
        term = eligible[int(rng.integers(len(eligible)))]
        columns = np.flatnonzero(np.isin(cohort.var_names.astype(str), sets[term]))
        controls = np.flatnonzero((cohort.obs["condition"] == "control").to_numpy())
        counts = np.asarray(cohort.X.toarray() if hasattr(cohort.X, "toarray") else cohort.X)
        counts = counts.astype(np.int64)
        block = counts[np.ix_(controls, columns)]
        counts[np.ix_(controls, columns)] = rng.binomial(block, 2.0**-shift)
        cohort.X = counts
        tables, info = enrich_both(cohort, settings, {"hallmark": sets})
        prerank = tables["hallmark"]
        hit = prerank.filter(pl.col("term") == term).row(0, named=True)
        others = prerank.filter(pl.col("term") != term)
        row = {
            "cohort": label,
            "log2_shift": shift,
            "plant": i,
            "term": term,
            "genes": hit["size"],
            "correlation": hit["inter_gene_correlation"],
            "camera_p": hit["camera_pvalue"],
            "camera_fdr": hit["camera_fdr"],
            "camera_direction": hit["camera_direction"],
            "gsea_p": hit["pvalue"],
            "gsea_fdr": hit["fdr"],
            "other_camera_fdr05": int((others["camera_fdr"] < 0.05).sum()),
            "other_gsea_fdr05": int((others["fdr"] < 0.05).sum()),
            "de_padj05": info["de_padj05"],
        }
        rows.append(row)
        print(row, flush=True)
    return rows


def real_contrast(run: Path) -> pl.DataFrame:
    """GSE124439 ALS vs control of the run: its DE table, residuals under the run's design."""
    adata = ad.read_h5ad(run / "GSE124439/qc/filtered.h5ad")
    settings = complete(
        "de",
        {
            "design": "~ sex + region + condition",
            "contrasts": {"ALS_vs_control": ["condition", "ALS", "control"]},
        },
    )
    residuals = fit_residuals(adata, settings, "ALS_vs_control").residuals
    table = pl.read_parquet(run / "GSE124439/de/ALS_vs_control.parquet")
    parts = []
    for name, sets in (("hallmark", hallmark()), ("alsig_resistance", resistance())):
        result = enrich_contrast(
            table, sets, collection=name, settings=ENRICH, threads=1, source="", residuals=residuals
        )
        parts.append(result.table.filter(pl.col("method") == "prerank"))
    return pl.concat(parts)


def markdown(frame: pd.DataFrame) -> str:
    text = frame.to_csv(sep="|", index=False, float_format="%.3g").strip().splitlines()
    head = "| " + text[0].replace("|", " | ") + " |"
    rule = "|" + "---|" * len(text[0].split("|"))
    return "\n".join([head, rule, *("| " + line.replace("|", " | ") + " |" for line in text[1:])])


def null_summary(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    out = []
    for (cohort, collection), part in frame.groupby(["cohort", "collection"], sort=False):
        sets = part["sets"].sum()
        out.append(
            {
                "null": cohort,
                "collection": f"{collection} ({part['sets'].iloc[0]} sets)",
                "perms": len(part),
                "GSEA p<0.05": f"{part['gsea_p05'].sum() / sets:.0%}",
                "camera p<0.05": f"{part['camera_p05'].sum() / sets:.1%}",
                "GSEA sets FDR<0.05 per perm (mean, range)": (
                    f"{part['gsea_fdr05'].mean():.1f} ({part['gsea_fdr05'].min()}-"
                    f"{part['gsea_fdr05'].max()})"
                ),
                "camera sets FDR<0.05 per perm (mean, range)": (
                    f"{part['camera_fdr05'].mean():.2f} ({part['camera_fdr05'].min()}-"
                    f"{part['camera_fdr05'].max()})"
                ),
                "perms with any GSEA FDR<0.05": f"{(part['gsea_fdr05'] > 0).sum()}/{len(part)}",
                "perms with any camera FDR<0.05": f"{(part['camera_fdr05'] > 0).sum()}/{len(part)}",
                "median inter-gene correlation": f"{part['median_correlation'].median():.3f}",
            }
        )
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=Path("/tmp/realrun3"))
    parser.add_argument("--perms-124439", type=int, default=12)
    parser.add_argument("--perms-67196", type=int, default=20)
    parser.add_argument("--plants", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/enrich_null.md")
    args = parser.parse_args()
    started = time.monotonic()
    collections = {"hallmark": hallmark(), "alsig_resistance": resistance()}
    cerebellum = ad.read_h5ad(args.run / "GSE67196/qc/filtered.h5ad")
    cerebellum = cerebellum[
        (cerebellum.obs["region"].astype(str) == "Cerebellum").to_numpy()
    ].copy()
    gse124439 = ad.read_h5ad(args.run / "GSE124439/qc/filtered.h5ad")
    rows = null_rows(
        "GSE67196 cerebellum, ~ condition (DESeq2)",
        cerebellum,
        "~ condition",
        args.perms_67196,
        23,
        {"hallmark": collections["hallmark"]},
    )
    plants = [
        row
        for seed, shift in enumerate(SHIFTS_LOG2)
        for row in plant_rows(
            "GSE67196 cerebellum",
            cerebellum,
            "~ condition",
            args.plants,
            5 + seed,
            collections["hallmark"],
            shift,
        )
    ]
    rows += null_rows(
        "GSE124439 ALS vs control, ~ sex + region + condition (dream)",
        gse124439,
        "~ sex + region + condition",
        args.perms_124439,
        31,
        collections,
    )
    real = real_contrast(args.run)
    write(args, rows, plants, real, time.monotonic() - started)


def write(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    plants: list[dict[str, Any]],
    real: pl.DataFrame,
    seconds: float,
) -> None:
    planted = pd.DataFrame(plants)
    called = real.filter((pl.col("fdr") < 0.05) | (pl.col("camera_fdr") < 0.05))
    real_table = called.select(
        "collection",
        "term",
        "size",
        "nes",
        pl.col("fdr").alias("GSEA fdr"),
        "inter_gene_correlation",
        "camera_direction",
        "camera_pvalue",
        "camera_fdr",
    ).to_pandas()
    counts = (
        real.group_by("collection", maintain_order=True)
        .agg(
            pl.len().alias("sets"),
            (pl.col("fdr") < 0.05).sum().alias("GSEA FDR<0.05"),
            (pl.col("camera_fdr") < 0.05).sum().alias("camera FDR<0.05"),
            (pl.col("camera_pvalue") < 0.05).sum().alias("camera p<0.05"),
        )
        .to_pandas()
    )
    power = (
        planted.groupby("log2_shift", sort=False)
        .agg(
            plants=("plant", "size"),
            camera_calls=("camera_fdr", lambda f: int((f < 0.05).sum())),
            gsea_calls=("gsea_fdr", lambda f: int((f < 0.05).sum())),
            other_camera_calls_mean=("other_camera_fdr05", "mean"),
            other_gsea_calls_mean=("other_gsea_fdr05", "mean"),
        )
        .reset_index()
    )
    text = f"""# Enrichment p-values on donor-permuted real cohorts: GSEA preranked vs camera

`python bench/enrich_null.py --run {args.run} --perms-124439 {args.perms_124439} --perms-67196
{args.perms_67196} --plants {args.plants}` ({dt.date.today()}, {platform.machine()}, one thread,
{seconds / 60:.0f} min). Real counts: the QC'd `filtered.h5ad` of a shared-cohorts run
(`config/examples/shared_cohorts.yaml`). Condition permuted over whole donors, so that no gene
and no set differs between the groups; alsig's DE (`run_de`, the model `auto` picks: DESeq2 for
GSE67196 cerebellum, voom + donor intercept (dream) for GSE124439) and alsig's enrichment
(`enrich_contrast`, default `enrich:` settings: GSEA preranked, 1000 gene-set permutations) with
the contrast's residuals (camera, `alsig.gsea.camera`, inter-gene correlation estimated per set
from voom log2 CPM residuals under the fixed-effect design). Under this complete null about 5 %
of sets should reach p < 0.05, and at most about 5 % of permutations should have any set at
FDR < 0.05.

## 1. Null: donor-permuted condition

{markdown(null_summary(rows))}

Per permutation (`sets`: tested; `*_p05`, `*_fdr05`: sets below 0.05; `median_correlation`:
median of the sets' inter-gene correlation; `de_padj05`: genes at padj < 0.05):

{markdown(pd.DataFrame(rows))}

## 2. Planted set: a log2 shift on one Hallmark set in the (permuted) ALS samples

One donor permutation of GSE67196 cerebellum per plant; a random Hallmark set with 15-500 genes
in the data; its genes' counts in the permuted control samples thinned binomially by 2^-shift (a
fold change of 2^shift ALS vs control on every gene of the set, on real between-donor noise),
shifts {", ".join(map(str, SHIFTS_LOG2))}. `camera_calls` / `gsea_calls`: plants where the method
calls the planted set at FDR < 0.05; `other_*_calls_mean`: the other Hallmark sets each method
calls per plant (false calls: nothing else was planted).

{markdown(power)}

{markdown(planted)}

## 3. The real contrast: GSE124439 ALS vs control

The run's DE table (dream, `~ sex + region + condition`), the residuals of its 176 samples under
that fixed-effect design.

{markdown(counts)}

Sets called by either method (FDR < 0.05):

{markdown(real_table)}
"""
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
