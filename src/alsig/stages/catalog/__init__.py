"""Cross-dataset outputs of a run: the partitioned score catalog and the cohort comparison.

Rule entry points :func:`run` (the catalog) and :func:`run_meta` (the meta-analysis of the axis
tests over the datasets).
"""

from alsig.stages.catalog.job import run, run_meta

__all__ = ["run", "run_meta"]
