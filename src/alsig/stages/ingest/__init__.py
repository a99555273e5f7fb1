"""Ingest: count matrix + sample sheet -> validated AnnData (samples x genes, integer counts).

Rule entry points :func:`run` (one dataset) and :func:`run_download` (a GEO dataset's files);
:func:`ingest_local` and :func:`ingest_geo` are the same work in memory. The readers and checks
live in the modules by concept: ``counts`` (count matrices), ``samples`` (sample sheets,
conditions, obs), ``harmonise`` (gene ids), ``te_counts`` (TE counts), ``geo`` (a GEO series).
"""

from alsig.stages.ingest.geo import ingest_geo
from alsig.stages.ingest.job import run, run_download
from alsig.stages.ingest.local import ingest_local

__all__ = ["ingest_geo", "ingest_local", "run", "run_download"]
