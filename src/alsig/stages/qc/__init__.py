"""Sample and gene QC.

Metrics, expression filter, normalisation and VST, outliers, the sex check and its decisions,
replicate collapsing, and the covariates that drive the data.

Rule entry point :func:`run`; :func:`run_qc` is the same work on an AnnData in memory.
"""

from alsig.stages.qc.job import run
from alsig.stages.qc.pipeline import run_qc

__all__ = ["run", "run_qc"]
