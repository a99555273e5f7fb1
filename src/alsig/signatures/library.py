"""The signatures of a run, and the table and GMT forms the build script writes.

The shipped tables and the user's files, their symbols harmonised.

The shipped resources are ``resources/signatures/alsig_signatures.tsv`` (resistance axes and
cell-type markers; ``alsig_signatures.gmt`` is generated from it by ``scripts/build_signatures.py``),
``subtype_markers.tsv`` (the ALS-Ox marker genes) and ``retrotransposons.tsv`` (TE subfamilies).
Users add signatures (or replace the shipped ones) with ``score.extra_signatures`` and
``score.replace_signatures``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from alsig.errors import AlsigError
from alsig.genes import GeneMap
from alsig.resources import signature_dir
from alsig.signatures.model import DN_SUFFIX, UP_SUFFIX, Signature
from alsig.signatures.readers import DEFAULT_TABLE, read_signatures

log = logging.getLogger(__name__)

#: The shipped GMT form of :data:`~alsig.signatures.readers.DEFAULT_TABLE`.
DEFAULT_GMT = signature_dir() / "alsig_signatures.gmt"
#: The ALS-Ox marker genes (Eshima et al. 2024), scored beside the shipped table.
SUBTYPE_MARKERS = signature_dir() / "subtype_markers.tsv"
#: The retrotransposon signatures (members are TE subfamilies), scored from the TE counts.
TE_TABLE = signature_dir() / "retrotransposons.tsv"


def signatures_of_run(
    extra: Iterable[str | os.PathLike[str]], *, replace: bool, harmonise: bool
) -> tuple[list[Signature], list[Signature]]:
    """Return the gene signatures and the transposable-element signatures a dataset is scored with.

    Parameters
    ----------
    extra
        ``score.extra_signatures``: the user's signature files.
    replace
        ``score.replace_signatures``: score only ``extra``.
    harmonise
        ``score.harmonise_symbols``: rename outdated symbols to current HGNC symbols.

    Returns
    -------
    tuple of list of Signature
        The shipped resistance signatures and ALS-Ox markers (unless ``replace``) plus the
        user's; the shipped retrotransposon signatures (unless ``replace``).
    """
    signatures = configured_signatures(extra, replace=replace)
    if not replace:
        signatures += read_signatures(SUBTYPE_MARKERS)
    if harmonise:
        harmonise_signatures(signatures)
    te = [] if replace else read_signatures(TE_TABLE)
    return signatures, te


def combine_signatures(groups: Iterable[list[Signature]]) -> list[Signature]:
    """Concatenate signature lists of several files.

    Parameters
    ----------
    groups
        The signatures of each file, in order.

    Returns
    -------
    list of Signature

    Raises
    ------
    AlsigError
        A name defined in two files (naming both).
    """
    combined: dict[str, Signature] = {}
    for group in groups:
        for sig in group:
            if sig.name in combined:
                raise AlsigError(
                    f"signature '{sig.name}' is defined in both '{combined[sig.name].origin}' and "
                    f"'{sig.origin}'. Rename one, or set score.replace_signatures: true to use only "
                    "your files."
                )
            combined[sig.name] = sig
    return list(combined.values())


def configured_signatures(
    extra: Iterable[str | os.PathLike[str] | dict],
    *,
    replace: bool,
    base: str | os.PathLike[str] | None = None,
) -> list[Signature]:
    """Return the signatures of a run.

    Parameters
    ----------
    extra
        ``score.extra_signatures``: paths or ``{path: ...}`` mappings of user files.
    replace
        ``score.replace_signatures``: use only ``extra``.
    base
        The table used instead of the shipped one (tests).

    Returns
    -------
    list of Signature
        The shipped table's signatures, then those of each ``extra`` file.

    Raises
    ------
    AlsigError
        An item without a path, ``replace`` without ``extra``, or any reader error.
    """
    paths = []
    for i, item in enumerate(extra or []):
        path = item.get("path") if isinstance(item, dict) else item
        if not path:
            raise AlsigError(f"config key score.extra_signatures[{i}]: give a file path.")
        paths.append(Path(path))
    if replace and not paths:
        raise AlsigError(
            "config key score.replace_signatures is true but score.extra_signatures is empty: "
            "there would be nothing to score."
        )
    groups = [] if replace else [read_signatures(base or DEFAULT_TABLE)]
    groups += [read_signatures(p) for p in paths]
    return combine_signatures(groups)


def harmonise_signatures(
    signatures: list[Signature], gene_map: GeneMap | None = None
) -> dict[str, str]:
    """Rename outdated and alias symbols to current HGNC symbols, in place.

    Parameters
    ----------
    signatures
        Changed in place; two names of one gene in a signature merge into one entry.
    gene_map
        An :class:`alsig.genes.GeneMap` (default: the shipped one); its ``rename_map`` decides.

    Returns
    -------
    dict
        ``{old: new}`` for every renamed symbol.

    Raises
    ------
    AlsigError
        A renamed gene ends up both up and down in a signature.
    """
    gene_map = gene_map or GeneMap.load()
    mapping, _ = gene_map.rename_map(sorted({g for s in signatures for g in s.genes}))
    renamed = {old: new for old, new in mapping.items() if old != new}
    if not renamed:
        return renamed
    for sig in signatures:
        for attr, direction in (("up", "up"), ("down", "down")):
            new_list = list(dict.fromkeys(renamed.get(g, g) for g in getattr(sig, attr)))
            setattr(sig, attr, new_list)
            for old, new in renamed.items():
                if (old, direction) in sig.sources:
                    sig.sources.setdefault((new, direction), sig.sources.pop((old, direction)))
        clash = set(sig.up) & set(sig.down)
        if clash:
            raise AlsigError(
                f"signature '{sig.name}' ({sig.origin}): after renaming outdated symbols, gene(s) "
                f"{', '.join(sorted(clash))} are both up and down. Fix the file."
            )
    log.info("harmonised %d signature gene symbol(s): %s", len(renamed), renamed)
    return renamed


def signatures_to_gmt(signatures: list[Signature]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Return the GMT form of signatures, for ``alsig.genesets.write_gmt``.

    Parameters
    ----------
    signatures
        The signatures.

    Returns
    -------
    tuple
        ``({<sig>_UP / <sig>_DN: genes}, {set: "axis=<axis>;direction=<up|down>"})``.
    """
    sets: dict[str, list[str]] = {}
    descriptions: dict[str, str] = {}
    for sig in signatures:
        for suffix, genes, direction in ((UP_SUFFIX, sig.up, "up"), (DN_SUFFIX, sig.down, "down")):
            if genes:
                sets[sig.name + suffix] = list(genes)
                descriptions[sig.name + suffix] = f"axis={sig.axis};direction={direction}"
    return sets, descriptions


def signatures_to_rows(signatures: list[Signature]) -> list[dict[str, str]]:
    """Return the table form of signatures.

    Parameters
    ----------
    signatures
        The signatures.

    Returns
    -------
    list of dict
        One row per signature x gene with the shipped table's columns (:data:`TABLE_COLUMNS`).
    """
    rows = []
    for sig in signatures:
        for direction, genes in (("up", sig.up), ("down", sig.down)):
            for gene in genes:
                rows.append(
                    {
                        "signature": sig.name,
                        "axis": sig.axis,
                        "gene": gene,
                        "direction": direction,
                        "source": sig.sources.get((gene, direction), ""),
                    }
                )
    return rows
