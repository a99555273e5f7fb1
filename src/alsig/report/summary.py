"""The run summary on the report's landing page: what happened to each dataset, at a glance.

Per dataset: samples in and kept, which were excluded and why, which kept samples carry a QC
flag, DE genes per contrast, and the shares of the subtype calls among the ALS samples. Built
from the stage outputs as files (QC sample table and summary, DE summaries, subtype table), so
it says exactly what the stage tables say. Written twice: a TSV (one row per dataset) and a
reStructuredText list the landing page (``workflow/report/workflow.rst``) includes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from alsig.io import write_text, write_tsv
from alsig.report.browse import natural_key
from alsig.tables import read_tsv, schemas

#: Samples named per cell (excluded, flagged); the rest are counted.
MAX_NAMED = 8
#: The subtype calls, in the order they are listed (others follow, sorted).
CALL_ORDER = ("ALS-Ox", "ALS-Glia", "ALS-TE", "unassigned", "out_of_reference")
#: The TSV's row schema (``workflow/schemas/run_summary.schema.yaml``).
SCHEMA = "run_summary"
#: Columns of the TSV, in order.
COLUMNS = tuple(schemas.polars_schema(SCHEMA))


@dataclass(frozen=True)
class DatasetFiles:
    """The stage outputs one dataset's row is made of.

    Attributes
    ----------
    sample_qc
        ``qc/sample_qc.tsv``.
    qc_summary
        ``qc/summary.json``.
    de_summaries
        ``de/<contrast>.summary.tsv`` of every contrast.
    subtypes
        ``subtypes/subtypes.parquet``, or None.
    """

    sample_qc: str
    qc_summary: str
    de_summaries: tuple[str, ...]
    subtypes: str | None


def _named(items: Sequence[str], total: int) -> str:
    """Join names as ``a, b, c``, with ``and N more`` beyond :data:`MAX_NAMED`."""
    shown = list(items[:MAX_NAMED])
    if total > len(shown):
        shown.append(f"and {total - len(shown)} more")
    return ", ".join(shown)


def _text(column: pl.Series) -> list[str]:
    return ["" if v is None else str(v) for v in column.to_list()]


def qc_decisions(sample_qc: pl.DataFrame) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return the excluded and the flagged samples, each with its reasons.

    Parameters
    ----------
    sample_qc
        The QC sample table.

    Returns
    -------
    tuple of list
        ``(excluded, flagged)``: ``(sample, reasons)`` pairs in natural sample order. A sample is
        excluded when ``qc_kept`` is false or ``qc_exclusion`` is set (the reason is
        ``qc_exclusion``, else ``qc_reasons``); flagged when kept with ``qc_reasons``.
    """
    n = sample_qc.height
    samples = _text(sample_qc["sample"])
    blank = [""] * n
    reasons = _text(sample_qc["qc_reasons"]) if "qc_reasons" in sample_qc.columns else blank
    exclusion = _text(sample_qc["qc_exclusion"]) if "qc_exclusion" in sample_qc.columns else blank
    kept = (
        [v.lower() == "true" for v in _text(sample_qc["qc_kept"])]
        if "qc_kept" in sample_qc.columns
        else [True] * n
    )
    excluded, flagged = [], []
    for i in sorted(range(n), key=lambda j: natural_key(samples[j])):
        why = (exclusion[i] or reasons[i]).replace(";", ", ")
        if not kept[i] or exclusion[i]:
            excluded.append((samples[i], why or "outlier filter"))
        elif reasons[i]:
            flagged.append((samples[i], why))
    return excluded, flagged


def de_genes(summaries: Sequence[Mapping[str, Any]]) -> str:
    """Return ``name: N (u up, d down, of T tested, padj < a)`` per contrast and test.

    A test without a coefficient (``de.tests`` entry without ``coefficient``) has no direction:
    its part says how many coefficients it tests instead of ``u up, d down``. A contrast with a
    permutation null (``de.null_permutations``) adds what shuffled donor labels gave:
    ``; shuffled donor labels, 20 permutations: median 0, 90th percentile 3.3, some gene in 35 %,
    8 or more in 1 of 20, permutation p = 0.095`` (the p-value counts the real labels as one
    draw: (1 + 1) / (1 + 20)).

    Parameters
    ----------
    summaries
        One DE summary row per contrast or test (``contrast``, ``n_significant``, ``n_up``,
        ``n_down``, ``n_genes_with_padj``, ``alpha``; ``tested_coefficients`` for a test;
        the ``null_*`` columns when there are any).

    Returns
    -------
    str
        The contrasts and tests joined by ``; ``.
    """
    parts = []
    for row in summaries:
        tested = row.get("n_genes_with_padj")
        if row.get("n_up") is None:
            coefficients = [c for c in str(row.get("tested_coefficients") or "").split(";") if c]
            count = len(coefficients)
            of = f" of {count} coefficient{'s' if count > 1 else ''}" if count else ""
            direction = f"a test{of}, no up/down"
        else:
            direction = f"{int(row['n_up']):,} up, {int(row['n_down']):,} down"
        part = f"{row['contrast']}: {int(row['n_significant']):,} ({direction}"
        if tested is not None:
            part += f", of {int(tested):,} tested"
        parts.append(part + f", padj < {float(row['alpha']):g}{_null_text(row)})")
    return "; ".join(parts)


def _null_text(row: Mapping[str, Any]) -> str:
    """Return what shuffled donor labels gave (the DE summary's ``null_*``), or ``""``."""
    done = row.get("null_permutations")
    if not done or row.get("null_any_share") is None:
        return ""
    real = int(row["n_significant"])
    p_value = float(row["null_exceedance"])
    # null_exceedance is (1 + reached) / (1 + permutations): the permutations that reached it
    reached = round(p_value * (int(done) + 1)) - 1
    return (
        f"; shuffled donor labels, {int(done)} permutations: median "
        f"{float(row['null_discoveries_median']):g}, 90th percentile "
        f"{float(row['null_discoveries_p90']):g}, some gene in "
        f"{100 * float(row['null_any_share']):.0f} %, {real:,} or more in {reached} of "
        f"{int(done)}, permutation p = {p_value:.2g}"
    )


def subtype_shares(subtypes: pl.DataFrame | None) -> str:
    """Return the share of each subtype call among the ALS samples, ``ALS-Ox 15 % (2)``.

    Parameters
    ----------
    subtypes
        The subtype table (``condition``, ``subtype_call``: the reference projection), or None.

    Returns
    -------
    str
        Calls in :data:`CALL_ORDER`, or a sentence saying why there are none.
    """
    if subtypes is None or "subtype_call" not in subtypes.columns:
        return "no subtype table"
    als = subtypes
    if "condition" in subtypes.columns:
        als = subtypes.filter(pl.col("condition") == "ALS")
    if als.height == 0:
        return "no ALS samples"
    calls = als["subtype_call"].value_counts().to_dicts()
    counts = {str(r["subtype_call"]): int(r["count"]) for r in calls}
    order = [c for c in CALL_ORDER if c in counts] + sorted(set(counts) - set(CALL_ORDER))
    return ", ".join(f"{c} {100 * counts[c] / als.height:.0f} % ({counts[c]})" for c in order)


def dataset_row(dataset: str, files: DatasetFiles) -> dict[str, Any]:
    """Return one dataset's row of the run summary.

    Parameters
    ----------
    dataset
        Dataset id.
    files
        Its stage outputs.

    Returns
    -------
    dict
        The :data:`COLUMNS`.
    """
    sample_qc = read_tsv(files.sample_qc, "sample_qc")  # ids stay text: 027 is not 27
    qc_summary = json.loads(Path(files.qc_summary).read_text())
    excluded, flagged = qc_decisions(sample_qc)
    summaries = [
        pl.read_csv(p, separator="\t", infer_schema_length=None).row(0, named=True)
        for p in files.de_summaries
    ]
    subtypes = pl.read_parquet(files.subtypes) if files.subtypes else None
    return {
        "dataset": dataset,
        "n_samples_input": int(qc_summary.get("n_samples_input", sample_qc.height)),
        "n_samples": sample_qc.height,
        "n_kept": sample_qc.height - len(excluded),
        "n_excluded": len(excluded),
        "excluded": _named([f"{s} ({why})" for s, why in excluded], len(excluded)),
        "n_flagged": len(flagged),
        "flagged": _named([f"{s} ({why})" for s, why in flagged], len(flagged)),
        "de_genes": de_genes(summaries),
        "subtype_shares": subtype_shares(subtypes),
    }


def summary_table(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Return the run summary, one row per dataset, columns :data:`COLUMNS`.

    Parameters
    ----------
    rows
        :func:`dataset_row` of every dataset.

    Returns
    -------
    polars.DataFrame
        Checked against :data:`SCHEMA`.
    """
    table = pl.DataFrame(
        [{c: row[c] for c in COLUMNS} for row in rows], schema=schemas.polars_schema(SCHEMA)
    )
    return schemas.validate(table, SCHEMA, "run summary")


def _cell(text: object) -> str:
    """Return text safe inside an RST list item (no markup, one paragraph)."""
    value = " ".join(str(text).split()) or "none"
    for char in ("\\", "*", "`", "|", "_"):
        value = value.replace(char, "\\" + char)
    return value


def summary_rst(table: pl.DataFrame, *, tsv_name: str = "run_summary.tsv") -> str:
    """Return the landing page's run summary: one reStructuredText bullet per dataset.

    A list, not a table: the landing page's text column is narrow (the rule graph sits beside
    it), and a six-column table there runs under the graph.

    Parameters
    ----------
    table
        :func:`summary_table`.
    tsv_name
        The TSV's name, quoted under the heading.

    Returns
    -------
    str
        RST (no section title: it goes inside the landing page's text).
    """
    lines = [
        "**Run summary** (made from the stage outputs by rule ``run_summary``; the same in "
        f"``{tsv_name}`` of the output folder):",
        "",
    ]
    for row in table.iter_rows(named=True):
        samples = f"{row['n_kept']} of {row['n_samples']} samples kept"
        if row["n_samples_input"] != row["n_samples"]:
            samples += f" ({row['n_samples_input']} libraries before replicates were collapsed)"
        items = [
            f"excluded ({row['n_excluded']}): {row['excluded']}"
            if row["n_excluded"]
            else "excluded: none",
            f"kept with a QC flag ({row['n_flagged']}): {row['flagged']}"
            if row["n_flagged"]
            else "kept with a QC flag: none",
            f"DE genes: {row['de_genes'] or 'no contrast'}",
            f"subtype calls of the ALS samples: {row['subtype_shares']}",
        ]
        lines.append(f"- **{_cell(row['dataset'])}**: {_cell(samples)}")
        lines.append("")
        lines.extend(f"  - {_cell(item)}" for item in items)
        lines.append("")
    return "\n".join(lines)


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: None,
    threads: int,
    *,
    datasets: Sequence[str],
) -> None:
    """Rule ``run_summary``: every dataset's stage outputs -> the run summary (TSV, RST).

    Parameters
    ----------
    inputs
        ``sample_qc``, ``qc_summary``, ``subtypes``: one file per dataset, in ``datasets``
        order; ``de``: every contrast's DE summary (``<dataset>/de/<contrast>.summary.tsv``).
    outputs
        ``tsv`` and ``rst``.
    settings
        None: the rule has no settings.
    threads
        Unused.
    datasets
        The run's dataset ids, in config order.
    """
    per_dataset = {
        key: _as_list(inputs[key]) if key in inputs else []
        for key in ("sample_qc", "qc_summary", "subtypes")
    }
    de_paths = _as_list(inputs.get("de", []))
    rows = []
    for i, dataset in enumerate(datasets):
        de = tuple(p for p in de_paths if Path(p).parent.parent.name == dataset)
        subtypes = per_dataset["subtypes"][i] if per_dataset["subtypes"] else None
        files = DatasetFiles(
            per_dataset["sample_qc"][i], per_dataset["qc_summary"][i], de, subtypes
        )
        rows.append(dataset_row(dataset, files))
    table = summary_table(rows)
    write_tsv(table, outputs["tsv"])
    write_text(summary_rst(table, tsv_name=Path(outputs["tsv"]).name), outputs["rst"])


def _as_list(value: Any) -> list[str]:
    """Snakemake hands one file as a string and several as a list."""
    if isinstance(value, str | os.PathLike):
        return [os.fspath(value)]
    return [os.fspath(v) for v in value]
