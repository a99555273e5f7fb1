"""Which sample covariates drive the expression data.

The share of each leading principal component explained by each covariate of the sample sheet.

Sequencing batch, sex, region or library size often explain more of the expression variance
than disease status. Seeing that before fitting a model tells a user which covariates the
design needs. For every PC and covariate this reports R² of ``PC ~ covariate``: a one-way
ANOVA for categorical covariates (F-test p), a linear regression for continuous ones (Pearson
correlation test p), on the samples where the covariate is known.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import polars as pl

from alsig import plotting
from alsig.tables import schemas
from alsig.validation import MISSING_VALUE_TOKENS, SPREADSHEET_ERRORS

SCHEMA = "pc_covariates"
#: covariates looked for, in this order (case-insensitive; first matching sample column)
COVARIATES: dict[str, tuple[str, ...]] = {
    "condition": ("condition",),
    "sex": ("sex",),
    "region": ("region",),
    "batch": ("batch",),
    "rin": ("rin", "rna_integrity_number", "rin_score"),
    "age": ("age", "age_at_death", "age_at_onset"),
    "pmi": ("pmi", "pmi_hours", "post_mortem_interval"),
}


def covariate_columns(obs: pd.DataFrame) -> dict[str, str]:
    """``{covariate: obs column}`` for the known covariates with more than one value."""
    lower = {str(c).lower(): c for c in obs.columns}
    found = {}
    for name, candidates in COVARIATES.items():
        column = next((lower[c] for c in candidates if c in lower), None)
        if column is not None and _known(obs[column]).dropna().nunique() > 1:
            found[name] = column
    return found


#: values a sample sheet uses for "not known" (the one vocabulary of alsig.validation)
MISSING = MISSING_VALUE_TOKENS | {error.lower() for error in SPREADSHEET_ERRORS}


def _known(values: pd.Series) -> pd.Series:
    """Return the values with the sheet's "not known" spellings turned into missing."""
    text = values.astype("string").str.strip()
    return text.mask(text.str.lower().isin(MISSING))


def _numeric(values: pd.Series) -> pd.Series | None:
    """Return the values as numbers when every known value is a number (else None: categorical)."""
    known = _known(values)
    numbers = pd.to_numeric(known, errors="coerce")
    present = known.notna()
    if present.sum() >= 3 and numbers[present].notna().all() and numbers[present].nunique() > 2:
        return numbers
    return None


def covariate_r2(pc: np.ndarray, values: pd.Series) -> tuple[float, float, int, str]:
    """(R², p, samples used, kind) of one PC against one covariate."""
    from scipy import stats

    numbers = _numeric(values)
    if numbers is not None:
        use = numbers.notna().to_numpy()
        r, p = stats.pearsonr(numbers.to_numpy()[use], pc[use])
        return float(r**2), float(p), int(use.sum()), "continuous"
    labels = _known(values)
    use = labels.notna().to_numpy()
    groups = [pc[use][labels[use].to_numpy() == g] for g in pd.unique(labels[use])]
    if len(groups) < 2 or use.sum() <= len(groups):
        return float("nan"), float("nan"), int(use.sum()), "categorical"
    total = np.sum((pc[use] - pc[use].mean()) ** 2)
    between = sum(len(g) * (g.mean() - pc[use].mean()) ** 2 for g in groups)
    p = float(stats.f_oneway(*groups).pvalue) if all(len(g) > 1 for g in groups) else np.nan
    return float(between / total) if total > 0 else np.nan, p, int(use.sum()), "categorical"


def pc_covariates(
    pcs: np.ndarray,
    variance_ratio: Sequence[float],
    obs: pd.DataFrame,
    *,
    n_pcs: int = 5,
    library_size: np.ndarray | None = None,
) -> pl.DataFrame:
    """R² of each of the first ``n_pcs`` principal components against each known covariate.

    Parameters
    ----------
    pcs
        Samples x components PCA scores (rows in ``obs`` order).
    variance_ratio
        Share of variance of each component.
    obs
        Sample table; covariates are found by :func:`covariate_columns`.
    n_pcs
        Components reported.
    library_size
        Total counts per sample; reported as the continuous covariate ``log10_library_size``.

    Returns
    -------
    One row per PC x covariate, columns of the shipped ``pc_covariates`` schema.
    """
    columns = {name: obs[col] for name, col in covariate_columns(obs).items()}
    if library_size is not None:
        columns["log10_library_size"] = pd.Series(
            np.log10(np.maximum(np.asarray(library_size, dtype=float), 1)), index=obs.index
        )
    rows = []
    for k in range(min(n_pcs, pcs.shape[1])):
        for name, values in columns.items():
            r2, p, n, kind = covariate_r2(pcs[:, k], values.reset_index(drop=True))
            rows.append((f"PC{k + 1}", float(variance_ratio[k]), name, kind, r2, p, n))
    table = pl.DataFrame(rows, schema=schemas.polars_schema(SCHEMA), orient="row")
    table = table.with_columns(pl.col("r2", "pvalue").fill_nan(None))
    return schemas.validate(table, SCHEMA, "PC covariates")


def plot_pc_covariates(table: pl.DataFrame):
    """Heatmap of R² (PCs x covariates), R² written in each cell."""
    plt = plotting._pyplot()
    pcs = list(dict.fromkeys(table["pc"].to_list()))
    covariates = list(dict.fromkeys(table["covariate"].to_list()))
    grid = np.full((len(covariates), len(pcs)), np.nan)
    for row in table.iter_rows(named=True):
        if row["r2"] is not None:
            grid[covariates.index(row["covariate"]), pcs.index(row["pc"])] = row["r2"]
    ratio = dict(zip(table["pc"], table["variance_ratio"], strict=False))
    fig, ax = plt.subplots(
        figsize=(1.3 * len(pcs) + 2.5, 0.55 * len(covariates) + 1.8), constrained_layout=True
    )
    image = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            colour = "white" if value < 0.6 else "black"
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize="small", color=colour)
    ax.set_xticks(range(len(pcs)), [f"{p}\n({100 * ratio[p]:.1f}%)" for p in pcs])
    ax.set_yticks(range(len(covariates)), covariates)
    ax.set_title("variance of each PC explained by each covariate (R²)", fontsize="medium")
    fig.colorbar(image, ax=ax, label="R²", shrink=0.8)
    return fig
