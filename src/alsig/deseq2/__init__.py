"""A gene-batched DESeq2: pydeseq2's model fit and tests, chunked over genes in compiled loops.

:func:`fit_deseq2` fits a dataset once for its design (size factors, dispersions, log fold
changes, Cook's outliers and their refit); the returned :class:`DESeq2Fit` gives Wald results of
any contrast vector (:meth:`DESeq2Fit.results`), likelihood-ratio tests against reduced designs
(:meth:`DESeq2Fit.lrt`) and shrunken log fold changes (:meth:`DESeq2Fit.lfc_shrink`). Results equal
pydeseq2 0.5.4's to the precision of its optimisers and do not depend on chunk size or threads.
"""

from alsig.deseq2.design import Design
from alsig.deseq2.engine import fit_deseq2
from alsig.deseq2.filtering import FilterResult, independent_filtering
from alsig.deseq2.fit import DEResults, DESeq2Fit
from alsig.deseq2.passes import DESeq2Options
from alsig.deseq2.shrink import ShrinkResult
from alsig.deseq2.size_factors import SizeFactorFit, median_of_ratios, positive_counts
from alsig.deseq2.trend import DispersionPrior, DispersionTrend
from alsig.deseq2.wald import WaldTest

__all__ = [
    "DEResults",
    "DESeq2Fit",
    "DESeq2Options",
    "Design",
    "DispersionPrior",
    "DispersionTrend",
    "FilterResult",
    "ShrinkResult",
    "SizeFactorFit",
    "WaldTest",
    "fit_deseq2",
    "independent_filtering",
    "median_of_ratios",
    "positive_counts",
]
