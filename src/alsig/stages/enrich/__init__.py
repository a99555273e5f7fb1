"""Pathway enrichment per contrast (GSEA preranked and over-representation), offline.

Rule entry points: :func:`run` (one contrast x one collection) and :func:`run_report` (the dot
plot and provenance of one contrast); :func:`enrich_contrast` is the same work on tables in
memory. The statistics are the :mod:`alsig.gsea` library's.

The names are imported on first use (PEP 562), so that a short job such as ``enrich_report``
loads only its own module, not the engines.
"""

from __future__ import annotations

from alsig.lazy import lazy_exports

_EXPORTS = {
    "enrich_contrast": "alsig.stages.enrich.contrast",
    "run": "alsig.stages.enrich.job",
    "run_report": "alsig.stages.enrich.report_job",
}

__all__ = ["enrich_contrast", "run", "run_report"]


__getattr__ = lazy_exports(__name__, _EXPORTS)
