"""Where inputs come from: HTTP with retries, cached downloads, GEO files, NCBI E-utilities."""
