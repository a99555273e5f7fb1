"""The workflow's plan.

Which files a config asks for, which inputs each job reads, and how many threads, how much memory
and time each job needs.

``workflow/rules/common.smk`` imports this module at parse time, for every Snakemake call, so it
imports nothing heavy: the standard library, :mod:`alsig.settings` and :mod:`alsig.genesets`
(h5py and pyarrow are imported only to read an existing file's shape). Every function takes the
typed settings that ``common.smk`` resolved once per run (:class:`alsig.settings.RunSettings`),
so asking for one job's inputs, memory and runtime never resolves a config section again. The resource models are
fitted to measured peaks; the measurements are in ``bench/results/`` (files named below).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alsig import settings as alsig_settings
from alsig.errors import AlsigError
from alsig.genesets import count_gene_sets, resolve_collections
from alsig.io import write_text
from alsig.resources import signature_table
from alsig.settings import DatasetSettings, DeSettings, EnrichSettings, RunSettings, ScoreSettings
from alsig.sources.geo_layout import cache_files

#: Run-level outputs, relative to the run's output folder (``output_dir``).
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
# One run per output folder
# --------------------------------------------------------------------------------------------
def check_output_dir(output_dir: str, datasets: list[str]) -> str | None:
    """Refuse a run that would take over another config's output folder.

    The run-level outputs (the score catalog, the cross-cohort meta-analysis, the report) are
    built from the config's datasets. A config that shares no dataset with the folder's last
    run is another run (the demo, then the shared cohorts, in one ``results/``): refused. A
    config that adds datasets is the same run growing (scheduled reprocessing); one that lacks
    some is warned about, because its catalog and report will no longer hold them (a dataset
    left out on purpose, or one that failed in ``alsig reprocess``).

    Parameters
    ----------
    output_dir
        The config's ``output_dir``.
    datasets
        The config's dataset ids.

    Returns
    -------
    str or None
        A warning naming the datasets this run drops, or None.

    Raises
    ------
    AlsigError
        The folder holds another run (names its datasets and the key to set), ``output_dir`` is
        a file, or a dataset id is one of :data:`RESERVED_DATASET_IDS`.
    """
    folder = Path(output_dir)
    if folder.exists() and not folder.is_dir():
        raise AlsigError(
            f"config key output_dir: '{output_dir}' is a file, not a folder; name a folder for "
            "the run's outputs (it is created if missing)."
        )
    for dataset in datasets:
        if dataset in RESERVED_DATASET_IDS:
            raise AlsigError(
                f"config key datasets.{dataset}: the id '{dataset}' is the name of one of the "
                f"run's own files or folders in {output_dir}/ ({', '.join(RESERVED_DATASET_IDS)}); "
                "rename the dataset."
            )
    record = folder / RUN_RECORD
    if not record.is_file():
        return None
    try:
        held = list(json.loads(record.read_text()).get("datasets", []))
    except (OSError, ValueError) as exc:
        raise AlsigError(
            f"{record}: cannot read the run record ({exc}); delete it if this folder is yours."
        ) from exc
    dropped = [d for d in held if d not in datasets]
    if held and len(dropped) == len(held):
        raise AlsigError(
            f"output folder '{output_dir}' holds another run (datasets {held}); this config "
            f"runs {list(datasets)}. Give it its own folder with the config key output_dir "
            f"(e.g. 'results/my_run'), or delete {record} to reuse this one."
        )
    if dropped:
        return (
            f"output folder '{output_dir}' held datasets {dropped} that this config does not "
            "have: its catalog, meta-analysis and report will no longer include them."
        )
    return None


def shared_sources(run: RunSettings) -> str | None:
    """Name datasets that read the same counts (the same local file or GEO series).

    They are not independent cohorts: the cross-cohort meta-analysis (``catalog/axis_meta``)
    would count their samples twice and narrow its intervals. Allowed, since a user may mean
    it (one matrix split by sample sheets, two settings compared), but never without a word.

    Parameters
    ----------
    run
        The run's settings.

    Returns
    -------
    str or None
        A warning naming each group of datasets and what they share, or None.
    """
    by_source: dict[str, list[str]] = {}
    for dataset in run.datasets:
        source = run.source_params(dataset)
        if source.get("source") == "geo":
            key = f"GEO series {source.get('accession')}"
        else:
            key = f"counts file {os.path.realpath(str(source.get('counts')))}"
        by_source.setdefault(key, []).append(dataset)
    shared = {key: names for key, names in by_source.items() if len(names) > 1}
    if not shared:
        return None
    groups = "; ".join(f"{', '.join(names)} read the same {key}" for key, names in shared.items())
    return (
        f"{groups}. The cross-cohort meta-analysis (catalog/axis_meta) counts them as "
        "independent cohorts, so the same samples enter it more than once and its pooled "
        "effects look more certain than they are."
    )


#: Fewer permutations than this: the enrichment's p-values and FDR are too coarse to report.
FEW_PERMUTATIONS = 100


def few_permutations(run: RunSettings) -> str | None:
    """Name datasets whose enrichment runs on fewer than :data:`FEW_PERMUTATIONS` permutations.

    Allowed (a quick look at a config), but its FDR rests on that many random sets per gene set
    (at 1 every FDR is 0.5), so never without a word.

    Parameters
    ----------
    run
        The run's settings.

    Returns
    -------
    str or None
        A warning naming the datasets and their ``enrich.permutations``, or None.
    """
    few = {
        dataset: run[dataset].enrich.permutations
        for dataset in run.datasets
        if run[dataset].enrich.permutations < FEW_PERMUTATIONS
    }
    if not few:
        return None
    named = ", ".join(f"{dataset} ({count})" for dataset, count in few.items())
    return (
        f"enrich.permutations is below {FEW_PERMUTATIONS} for {named}: a permutation p-value "
        "cannot go below 1/(permutations+1) and every FDR rests on that many random sets per "
        "gene set (at 1, all are 0.5). Use the default 1000 or more for results you report."
    )


def start_warnings(run: RunSettings) -> list[str]:
    """Return what a run may do but must say at every start (and in ``alsig check-config``).

    Parameters
    ----------
    run
        The run's settings.

    Returns
    -------
    list of str
        :func:`shared_sources` and :func:`few_permutations`, those that have something to say.
    """
    return [warning for warning in (shared_sources(run), few_permutations(run)) if warning]


def partial_outputs(outputs_by_job: Mapping[str, Sequence[str]]) -> str | None:
    """Name jobs of which some files exist and others do not (e.g. a contrast was added).

    Snakemake compares a job's settings with the last run's only when every file of the job
    has a record, and reruns a job for a missing file only when that file is asked for. So
    after ``de.contrasts`` gains a contrast and ``de.design`` changes, a target naming only
    existing DE files (say ``<dataset>/de/summary.tsv``) is "up to date" with the old design.
    The default target asks for every file, so it reruns the job; this says so at the start.

    Parameters
    ----------
    outputs_by_job
        Each job (rule without wildcards) and its output files.

    Returns
    -------
    str or None
        A warning naming each such job and a missing file, or None.
    """
    partial = {}
    for job, files in outputs_by_job.items():
        missing = [path for path in files if not os.path.exists(path)]
        if missing and len(missing) < len(files):
            partial[job] = missing
    if not partial:
        return None
    named = "; ".join(
        f"{job} lacks {missing[0]}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
        for job, missing in partial.items()
    )
    jobs = " ".join(f"--forcerun {job}" for job in partial)
    return (
        f"{named} (new in the config, or deleted) while its other files exist. The default "
        "target reruns these jobs; a target naming only their existing files would keep "
        "them as they are even if settings changed (Snakemake compares settings only when "
        f"every file of a job has a record). To rerun them with such a target, add {jobs}."
    )


def claim_output_dir(output_dir: str, datasets: list[str]) -> None:
    """Record which datasets ``output_dir`` holds (written when a run starts, not on a dry run).

    Parameters
    ----------
    output_dir
        The config's ``output_dir``.
    datasets
        The config's dataset ids (a superset of any earlier record, :func:`check_output_dir`).
    """
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(json.dumps({"datasets": list(datasets)}, indent=1) + "\n", folder / RUN_RECORD)


# --------------------------------------------------------------------------------------------
# Per-rule settings of the command line and the profile
# --------------------------------------------------------------------------------------------
def check_rule_names(settings: Mapping[str, Iterable[str]], rules: Iterable[str]) -> None:
    """Refuse per-rule settings that name no rule of this workflow.

    Snakemake applies ``--set-threads``, ``--set-resources`` and ``--groups`` (from the command
    line or a profile) by rule name and skips a name no rule has without a word: a
    ``--set-resources de:mem_mb=32000`` meant for the DE jobs would leave them at their planned
    memory. alsig's DE jobs are one rule per dataset (``de_<dataset>``), so ``de`` is the name
    most likely to be given.

    Parameters
    ----------
    settings
        Option (e.g. ``"--set-resources"``) to the rule names it sets.
    rules
        The names of this workflow's rules.

    Raises
    ------
    AlsigError
        Each unknown name, the option that gave it, and the rules it was most likely meant for.
    """
    known = sorted(set(rules))
    problems = []
    for option, names in settings.items():
        for name in sorted(set(names) - set(known)):
            meant = [rule for rule in known if rule.startswith(f"{name}_")]
            meant = meant or difflib.get_close_matches(name, known, n=3)
            hint = f" (did you mean {', '.join(meant)}?)" if meant else ""
            problems.append(
                f"{option} names rule '{name}', which this workflow does not have{hint}"
            )
    if problems:
        raise AlsigError(
            "; ".join(problems)
            + ". Snakemake would ignore it without a word. Each dataset's DE job is a rule of its "
            "own, de_<dataset>. This run's rules: " + ", ".join(known) + "."
        )


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
    return cache_files(geo["cache_dir"], settings["accession"])


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


def check_collections(run: RunSettings) -> None:
    """Resolve every dataset's gene-set collections once, before any job is planned.

    An unknown, repeated or missing collection then stops the run with the config key that
    lists it (``enrich.collections``, ``enrich.extra_gmt``, ``subtypes.enrich_collections``),
    instead of failing inside Snakemake's input functions with a traceback.

    Parameters
    ----------
    run
        The run's settings.

    Raises
    ------
    AlsigError
        The dataset, the config key and the collection.
    """
    for dataset in run.datasets:
        settings = run[dataset]
        try:
            collection_files(settings.enrich)
            resolve_collections(
                settings.subtypes.enrich_collections,
                [dataclasses.asdict(entry) for entry in settings.enrich.extra_gmt],
                base_dir=os.getcwd(),
                key="subtypes.enrich_collections",
            )
        except AlsigError as error:
            raise AlsigError(f"dataset {dataset}: {error}") from error


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


# --------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------
def matrix_cells(h5ad_path: str) -> int:
    """Return samples x genes of an h5ad file, read from its index arrays (no matrix load).

    0 while the file does not exist yet (a dry run plans the job before its upstream job made
    it).
    """
    if not Path(h5ad_path).exists():
        return 0
    import h5py

    try:
        with h5py.File(h5ad_path, "r") as handle:
            n_obs = handle["obs"][handle["obs"].attrs.get("_index", "_index")].shape[0]
            n_var = handle["var"][handle["var"].attrs.get("_index", "_index")].shape[0]
    except (OSError, KeyError):
        return 0
    return int(n_obs) * int(n_var)


#: Memory of the matrix-sized rules: interpreter + libraries + bytes per samples x genes cell
#: of the input h5ad, fitted to measured peaks, estimates 5-10 % above, so a
#: `--resources mem_mb=` budget packs jobs tightly. QC since its block-wise rewrite
#: (bench/results/qc_memory.md): 1.97 GB at 120 M cells (2,000 x 60,000; was 5.5 GB), i.e. the
#: int32 counts and two float32 layers (12 bytes per cell) over the interpreter; the base is the
#: 1.0 GB measured at 4.9 M cells (GSE124439, bench/results/de_scale.md), where the interpreter
#: and libraries dominate: estimates 2.08 GB at 120 M cells, 1.04 GB at 4.9 M.
QC_MEMORY = {"base_mb": 1000, "bytes_per_cell": 9}
#: DE, the DESeq2 model by alsig's engine (bench/results/de_job_gse124439.md,
#: de_job_synthetic.md): 0.50 GB at 4.9 M cells (GSE124439), 1.45 GB at 120 M (2,000 x 60,000).
DE_MEMORY: dict[str, float] = {"base_mb": 500, "bytes_per_cell": 9}
#: DE, the mixed model (voom + a donor intercept; its log-CPM and weights are two genes x samples
#: float64 matrices): 0.63 GB at 4.9 M cells, 2.39 GB at 120 M.
DE_MIXED_MEMORY: dict[str, float] = {"base_mb": 600, "bytes_per_cell": 16.5}
#: DE by pydeseq2 (de.engine: pydeseq2; bench/results/scale_2000x60000.md, 2026-12-04): 1.1 /
#: 2.2 / 7.0 GB at 4.9 M, 16 M and 120 M cells.
PYDESEQ2_MEMORY: dict[str, float] = {"base_mb": 1500, "bytes_per_cell": 50}


def matrix_mem_mb(h5ad_path: str, attempt: int, *, base_mb: float, bytes_per_cell: float) -> int:
    """Memory (MB) for a job loading the matrix of ``h5ad_path``, times the retry ``attempt``."""
    return int((base_mb + bytes_per_cell * matrix_cells(h5ad_path) / 1e6) * attempt)


#: Samples x genes from which a matrix job gets more than one thread. Below them a second core
#: does not pay (benchmark ``cpu_time / s``, shared cohorts, 2 threads each): QC used 1.0 core at
#: 0.5, 1.2 and 4.9 M cells; DE and the per-subtype DE 1.0 core at 0.5 and 1.2 M cells and
#: 1.5-1.6 at 4.9 M (GSE124439), where a second thread saved a third of the job's wall but the job
#: then waited for two free cores while Snakemake filled every single free core with one-thread
#: jobs (GSE124439's DE started at 120-150 s of a 180 s run). With one thread each, the
#: shared-cohorts DAG took 167 s on 2 cores instead of 222 s.
QC_PARALLEL_CELLS = 20_000_000
DE_PARALLEL_CELLS = 10_000_000


def job_threads(h5ad_path: str, most: int, *, from_cells: int) -> int:
    """Return the threads of a job on the matrix of ``h5ad_path``.

    Parameters
    ----------
    h5ad_path
        The job's input AnnData.
    most
        The rule's threads for a large matrix.
    from_cells
        Samples x genes from which the job gets ``most`` (:data:`QC_PARALLEL_CELLS`,
        :data:`DE_PARALLEL_CELLS`).

    Returns
    -------
    int
        1 below ``from_cells`` (and while the file does not exist yet: Snakemake asks again
        when the job is ready to run), else ``most``.
    """
    return most if matrix_cells(h5ad_path) >= from_cells else 1


def qc_runtime_min(h5ad_path: str) -> int:
    """Runtime (minutes) of a QC job."""
    return 10 + matrix_cells(h5ad_path) // 2_000_000


def de_fits(de: DeSettings) -> int:
    """Return how many fits a dataset's DE job makes (one per design and sample set).

    Parameters
    ----------
    de
        The dataset's ``de:`` settings.

    Returns
    -------
    int
        The distinct (design, subset, level selection) of its contrasts and tests.
    """
    keys = set()
    for contrast in de.contrasts:
        levels = (contrast.factor, frozenset((contrast.test, contrast.reference)))
        selection = levels if de.samples == "contrast" else None
        keys.add((de.design_of(contrast), contrast.subset, selection))
    keys |= {(de.design_of(test), test.subset, None) for test in de.tests}
    return max(1, len(keys))


def de_mem_mb(h5ad_path: str, attempt: int, de: DeSettings) -> int:
    """Memory (MB) of a dataset's DE job, times the retry ``attempt``.

    The fits run one after the other, so the peak is one fit's: the mixed model's
    (:data:`DE_MIXED_MEMORY`) unless ``de.repeated_subjects`` is ``ignore`` (whether subjects
    repeat is known only once the job reads the samples), else the DESeq2 model's
    (:data:`DE_MEMORY`, :data:`PYDESEQ2_MEMORY` for ``de.engine: pydeseq2``).

    Parameters
    ----------
    h5ad_path
        The QC'd AnnData.
    attempt
        Snakemake's retry attempt.
    de
        The dataset's ``de:`` settings.

    Returns
    -------
    int
        Megabytes.
    """
    deseq2 = PYDESEQ2_MEMORY if de.engine == "pydeseq2" else DE_MEMORY
    model = (
        deseq2
        if de.repeated_subjects == "ignore"
        else max(deseq2, DE_MIXED_MEMORY, key=lambda m: m["base_mb"] + m["bytes_per_cell"] * 120)
    )
    return matrix_mem_mb(h5ad_path, attempt, **model)


def de_runtime_min(h5ad_path: str, de: DeSettings) -> int:
    """Runtime (minutes, Slurm ``--time``) of a dataset's DE job: each fit's, one after another.

    alsig's engine and the mixed model take under a minute per fit at 120 M cells (2,000 x
    60,000: 22 and 43 CPU seconds, bench/results/de_job_synthetic.md); one minute per 20 M cells
    leaves room for slow nodes. pydeseq2 took 118 s at that size (2 workers), so its fits get a
    minute per 2 M cells.

    Parameters
    ----------
    h5ad_path
        The QC'd AnnData.
    de
        The dataset's ``de:`` settings.

    Returns
    -------
    int
        Minutes.
    """
    per_minute = 2_000_000 if de.engine == "pydeseq2" else 20_000_000
    return 5 + de_fits(de) * (1 + matrix_cells(h5ad_path) // per_minute)


def input_mem_mb(
    input_paths: list[str],
    attempt: int,
    *,
    factor: float,
    floor_mb: float = 1000,
    gzip_factor: float | None = None,
) -> int:
    """Return memory (MB) that scales with the inputs: ``factor`` x their size on disk.

    ``gzip_factor`` for .gz files, which expand several-fold when parsed; at least ``floor_mb``,
    times the retry ``attempt``.
    """
    size_mb = 0.0
    for name in map(str, input_paths):
        if Path(name).exists():
            scale = gzip_factor if gzip_factor and name.endswith(".gz") else factor
            size_mb += scale * Path(name).stat().st_size / 1e6
    return int(max(floor_mb, size_mb) * attempt)


def _parquet_rows(path: str | None) -> int:
    """Rows of a Parquet file from its footer; 0 while it does not exist (dry runs)."""
    if not path or not Path(path).exists():
        return 0
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, ValueError):
        return 0


def enrich_workload(
    enrich: EnrichSettings, collection: str, de_table: str | None
) -> tuple[int, int, int]:
    """Return what an enrichment job's memory and runtime scale with.

    Parameters
    ----------
    enrich
        The dataset's ``enrich:`` settings.
    collection
        The collection id.
    de_table
        The DE table (its rows), or ``None``.

    Returns
    -------
    tuple of int
        Gene sets in the collection file, permutations, genes of the DE table (0 before it
        exists).
    """
    sets = count_gene_sets(collection_files(enrich)[collection])
    return sets, enrich.permutations, _parquet_rows(de_table)


def enrich_mem_mb(
    enrich: EnrichSettings, collection: str, attempt: int, de_table: str | None
) -> int:
    """Memory (MB) of an enrichment job, times ``attempt``.

    alsig engine: 600 + 0.005 per gene of the DE table + 3.2e-5 per set x permutation (each
    set's null scores and null NES, 8 bytes each, and the sorted pool of the FDR); measured
    peaks 450-530 MB on GSE124439 (19,385 genes, GO BP 4,797 sets) and 549 MB for GO BP at
    60,000 genes, so the model leaves a margin of 1.6-1.9x. gseapy engine: 1000 + 0.04 per
    gene + 8.5e-6 per set x gene + 6.5e-5 per set x permutation (its Rust prerank holds each
    set's running-sum curve and permutation null). bench/results/enrich_prerank.md.
    """
    sets, permutations, genes = enrich_workload(enrich, collection, de_table)
    if enrich.engine == "gseapy":
        estimate = 1000 + 0.04 * genes
        estimate += 8.5e-6 * sets * genes + 6.5e-5 * sets * permutations
    else:
        estimate = 600 + 0.005 * genes + 3.2e-5 * sets * permutations
    return int(estimate * attempt)


def subtype_enrich_mem_mb(settings: DatasetSettings, attempt: int, de_table: str | None) -> int:
    """Memory (MB) of a ``subtypes_enrich`` job: its largest collection's, times ``attempt``.

    Parameters
    ----------
    settings
        The dataset's settings (``enrich:`` and ``subtypes.enrich_collections``).
    attempt
        Snakemake's attempt (1, 2, ...).
    de_table
        One subtype's DE table (its genes size the ranking).

    Returns
    -------
    int
        MB.
    """
    enrich = _subtype_enrich(settings)
    return max(
        (enrich_mem_mb(enrich, c, attempt, de_table) for c in enrich.collections),
        default=1000 * attempt,
    )


def subtype_enrich_runtime_min(settings: DatasetSettings, de_table: str | None) -> int:
    """Runtime (minutes) of a ``subtypes_enrich`` job: every subtype x collection in turn.

    Parameters
    ----------
    settings
        The dataset's settings (``enrich:`` and ``subtypes.enrich_collections``).
    de_table
        One subtype's DE table.

    Returns
    -------
    int
        Minutes.
    """
    enrich = _subtype_enrich(settings)
    per_subtype = sum(enrich_runtime_min(enrich, c, de_table) for c in enrich.collections)
    return max(1, len(SUBTYPE_CONTRASTS) * per_subtype)


def _subtype_enrich(settings: DatasetSettings) -> EnrichSettings:
    """Return the dataset's ``enrich:`` settings on ``subtypes.enrich_collections``."""
    return dataclasses.replace(settings.enrich, collections=settings.subtypes.enrich_collections)


def enrich_runtime_min(enrich: EnrichSettings, collection: str, de_table: str | None) -> int:
    """Runtime (minutes, Slurm ``--time``) of an enrichment job.

    For the alsig engine 5 + 1e-5 s per set x permutation (its work grows with set sizes, not
    genes: measured 1.1-1.4 us per set x permutation for GO BP on one core, mean set size 76;
    the margin covers collections of larger sets and slower nodes; whole jobs take 3-10 s on
    GSE124439), for the gseapy engine 10 + 1e-8 s per set x permutation x gene (measured 3.6-3.7
    ns on one core, a factor 2.7 for slower nodes).
    """
    sets, permutations, genes = enrich_workload(enrich, collection, de_table)
    if enrich.engine == "gseapy":
        return 10 + math.ceil(sets * permutations * genes * 1e-8 / 60)
    return 5 + math.ceil(sets * permutations * 1e-5 / 60)
