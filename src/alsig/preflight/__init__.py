"""``alsig check-config``: the pre-flight of a run, before Snakemake starts a job.

It reads the config as the workflow will and then opens what it can reach, so a problem that
would stop a job an hour into a run is named in a second, with the key or file to fix:

- the YAML itself: syntax errors with their line, and YAML 1.1 booleans where text was meant
  (``yes``, ``no``, ``on``, ``off`` are read as true / false: a contrast level ``yes`` becomes
  ``True``);
- the schema, with "did you mean" for a mistyped key;
- per dataset: every stage's settings resolve, condition regexes compile, input paths are files
  (not directories, readable, not empty), extra gene-set and signature files exist, the gene-set
  collections are shipped ones;
- per local dataset (and a GEO dataset whose series matrix is already cached): the sample sheet
  is read by the ingest rules (:mod:`alsig.validation`), every sample gets a condition, the
  ``columns:`` exist, the canonical columns are decided, the count matrix's header names the
  sheet's samples and the TE table's header (``te_counts``) names the count matrix's, as ingest
  matches them; ``qc.collapse_by`` and ``qc.group_column`` are columns, no subject spans two
  conditions; each contrast's factor is a column and both levels have at least
  ``de.min_samples_per_level`` samples (after replicate collapsing); design covariates are
  columns, and what DE would read as missing or as integer codes is said now.

Every finding is either a problem (the run would stop; ``check-config`` exits 2) or a note (the
run goes on and says the same in its logs). Nothing raises: the command prints one line per
finding and never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from alsig.errors import AlsigError
from alsig.planning import check_output_dir, start_warnings
from alsig.preflight.dataset import check_dataset
from alsig.preflight.findings import Findings
from alsig.preflight.yaml_scan import load_config, yaml_boolean_keys
from alsig.settings import RunSettings, output_dir_of, schema_errors

__all__ = ["Findings", "preflight"]


def preflight(config_path: str | Path, workdir: str | Path = ".") -> Findings:
    """Check a config and the files it names (module docstring).

    Parameters
    ----------
    config_path
        The YAML config.
    workdir
        The directory relative paths are resolved from (where Snakemake will run).

    Returns
    -------
    Findings
    """
    findings = Findings()
    loaded = load_config(Path(config_path), findings)
    if loaded is None:
        return findings
    config, root = loaded
    flagged = yaml_boolean_keys(root, findings)
    for problem in schema_errors(config):
        if not any(problem.startswith(f"config key {key}:") for key in flagged):
            findings.problem(problem)
    datasets = config.get("datasets") if isinstance(config, Mapping) else None
    findings.n_datasets = len(datasets) if isinstance(datasets, Mapping) else 0
    if findings.problems:
        return findings  # the per-dataset checks assume a config of the schema's shape
    try:
        check_output_dir(str(Path(workdir) / output_dir_of(config)), list(config["datasets"]))
        for warning in start_warnings(RunSettings(config)):
            findings.note(warning)
    except AlsigError as error:
        findings.problem(str(error))
    quiet = logging.getLogger("alsig")
    level, quiet.level = quiet.level, logging.CRITICAL  # notes come back through the reports
    try:
        for dataset in config["datasets"]:
            check_dataset(config, str(dataset), Path(workdir), findings)
    finally:
        quiet.setLevel(level)
    return findings
