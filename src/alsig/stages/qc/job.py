"""Entry point of rule ``qc``: the ingest AnnData -> the QC'd AnnData, tables and figures."""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Mapping
from typing import Any

import anndata as ad
import polars as pl

from alsig.io import save_figure, write_h5ad, write_parquet, write_text, write_tsv
from alsig.keys import NORMALIZED, QC_PCA
from alsig.settings import QcSettings
from alsig.stages.qc.cell_indices import SCHEMA, plot_cell_indices, qc_cell_indices
from alsig.stages.qc.covariates import pc_covariates, plot_pc_covariates
from alsig.stages.qc.figures import plot_library_sizes, plot_pca, plot_sex_check
from alsig.stages.qc.mqc import write_multiqc
from alsig.stages.qc.pipeline import run_qc
from alsig.stages.qc.tables import GENE_FILTER, clean_obs, gene_filter_table, sample_table
from alsig.tables import schemas

log = logging.getLogger(__name__)


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: QcSettings,
    threads: int,
    *,
    dataset: str,
) -> None:
    """Rule ``qc``.

    Parameters
    ----------
    inputs
        ``h5ad``: the dataset's ``counts.h5ad``.
    outputs
        ``h5ad``, ``samples``, ``genes``, ``summary``, ``library_sizes``, ``pca``, ``sex_check``,
        ``pc_covariates`` (TSV), ``pc_covariates_figure``; ``cell_indices`` (parquet),
        ``cell_indices_tsv``, ``cell_markers`` (TSV), ``cell_indices_figure``: the cell-type
        marker indices; ``multiqc_general_stats`` and ``multiqc_pca``, the MultiQC custom
        content.
    settings
        The job's resolved ``qc:`` settings.
    threads
        Threads of the VST's dispersion fit.
    dataset
        The job's dataset id.
    """
    adata = ad.read_h5ad(inputs["h5ad"])
    log.info("QC of %s: %d samples x %d genes", dataset, adata.n_obs, adata.n_vars)
    name = str(adata.uns.get("dataset", dataset))
    # copy=False: the AnnData just read is the QC's working copy (one copy of the counts)
    filtered, table, summary = run_qc(adata, settings, n_cpus=int(threads), copy=False)
    # the AnnData read shares its matrices with ``filtered``; anndata's views of it (the
    # kept-sample subset) sit in reference cycles, so collect them now: otherwise they keep the
    # counts and the normalised layer alive after _release_written_matrices (0.9 GB at
    # 2,000 x 60,000 under Snakemake, bench/results/qc_memory.md)
    del adata
    gc.collect()
    summary["dataset"] = name
    filtered.obs = clean_obs(filtered.obs)
    write_h5ad(filtered, outputs["h5ad"])
    write_tsv(sample_table(table), outputs["samples"])
    genes = schemas.validate(gene_filter_table(filtered), GENE_FILTER, outputs["genes"])
    write_tsv(genes, outputs["genes"])
    write_text(json.dumps(summary, indent=2, default=str) + "\n", outputs["summary"])
    _figures(table, filtered, summary, settings, outputs)
    _release_written_matrices(filtered)
    _cell_indices(filtered, summary["dataset"], outputs)
    write_multiqc(
        table,
        summary["pca_variance_ratio"],
        summary["dataset"],
        outputs["multiqc_general_stats"],
        outputs["multiqc_pca"],
    )
    log.info(
        "QC done: %d of %d samples kept (%d input samples), %d flagged; %d of %d genes expressed",
        summary["n_samples_kept"],
        summary["n_samples_after_collapse"],
        summary["n_samples_input"],
        summary["n_samples_flagged"],
        summary["n_genes_expressed"],
        summary["n_genes"],
    )


def _release_written_matrices(filtered: ad.AnnData) -> None:
    """Drop the counts and the normalised layer once written: the cell indices read the VST.

    Their 2 x 4 bytes per samples x genes cell would otherwise sit under the cell indices' own
    matrices (``bench/results/qc_memory.md``).
    """
    filtered.X = None
    filtered.layers.pop(NORMALIZED, None)


def _cell_indices(filtered, dataset: str, outputs) -> None:
    """Write the cell-type marker indices of the kept samples, their markers and figure."""
    cells = qc_cell_indices(filtered, dataset)
    write_parquet(cells.table, outputs["cell_indices"], schema=SCHEMA)
    write_tsv(cells.table, outputs["cell_indices_tsv"])
    write_tsv(cells.markers, outputs["cell_markers"])
    save_figure(plot_cell_indices(cells.table, dataset), outputs["cell_indices_figure"])
    shallow = cells.markers.filter(pl.col("n_used") < pl.col("n_markers"))
    log.info(
        "cell indices (%s) of %d samples; %s",
        cells.table["method"][0] if cells.table.height else "-",
        cells.table.height,
        ", ".join(f"{r['cell_type']} {r['n_used']} markers" for r in shallow.iter_rows(named=True))
        or "every cell type has its full marker count",
    )


def _figures(table, filtered, summary, settings, outputs) -> None:
    indexed = table.set_index("sample")
    save_figure(plot_library_sizes(indexed), outputs["library_sizes"])
    save_figure(
        plot_pca(indexed, summary["pca_variance_ratio"], settings.pca_colour_by),
        outputs["pca"],
    )
    save_figure(plot_sex_check(indexed), outputs["sex_check"])
    readings: dict[str, list[str]] = {}
    drivers = pc_covariates(
        filtered.obsm[QC_PCA],
        summary["pca_variance_ratio"],
        filtered.obs,
        library_size=filtered.obs["total_counts"].to_numpy(),
        report=readings,
    )
    log.info("PC-covariate diagnostic reads: %s", "; ".join(readings["readings"]))
    for warning in readings["warnings"]:
        log.warning("%s", warning)
    write_tsv(
        schemas.validate(drivers, "pc_covariates", outputs["pc_covariates"]),
        outputs["pc_covariates"],
    )
    save_figure(plot_pc_covariates(drivers), outputs["pc_covariates_figure"])
