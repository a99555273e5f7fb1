"""A contrast's residuals for camera: the DE stage's samples and design, voom's log2 CPM.

camera (:mod:`alsig.gsea.camera`) estimates each set's inter-gene correlation from the residuals
of the linear model of the contrast. They are computed here on exactly the samples, genes and
design the DE job fitted (:func:`alsig.stages.de.dataset.contrast_fit_samples`: QC exclusions,
subset, level selection, missing covariates, cell-mix terms), on voom's log2 CPM with the
median-of-ratios effective library sizes (:mod:`alsig.voom.normalise`, the mixed model's scale).
The design is the fixed-effect one: with repeated donors (dream) the random intercept is left
out, so the residuals of one donor's samples share that donor's effect (the correlation between
genes is still what it is estimated from).

A module of its own, imported by the ``enrich`` job only: it loads the DE stage, which the
per-subtype enrichment (:mod:`alsig.stages.subtypes.enrich_job`) must not import.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anndata as ad
import pandas as pd

from alsig.errors import AlsigError
from alsig.gsea.camera import Residuals, standardised_residuals
from alsig.io import read_h5ad_counts
from alsig.settings import DeSettings
from alsig.stages.de.dataset import contrast_fit_samples, read_vst
from alsig.stages.de.design import design_matrix
from alsig.voom.normalise import effective_library_sizes, log_cpm_by_gene

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContrastResiduals:
    """camera's residuals of one contrast and what they were computed on (the run record).

    Attributes
    ----------
    residuals : Residuals
        Genes x ``n - p`` standardised residual effects.
    n_samples : int
        Samples of the contrast's fit.
    n_genes : int
        Genes the DE job tested.
    design : str
        The fixed-effect formula.
    design_columns : int
        ``p``: columns of the design matrix.
    """

    residuals: Residuals
    n_samples: int
    n_genes: int
    design: str
    design_columns: int

    def as_dict(self) -> dict[str, object]:
        """Return what the run record says about the residuals."""
        return {
            "n_samples": self.n_samples,
            "n_genes": self.n_genes,
            "design": self.design,
            "design_columns": self.design_columns,
            "df_residual": self.residuals.df_residual,
            "expression": "voom log2 CPM (median-of-ratios effective library sizes)",
        }


def contrast_residuals(h5ad_path: str, de: DeSettings, contrast: str) -> ContrastResiduals:
    """Return the standardised residuals of ``contrast``'s samples under its design.

    Parameters
    ----------
    h5ad_path
        The QC'd AnnData the DE job read (``qc/filtered.h5ad``).
    de
        The dataset's ``de:`` settings.
    contrast
        A name of ``de.contrasts``.

    Returns
    -------
    ContrastResiduals
        The residuals of every gene the DE job tested (row names = symbols).

    Raises
    ------
    AlsigError
        The contrast or its fit cannot be rebuilt, or its design leaves no residual degree of
        freedom.
    """
    adata = read_h5ad_counts(h5ad_path)
    expression = read_vst(h5ad_path, adata) if de.adjust_cell_mix else None
    return fit_residuals(adata, de, contrast, expression=expression, source=h5ad_path)


def fit_residuals(
    adata: ad.AnnData,
    de: DeSettings,
    contrast: str,
    *,
    expression: pd.DataFrame | None = None,
    source: str = "(in memory)",
) -> ContrastResiduals:
    """Return :func:`contrast_residuals` of an AnnData in memory.

    Parameters
    ----------
    adata
        The QC'd AnnData (counts in ``X``).
    de
        The dataset's ``de:`` settings.
    contrast
        A name of ``de.contrasts``.
    expression
        The VST layer for ``de.adjust_cell_mix`` (default: log-CPM of the counts).
    source
        Where ``adata`` came from, for messages.

    Returns
    -------
    ContrastResiduals
        As :func:`contrast_residuals`.

    Raises
    ------
    AlsigError
        As :func:`contrast_residuals`.
    """
    fit = contrast_fit_samples(adata, de, contrast, expression=expression)
    logcpm = log_cpm_by_gene(fit.counts, effective_library_sizes(fit.counts))
    design = design_matrix(fit.cell_mix.meta.loc[fit.meta.index], fit.design, fit.label)
    genes = fit.var.index.astype(str).tolist()
    try:
        residuals = standardised_residuals(logcpm, design.to_numpy(dtype=float), genes)
    except ValueError as error:
        raise AlsigError(
            f"{source}: camera needs the residuals of contrast '{contrast}' ({fit.label}): {error}"
        ) from error
    log.info(
        "camera residuals of %s: %d samples, %d genes, design '%s' (%d columns, %d residual df)",
        contrast,
        logcpm.shape[1],
        len(genes),
        fit.design,
        design.shape[1],
        residuals.df_residual,
    )
    return ContrastResiduals(residuals, logcpm.shape[1], len(genes), fit.design, design.shape[1])
