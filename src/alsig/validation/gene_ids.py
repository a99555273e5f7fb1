"""What kind of gene identifiers a count matrix has, and whether enough of them are genes.

:func:`detect_id_type` counts each id's form: a symbol (``TP53``), an Entrez id (``7157``), an
Entrez id written as a number by a spreadsheet or R (``7157.0``), a human Ensembl gene id
(``ENSG00000141510``, version suffix allowed), a non-human Ensembl gene id (``ENSMUSG…``), an
Ensembl transcript id (``ENST…``) or several fields joined in one id
(``ENSG00000175899:A2M:protein-coding``, ``ENSG00000175899|A2M``). :func:`check_mapped_share` stops a run in which too few ids
map to a known human gene (the share is the dataset key ``min_mapped_gene_fraction``) and names
the id type the ids look like and the key (``gene_id_type``) that fixes it; before, Ensembl ids
read as symbols left every gene unmapped and the run went on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alsig.errors import AlsigError

ENSEMBL_HUMAN_GENE = re.compile(r"^ENSG\d+(\.\d+)?$")
ENSEMBL_OTHER_GENE = re.compile(r"^ENS[A-Z]{2,6}G\d+(\.\d+)?$")
ENSEMBL_TRANSCRIPT = re.compile(r"^ENS[A-Z]{0,6}T\d+(\.\d+)?$")
ENTREZ = re.compile(r"^\d+$")
ENTREZ_AS_FLOAT = re.compile(r"^(\d+)\.0+$")
JOINED = re.compile(r"^[^:|]+([:|][^:|]*)+$")  # no gene id holds ':' or '|'

#: id form -> the ``gene_id_type`` that reads it (None: alsig cannot read that form)
KINDS: dict[str, str | None] = {
    "symbol": "symbol",
    "entrez": "entrez",
    "entrez_as_float": "entrez",
    "ensembl": "ensembl",
    "ensembl_non_human": None,
    "ensembl_transcript": None,
    "joined": None,
}
_DESCRIPTION = {
    "symbol": "gene symbols",
    "entrez": "Entrez gene ids",
    "entrez_as_float": "Entrez gene ids written as numbers ('7157.0')",
    "ensembl": "Ensembl gene ids",
    "ensembl_non_human": "non-human Ensembl gene ids (alsig is for human RNA-seq)",
    "ensembl_transcript": "Ensembl transcript ids (alsig needs gene-level counts: sum the "
    "transcripts per gene first, e.g. with tximport)",
    "joined": "several fields joined by ':' or '|' in one id",
}
#: what to do about a form alsig cannot read, after its description
ADVICE = {
    "joined": "Give one gene id per row (the Ensembl id or the symbol alone): split the field "
    "and keep one part, or point `counts_gene_column` at a column that holds one id.",
}


def id_form(gene: str) -> str:
    """Tell the form of one id (a key of :data:`KINDS`).

    Parameters
    ----------
    gene
        A cleaned id.

    Returns
    -------
    str
    """
    if ENTREZ.match(gene):
        return "entrez"
    if ENTREZ_AS_FLOAT.match(gene):
        return "entrez_as_float"
    if ENSEMBL_HUMAN_GENE.match(gene):
        return "ensembl"
    if ENSEMBL_TRANSCRIPT.match(gene):
        return "ensembl_transcript"
    if ENSEMBL_OTHER_GENE.match(gene):
        return "ensembl_non_human"
    if JOINED.match(gene):
        return "joined"
    return "symbol"


@dataclass(frozen=True)
class IdTypeGuess:
    """The id forms of a matrix.

    Attributes
    ----------
    kind
        The most common form (a key of :data:`KINDS`).
    shares
        Share of the ids of each form present.
    example
        One id of the most common form.
    n
        Ids looked at.
    """

    kind: str
    shares: dict[str, float]
    example: str
    n: int

    def describe(self) -> str:
        """``'Ensembl gene ids (98% like 'ENSG00000141510')'``.

        Returns
        -------
        str
        """
        share = self.shares.get(self.kind, 0.0)
        return f"{_DESCRIPTION[self.kind]} ({share:.0%} like {self.example!r})"

    def as_dict(self) -> dict:
        """For the provenance.

        Returns
        -------
        dict
        """
        return {"detected_id_type": self.kind, "id_type_shares": dict(self.shares)}


def detect_id_type(ids: Sequence[str]) -> IdTypeGuess:
    """Detect the id type of ``ids`` from their forms (see the module docstring).

    Parameters
    ----------
    ids
        Cleaned gene ids.

    Returns
    -------
    IdTypeGuess
    """
    forms = [id_form(g) for g in ids]
    counts = Counter(forms)
    n = max(len(ids), 1)
    kind = counts.most_common(1)[0][0] if counts else "symbol"
    example = next((g for g, f in zip(ids, forms, strict=True) if f == kind), "")
    shares = {k: round(v / n, 4) for k, v in counts.most_common()}
    return IdTypeGuess(kind, shares, example, len(ids))


def repair_entrez_floats(ids: list[str], id_type: str) -> tuple[list[str], list[str]]:
    """``7157.0`` -> ``7157`` when the ids are read as Entrez ids (``entrez`` or ``auto``).

    Parameters
    ----------
    ids
        Cleaned gene ids.
    id_type
        The dataset's ``gene_id_type``.

    Returns
    -------
    ids : list of str
        With the repairs.
    repaired : list of str
        The ids as they were written.
    """
    if id_type not in ("entrez", "auto"):
        return ids, []
    out, repaired = [], []
    for gene in ids:
        match = ENTREZ_AS_FLOAT.match(gene)
        if match:
            repaired.append(gene)
            out.append(match.group(1))
        else:
            out.append(gene)
    return out, repaired


def mapped_fraction(resolved_by: Mapping[str, int]) -> float:
    """Share of ids the gene map knows (every way of resolving but ``unmapped``).

    Parameters
    ----------
    resolved_by
        How many ids were resolved each way (:class:`alsig.genes.HarmonisationReport`).

    Returns
    -------
    float
    """
    total = sum(resolved_by.values())
    return 1.0 - resolved_by.get("unmapped", 0) / total if total else 0.0


def check_mapped_share(
    resolved_by: Mapping[str, int],
    guess: IdTypeGuess,
    *,
    id_type: str,
    threshold: float,
    location: str,
    id_type_key: str,
    threshold_key: str | None,
) -> float:
    """Raise when fewer than ``threshold`` of the ids map to a known human gene.

    Parameters
    ----------
    resolved_by
        How the ids were resolved (``HarmonisationReport.how``).
    guess
        :func:`detect_id_type` of the same ids.
    id_type
        The ``gene_id_type`` they were read with.
    threshold
        The smallest mapped share accepted.
    location
        The file, for the message.
    id_type_key, threshold_key
        How the user sets the id type and the threshold (``datasets.x.gene_id_type``,
        ``--gene-id-type``); None when the threshold cannot be set.

    Returns
    -------
    float
        The mapped share.

    Raises
    ------
    AlsigError
        Naming the share, the id type used, the detected one and the keys.
    """
    share = mapped_fraction(resolved_by)
    n = sum(resolved_by.values())
    if not n:
        raise AlsigError(f"{location}: no gene rows are left to map (every row was dropped).")
    if share >= threshold:
        return share
    # a command-line flag is written as on the command line, a config key as in YAML
    joiner = " " if id_type_key.startswith("--") else ": "
    readable = KINDS[guess.kind]
    if readable is None:
        fix = f"The ids look like {guess.describe()}. {ADVICE.get(guess.kind, '')}".rstrip()
    elif readable != id_type and id_type != "auto":
        fix = (
            f"The ids look like {guess.describe()}: set `{id_type_key}{joiner}{readable}` "
            "(or `auto`)."
        )
    else:
        fix = (
            f"The ids look like {guess.describe()}, yet most are not in alsig's human gene map: "
            "are they human genes of the current annotation?"
        )
    limit = f"`{threshold_key}` ({threshold:g})" if threshold_key else f"{threshold:g}"
    lower = (
        f" If the share is right for this data, lower `{threshold_key}`." if threshold_key else ""
    )
    raise AlsigError(
        f"{location}: only {share:.1%} of {n:,} gene ids map to a known human gene when read as "
        f"`{id_type_key}{joiner}{id_type}`, below {limit}. {fix}{lower}"
    )
