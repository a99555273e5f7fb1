import os
import sys
import time
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

#: The alsig package this workflow runs (= pyproject.toml's version, tests/unit/test_deploy.py).
ALSIG_VERSION = "0.5.0"

# Job priorities: among ready jobs Snakemake starts the highest first. The heads of every
# dataset's chain go first (a dataset reached last would leave a core idle while its chain runs
# alone), then DE (most of a dataset's work waits on it), then the longest jobs (GO BP
# enrichment, the subtype chain), so that short ones fill the gaps; every other job 0.
PRIORITY_CHAIN_HEAD = 3
PRIORITY_DE = 2
PRIORITY_LONG = 1


def alsig_problem():
    """Why the alsig package in this environment cannot run this workflow, or None.

    The workflow does not reach for a src/ folder: snakemake and every job import the installed
    package (a checkout: `pip install -e .`, which `make install` does; a deployment: alsig of
    the workflow's tag; under --sdm conda the env file workflow/envs/alsig.yaml installs it).
    A checkout whose own package is the one imported is accepted at any version (its code).
    """
    try:
        import alsig
    except ImportError:
        return (
            "the alsig package is not installed in the environment that runs snakemake"
        )
    here = Path(str(workflow.basedir)).parent / "src" / "alsig"
    if here.is_dir() and Path(alsig.__file__).resolve().parent == here.resolve():
        return None
    if alsig.__version__ != ALSIG_VERSION:
        return f"alsig {alsig.__version__} is installed ({Path(alsig.__file__).parent})"
    return None


if alsig_problem():
    sys.exit(
        f"alsig error: this workflow is alsig {ALSIG_VERSION}, but {alsig_problem()}. Install "
        f"the same version where snakemake runs: `pip install -e .` in a checkout (make "
        f"install), or `pip install 'alsig=={ALSIG_VERSION}'` (or the wheel of tag "
        f"v{ALSIG_VERSION}) for a deployed workflow."
    )

from alsig import planning
from alsig import settings as alsig_settings
from alsig import resources as alsig_resources
from alsig.errors import AlsigError
from alsig.runner import mark_logs_not_started
from alsig.snakemake_startup import skip_dataframe_imports
from alsig.sources import geo_layout
from alsig.validation.yaml_keys import repeated_key_problems

# Snakemake imports pandas at every start to recognise DataFrame params (0.3 s): not for ours.
skip_dataframe_imports()

# Our own pass first: one line per problem naming the key (snakemake's message dumps the schema).
# A key written twice in a config file is gone before Snakemake hands us the config.
config_problems = [
    problem for path in workflow.configfiles for problem in repeated_key_problems(path)
]
# `--config de={alpha: 0.1}` reaches us as text ('0.1'): read it as the config file would
if len(workflow.modifier_stack) == 1:
    alsig_settings.retype_cli_values(config, workflow.config_settings.config)
config_problems += alsig_settings.schema_errors(config)
if config_problems:
    sys.exit("alsig config error:\n  " + "\n  ".join(config_problems))
# Defaults are applied after merging (alsig.settings.RunSettings), not by the validator.
validate(config, schema="../schemas/config.schema.yaml", set_default=False)
try:
    alsig_settings.check_config(config)
    # every dataset's stage settings, resolved once for the whole DAG (rule params, input
    # functions and resource models all read this)
    SETTINGS = alsig_settings.RunSettings(config)
    planning.check_collections(SETTINGS)
except AlsigError as error:
    sys.exit(f"alsig config error: {error}")


DATASETS = SETTINGS.datasets
GEO = alsig_settings.section(config, "geo")
GEO_CACHE = GEO["cache_dir"]
CATALOG_DIR = planning.CATALOG_DIR
CATALOG_MANIFEST = planning.CATALOG_MANIFEST
# Every output of this config lives under its own folder (config key output_dir): two configs
# in one folder would drop each other's datasets from the catalog and the report.
OUTPUT_DIR = SETTINGS.output_dir
try:
    DROPPED_DATASETS = planning.check_output_dir(OUTPUT_DIR, DATASETS)
except AlsigError as error:
    sys.exit(f"alsig config error: {error}")
if DROPPED_DATASETS:
    print(f"alsig warning: {DROPPED_DATASETS}", file=sys.stderr)
for start_warning in planning.start_warnings(SETTINGS):
    print(f"alsig warning: {start_warning}", file=sys.stderr)


def check_rule_settings():
    """Stop when --set-threads, --set-resources or --groups name a rule this workflow lacks, as
    Snakemake would skip them without a word (planning.check_rule_names), or when
    --default-resources took away the Slurm profile's serial slot
    (planning.check_default_resources). Called at the end of the Snakefile, once every rule
    exists. Skipped when alsig is a module of another Snakefile
    (`use rule * from alsig`), whose own rules after that line do not exist yet."""
    if len(getattr(workflow, "modifier_stack", ())) != 1:
        return
    resources = getattr(workflow, "resource_settings", None)
    groups = getattr(workflow, "group_settings", None)
    try:
        planning.check_rule_names(
            {
                "--set-resources": getattr(resources, "overwrite_resources", {}),
                "--set-threads": getattr(resources, "overwrite_threads", {}),
                "--groups": getattr(groups, "overwrite_groups", {}),
            },
            (rule.name for rule in workflow.rules),
        )
        defaults = getattr(resources, "default_resources", None)
        if defaults is not None:
            planning.check_default_resources(resources.resources or {}, defaults)
    except AlsigError as error:
        sys.exit(f"alsig error: {error}")


def warn_partial_outputs():
    """Say at the start which jobs have some files but not others (planning.partial_outputs):
    Snakemake then skips its check of their settings. Called at the end of the Snakefile, once
    every rule exists; the main process only (a Slurm job parses the Snakefile too)."""
    if (
        len(getattr(workflow, "modifier_stack", ())) != 1
        or not workflow.is_main_process
    ):
        return
    outputs = {
        each.name: [str(path) for path in each.output if not path.flags.get("temp")]
        for each in workflow.rules
        if each.output and not each.has_wildcards()
    }
    warning = planning.partial_outputs(outputs)
    if warning:
        print(f"alsig warning: {warning}", file=sys.stderr)


def out(path):
    """``path`` inside this run's output folder (``output_dir``)."""
    return f"{OUTPUT_DIR}/{path}"


def check_slurm_leftovers():
    """Stop a Slurm run while Slurm jobs of an earlier, dead run still work in this folder
    (planning.check_leftover_slurm_jobs); one note when squeue cannot be asked. Called when the
    run starts (onstart: not on a dry run, not in a job, and only when there are jobs to run).
    """
    if getattr(getattr(workflow, "executor_plugin", None), "name", None) != "slurm":
        return
    folder = getattr(workflow, "workdir_init", None) or os.getcwd()
    try:
        note = planning.check_leftover_slurm_jobs(
            folder, os.environ.get("SLURM_JOB_ID")
        )
    except AlsigError as error:
        sys.exit(f"alsig error: {error}")
    if note:
        print(f"alsig note: {note}", file=sys.stderr)


def mark_planned_logs():
    """Replace the logs of the jobs this run executes with a "not started" line
    (alsig.runner.mark_logs_not_started): otherwise a job that never starts keeps an earlier
    run's log, which show-failed-logs prints as this run's. Not under --touch."""
    if workflow.touch:
        return
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    logs = [str(path) for job in workflow.dag.needrun_jobs() for path in job.log]
    mark_logs_not_started(logs, started)


onstart:
    check_slurm_leftovers()
    planning.claim_output_dir(OUTPUT_DIR, DATASETS)
    mark_planned_logs()


wildcard_constraints:
    dataset="|".join(map(str, DATASETS)) or "none",
    accession=r"GSE\d+",


def matrix_threads(most, from_cells):
    """A rule's threads: `most` from `from_cells` samples x genes of the job's input h5ad, else 1
    (planning.job_threads; asked again when the job is ready, once the h5ad exists)."""
    return lambda wildcards, input: planning.job_threads(
        input.h5ad, most, from_cells=from_cells
    )


def stage_params(dataset, stage):
    """A job's ``params.settings``: its stage's settings as resolved once in SETTINGS (plain
    values, so that a changed setting reruns the job; the job makes the typed object of them).
    """
    return SETTINGS.params(dataset, stage)
