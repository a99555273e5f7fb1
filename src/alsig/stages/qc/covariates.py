"""Which sample covariates drive the expression data.

The share of each leading principal component explained by each covariate of the sample sheet.

Sequencing batch, sex, region or library size often explain more of the expression variance
than disease status. Seeing that before fitting a model tells a user which covariates the
design needs. For every PC and covariate this reports R² of ``PC ~ covariate``: a one-way
ANOVA for categorical covariates (F-test p), a linear regression for continuous ones (Pearson
correlation test p), on the samples where the covariate is known.

A covariate is read as DE reads it (:func:`alsig.validation.read_numbers`): "not known"
spellings are missing, and a column that is mostly numbers is continuous. Its few text cells
(``90+``, a decimal comma ``4,5``) are missing here, and named in a warning: read as a category
they would turn ``age`` into one level per donor, whose R² says nothing about age.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from alsig import plotting
from alsig.tables import schemas
from alsig.validation import as_missing, read_numbers

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
        if column is not None and _labels(obs[column]).dropna().nunique() > 1:
            found[name] = column
    return found


def _labels(values: pd.Series) -> pd.Series:
    """Return the values as stripped text, the sheet's "not known" spellings missing."""
    known, _ = as_missing(values, str(values.name))
    return known.map(lambda v: None if v is None else str(v).strip())


@dataclass
class CovariateReading:
    """How one covariate enters the diagnostic.

    Attributes
    ----------
    kind
        ``continuous`` or ``categorical``.
    values
        Floats (NaN: missing) or labels (None: missing).
    text_cells
        For a continuous covariate whose text cells are read as missing: those cells
        (``'90+' (S1)``); empty otherwise.
    """

    kind: str
    values: pd.Series
    text_cells: str = ""


def read_covariate(values: pd.Series) -> CovariateReading:
    """Read one covariate: continuous when mostly numbers with > 2 distinct, else categorical.

    Parameters
    ----------
    values
        The sample column.

    Returns
    -------
    CovariateReading
    """
    reading = read_numbers(values)
    numbers = reading.numbers.dropna()
    if reading.mostly_numeric and len(numbers) >= 3 and numbers.nunique() > 2:
        cells = reading.text_cells() if len(reading.text) else ""
        return CovariateReading("continuous", reading.numbers, cells)
    return CovariateReading("categorical", _labels(values))


def covariate_r2(pc: np.ndarray, reading: CovariateReading) -> tuple[float, float, int]:
    """(R², p, samples used) of one PC against one covariate."""
    from scipy import stats

    if reading.kind == "continuous":
        use = reading.values.notna().to_numpy()
        r, p = stats.pearsonr(reading.values.to_numpy()[use], pc[use])
        return float(r**2), float(p), int(use.sum())
    labels = reading.values
    use = labels.notna().to_numpy()
    groups = [pc[use][labels[use].to_numpy() == g] for g in pd.unique(labels[use])]
    if len(groups) < 2 or use.sum() <= len(groups):
        return float("nan"), float("nan"), int(use.sum())
    total = np.sum((pc[use] - pc[use].mean()) ** 2)
    between = sum(len(g) * (g.mean() - pc[use].mean()) ** 2 for g in groups)
    p = float(stats.f_oneway(*groups).pvalue) if all(len(g) > 1 for g in groups) else np.nan
    return float(between / total) if total > 0 else np.nan, p, int(use.sum())


def pc_covariates(
    pcs: np.ndarray,
    variance_ratio: Sequence[float],
    obs: pd.DataFrame,
    *,
    n_pcs: int = 5,
    library_size: np.ndarray | None = None,
    report: dict[str, list[str]] | None = None,
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
    report
        Filled in place for the log: ``readings`` (how each covariate was read, one line) and
        ``warnings`` (the text cells of a mostly numeric covariate, read as missing).

    Returns
    -------
    One row per PC x covariate, columns of the shipped ``pc_covariates`` schema.
    """
    report = {} if report is None else report
    found = covariate_columns(obs)
    readings = {name: read_covariate(obs[column]) for name, column in found.items()}
    if library_size is not None:
        log_size = np.log10(np.maximum(np.asarray(library_size, dtype=float), 1))
        readings["log10_library_size"] = CovariateReading(
            "continuous", pd.Series(log_size, index=obs.index)
        )
    said = report.setdefault("readings", [])
    warnings = report.setdefault("warnings", [])
    for name, reading in readings.items():
        column = f" ('{found[name]}')" if name in found and found[name] != name else ""
        known = int(reading.values.notna().sum())
        said.append(f"{name}{column} {reading.kind}, {known} of {len(obs)} sample(s) known")
        if reading.text_cells:
            warnings.append(
                f"QC covariate '{name}'{column} is mostly numbers but {reading.text_cells} "
                "are not: read as continuous with those cells missing in pc_covariates. Correct "
                "them in the sample sheet (or write NA); DE reads such a column as categorical"
            )
    rows = []
    for k in range(min(n_pcs, pcs.shape[1])):
        for name, reading in readings.items():
            r2, p, n = covariate_r2(pcs[:, k], reading)
            rows.append((f"PC{k + 1}", float(variance_ratio[k]), name, reading.kind, r2, p, n))
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
