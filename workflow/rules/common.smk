import os
import sys
from pathlib import Path

import pandas as pd
from snakemake.utils import min_version, validate

min_version("9.0")

# Snakemake and every job import alsig from this checkout, whatever environment runs them
# (the .venv, --sdm conda, apptainer), so the code that runs is the code that was checked out.
ALSIG_SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, ALSIG_SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [ALSIG_SRC, os.getenv("PYTHONPATH")]))
)

import alsig.de as alsig_de
import alsig.enrich as alsig_enrich
import alsig.qc as alsig_qc
import alsig.scoring as alsig_scoring
from alsig.config import check_config, schema_errors
from alsig.config import stage_settings as merged_stage_settings
from alsig.errors import AlsigError

CONFIG_SCHEMA = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
# Our own pass first: one line per problem naming the key (snakemake's message dumps the schema).
config_problems = schema_errors(config, CONFIG_SCHEMA)
if config_problems:
    sys.exit("alsig config error:\n  " + "\n  ".join(config_problems))
validate(config, schema="../schemas/config.schema.yaml")  # fills in defaults
try:
    check_config(config)
except AlsigError as error:
    sys.exit(f"alsig config error: {error}")


DATASETS = list(config["datasets"])
GEO = config["geo"]
GEO_CACHE = GEO["cache_dir"]
CATALOG_DIR = "results/catalog/signature_scores.parquet"
CATALOG_MANIFEST = "results/catalog/signature_scores.manifest.tsv"
SIGNATURE_TABLE = str(
    Path(workflow.basedir) / "resources/signatures/alsig_signatures.tsv"
)
# Each stage module fills the keys a config leaves out and checks the values.
STAGE_DEFAULTS = {
    "qc": alsig_qc.with_defaults,
    "de": alsig_de.with_defaults,
    "score": alsig_scoring.with_defaults,
}


wildcard_constraints:
    dataset="|".join(map(str, DATASETS)) or "none",
    accession=r"GSE\d+",


def dataset_settings(dataset):
    return config["datasets"][dataset]


def stage_settings(dataset, stage):
    return merged_stage_settings(config, dataset, stage)


def checked_stage_settings(dataset, stage):
    """A dataset's settings of one stage with defaults filled in; a bad value stops the run
    with one line naming the dataset (no traceback)."""
    try:
        return STAGE_DEFAULTS[stage](stage_settings(dataset, stage))
    except AlsigError as error:
        sys.exit(f"alsig config error (dataset {dataset}): {error}")


def score_signature_files(dataset):
    """The signature files a dataset is scored with (inputs, so editing one reruns scoring)."""
    settings = checked_stage_settings(dataset, "score")
    files = [] if settings["replace_signatures"] else [SIGNATURE_TABLE]
    for entry in settings["extra_signatures"]:
        files.append(entry["path"] if isinstance(entry, dict) else entry)
    return files


def geo_series_matrix_url(accession):
    folder = accession[:-3] + "nnn" if len(accession) > 6 else "GSEnnn"
    return f"{GEO['series_base_url'].rstrip('/')}/{folder}/{accession}/matrix/{accession}_series_matrix.txt.gz"


def geo_download_url(file, accession=None):
    acc = f"&acc={accession}" if accession else ""
    return f"{GEO['download_base_url']}?type=rnaseq_counts{acc}&format=file&file={file}"


def ingest_inputs(wildcards):
    """Local datasets read their files directly; GEO datasets read the download cache."""
    settings = dataset_settings(wildcards.dataset)
    if settings["source"] == "local":
        return {"counts": settings["counts"], "samples": settings["samples"]}
    accession = settings["accession"]
    return {
        "counts": f"{GEO_CACHE}/{accession}/{accession}_raw_counts_GRCh38.p13_NCBI.tsv.gz",
        "series_matrix": f"{GEO_CACHE}/{accession}/{accession}_series_matrix.txt.gz",
        "annotation": f"{GEO_CACHE}/Human.GRCh38.p13.annot.tsv.gz",
    }


def mem_mb_for_inputs(factor, floor_mb=1000, gzip_factor=None):
    """Memory that scales with the input: ``factor`` x its size on disk (``gzip_factor`` for
    .gz files, which expand several-fold when parsed), at least ``floor_mb``, x attempt.
    """

    def mem_mb(wildcards, input, attempt):
        size_mb = 0.0
        for name in map(str, input):
            if Path(name).exists():
                scale = gzip_factor if gzip_factor and name.endswith(".gz") else factor
                size_mb += scale * Path(name).stat().st_size / 1e6
        return int(max(floor_mb, size_mb) * attempt)

    return mem_mb


def all_outputs():
    """Every stage's outputs for every dataset, then the catalog across datasets.

    The rules it expands are defined by the rule files the Snakefile includes after this one.
    """
    targets = []
    for dataset in DATASETS:
        targets += [f"results/{dataset}/counts.h5ad"]
        targets += expand(rules.qc.output, dataset=dataset)
        targets += alsig_de.de_targets(dataset, stage_settings(dataset, "de"))
        targets += alsig_enrich.enrich_targets(config, dataset)
        targets += expand(rules.score.output, dataset=dataset)
        targets += expand(rules.score_figures.output, dataset=dataset)
    return targets + [CATALOG_MANIFEST]
