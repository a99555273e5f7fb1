"""Every file alsig ships, found in one place.

The shipped files live where the Snakemake workflow catalog puts them (``resources/`` and
``workflow/schemas/`` of the checkout); ``alsig/data/`` links to both, so a checkout, an editable
install and a wheel (``pip install .``, which copies the linked files into the package) all find
them through :mod:`importlib.resources`, without knowing where the checkout is.
"""

from __future__ import annotations

import functools
import hashlib
from importlib.resources import files
from pathlib import Path
from typing import Any


def shipped(*parts: str) -> Path:
    """Path of a shipped file, e.g. ``shipped("resources", "gene_id_map.tsv.gz")``.

    Parameters
    ----------
    parts
        Path components below the package's ``data`` folder: ``"resources", ...`` or
        ``"schemas", ...``.
    """
    return Path(str(files("alsig").joinpath("data", *parts)))


def schema(name: str) -> Path:
    """Return a JSON schema of ``workflow/schemas`` (``schema("config")``: the config's)."""
    return shipped("schemas", f"{name}.schema.yaml")


def schema_names() -> list[str]:
    """Return the names of the shipped schemas (``sample_qc``, ``de_results``, ``config`` ...)."""
    return sorted(
        p.name.removesuffix(".schema.yaml") for p in shipped("schemas").glob("*.schema.yaml")
    )


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """Return :func:`schema` ``name``, parsed (once per process).

    With libyaml's loader where PyYAML was built with it: the same objects as ``yaml.safe_load``
    (the same constructor and resolver; only the parser is C), in a tenth of the time (the config
    schema: 35 -> 3.5 ms), paid by every job that checks its settings or writes a table.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(schema(name).read_text(), Loader=loader)  # noqa: S506 (a safe loader)


def signature_table() -> Path:
    """Return the shipped resistance-signature table (``alsig_signatures.tsv``)."""
    return shipped("resources", "signatures", "alsig_signatures.tsv")


def signature_dir() -> Path:
    """Folder of the shipped signatures (table, GMT, VERSION, CHANGELOG)."""
    return shipped("resources", "signatures")


def gene_map() -> Path:
    """Return the offline gene-identifier map ingest and the gene-set readers harmonise with."""
    return shipped("resources", "gene_id_map.tsv.gz")


def geneset_manifest() -> Path:
    """Manifest of the shipped gene-set collections (``resources/genesets/manifest.tsv``)."""
    return shipped("resources", "genesets", "manifest.tsv")


def cell_markers() -> Path:
    """Return the ranked BRETIGEA human brain cell-type markers (``resources/cell_markers/``)."""
    return shipped("resources", "cell_markers", "bretigea_human_brain.tsv.gz")


def demo_dir() -> Path:
    """Return the bundled demo cohort (counts and sample sheet)."""
    return shipped("resources", "demo")


def subtype_model_dir() -> Path:
    """Folder of the shipped subtype reference models (``resources/subtypes/``)."""
    return shipped("resources", "subtypes")


#: Shipped files a rule reads without declaring them as inputs, by rule, as glob patterns below
#: the package's ``data`` folder. Their sha256 is a parameter of the rule
#: (:func:`hidden_inputs_digest`, ``params.shipped``), so an upgrade of alsig that changes one
#: reruns that rule and what reads its outputs, and an upgrade that leaves them alone reruns
#: nothing (declared as inputs, a reinstall's new file times would rerun every dataset). Gene sets
#: and the signature table are declared inputs of their rules; a user's own files always are.
HIDDEN_INPUTS: dict[str, tuple[str, ...]] = {
    # symbol harmonisation and Ensembl/Entrez -> symbol
    "ingest": ("resources/gene_id_map.tsv.gz",),
    # the cell-type marker indices
    "qc": ("resources/cell_markers/bretigea_human_brain.tsv.gz",),
    # the ALS-Ox markers and the retrotransposon signatures beside the signature table
    "score": (
        "resources/signatures/subtype_markers.tsv",
        "resources/signatures/retrotransposons.tsv",
    ),
    # the reference models of the projection, and their reference samples' outer-fold values and
    # thresholds (reference_calls.tsv, cv_predictions.tsv)
    "subtypes": (
        "resources/subtypes/*.json",
        "resources/subtypes/*.reference.parquet",
        "resources/subtypes/*.tsv",
    ),
}


def hidden_input_files(rule: str) -> list[Path]:
    """Return the shipped files ``rule`` reads without declaring them, sorted.

    Parameters
    ----------
    rule
        A key of :data:`HIDDEN_INPUTS`.

    Returns
    -------
    list of pathlib.Path
        The files the patterns match (each pattern matches at least one).
    """
    data = shipped()
    found: set[Path] = set()
    for pattern in HIDDEN_INPUTS[rule]:
        matched = set(data.glob(pattern))
        if not matched:
            raise FileNotFoundError(f"{data / pattern}: a shipped file of rule {rule} is missing")
        found |= matched
    return sorted(found)


@functools.cache
def hidden_inputs_digest(rule: str) -> str:
    """Return a sha256 of the shipped files ``rule`` reads without declaring them.

    Parameters
    ----------
    rule
        A key of :data:`HIDDEN_INPUTS`.

    Returns
    -------
    str
        Hex sha256 over each file's name and sha256, in the order of :func:`hidden_input_files`.
    """
    digest = hashlib.sha256()
    for path in hidden_input_files(rule):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
