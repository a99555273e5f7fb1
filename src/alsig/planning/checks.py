"""Checks of a run before any job: its output folder, its per-rule settings, its collections.

Each stops the run with the config key or command-line option to change (:class:`AlsigError`),
or returns a warning the run prints at every start (and ``alsig check-config`` reports).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from alsig.errors import AlsigError, name_some
from alsig.genesets import resolve_collections
from alsig.io import write_text
from alsig.planning.files import RESERVED_DATASET_IDS, RUN_RECORD, collection_files
from alsig.settings import RunSettings
from alsig.version import __version__

#: dataset ids that a hive-partitioned reader types as something else than text (polars reads
#: ``dataset=001`` as the integer 1, ``1e3`` as 1000.0, ``true`` as a boolean, ``2019-01-01`` as a
#: date; pyarrow reads ``0x1F`` as 31): the catalog's ``dataset`` column would change value
_NOT_TEXT_TO_A_READER = re.compile(
    r"^(\d+(\.\d*)?([eE][+-]?\d+)?|0[xX][0-9a-fA-F]+|inf(inity)?|nan|true|false"
    r"|\d{4}-\d{2}-\d{2}([T ].*)?)$",
    re.IGNORECASE,
)


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
        if _NOT_TEXT_TO_A_READER.match(dataset):
            raise AlsigError(
                f"config key datasets.{dataset}: the id '{dataset}' reads as a number, a date or "
                "a boolean to the readers of the score catalog, which take the dataset from its "
                f"folder name (catalog/signature_scores.parquet/dataset={dataset}/): polars and "
                "pandas would give another value, and a catalog that cannot be joined with "
                "another run's. Start the id with a letter (e.g. 'd" + dataset + "')."
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
    _write_record(folder / RUN_RECORD, list(datasets))


def _write_record(record: Path, datasets: list[str]) -> None:
    """Write the run record: the datasets, and the alsig that started the run.

    The alsig version is that of the folder's TSV tables, which carry none themselves.
    """
    content = {"datasets": datasets, "alsig_version": __version__}
    write_text(json.dumps(content, indent=1) + "\n", record)


def release_datasets(output_dir: str, datasets: Iterable[str]) -> list[str]:
    """Take datasets out of the run record of ``output_dir``: the run left them out on purpose.

    ``alsig reprocess`` calls this for the series it tracks but does not run (excluded by the
    user, waiting for curation, failed): without it, excluding every series the folder holds
    would make :func:`check_output_dir` take the next run for another run. Datasets the
    record holds that are not named (another config's) stay, so that guard still works.

    Parameters
    ----------
    output_dir
        The config's ``output_dir``.
    datasets
        Dataset ids the run leaves out on purpose.

    Returns
    -------
    list of str
        The ids taken out of the record, in its order (empty when there is no readable record
        or it holds none of them; an unreadable record is left for :func:`check_output_dir` to
        report).
    """
    record = Path(output_dir) / RUN_RECORD
    try:
        held = list(json.loads(record.read_text()).get("datasets", []))
    except (OSError, ValueError, AttributeError, TypeError):
        return []
    leaving = set(datasets)
    released = [d for d in held if d in leaving]
    if released:
        _write_record(record, [d for d in held if d not in leaving])
    return released


# --------------------------------------------------------------------------------------------
# Per-rule settings of the command line and the profile
# --------------------------------------------------------------------------------------------
def check_default_resources(
    global_resources: Iterable[str], default_resources: Iterable[str]
) -> None:
    """Refuse a command line whose ``--default-resources`` dropped the profile's ``serial`` slot.

    Snakemake's ``--default-resources`` replaces the profile's whole ``default-resources`` list
    instead of adding to it, so ``--default-resources slurm_partition=X`` (the usual way to name
    a partition) silently takes away the profile's ``serial: 1``, ``mem_mb`` and ``runtime``.
    Without ``serial`` a group asks for the CPUs of all its members at once and only the longest
    member's runtime (on a 2-CPU node the ``summaries`` group asked for 3 CPUs and stayed
    PENDING without a word), and every rule without its own values loses the profile's.

    Parameters
    ----------
    global_resources
        Names of the run's global resources (``resources:`` of the profile, ``--resources``).
    default_resources
        Names of the run's default resources (``default-resources`` / ``--default-resources``).

    Raises
    ------
    AlsigError
        The run declares the ``serial`` slot (the Slurm profile's ``resources:``) and the default
        resources lack it.
    """
    if "serial" not in set(global_resources):
        return
    if "serial" in set(default_resources):
        return
    given = sorted(set(default_resources) - {"_cores", "_nodes", "tmpdir", "disk_mb", "mem_mb"})
    raise AlsigError(
        "--default-resources replaced the profile's default-resources instead of adding to "
        f"them (now: {name_some(given) or 'none'}), so every job lost serial=1 and rules "
        "without their own values the profile's mem_mb and runtime: a group would ask for the "
        "CPUs of all its members at once and could stay PENDING. Repeat them: "
        "--default-resources serial=1 mem_mb=2000 runtime=30 slurm_partition=<partition> "
        "(or name a partition with SNAKEMAKE_SLURM_PARTITIONS, or per rule with "
        "--set-resources <rule>:slurm_partition=<partition>)."
    )


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
