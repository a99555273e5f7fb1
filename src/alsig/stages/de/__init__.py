"""Differential expression: one fit per dataset and design, every contrast and test read from it.

The DESeq2 model (``de.engine``: alsig's gene-batched engine, or pydeseq2) with Wald tests,
Cook's outlier handling, independent filtering, shrunken log fold changes and likelihood-ratio
tests (``de.tests``); when subjects contribute several samples (``de.repeated_subjects``), voom
with a random intercept per subject (dream), moderated t and F tests. Designs are checked before
anything is fitted; optional cell-mix covariates (``de.adjust_cell_mix``).

Rule entry point :func:`run` (one job per dataset); :func:`run_dataset` is the same work on an
AnnData in memory and :func:`run_de` one contrast of it.
"""

from alsig.stages.de.dataset import run_dataset, run_de
from alsig.stages.de.job import run

__all__ = ["run", "run_dataset", "run_de"]
