"""Differential expression with pydeseq2.

Multi-factor designs checked before fitting, one contrast per job, DESeq2 defaults, Wald test and
LFC shrinkage.

Rule entry point :func:`run`; :func:`run_de` is the same work on an AnnData in memory.
"""

from alsig.stages.de.fit import run_de
from alsig.stages.de.job import run

__all__ = ["run", "run_de"]
