"""Differential expression with pydeseq2: validated multi-factor designs, one contrast per call.

For one contrast ``[factor, test_level, reference_level]`` and a design formula (e.g.
``~ sex + region + condition``), :func:`run_de`

1. checks everything a user can get wrong BEFORE fitting (:func:`validate_contrast`): the design
   parses, its variables are sample columns, the factor is in the design, both levels exist with
   at least ``min_samples_per_level`` samples, covariates have no missing values (or those
   samples are dropped with ``missing_covariates: drop``), and the design matrix has full rank;
   every problem is an :class:`AlsigError` naming the contrast, the design and the counts per level;
2. fits pydeseq2 with DESeq2 defaults (median-of-ratios size factors, parametric dispersion
   trend, Cook's distance outlier refit/filtering, independent filtering) on the expressed genes
   (``var["expressed"]`` from QC), with the factor's reference level set to the contrast's
   reference so the contrast is a single model coefficient;
3. runs the Wald test (``DeseqStats.summary``) and apeGLM-style LFC shrinkage of that coefficient
   (``DeseqStats.lfc_shrink``).

Each contrast is fitted separately (one Snakemake job per contrast): the coefficient being
shrunk must be a column of the design, which depends on the contrast's reference level, and a new
contrast in config then reruns only itself.

Non-numeric design variables are categorical; a text column whose values are all numbers is used
as continuous (write ``C(x)`` in the formula to force categorical).

pydeseq2 silences ``FutureWarning`` process-wide when imported and leaves joblib worker
processes: the import runs inside ``warnings.catch_warnings()`` and :func:`shutdown_workers`
stops the workers.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl

from alsig.errors import AlsigError
from alsig.stages.qc import dense_counts, excluded_samples, shutdown_workers

log = logging.getLogger(__name__)

#: Defaults of the ``de:`` config section.
DEFAULT_SETTINGS: dict[str, Any] = {
    "design": "~ condition",
    "contrasts": {"ALS_vs_control": ["condition", "ALS", "control"]},
    "alpha": 0.05,
    "lfc_shrink": True,
    "cooks_filter": True,
    "independent_filter": True,
    "refit_cooks": True,
    "min_samples_per_level": 2,
    "missing_covariates": "error",
    "samples": "all",
    "genes": "expressed",
}

#: contrast names become file names and the {contrast} wildcard (see workflow/rules/de.smk)
CONTRAST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

RESULT_COLUMNS = [
    "gene_id",
    "symbol",
    "base_mean",
    "log2_fold_change",
    "lfc_se",
    "stat",
    "pvalue",
    "padj",
    "log2_fold_change_shrunk",
]
RESULT_SCHEMA: dict[str, pl.DataType] = {
    "gene_id": pl.String(),
    "symbol": pl.String(),
    **{c: pl.Float64() for c in RESULT_COLUMNS[2:]},
}


def with_defaults(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``de:`` settings with :data:`DEFAULT_SETTINGS` filled in for missing keys."""
    given = {k: v for k, v in (settings or {}).items() if v is not None}
    merged = {**DEFAULT_SETTINGS, **given}
    unknown = sorted(set(merged) - set(DEFAULT_SETTINGS))
    if unknown:
        raise AlsigError(
            f"config section de: unknown key(s) {unknown}; allowed: {sorted(DEFAULT_SETTINGS)}."
        )
    if merged["missing_covariates"] not in ("error", "drop"):
        raise AlsigError(
            f"config key de.missing_covariates: '{merged['missing_covariates']}'; use 'error' "
            "or 'drop'."
        )
    if merged["samples"] not in ("all", "contrast"):
        raise AlsigError(f"config key de.samples: '{merged['samples']}'; use 'all' or 'contrast'.")
    if merged["genes"] not in ("expressed", "all"):
        raise AlsigError(f"config key de.genes: '{merged['genes']}'; use 'expressed' or 'all'.")
    if not 0 < float(merged["alpha"]) < 1:
        raise AlsigError(f"config key de.alpha: {merged['alpha']}; needs 0 < alpha < 1.")
    merged["contrasts"] = parse_contrasts(merged["contrasts"])
    return merged


def parse_contrasts(contrasts: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Validate ``{name: [factor, test_level, reference_level]}``."""
    if not contrasts:
        raise AlsigError(
            "config key de.contrasts is empty; give at least one, e.g. "
            "{ALS_vs_control: [condition, ALS, control]}."
        )
    out = {}
    for name, spec in dict(contrasts).items():
        if not isinstance(spec, (list, tuple)) or len(spec) != 3:
            raise AlsigError(
                f"config key de.contrasts.{name}: {spec!r}; expected [factor, test_level, "
                "reference_level], e.g. [condition, ALS, control]."
            )
        factor, test, ref = (str(v) for v in spec)
        if test == ref:
            raise AlsigError(
                f"config key de.contrasts.{name}: test and reference level are both '{test}'."
            )
        if not CONTRAST_NAME.match(str(name)):
            raise AlsigError(
                f"config key de.contrasts: contrast name '{name}' becomes a file name; use "
                "letters, digits, '_' or '-'."
            )
        out[str(name)] = [factor, test, ref]
    return out


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
def design_variables(design: str, contrast_name: str = "") -> list[str]:
    """Sample columns a formula uses (``~ sex + C(region) + condition`` -> sex, region, ...)."""
    import formulaic

    if not isinstance(design, str) or "~" not in design:
        raise AlsigError(
            f"config key de.design: '{design}' is not a formula; write e.g. "
            "'~ sex + region + condition'."
        )
    try:
        variables = formulaic.Formula(design).required_variables
    except Exception as exc:  # formulaic raises several parser exception types
        raise AlsigError(
            f"config key de.design: cannot parse '{design}' ({exc}); write e.g. "
            "'~ sex + region + condition'."
        ) from exc
    # keep the order in which they appear in the formula
    return sorted(variables, key=lambda v: (design.find(v), v))


def _level_counts(values: pd.Series) -> str:
    counts = values.astype("string").fillna("<missing>").value_counts()
    return ", ".join(f"{k}: {v}" for k, v in counts.items())


def prepare_metadata(
    obs: pd.DataFrame,
    design: str,
    contrast_name: str,
    contrast: Sequence[str],
    *,
    min_samples_per_level: int = 2,
    missing_covariates: str = "error",
    samples: str = "all",
) -> tuple[pd.DataFrame, list[str]]:
    """The sample table pydeseq2 gets for one contrast, and the samples dropped.

    Raises :class:`AlsigError` for every problem (see the module docstring)."""
    factor, test, ref = (str(v) for v in contrast)
    what = f"contrast '{contrast_name}' ({factor}: {test} vs {ref}) with design '{design}'"
    variables = design_variables(design, contrast_name)
    absent = [v for v in variables if v not in obs.columns]
    if absent:
        raise AlsigError(
            f"{what}: design variable(s) {absent} are not sample columns; available: "
            f"{sorted(map(str, obs.columns))}. Fix de.design or the dataset's columns mapping."
        )
    if factor not in obs.columns:
        raise AlsigError(
            f"{what}: factor '{factor}' is not a sample column; available: "
            f"{sorted(map(str, obs.columns))}."
        )
    if factor not in variables:
        raise AlsigError(
            f"{what}: the contrast factor '{factor}' is not in the design; add it (e.g. "
            f"'{design.rstrip()} + {factor}')."
        )
    meta = obs[variables].copy()
    dropped: list[str] = []
    if samples == "contrast":
        keep = meta[factor].astype("string").isin([test, ref]).fillna(False).to_numpy(bool)
        dropped += meta.index[~keep].tolist()
        meta = meta.loc[keep]

    missing = meta.isna().any(axis=1)
    if missing.any():
        per_column = {c: meta.index[meta[c].isna()].tolist() for c in variables}
        per_column = {c: v for c, v in per_column.items() if v}
        detail = "; ".join(
            f"'{c}' missing for {len(v)} sample(s) ({', '.join(map(str, v[:8]))}"
            f"{', ...' if len(v) > 8 else ''})"
            for c, v in per_column.items()
        )
        if missing_covariates == "drop":
            log.warning("%s: dropping samples with missing design values: %s", what, detail)
            dropped += meta.index[missing.to_numpy()].tolist()
            meta = meta.loc[~missing.to_numpy()]
        else:
            raise AlsigError(
                f"{what}: {detail}. Fill in the sample sheet, remove the variable from "
                "de.design, or set de.missing_covariates: drop to leave those samples out."
            )

    levels = meta[factor].astype("string")
    counts = levels.value_counts()
    problems = []
    for level in (test, ref):
        n = int(counts.get(level, 0))
        if n == 0:
            problems.append(f"level '{level}' has no samples")
        elif n < min_samples_per_level:
            problems.append(
                f"level '{level}' has {n} sample(s), at least {min_samples_per_level} needed"
            )
    if problems:
        raise AlsigError(
            f"{what}: {'; '.join(problems)}. Samples per level of '{factor}': "
            f"{_level_counts(levels)}. Fix de.contrasts or the condition rules."
        )

    # types: contrast factor categorical with the reference first; numeric text -> continuous
    for column in variables:
        if column == factor:
            continue
        values = meta[column]
        if pd.api.types.is_numeric_dtype(values):
            meta[column] = values.astype(float)
            continue
        numeric = pd.to_numeric(values.astype("string"), errors="coerce")
        if numeric.notna().all():
            log.info("design variable '%s' is numeric text: used as continuous", column)
            meta[column] = numeric.astype(float)
        else:
            strings = values.astype(str)
            meta[column] = pd.Categorical(strings, categories=sorted(pd.unique(strings)))
    factor_values = levels.astype(str)
    others = sorted(set(factor_values) - {test, ref})
    meta[factor] = pd.Categorical(factor_values, categories=[ref, test, *others])

    matrix = design_matrix(meta, design, what)
    rank = int(np.linalg.matrix_rank(matrix.to_numpy(dtype=float)))
    if rank < matrix.shape[1]:
        raise AlsigError(
            f"{what}: the design matrix is not full rank (rank {rank} < {matrix.shape[1]} "
            f"columns: {list(matrix.columns)}); some variables are confounded, e.g. a covariate "
            f"that is constant within a level. Samples per level of '{factor}': "
            f"{_level_counts(levels)}. {_confounding_hint(meta, variables, factor)}"
            "Remove the confounded variable from de.design."
        )
    if matrix.shape[0] <= matrix.shape[1]:
        raise AlsigError(
            f"{what}: {matrix.shape[0]} samples for {matrix.shape[1]} model coefficients; "
            "no residual degrees of freedom. Use a simpler design."
        )
    return meta, dropped


def _confounding_hint(meta: pd.DataFrame, variables: Sequence[str], factor: str) -> str:
    hints = []
    for column in variables:
        if column == factor or not isinstance(meta[column].dtype, pd.CategoricalDtype):
            continue
        table = pd.crosstab(meta[column].astype(str), meta[factor].astype(str))
        hints.append(f"'{column}' x '{factor}': {table.to_dict(orient='index')}")
    return ("Sample counts " + "; ".join(hints) + ". ") if hints else ""


def design_matrix(meta: pd.DataFrame, design: str, what: str = "") -> pd.DataFrame:
    """The model matrix of ``design`` on ``meta`` (formulaic, as pydeseq2 builds it)."""
    import formulaic

    try:
        return pd.DataFrame(formulaic.model_matrix(design, meta))
    except Exception as exc:
        raise AlsigError(f"{what}: cannot build the design matrix ({exc}).") from exc


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------
def _pydeseq2():
    with warnings.catch_warnings():
        from pydeseq2.dds import DeseqDataSet
        from pydeseq2.default_inference import DefaultInference
        from pydeseq2.ds import DeseqStats
    return DeseqDataSet, DeseqStats, DefaultInference


def run_de(
    adata: ad.AnnData,
    contrast_name: str,
    contrast: Sequence[str],
    settings: Mapping[str, Any] | None = None,
    *,
    n_cpus: int = 1,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """DE for one contrast; returns (result table with :data:`RESULT_COLUMNS`, summary dict)."""
    s = with_defaults(settings)
    design = str(s["design"])
    factor, test, ref = (str(v) for v in contrast)
    excluded = excluded_samples(adata.obs)
    for sample, reason in excluded.items():
        log.warning("contrast %s: sample %s left out (QC: %s)", contrast_name, sample, reason)
    obs = adata.obs.loc[[s_ for s_ in adata.obs_names if s_ not in excluded]]
    meta, dropped = prepare_metadata(
        obs,
        design,
        contrast_name,
        contrast,
        min_samples_per_level=int(s["min_samples_per_level"]),
        missing_covariates=str(s["missing_covariates"]),
        samples=str(s["samples"]),
    )
    genes = np.ones(adata.n_vars, dtype=bool)
    if s["genes"] == "expressed":
        if "expressed" in adata.var:
            genes = adata.var["expressed"].astype(bool).to_numpy()
        else:
            log.warning("var['expressed'] missing (input not from QC): testing all genes")
    sub = adata[meta.index, genes]
    counts = dense_counts(sub)
    nonzero = counts.sum(axis=0) > 0
    counts = counts[:, nonzero]
    var = sub.var.loc[nonzero]
    if counts.shape[1] == 0:
        raise AlsigError(f"contrast '{contrast_name}': no genes with counts to test.")
    log.info(
        "contrast %s: %s %s vs %s, design %s, %d samples (%s), %d genes",
        contrast_name,
        factor,
        test,
        ref,
        design,
        len(meta),
        _level_counts(meta[factor]),
        counts.shape[1],
    )
    DeseqDataSet, DeseqStats, DefaultInference = _pydeseq2()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dds = DeseqDataSet(
                counts=pd.DataFrame(counts.astype(np.int64), index=meta.index, columns=var.index),
                metadata=meta,
                design=design,
                refit_cooks=bool(s["refit_cooks"]),
                inference=DefaultInference(n_cpus=n_cpus),
                quiet=True,
            )
            dds.deseq2()
            t_fit = time.perf_counter()
            stats = DeseqStats(
                dds,
                contrast=[factor, test, ref],
                alpha=float(s["alpha"]),
                cooks_filter=bool(s["cooks_filter"]),
                independent_filter=bool(s["independent_filter"]),
                inference=DefaultInference(n_cpus=n_cpus),
                quiet=True,
            )
            stats.summary()
            t_wald = time.perf_counter()
            res = stats.results_df.copy()
            shrunk = np.full(len(res), np.nan)
            coeff = _contrast_coefficient(stats)
            if s["lfc_shrink"] and coeff is not None:
                stats.lfc_shrink(coeff=coeff)
                shrunk = stats.results_df["log2FoldChange"].to_numpy(dtype=float)
            elif s["lfc_shrink"]:
                log.warning("LFC shrinkage skipped: contrast is not a single coefficient")
        finally:
            shutdown_workers()
    for w in caught:
        if issubclass(w.category, (FutureWarning, DeprecationWarning)):
            continue
        log.info("pydeseq2: %s", w.message)
    seconds = time.perf_counter() - start
    timings = {
        "fit_model_seconds": round(t_fit - start, 2),
        "wald_seconds": round(t_wald - t_fit, 2),
        "shrink_seconds": round(seconds - (t_wald - start), 2),
    }

    gene_id = (
        var["gene_id"].astype(str) if "gene_id" in var else pd.Series(var.index, index=var.index)
    )
    table = pl.DataFrame(
        {
            "gene_id": gene_id.astype(str).tolist(),
            "symbol": var.index.astype(str).tolist(),
            "base_mean": res["baseMean"].to_numpy(float),
            "log2_fold_change": res["log2FoldChange"].to_numpy(float),
            "lfc_se": res["lfcSE"].to_numpy(float),
            "stat": res["stat"].to_numpy(float),
            "pvalue": res["pvalue"].to_numpy(float),
            "padj": res["padj"].to_numpy(float),
            "log2_fold_change_shrunk": shrunk,
        },
        schema=RESULT_SCHEMA,
    ).with_columns(pl.col(pl.Float64).fill_nan(None))
    table = table.sort(["pvalue", "symbol"], nulls_last=True)

    alpha = float(s["alpha"])
    sig = table.filter(pl.col("padj") < alpha)
    cooks = 0
    if "replaced" in dds.var:
        cooks = int(np.asarray(dds.var["replaced"]).sum())
    level_counts = meta[factor].astype(str).value_counts()
    summary = {
        "contrast": contrast_name,
        "factor": factor,
        "test_level": test,
        "reference_level": ref,
        "design": design,
        "n_samples": len(meta),
        "n_test": int(level_counts.get(test, 0)),
        "n_reference": int(level_counts.get(ref, 0)),
        "n_samples_dropped": len(dropped),
        "dropped_samples": ";".join(map(str, dropped)),
        "n_samples_excluded_qc": len(excluded),
        "excluded_qc_samples": ";".join(f"{k}({v})" for k, v in excluded.items()),
        "n_genes_tested": table.height,
        "n_genes_with_padj": int(table["padj"].is_not_null().sum()),
        "alpha": alpha,
        "n_significant": sig.height,
        "n_up": int((sig["log2_fold_change"] > 0).sum()),
        "n_down": int((sig["log2_fold_change"] < 0).sum()),
        "n_cooks_refitted": cooks,
        "lfc_shrink_coefficient": coeff or "",
        "fit_seconds": round(seconds, 2),
        **timings,
        "n_cpus": n_cpus,
    }
    log.info(
        "contrast %s: %d genes at padj < %g (%d up, %d down) in %.1f s",
        contrast_name,
        summary["n_significant"],
        alpha,
        summary["n_up"],
        summary["n_down"],
        seconds,
    )
    return table, summary


def _contrast_coefficient(stats: Any) -> str | None:
    """The LFC column the contrast vector selects (one coefficient with weight 1), or None."""
    vector = np.asarray(stats.contrast_vector, dtype=float)
    nonzero = np.flatnonzero(vector)
    if len(nonzero) == 1 and vector[nonzero[0]] == 1.0:
        return str(stats.LFC.columns[nonzero[0]])
    return None


# --------------------------------------------------------------------------------------------
# Snakemake entry point
# --------------------------------------------------------------------------------------------
def run_de_rule(smk: Any) -> None:
    """Rule ``de``: input ``h5ad`` (QC output); outputs ``parquet``, ``tsv``, ``summary``,
    ``volcano``, ``ma``; params ``settings`` (merged ``de:``), ``contrast`` (name)."""
    from alsig import plotting as plots
    from alsig.io import read_h5ad_counts, save_figure, write_parquet, write_tsv

    settings = with_defaults(dict(smk.params.get("settings") or {}))
    name = str(smk.params["contrast"])
    if name not in settings["contrasts"]:
        raise AlsigError(
            f"contrast '{name}' is not in de.contrasts ({sorted(settings['contrasts'])})."
        )
    contrast = settings["contrasts"][name]
    adata = read_h5ad_counts(smk.input["h5ad"])
    table, summary = run_de(adata, name, contrast, settings, n_cpus=int(smk.threads))
    summary["dataset"] = str(adata.uns.get("dataset", ""))
    write_parquet(table, smk.output["parquet"])
    write_tsv(table, smk.output["tsv"])
    write_tsv(pl.DataFrame([summary]), smk.output["summary"])
    factor, test, ref = contrast
    title = f"{summary['dataset']} {name}: {test} vs {ref} ({summary['design']})"
    save_figure(
        plots.volcano(
            table["log2_fold_change"].to_numpy(),
            table["padj"].fill_null(np.nan).to_numpy(),
            labels=table["symbol"].to_list(),
            alpha=float(settings["alpha"]),
            title=title,
        ),
        smk.output["volcano"],
    )
    lfc = table["log2_fold_change_shrunk"]
    use_shrunk = lfc.is_not_null().any()
    save_figure(
        plots.ma_plot(
            table["base_mean"].to_numpy(),
            (lfc if use_shrunk else table["log2_fold_change"]).fill_null(np.nan).to_numpy(),
            table["padj"].fill_null(np.nan).to_numpy(),
            alpha=float(settings["alpha"]),
            title=title,
            ylabel="shrunken log2 fold change" if use_shrunk else "log2 fold change",
        ),
        smk.output["ma"],
    )
