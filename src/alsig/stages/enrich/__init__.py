"""Pathway enrichment per contrast (GSEA preranked and over-representation), offline.

Rule entry points: :func:`run` (one contrast x one collection) and :func:`run_report` (the dot
plot and provenance of one contrast); :func:`enrich_contrast` is the same work on tables in
memory. The statistics are the :mod:`alsig.gsea` library's.
"""

from alsig.stages.enrich.contrast import enrich_contrast
from alsig.stages.enrich.job import run, run_report

__all__ = ["enrich_contrast", "run", "run_report"]
