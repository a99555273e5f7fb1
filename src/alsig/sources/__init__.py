"""Where inputs come from: HTTP with retries, cached downloads, GEO files, NCBI E-utilities."""

# Re-exported lazily: the workflow's planning imports ``alsig.sources.geo_layout`` at parse time
# for every Snakemake call, which must not import polars (``geo``) or the HTTP machinery.
_EXPORTS = {
    "Download": "alsig.sources.download",
    "cached": "alsig.sources.download",
    "fetch": "alsig.sources.download",
    "fetch_geo": "alsig.sources.download",
    "read_sidecar": "alsig.sources.download",
    "EUtils": "alsig.sources.eutils",
    "RateLimiter": "alsig.sources.eutils",
    "SeriesSummary": "alsig.sources.eutils",
    "discover_series": "alsig.sources.eutils",
    "normalise_key": "alsig.sources.geo",
    "read_series_matrix": "alsig.sources.geo",
    "HttpStatusError": "alsig.sources.http",
    "RetryPolicy": "alsig.sources.http",
    "get_bytes": "alsig.sources.http",
    "with_retries": "alsig.sources.http",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'alsig.sources' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
