"""Ingest: count matrix + sample sheet -> validated AnnData (samples x genes, integer counts)."""

from alsig.stages.ingest.assemble import (
    assemble,
    download_record,
    file_record,
    package_versions,
    to_storage,
)
from alsig.stages.ingest.counts import (
    CountMatrix,
    read_count_matrix,
    read_gene_matrix,
    read_h5ad_count_matrix,
    read_sample_ids,
)
from alsig.stages.ingest.geo import annotation_symbols, ingest_geo, series_matrix_layout
from alsig.stages.ingest.harmonise import HarmonisedGenes, harmonise_checked, harmonise_genes
from alsig.stages.ingest.job import run, run_download
from alsig.stages.ingest.local import ingest_local
from alsig.stages.ingest.samples import (
    CANONICAL_COLUMNS,
    SheetLayout,
    build_obs,
    match_samples,
    normalise_sex,
    obs_from_sheet,
    read_sample_sheet,
    resolve_conditions,
)
from alsig.stages.ingest.text import read_text_bytes

__all__ = [
    "CANONICAL_COLUMNS",
    "CountMatrix",
    "HarmonisedGenes",
    "SheetLayout",
    "annotation_symbols",
    "assemble",
    "build_obs",
    "download_record",
    "file_record",
    "harmonise_checked",
    "harmonise_genes",
    "ingest_geo",
    "ingest_local",
    "match_samples",
    "normalise_sex",
    "obs_from_sheet",
    "package_versions",
    "read_count_matrix",
    "read_gene_matrix",
    "read_h5ad_count_matrix",
    "read_sample_ids",
    "read_sample_sheet",
    "read_text_bytes",
    "resolve_conditions",
    "run",
    "run_download",
    "series_matrix_layout",
    "to_storage",
]
