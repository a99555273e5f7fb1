"""Cell-mix covariates for the DE design (``de.adjust_cell_mix``).

One definition of the cell mix everywhere (:mod:`alsig.cellmix`): BRETIGEA marker indices per
sample (the within-sample rank score, which needs no reference samples), of the four major
types only -- neurons, astrocytes, microglia, oligodendrocytes. The six-index rule of issue 27
(all six types, or their leading components explaining 80 % of their variance, at most three and
at most one per ten donors) is not met in any of the three real cohorts (endothelial cells and
OPCs add their own dimensions; ``bench/results/cell_indices.md``), so DE applies the same rule
to the four types whose loss and expansion ALS tissue shows. The covariates are what
:func:`alsig.cellmix.adjustment_covariates` chooses for the fitted samples and their donors;
when it finds them not estimable the design stays as it is and the summary says why.

An adjusted log fold change is the part of the difference the indices do not linearly explain:
neither the cell-intrinsic change (the indices are noisy) nor a more correct one (neuron loss
and gliosis are part of ALS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsig.cellmix import CellMixCovariates, adjustment_covariates, cell_indices

#: the cell types whose indices DE adjusts for
CELL_TYPES = ("neurons", "astrocytes", "microglia", "oligodendrocytes")


@dataclass(frozen=True)
class CellMixDesign:
    """A fit's design with the cell-mix covariates, or why it has none.

    Attributes
    ----------
    meta : pandas.DataFrame
        The design variables, with the covariate columns when estimable.
    terms : tuple of str
        The covariate columns added to every formula of the fit.
    description : str
        What the adjustment is (for the summary): the covariates, or ``not estimable: why``.
    """

    meta: pd.DataFrame
    terms: tuple[str, ...]
    description: str

    def formula(self, design: str) -> str:
        """Return ``design`` with the covariate terms added.

        Parameters
        ----------
        design
            A formula of the fit (full or reduced).

        Returns
        -------
        str
            ``design + cellmix_...`` (unchanged without covariates).
        """
        return " + ".join([design.rstrip(), *self.terms])


def cell_mix_design(
    meta: pd.DataFrame, expression: pd.DataFrame, subjects: pd.Series
) -> CellMixDesign:
    """Choose the cell-mix covariates of one fit and add them to its design variables.

    Parameters
    ----------
    meta
        The fit's typed design variables (index = the fitted samples).
    expression
        Log-scale expression (QC's VST), samples x gene symbols, every sample of the dataset
        (the rank index of a sample reads only that sample).
    subjects
        Donor of each fitted sample (index = sample ids).

    Returns
    -------
    CellMixDesign
        The design variables and the covariate terms (none when not estimable).
    """
    indices = cell_indices(expression).values.loc[meta.index, list(CELL_TYPES)]
    usable = indices.columns[np.isfinite(indices.to_numpy(dtype=float)).all(axis=0)]
    chosen: CellMixCovariates = adjustment_covariates(indices[usable], subjects.loc[meta.index])
    if not chosen.estimable or chosen.covariates is None:
        return CellMixDesign(meta, (), f"not estimable: {chosen.reason}")
    covariates = chosen.covariates.loc[meta.index]
    clashing = [c for c in covariates.columns if c in meta.columns]
    if clashing:
        covariates = covariates.drop(columns=clashing)
    out = meta.copy()
    for column in covariates.columns:
        out[column] = covariates[column].to_numpy(dtype=float)
    out.attrs = dict(meta.attrs)
    return CellMixDesign(out, tuple(covariates.columns), chosen.description)
