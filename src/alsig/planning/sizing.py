"""Threads, memory and runtime of each job, from the shape of its input.

The models are fitted to measured peaks; the measurements are in ``bench/results/`` (files
named below). Snakemake asks for them when a job is ready, so they read an existing file's
shape (h5py, pyarrow) and nothing else.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from alsig.genesets import count_gene_sets
from alsig.planning.files import SUBTYPE_CONTRASTS, collection_files
from alsig.settings import Contrast, DatasetSettings, DeSettings, EnrichSettings


# --------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------
def matrix_cells(h5ad_path: str) -> int:
    """Return samples x genes of an h5ad file, read from its index arrays (no matrix load).

    0 while the file does not exist yet (a dry run plans the job before its upstream job made
    it).
    """
    n_obs, n_var, _ = h5ad_shape(h5ad_path)
    return n_obs * n_var


#: Memory (MB) of the Snakemake processes a cluster job runs besides its own work: on Slurm the
#: plugin's batch script and its job step each start a Snakemake (170-205 MB each, measured with
#: Slurm's memory enforcement on: a DE job planned at its work's 601 MB was killed at 631 MB).
#: Every job's ``mem_mb`` adds it (:func:`job_mem_mb`); the models below are the work's own peak.
JOB_OVERHEAD_MB = 400


def job_mem_mb(work_mb: float, attempt: int = 1) -> int:
    """Return a job's ``mem_mb``: its work's memory times ``attempt``, plus the job overhead.

    The :data:`JOB_OVERHEAD_MB` of the Snakemake processes around the work is not scaled by the
    retry attempt: they do not grow with the data.

    Parameters
    ----------
    work_mb
        Memory of the job's own work (a model below, or a rule's fixed value).
    attempt
        Snakemake's retry attempt (1, 2, ...).

    Returns
    -------
    int
        Megabytes.
    """
    return int(work_mb * attempt + JOB_OVERHEAD_MB)


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
    """Memory (MB) for a job loading the matrix of ``h5ad_path`` (:func:`job_mem_mb`)."""
    return job_mem_mb(base_mb + bytes_per_cell * matrix_cells(h5ad_path) / 1e6, attempt)


#: Samples x genes from which a matrix job gets more than one thread. Below them a second core
#: does not pay (benchmark ``cpu_time / s``, shared cohorts, 2 threads each): QC used 1.0 core at
#: 0.5, 1.2 and 4.9 M cells; DE and the per-subtype DE 1.0 core at 0.5 and 1.2 M cells and
#: 1.5-1.6 at 4.9 M (GSE124439), where a second thread saved a third of the job's wall but the job
#: then waited for two free cores while Snakemake filled every single free core with one-thread
#: jobs (GSE124439's DE started at 120-150 s of a 180 s run). With one thread each, the
#: shared-cohorts DAG took 167 s on 2 cores instead of 222 s.
QC_PARALLEL_CELLS = 20_000_000
DE_PARALLEL_CELLS = 10_000_000
#: The threads those jobs ask for above those sizes (the rules' ``threads:``)
QC_MOST_THREADS = 2
DE_MOST_THREADS = 4


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


def _contrast_fit(de: DeSettings, contrast: Contrast) -> tuple:
    """Return the fit a contrast is read from: design, subset, level selection."""
    levels = (contrast.factor, frozenset((contrast.test, contrast.reference)))
    return (de.design_of(contrast), contrast.subset, levels if de.samples == "contrast" else None)


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
    keys = {_contrast_fit(de, contrast) for contrast in de.contrasts}
    keys |= {(de.design_of(test), test.subset, None) for test in de.tests}
    return max(1, len(keys))


def de_null_fits(de: DeSettings) -> int:
    """Return the permutation nulls a DE job may run: one per fit and contrast factor.

    Each refits the fit ``de.null_permutations`` times (contrasts of one factor share them;
    ``alsig.stages.de.null``).

    Parameters
    ----------
    de
        The dataset's ``de:`` settings.

    Returns
    -------
    int
        The distinct (fit, contrast factor); 0 when ``de.null_permutations`` is 0.
    """
    if de.null_permutations == 0:
        return 0
    return len({(_contrast_fit(de, c), c.factor) for c in de.contrasts})


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

    The permutation nulls (``de.null_permutations``, :func:`de_null_fits`) add one refit of
    their fit per permutation; ``auto`` runs them only while they fit in one minute.

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
    fit_minutes = 1 + matrix_cells(h5ad_path) // per_minute
    if de.null_permutations == "auto":
        # auto runs its permutations only up to per_minute permuted cells (AUTO_CELLS of
        # alsig.stages.de.null): one more minute per permutation null
        null_minutes = de_null_fits(de)
    else:
        null_minutes = de_null_fits(de) * int(de.null_permutations) * fit_minutes
    return 5 + de_fits(de) * fit_minutes + null_minutes


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
    return job_mem_mb(max(floor_mb, size_mb), attempt)


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


#: Bytes per sample x tested gene that camera's residuals hold: the tested genes' counts (8),
#: their log2 CPM (8), the residual effects (8) and temporaries; measured 27
#: (bench/results/enrich_camera_memory.md), so 32. With ``de.adjust_cell_mix`` the VST layer's
#: tested columns add 8.
CAMERA_BYTES_PER_CELL = 32
#: Bytes per sample x gene of the whole QC'd matrix: the counts as read (up to 8; measured 4.1
#: for int32 counts); with ``de.adjust_cell_mix`` the VST layer as read (float32) adds 4.
CAMERA_MATRIX_BYTES_PER_CELL = 8
#: QC's ``var`` column of the expressed genes (:data:`alsig.keys.EXPRESSED`; alsig.keys is not
#: imported here: it loads pandas, and Snakemake imports this module at every start).
EXPRESSED = "expressed"


def h5ad_shape(h5ad_path: str) -> tuple[int, int, int]:
    """Return samples, genes and QC's expressed genes of an h5ad file, without its matrix.

    Parameters
    ----------
    h5ad_path
        An AnnData file.

    Returns
    -------
    tuple of int
        ``(n_obs, n_var, n_expressed)``: ``n_expressed`` counts ``var['expressed']`` (every gene
        without that column); zeros while the file does not exist (a dry run).
    """
    if not Path(h5ad_path).exists():
        return 0, 0, 0
    import h5py

    try:
        with h5py.File(h5ad_path, "r") as handle:
            n_obs = handle["obs"][handle["obs"].attrs.get("_index", "_index")].shape[0]
            n_var = handle["var"][handle["var"].attrs.get("_index", "_index")].shape[0]
            flags = handle["var"].get(EXPRESSED)
            # a plain boolean column; anything else (categorical, nullable): every gene
            expressed = int(flags[()].sum()) if isinstance(flags, h5py.Dataset) else n_var
    except (OSError, KeyError, TypeError):
        return 0, 0, 0
    return int(n_obs), int(n_var), expressed


def camera_mem_mb(
    h5ad: str, de_table: str | None, *, cell_mix: bool, matrix_copies: int = 1
) -> float:
    """Return the memory (MB) of camera's residuals of one fit.

    The residuals are computed on the fit's tested genes (:data:`CAMERA_BYTES_PER_CELL` per
    sample x tested gene, all of the file's samples counted) after the whole matrix is read
    (:data:`CAMERA_MATRIX_BYTES_PER_CELL` per sample x gene, ``matrix_copies`` times).

    Parameters
    ----------
    h5ad
        The QC'd AnnData.
    de_table
        A DE table of the fit: its rows are the tested genes (QC's expressed genes while it
        does not exist or is empty).
    cell_mix
        ``de.adjust_cell_mix``: the VST layer is read too.
    matrix_copies
        Copies of the matrix the job holds (the subtypes' job copies it once to add its
        factor).

    Returns
    -------
    float
        Megabytes; 0 before the h5ad exists.
    """
    n_obs, n_var, expressed = h5ad_shape(h5ad)
    tested = _parquet_rows(de_table) or expressed
    per_matrix_cell = matrix_copies * CAMERA_MATRIX_BYTES_PER_CELL + (4 if cell_mix else 0)
    per_tested_cell = CAMERA_BYTES_PER_CELL + (8 if cell_mix else 0)
    return (per_matrix_cell * n_obs * n_var + per_tested_cell * n_obs * tested) / 1e6


def enrich_mem_mb(
    enrich: EnrichSettings,
    collection: str,
    attempt: int,
    de_table: str | None,
    h5ad: str | None = None,
    *,
    cell_mix: bool = False,
    matrix_copies: int = 1,
) -> int:
    """Memory (MB) of an enrichment job, times ``attempt``.

    camera's residuals add :func:`camera_mem_mb` (0 before ``h5ad`` exists). alsig engine: 600 + 0.005 per gene of the DE table + 3.2e-5 per set x permutation (each
    set's null scores and null NES, 8 bytes each, and the sorted pool of the FDR); measured
    peaks 450-530 MB on GSE124439 (19,385 genes, GO BP 4,797 sets) and 549 MB for GO BP at
    60,000 genes, so the model leaves a margin of 1.6-1.9x. gseapy engine: 1000 + 0.04 per
    gene + 8.5e-6 per set x gene + 6.5e-5 per set x permutation (its Rust prerank holds each
    set's running-sum curve and permutation null). bench/results/enrich_prerank.md.

    Parameters
    ----------
    enrich
        The dataset's ``enrich:`` settings.
    collection
        The collection id.
    attempt
        Snakemake's retry attempt.
    de_table
        The DE table (its rows), or ``None``.
    h5ad
        The QC'd AnnData camera reads, or ``None``.
    cell_mix
        ``de.adjust_cell_mix`` (camera reads the VST layer).
    matrix_copies
        Copies of the matrix the job holds (:func:`camera_mem_mb`).

    Returns
    -------
    int
        Megabytes.
    """
    sets, permutations, genes = enrich_workload(enrich, collection, de_table)
    if enrich.engine == "gseapy":
        estimate = 1000 + 0.04 * genes
        estimate += 8.5e-6 * sets * genes + 6.5e-5 * sets * permutations
    else:
        estimate = 600 + 0.005 * genes + 3.2e-5 * sets * permutations
    if h5ad:
        estimate += camera_mem_mb(h5ad, de_table, cell_mix=cell_mix, matrix_copies=matrix_copies)
    return job_mem_mb(estimate, attempt)


def subtype_enrich_mem_mb(
    settings: DatasetSettings, attempt: int, de_table: str | None, h5ad: str | None = None
) -> int:
    """Memory (MB) of a ``subtypes_enrich`` job: its largest collection's, times ``attempt``.

    camera's residuals are computed once for the subtypes' fit (once per subtype with
    ``de.samples: contrast``, one at a time), on a copy of the matrix that holds the subtype
    factor (two matrices).

    Parameters
    ----------
    settings
        The dataset's settings (``enrich:`` and ``subtypes.enrich_collections``).
    attempt
        Snakemake's attempt (1, 2, ...).
    de_table
        One subtype's DE table (its genes size the ranking).
    h5ad
        The QC'd AnnData camera's residuals are computed from, or ``None``.

    Returns
    -------
    int
        MB.
    """
    enrich = _subtype_enrich(settings)
    cell_mix = settings.de.adjust_cell_mix
    return max(
        (
            enrich_mem_mb(enrich, c, attempt, de_table, h5ad, cell_mix=cell_mix, matrix_copies=2)
            for c in enrich.collections
        ),
        default=job_mem_mb(1000, attempt),
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
