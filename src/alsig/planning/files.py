"""Which files a run writes and which inputs each job reads.

The names of every stage's output files, the targets of a config (``rule all``) and the input
functions of the rules. Parse-time code: standard library, :mod:`alsig.settings` and
:mod:`alsig.genesets` only.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from typing import Any

from alsig import settings as alsig_settings
from alsig.genesets import resolve_collections
from alsig.resources import load_schema, signature_table
from alsig.settings import DatasetSettings, DeSettings, EnrichSettings, RunSettings, ScoreSettings
from alsig.sources.geo_layout import cache_files

CATALOG_DIR = "catalog/signature_scores.parquet"
CATALOG_MANIFEST = "catalog/signature_scores.manifest.tsv"
AXIS_META = "catalog/axis_meta"  # .parquet, .tsv, .png
#: The run summary on the report's landing page (rule ``run_summary``): .tsv and .rst.
RUN_SUMMARY = "run_summary"
#: The record of which datasets an output folder holds (see :func:`check_output_dir`).
RUN_RECORD = "alsig_run.json"
#: Names in the output folder that a dataset's folder must not take: the run's own files, the
#: report (``alsig report``: alsig.report.target) and the folders the report leaves out.
RESERVED_DATASET_IDS = (
    RUN_RECORD,
    f"{RUN_SUMMARY}.tsv",
    f"{RUN_SUMMARY}.rst",
    "report.html",
    "report.zip",
    "logs",
    "benchmarks",
)

QC_FILES = (
    "filtered.h5ad",
    "sample_qc.tsv",
    "gene_filter.tsv",
    "summary.json",
    "library_sizes.png",
    "pca.png",
    "sex_check.png",
    "pc_covariates.tsv",
    "pc_covariates.png",
    "cell_indices.parquet",
    "cell_indices.tsv",
    "cell_markers.tsv",
    "cell_indices.png",
    "alsig_general_stats_mqc.tsv",
    "alsig_pca_mqc.tsv",
)
#: Files of each contrast and of each test (``de.tests``) in ``<dataset>/de/``, and the DE
#: summary of the dataset (one row per contrast and test).
DE_SUFFIXES = (".parquet", ".tsv", ".summary.tsv", ".volcano.png", ".ma.png")
DE_TEST_SUFFIXES = (".parquet", ".tsv", ".summary.tsv")
DE_SUMMARY = "summary.tsv"
SCORE_FILES = (
    "signature_scores.parquet",
    "signature_scores_wide.tsv",
    "signature_coverage.tsv",
    "reference_strata.tsv",
    "composition.tsv",
    "cell_indices_by_signature.parquet",
    "scores.h5ad",
    "axis_heatmap.png",
    "axis_distributions.png",
    "axis_tests.parquet",
    "axis_tests.tsv",
    "axis_forest.png",
)
SUBTYPE_FILES = (
    "subtypes.parquet",
    "subtypes.tsv",
    "donors.tsv",
    "shares.tsv",
    "state_cellmix.tsv",
    "projection.png",
    "states.png",
    "axis_tests.parquet",
    "axis_tests.tsv",
    "axis_forest.png",
)
#: Outputs of the optional consensus NMF (``subtypes.discovery``), in <dataset>/subtypes/.
SUBTYPE_DISCOVERY_FILES = ("nmf.tsv", "nmf_consensus.png")
#: The subtypes that get DE and enrichment against the controls (= the reference model's classes,
#: alsig.stages.subtypes.carry.SUBTYPES; a unit test keeps them equal).
SUBTYPE_CONTRASTS = ("ALS-Ox", "ALS-Glia", "ALS-TE")
SUBTYPE_DE_SUFFIXES = (".parquet", ".tsv", ".summary.tsv")
#: The report's browsable tables per dataset (rule ``browse_tables``), in <output>/<dataset>/report/:
#: one page holding the samples, DE, enrichment and score tables (one DataTables bundle).
BROWSE_PAGES = ("tables",)


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------
def contrasts(de: DeSettings) -> list[str]:
    """Return the contrast names of a dataset (``de.contrasts`` keys).

    Parameters
    ----------
    de
        The dataset's ``de:`` settings.

    Returns
    -------
    list of str
        The names, in config order.
    """
    return [contrast.name for contrast in de.contrasts]


def de_files(output_dir: str, dataset: str, de: DeSettings) -> dict[str, list[str]]:
    """Return the files the one DE job of a dataset writes, by kind.

    Parameters
    ----------
    output_dir
        The run's output folder (``output_dir``).
    dataset
        The dataset id.
    de
        The dataset's ``de:`` settings.

    Returns
    -------
    dict
        ``table`` (each contrast's and test's ``.tsv``, report entries), ``summary`` (each
        one's ``.summary.tsv``), ``figure`` (volcano and MA plots of the contrasts), ``other``
        (the Parquet tables); ``dataset_summary``: ``[<dataset>/de/summary.tsv]``.
    """
    folder = f"{output_dir}/{dataset}/de"
    names = contrasts(de) + [test.name for test in de.tests]
    figures = [f"{folder}/{c}{suffix}" for c in contrasts(de) for suffix in DE_SUFFIXES[3:]]
    return {
        "table": [f"{folder}/{name}.tsv" for name in names],
        "summary": [f"{folder}/{name}.summary.tsv" for name in names],
        "figure": figures,
        "other": [f"{folder}/{name}.parquet" for name in names],
        "dataset_summary": [f"{folder}/{DE_SUMMARY}"],
    }


def dataset_targets(output_dir: str, dataset: str, settings: DatasetSettings) -> list[str]:
    """Return every output of one dataset.

    Parameters
    ----------
    output_dir
        The run's output folder (``output_dir``).
    dataset
        The dataset id.
    settings
        Its settings of every stage.

    Returns
    -------
    list of str
        Counts, QC, DE per contrast, enrichment per contrast and collection, scores, axis tests,
        subtypes and the browsable tables.
    """
    root = f"{output_dir}/{dataset}"
    targets = [f"{root}/counts.h5ad", *(f"{root}/qc/{name}" for name in QC_FILES)]
    collections = list(collection_files(settings.enrich))
    targets += [
        path for paths in de_files(output_dir, dataset, settings.de).values() for path in paths
    ]
    for contrast in contrasts(settings.de):
        folder = f"{root}/enrich/{contrast}"
        for collection in collections:
            targets += [f"{folder}/{collection}.parquet", f"{folder}/{collection}.tsv"]
        targets += [f"{folder}/dotplot.png", f"{folder}/provenance.json"]
    targets += [f"{root}/scores/{name}" for name in SCORE_FILES]
    targets += subtype_targets(root, settings)
    targets += [f"{root}/report/{page}.html" for page in BROWSE_PAGES]
    return targets


def subtype_targets(root: str, settings: DatasetSettings) -> list[str]:
    """Return the subtype stage's outputs of one dataset.

    Parameters
    ----------
    root
        The dataset's output folder (``<output_dir>/<dataset>``).
    settings
        Its settings of every stage (``subtypes.discovery``, ``subtypes.enrich_collections``).

    Returns
    -------
    list of str
        The projection tables and figures, the per-subtype DE and enrichment tables, the axis
        tests across subtypes and, with ``subtypes.discovery``, the consensus NMF.
    """
    folder = f"{root}/subtypes"
    targets = [f"{folder}/{name}" for name in SUBTYPE_FILES]
    if settings.subtypes.discovery:
        targets += [f"{folder}/{name}" for name in SUBTYPE_DISCOVERY_FILES]
    for subtype in SUBTYPE_CONTRASTS:
        targets += [f"{folder}/de/{subtype}{suffix}" for suffix in SUBTYPE_DE_SUFFIXES]
        # one table per subtype, every collection of subtypes.enrich_collections in it
        targets += [f"{folder}/enrich/{subtype}.{ext}" for ext in ("parquet", "tsv")]
    return targets


def subtype_collection_files(
    enrich: EnrichSettings, collections: tuple[str, ...]
) -> dict[str, str]:
    """Return ``{collection id: GMT path}`` of the collections each called subtype is tested on.

    Parameters
    ----------
    enrich
        The dataset's ``enrich:`` settings (its ``extra_gmt`` ids can be named).
    collections
        ``subtypes.enrich_collections``.

    Returns
    -------
    dict
        Collection id -> GMT file.
    """
    return collection_files(dataclasses.replace(enrich, collections=tuple(collections)))


def all_targets(run: RunSettings) -> list[str]:
    """Return every dataset's outputs, then the run-level catalog and cohort comparison.

    Parameters
    ----------
    run
        The run's settings (every dataset).

    Returns
    -------
    list of str
        The default target's files.
    """
    out = run.output_dir
    targets = []
    for dataset in run.datasets:
        targets += dataset_targets(out, dataset, run[dataset])
    meta = [f"{out}/{AXIS_META}{suffix}" for suffix in (".parquet", ".tsv", ".png")]
    summary = [f"{out}/{RUN_SUMMARY}{suffix}" for suffix in (".tsv", ".rst")]
    return [*targets, *summary, f"{out}/{CATALOG_MANIFEST}", *meta]


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------
def ingest_inputs(config: Mapping[str, Any], dataset: str) -> dict[str, str]:
    """Local datasets read their files directly; GEO datasets read the download cache."""
    settings = config["datasets"][dataset]
    if settings["source"] == "local":
        files = {"counts": settings["counts"], "samples": settings["samples"]}
        if settings.get("te_counts"):
            files["te_counts"] = settings["te_counts"]
        return files
    geo = alsig_settings.section(config, "geo")
    return cache_files(geo["cache_dir"], settings["accession"], settings.get("platform") or "")


def collection_files(enrich: EnrichSettings) -> dict[str, str]:
    """Return ``{collection id: GMT path}`` of the collections a dataset is tested against.

    Parameters
    ----------
    enrich
        The dataset's ``enrich:`` settings (user GMT paths relative to the working directory).

    Returns
    -------
    dict
        Collection id -> GMT file.
    """
    return dict(_collection_files(enrich, os.getcwd()))


@functools.cache
def _collection_files(enrich: EnrichSettings, workdir: str) -> tuple[tuple[str, str], ...]:
    """Return resolved once per settings and working directory.

    Snakemake asks for every enrich job's input and resources (the manifest is read, every file
    checked).
    """
    extra = [dataclasses.asdict(entry) for entry in enrich.extra_gmt]
    chosen = resolve_collections(enrich.collections, extra, base_dir=workdir)
    return tuple((collection.id, str(collection.path)) for collection in chosen)


def enrich_report_inputs(
    output_dir: str, dataset: str, contrast: str, enrich: EnrichSettings
) -> dict[str, list[str]]:
    """Return the inputs of the per-contrast enrichment report.

    Parameters
    ----------
    output_dir
        The run's output folder.
    dataset, contrast
        The job's wildcards.
    enrich
        The dataset's ``enrich:`` settings.

    Returns
    -------
    dict
        ``tables`` and ``json``: each collection's table and run record.
    """
    folder = f"{output_dir}/{dataset}/enrich/{contrast}"
    collections = list(collection_files(enrich))
    return {
        "tables": [f"{folder}/{c}.parquet" for c in collections],
        "json": [f"{folder}/{c}.run.json" for c in collections],
    }


def browse_inputs(output_dir: str, dataset: str, settings: DatasetSettings) -> dict[str, Any]:
    """Return the inputs of the browsable tables.

    Parameters
    ----------
    output_dir
        The run's output folder.
    dataset
        The dataset id.
    settings
        Its settings of every stage.

    Returns
    -------
    dict
        QC decisions, every contrast's DE table and enrichment tables (each collection), the
        long score table.
    """
    root = f"{output_dir}/{dataset}"
    names = contrasts(settings.de)
    collections = list(collection_files(settings.enrich))
    return {
        "samples": f"{root}/qc/sample_qc.tsv",
        "de": [f"{root}/de/{c}.parquet" for c in names],
        "enrich": [f"{root}/enrich/{c}/{k}.parquet" for c in names for k in collections],
        "scores": f"{root}/scores/signature_scores.parquet",
    }


def run_summary_inputs(run: RunSettings) -> dict[str, list[str]]:
    """Return the inputs of the run summary (rule ``run_summary``).

    Parameters
    ----------
    run
        The run's settings (every dataset).

    Returns
    -------
    dict
        ``sample_qc``, ``qc_summary``, ``subtypes``: one file per dataset in config order;
        ``de``: the DE summary of every contrast, then of every test (``de.tests``).
    """
    root = run.output_dir
    datasets = list(run.datasets)
    return {
        "sample_qc": [f"{root}/{d}/qc/sample_qc.tsv" for d in datasets],
        "qc_summary": [f"{root}/{d}/qc/summary.json" for d in datasets],
        "subtypes": [f"{root}/{d}/subtypes/subtypes.parquet" for d in datasets],
        "de": [path for d in datasets for path in de_files(root, d, run[d].de)["summary"]],
    }


def signature_files(score: ScoreSettings) -> list[str]:
    """Return the signature files a dataset is scored with (inputs: editing one reruns scoring).

    Parameters
    ----------
    score
        The dataset's ``score:`` settings.

    Returns
    -------
    list of str
        The shipped table (unless ``replace_signatures``) and the user's files.
    """
    files = [] if score.replace_signatures else [str(signature_table())]
    return [*files, *score.extra_signatures]


def table_version(schema: str) -> str:
    """Return the ``x-schema-version`` of an output table's schema, for the rule that writes it.

    A rule whose code writes a table takes it as a parameter, so a new version of the table (a
    column added or renamed by an upgrade) reruns that job once; Snakemake's code trigger sees
    only the rule's few-line script, not the alsig code that builds the table.

    Parameters
    ----------
    schema
        The schema's name (``workflow/schemas/<schema>.schema.yaml``).

    Returns
    -------
    str
        Its ``x-schema-version`` ("1" when it declares none).
    """
    return str(load_schema(schema).get("x-schema-version", "1"))
