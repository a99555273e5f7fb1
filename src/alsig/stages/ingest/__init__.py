"""Ingest: count matrix + sample sheet -> validated AnnData (samples x genes, integer counts).

Rule entry points :func:`run` (one dataset) and :func:`run_download` (a GEO dataset's files);
:func:`ingest_local` and :func:`ingest_geo` are the same work in memory. The readers and checks
live in the modules by concept: ``counts`` (count matrices), ``samples`` (sample sheets,
conditions, obs), ``harmonise`` (gene ids), ``te_counts`` (TE counts), ``geo`` (a GEO series).
The names are imported on first use (PEP 562), so that a download job loads only its module.
"""

from __future__ import annotations

from alsig.lazy import lazy_exports

_EXPORTS = {
    "ingest_geo": "alsig.stages.ingest.geo",
    "ingest_local": "alsig.stages.ingest.local",
    "run": "alsig.stages.ingest.job",
    "run_download": "alsig.stages.ingest.download_job",
}

__all__ = ["ingest_geo", "ingest_local", "run", "run_download"]


__getattr__ = lazy_exports(__name__, _EXPORTS)
