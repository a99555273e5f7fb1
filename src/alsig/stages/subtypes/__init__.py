"""Per-sample molecular states of ALS and the cohort's own consensus-NMF clusters.

The states are Ox-, Glia- and TE-like, after Tam et al. 2019.

Rule entry point :func:`run`; :func:`subtype_table` is the same work on tables in memory.
"""

from alsig.stages.subtypes.job import run
from alsig.stages.subtypes.table import subtype_table

__all__ = ["run", "subtype_table"]
