"""Transposable-element counts (TEtranscripts / TEcount) as a feature block beside the genes.

TEcount writes one table per run with gene rows and TE rows together; TE rows are named
``subfamily:family:class`` (``L1HS:L1:LINE``, ``AluSx:Alu:SINE``, ``HERVK-int:ERVK:LTR``). Both
that combined layout and a TE-only table (the rows with ``:``) are read; gene rows are ignored
here (the gene matrix is its own input). The counts are validated like the gene matrix (same
reader: integer, non-negative, every sample present) and returned samples x TEs.

Rows are sorted by :func:`classify_te_id`: a ``subfamily:family:class`` id whose class is a
RepeatMasker class (:data:`TE_CLASSES`, a trailing ``?`` allowed) is a TE
and whose subfamily is not a gene id (``ENSG00000175899:A2M:protein-coding``, ``7157:TP53:unknown``
or an Excel date-time ``2008-09-01 00:00:00`` is not); a
``subfamily:family`` id (class left out) is a TE when its family's class is known (from the
table's other rows, else :data:`FAMILY_CLASS`) and gets that class; a row without ``:`` is a
gene row of the combined layout; anything else (``a:b:c:d``, ``:L1:LINE``, ``L1HS:L1`` of an
unknown family) is not a TE id. Each kind is counted and reported in the log and the
provenance (``uns['provenance']['te_counts_repairs']``); none is dropped silently.

Where they live: ingest stores them in the dataset's AnnData as ``obsm["te_counts"]`` (a samples x
TEs array) with the TE annotation in ``uns["te_features"]``, whose ``te_id`` names the array's
columns in order; :func:`alsig.keys.te_block` gives the block back as a DataFrame under those ids.
An array, not a DataFrame: h5ad stores a DataFrame as one dataset per column (~1,000 TEs: ~1 s
per write, 0.4 s per read, in every job that reads the file), and refuses the ``/`` of
RepeatMasker's ``ALR/Alpha`` or ``BSR/Beta`` in a column name. The gene
matrix, its QC, DE and scores are untouched; sample subsetting and replicate collapsing carry
the block along row by row, and the retrotransposon axis normalises it by the genes' library
sizes (:mod:`alsig.stages.score.retrotransposons`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from alsig.errors import AlsigError, name_some, where
from alsig.keys import PROVENANCE, TE_COUNTS, TE_FEATURES
from alsig.stages.ingest.counts import CountMatrix, read_count_matrix
from alsig.validation import check_libraries, did_you_mean
from alsig.validation.advice import WORKFLOW, InputAdvice
from alsig.validation.gene_ids import id_form

log = logging.getLogger(__name__)

#: RepeatMasker class of common families (TEtranscripts' GTF), for ids written without it
FAMILY_CLASS = {
    **dict.fromkeys(("L1", "L2", "CR1", "RTE-X", "RTE-BovB", "Penelope", "Dong-R4"), "LINE"),
    **dict.fromkeys(("Alu", "MIR", "tRNA", "5S-Deu-L2", "tRNA-Deu", "tRNA-RTE"), "SINE"),
    **dict.fromkeys(("ERV1", "ERVK", "ERVL", "ERVL-MaLR", "Gypsy", "ERV"), "LTR"),
    **dict.fromkeys(
        (
            "hAT-Charlie",
            "hAT-Tip100",
            "hAT-Blackjack",
            "hAT",
            "TcMar-Tigger",
            "TcMar-Mariner",
            "TcMar",
            "PiggyBac",
            "MULE-MuDR",
            "Merlin",
            "Kolobok",
            "Crypton",
        ),
        "DNA",
    ),
    "SVA": "Retroposon",
    **dict.fromkeys(("Satellite", "centr", "acro", "telo"), "Satellite"),
}


#: RepeatMasker's repeat classes as TEtranscripts' GTFs spell them (the demo file has DNA, LINE,
#: LTR, Other, RC, RNA, SINE, Satellite and Unknown). Case matters: a gene's biotype written
#: after it ('A2M:A2M:unknown', Entrez's gene type) is not the class 'Unknown'.
TE_CLASSES = frozenset(
    {
        "LINE",
        "SINE",
        "LTR",
        "DNA",
        "Retroposon",
        "RC",
        "Satellite",
        "Unknown",
        "Other",
        "RNA",
        "rRNA",
        "snRNA",
        "scRNA",
        "srpRNA",
        "tRNA",
        "Simple_repeat",
        "Low_complexity",
    }
)


def is_te_id(feature: str) -> bool:
    """Tell whether a row id is one of TEcount's ``subfamily:family:class`` ids.

    Parameters
    ----------
    feature
        A row id.

    Returns
    -------
    bool
        True for three non-empty parts separated by ``:``, the last a RepeatMasker class
        (:data:`TE_CLASSES`; ``DNA?`` is RepeatMasker's uncertain DNA), the first not an
        Ensembl or Entrez gene id.
    """
    parts = feature.split(":")
    return (
        len(parts) == 3
        and all(part.strip() for part in parts)
        and parts[2].removesuffix("?") in TE_CLASSES
        # a gene id first is a gene annotated with its biotype ('ENSG...:X:unknown')
        and id_form(parts[0]) == "symbol"
    )


def classify_te_id(feature: str, family_class: dict[str, str]) -> tuple[str, str | None]:
    """Classify a row id as a TE id, a TE id lacking its class, a gene row, or neither.

    The rules are the module docstring's.

    Parameters
    ----------
    feature
        A row id.
    family_class
        Family -> class known for this table (its own complete ids first).

    Returns
    -------
    tuple of (str, str or None)
        ``("te", id)``, ``("te_class_added", id with the class)``, ``("gene", None)`` or
        ``("not_te", None)``.
    """
    if is_te_id(feature):
        return "te", feature
    if ":" not in feature:
        return "gene", None
    parts = feature.split(":")
    if len(parts) == 2 and all(p.strip() for p in parts):
        cls = family_class.get(parts[1]) or FAMILY_CLASS.get(parts[1])
        if cls:
            return "te_class_added", f"{feature}:{cls}"
    return "not_te", None


def te_rows(ids: Sequence[str], report: dict) -> dict[int, str]:
    """Find the TE rows of a table; what else was found goes into ``report``.

    Parameters
    ----------
    ids
        The table's row ids.
    report
        Filled in place: ``n_te_rows``, ``n_gene_rows``, ``n_te_class_added`` (with examples),
        ``n_not_te_ids`` (with examples) and ``notes``.

    Returns
    -------
    dict of int to str
        Row -> TE id (``subfamily:family:class``, the class added where it was left out).
    """
    family_class: dict[str, str] = {}
    for feature in ids:
        if is_te_id(str(feature)):
            _, family, cls = str(feature).split(":")
            family_class.setdefault(family, cls)
    found: dict[int, str] = {}
    kinds: dict[str, list[str]] = {"gene": [], "te_class_added": [], "not_te": []}
    for row, feature in enumerate(ids):
        kind, te = classify_te_id(str(feature), family_class)
        if te is not None:
            found[row] = te
        if kind != "te":
            kinds[kind].append(str(feature))
    report["n_te_rows"] = len(found)
    notes = report.setdefault("notes", [])
    if kinds["gene"]:
        report["n_gene_rows"] = len(kinds["gene"])
        notes.append(f"{len(kinds['gene'])} gene row(s) (no ':' in the id) are not TE rows")
    if kinds["te_class_added"]:
        added = kinds["te_class_added"]
        report["n_te_class_added"] = len(added)
        report["te_class_added"] = added[:20]
        notes.append(
            f"{len(added)} TE id(s) without a class got their family's class "
            f"(e.g. {added[0]!r} -> {found[list(ids).index(added[0])]!r})"
        )
    if kinds["not_te"]:
        bad = kinds["not_te"]
        report["n_not_te_ids"] = len(bad)
        report["not_te_ids"] = bad[:20]
        notes.append(
            f"{len(bad)} row(s) are not 'subfamily:family:class' TE ids and are left out: "
            + name_some(bad, show=repr)
        )
    return found


def te_annotation(te_ids: Sequence[str]) -> pd.DataFrame:
    """Split TE ids into the TE annotation table.

    Parameters
    ----------
    te_ids
        ``subfamily:family:class`` ids.

    Returns
    -------
    pandas.DataFrame
        Columns ``te_id, subfamily, family, class``, one row per id (a trailing ``?`` of
        RepeatMasker's uncertain classes is kept in ``class``).
    """
    parts = [t.split(":") for t in te_ids]
    return pd.DataFrame(
        {
            "te_id": list(te_ids),
            "subfamily": [p[0] for p in parts],
            "family": [p[1] for p in parts],
            "class": [p[2] for p in parts],
        }
    )


def read_te_counts(
    path: str | Path,
    *,
    sample_ids: Sequence[str],
    gene_column: str | None = None,
    report: dict | None = None,
    advice: InputAdvice = WORKFLOW,
) -> pd.DataFrame:
    """Read samples x TEs integer counts from a TEcount table, rows in ``sample_ids`` order.

    Parameters
    ----------
    path
        TE-only or combined gene + TE TEcount table (TSV/CSV, optionally gzipped).
    sample_ids
        The dataset's samples (the gene matrix's columns); each must be a column here.
    gene_column
        Feature id column (default: the first column).
    report
        Filled in place with the reader's repairs and :func:`te_rows`' counts (provenance).
    advice
        The remedies the messages name, worded for the calling tool (the workflow's by default).

    Returns
    -------
    pandas.DataFrame
        Samples x TE ids (``subfamily:family:class``).

    Raises
    ------
    AlsigError
        No TE row, a repeated TE id, a sample missing from the table, a sample whose TE counts
        are all zero, or a bad count (the gene-matrix reader's message: file, line and column).
    """
    report = {} if report is None else report
    matrix = read_count_matrix(path, gene_column=gene_column, advice=advice)
    report.update({k: v for k, v in matrix.report.items() if k != "notes"})
    report.setdefault("notes", []).extend(matrix.report.get("notes", []))
    found = te_rows(matrix.gene_ids, report)
    for note in report["notes"][len(matrix.report.get("notes", [])) :]:
        log.info("%s: %s", Path(path).name, note)
    if not found:
        raise AlsigError(
            f"{where(path)}: no transposable-element row (ids 'subfamily:family:class', e.g. "
            f"'L1HS:L1:LINE'); first ids: {matrix.gene_ids[:3]}. Give TEcount/TEtranscripts output."
        )
    rows = list(found)
    te_ids = [found[i] for i in rows]
    seen: dict[str, int] = {}
    for i, te in zip(rows, te_ids, strict=True):
        if te in seen:
            raise AlsigError(
                f"{where(path, row=matrix.line(i))}: TE id '{te}' repeats line "
                f"{matrix.line(seen[te])}; each TE "
                "subfamily must appear once."
            )
        seen[te] = i
    columns = match_te_columns(matrix.sample_ids, sample_ids, path, report)
    counts = matrix.counts[np.asarray(rows)][:, columns].T
    te_counts = pd.DataFrame(counts, index=pd.Index(list(sample_ids)), columns=te_ids)
    check_te_libraries(te_counts, where(path), advice)
    return te_counts


def match_te_columns(
    te_samples: Sequence[str], sample_ids: Sequence[str], path: str | Path, report: dict
) -> list[int]:
    """Find each sample's column in the TE table; the table's other columns are left out.

    The one matcher of ingest and ``alsig check-config`` (which reads the TE table's header).

    Parameters
    ----------
    te_samples
        The TE table's sample columns, in order.
    sample_ids
        The count matrix's samples; each must be a TE column, written the same way.
    path
        The TE table, for messages.
    report
        Gets ``te_columns_left_out`` and a note when the table has columns no sample uses.

    Returns
    -------
    list of int
        The TE column of each sample, in ``sample_ids`` order.

    Raises
    ------
    AlsigError
        Naming the samples that are not TE columns (and a column that differs only in letter
        case or spelling, if any).
    """
    position = {str(s): i for i, s in enumerate(te_samples)}
    wanted = set(sample_ids)
    missing = [s for s in sample_ids if s not in position]
    unused = [s for s in position if s not in wanted]
    if missing:
        hint = did_you_mean(missing[0], unused)
        raise AlsigError(
            f"{where(path)}: {len(missing)} sample(s) of the gene matrix are not TE-count columns "
            f"({', '.join(map(repr, missing[:8]))}{', ...' if len(missing) > 8 else ''}); the TE "
            "counts must come from the same runs, their columns named as the count matrix's."
            + (f" For {missing[0]!r}:{hint}" if hint else "")
        )
    if unused:
        report["te_columns_left_out"] = unused
        note = (
            f"{len(unused)} TE column(s) are not samples of the count matrix and are left out: "
            + name_some(unused, show=repr)
        )
        report.setdefault("notes", []).append(note)
        log.info("%s: %s", Path(path).name, note)
    return [position[s] for s in sample_ids]


def check_te_libraries(te_counts: pd.DataFrame, location: str, advice: InputAdvice) -> None:
    """Raise naming every sample whose TE counts are all zero, as an empty gene library is.

    Such a column is no measurement (TEcount found nothing, or the column is another run's); kept,
    it is a retrotransposon value far below every other sample's and, as a control, it moves the
    z of every sample.

    Parameters
    ----------
    te_counts
        Samples x TEs.
    location
        The file, for the message.
    advice
        The remedy, worded for the calling tool (:attr:`InputAdvice.empty_te_library
        <alsig.validation.advice.InputAdvice.empty_te_library>`).

    Raises
    ------
    AlsigError
        Naming the samples by id.
    """
    check_libraries(
        te_counts.to_numpy().T,
        [str(s) for s in te_counts.index],
        location,
        features="TE",
        remedy=advice.empty_te_library,
    )


def split_te_rows(matrix: CountMatrix) -> tuple[CountMatrix, pd.DataFrame | None]:
    """Move the TE rows (:func:`classify_te_id`) out of a count matrix that holds both.

    TEcount writes genes and TEs in one table.

    Parameters
    ----------
    matrix
        A :class:`~alsig.stages.ingest.counts.CountMatrix`; its ``report`` gets
        ``n_te_rows_moved`` (and a note) when TE rows are found.

    Returns
    -------
    tuple
        The gene matrix, and the samples x TEs frame or None.

    Raises
    ------
    AlsigError
        Every row is a TE row (a TE table given as the gene matrix).
    """
    family_class: dict[str, str] = {}
    for feature in matrix.gene_ids:
        if is_te_id(str(feature)):
            family_class.setdefault(str(feature).split(":")[1], str(feature).split(":")[2])
    kinds = [classify_te_id(str(g), family_class) for g in matrix.gene_ids]
    te = np.array([k in ("te", "te_class_added") for k, _ in kinds], dtype=bool)
    if not te.any():
        return matrix, None
    if te.all():
        raise AlsigError(
            f"{where(matrix.path)}: every row is a transposable-element id ('subfamily:family:"
            f"class', e.g. {matrix.gene_ids[0]!r}): the count matrix has no gene rows. Give the "
            "gene counts as `counts` and this table as `te_counts`."
        )
    genes = CountMatrix(
        [g for g, t in zip(matrix.gene_ids, te, strict=True) if not t],
        matrix.sample_ids,
        matrix.counts[~te],
        matrix.path,
        matrix.report,
        None if matrix.lines is None else matrix.lines[~te],
    )
    te_ids = [str(name) for (_, name), t in zip(kinds, te, strict=True) if t]
    matrix.report["n_te_rows_moved"] = int(te.sum())
    note = f"{int(te.sum())} TE row(s) (TEcount's combined layout) moved out of the gene matrix"
    matrix.report.setdefault("notes", []).append(note)
    log.info("%s: %s", matrix.path.name, note)
    return genes, pd.DataFrame(matrix.counts[te].T, index=matrix.sample_ids, columns=te_ids)


def attach_te_counts(adata, te_counts: pd.DataFrame, source: dict | None = None):
    """Put the TE block into ``adata`` and record its input in the provenance.

    Parameters
    ----------
    adata
        The dataset's AnnData; changed in place.
    te_counts
        Samples x TE ids counts; every sample of ``adata`` must be a row.
    source
        The TE file's provenance record (``uns['provenance']['te_counts']``), if any.

    Returns
    -------
    anndata.AnnData
        ``adata``, with ``obsm["te_counts"]`` (an array: rows in ``obs_names`` order, columns
        the ids' order) and ``uns["te_features"]`` (:func:`te_annotation`, ``te_id`` in that
        order).
    """
    annotation = te_annotation([str(c) for c in te_counts.columns])
    adata.obsm[TE_COUNTS] = te_counts.loc[list(adata.obs_names)].to_numpy()
    adata.uns[TE_FEATURES] = annotation.to_dict(orient="list")
    if source is not None:
        adata.uns.setdefault(PROVENANCE, {})["te_counts"] = source
    return adata
