"""The dispersion trend of DESeq2's blind variance stabilising transformation.

pydeseq2's ``DeseqDataSet.vst_fit(use_design=False)``: gene-wise dispersions under an
intercept-only design (the main fit's first pass, :meth:`Runner.genewise_pass`) and their
parametric trend (``a0 + a1 / mean``, or the mean trend where that fit fails). The transformation
itself is closed-form in the trend's coefficients (``alsig.stages.qc.normalise.apply_vst``).
"""

from __future__ import annotations

import numpy as np

from alsig.deseq2.chunks import Blocks, default_chunk_size, gene_chunks, genes_by_samples
from alsig.deseq2.design import Design
from alsig.deseq2.passes import DESeq2Options, GeneFits, Runner
from alsig.deseq2.trend import DispersionTrend, fit_dispersion_trend


def fit_vst_trend(
    counts: np.ndarray, size_factors: np.ndarray, *, n_threads: int, fit_type: str
) -> DispersionTrend:
    """Fit the blind VST's dispersion trend on the genes of ``counts``.

    Parameters
    ----------
    counts
        Samples x genes non-negative integer counts; every gene has a count somewhere.
    size_factors
        One per sample (computed beforehand, from all genes).
    n_threads
        Threads of the compiled kernels (the result does not depend on it).
    fit_type
        ``parametric`` or ``mean``.

    Returns
    -------
    DispersionTrend
        The trend (``kind`` says whether the parametric fit held).
    """
    n_samples, n_genes = counts.shape
    design = Design.from_frame(np.ones((n_samples, 1)), columns=["Intercept"])
    options = DESeq2Options()
    chunk = default_chunk_size(n_samples)
    fits = GeneFits.empty(np.arange(n_genes), design.n_coefficients)
    with Blocks(n_threads) as blocks:
        runner = Runner(design, np.asarray(size_factors, dtype=float), options, chunk, blocks)
        for rows in gene_chunks(n_genes, chunk):
            y = genes_by_samples(counts, fits.genes[rows], blocks)
            runner.genewise_pass(y, fits, rows)
    return fit_dispersion_trend(
        fits.genewise, fits.normed_mean, min_disp=options.min_disp, fit_type=fit_type
    )
