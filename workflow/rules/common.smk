import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# Snakemake and every job import alsig from this checkout, whatever environment runs them
# (the .venv, --sdm conda, apptainer), so the code that runs is the code that was checked out.
ALSIG_SRC = str(Path(workflow.basedir).parent / "src")
sys.path.insert(0, ALSIG_SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [ALSIG_SRC, os.getenv("PYTHONPATH")]))
)

from alsig import planning
from alsig import settings as alsig_settings
from alsig.errors import AlsigError
from alsig.sources import geo_layout

# Our own pass first: one line per problem naming the key (snakemake's message dumps the schema).
config_problems = alsig_settings.schema_errors(config)
if config_problems:
    sys.exit("alsig config error:\n  " + "\n  ".join(config_problems))
# Defaults are applied after merging (alsig.settings.RunSettings), not by the validator.
validate(config, schema="../schemas/config.schema.yaml", set_default=False)
try:
    alsig_settings.check_config(config)
    # every dataset's stage settings, resolved once for the whole DAG (rule params, input
    # functions and resource models all read this)
    SETTINGS = alsig_settings.RunSettings(config)
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


def out(path):
    """``path`` inside this run's output folder (``output_dir``)."""
    return f"{OUTPUT_DIR}/{path}"


onstart:
    planning.claim_output_dir(OUTPUT_DIR, DATASETS)


wildcard_constraints:
    dataset="|".join(map(str, DATASETS)) or "none",
    accession=r"GSE\d+",


def stage_params(dataset, stage):
    """A job's ``params.settings``: its stage's settings as resolved once in SETTINGS (plain
    values, so that a changed setting reruns the job; the job makes the typed object of them).
    """
    return SETTINGS.params(dataset, stage)


def dataset_entry(dataset):
    return config["datasets"][dataset]
