"""voom, limma's moderated statistics and dream-style mixed models, written from the papers.

DE for cohorts with several samples per subject (e.g. frontal and motor cortex of one donor):

* :mod:`~alsig.voom.normalise` -- effective library sizes (median-of-ratios factors), log-CPM;
* :mod:`~alsig.voom.trend` -- voom's mean-variance trend and precision weights (Law et al. 2014);
* :mod:`~alsig.voom.models` -- gene-wise weighted least squares, GLS with a block correlation,
  and a linear mixed model with one random intercept per subject (REML), vectorised across genes
  (compiled in :mod:`~alsig.voom.kernels`);
* :mod:`~alsig.voom.dupcor` -- duplicateCorrelation's consensus (Smyth, Michaud & Scott 2005);
* :mod:`~alsig.voom.satterthwaite` -- Satterthwaite degrees of freedom per gene and contrast;
* :mod:`~alsig.voom.ebayes` -- empirical Bayes moderated t and F (Smyth 2004), BH adjustment;
* :mod:`~alsig.voom.power`, :mod:`~alsig.voom.summary` -- what the DE report states;
* :mod:`~alsig.voom.repeated` -- :func:`fit_repeated_model` (one fit per design, any number of
  contrasts and F tests), :func:`fit_repeated` (one contrast in one call) and
  :func:`repeated_model`, the ``auto`` choice.

limma and variancePartition (dream) are GPL; this package is MIT and follows the published
methods, checked against R (limma 3.54, lme4 + lmerTest) in ``tests/unit/test_voom*.py``.
"""

from alsig.voom.dupcor import DupCor, duplicate_correlation
from alsig.voom.ebayes import fit_prior, moderated_t, trigamma_inverse
from alsig.voom.models import GeneFits, block_correlations, fit_gls, fit_mixed
from alsig.voom.normalise import effective_library_sizes, log_cpm, median_ratio_size_factors
from alsig.voom.power import minimum_detectable_lfc, planned_mde
from alsig.voom.repeated import (
    MODEL_NAMES,
    RepeatedFit,
    RepeatedModel,
    fit_repeated,
    fit_repeated_model,
    repeated_model,
    subjects_with_conflicts,
)
from alsig.voom.trend import VoomData, voom

__all__ = [
    "MODEL_NAMES",
    "DupCor",
    "GeneFits",
    "RepeatedFit",
    "RepeatedModel",
    "VoomData",
    "block_correlations",
    "duplicate_correlation",
    "effective_library_sizes",
    "fit_gls",
    "fit_mixed",
    "fit_prior",
    "fit_repeated",
    "fit_repeated_model",
    "log_cpm",
    "median_ratio_size_factors",
    "minimum_detectable_lfc",
    "moderated_t",
    "planned_mde",
    "repeated_model",
    "subjects_with_conflicts",
    "trigamma_inverse",
    "voom",
]
