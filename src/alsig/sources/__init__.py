"""Where inputs come from: HTTP with retries, cached downloads, GEO files, NCBI E-utilities.

One module per concern, imported by its path (no re-exports: the workflow's planning imports
``alsig.sources.geo_layout`` at parse time for every Snakemake call, which must not import
polars or the HTTP machinery):

* :mod:`~alsig.sources.http` -- the one retry loop (backoff, ``Retry-After``) behind every GET;
* :mod:`~alsig.sources.download` -- cached, verified file downloads with a sidecar record
  (:func:`~alsig.sources.download.fetch`, :func:`~alsig.sources.download.fetch_geo`);
* :mod:`~alsig.sources.geo_layout` -- where a GEO dataset's files live and their URLs;
* :mod:`~alsig.sources.geo` -- the series-matrix reader;
* :mod:`~alsig.sources.eutils` -- the NCBI E-utilities client that discovers GEO series.
"""
