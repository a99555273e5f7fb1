"""Every file alsig ships, found in one place.

The shipped files live where the Snakemake workflow catalog puts them (``resources/`` and
``workflow/schemas/`` of the checkout); ``alsig/data/`` links to both, so a checkout, an editable
install and a wheel (``pip install .``, which copies the linked files into the package) all find
them through :mod:`importlib.resources`, without knowing where the checkout is.
"""

from __future__ import annotations

import functools
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


@functools.cache
def subtype_models_digest() -> str:
    """Return a sha256 of the shipped subtype model files (their JSON and reference Parquet).

    The workflow passes it to the subtype projection as a parameter, so a new model version (an
    upgrade of alsig) reruns the projection and what reads it, and nothing else.
    """
    import hashlib

    digest = hashlib.sha256()
    folder = subtype_model_dir()
    for path in sorted([*folder.glob("*.json"), *folder.glob("*.reference.parquet")]):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
