"""Whether a discovered series is an in vitro model: iPSC, cell line, organoid, cultured cells.

The scheduled run compares ALS with control tissue, cohort by cohort, and pools the cohorts in
the catalog. iPSC-derived neurons, cell lines, organoids, cultured cells or single-cell/nucleus
libraries answer another question (and are not donors): such a series is not added by default.
Curation reads what the series matrix says of each sample (title, source name,
characteristics); the user adds the series with a ``datasets.<id>`` entry if they want it.
"""

from __future__ import annotations

import re

import polars as pl

from alsig.errors import name_some
from alsig.validation.tokens import is_missing_value

#: words that say a sample is grown or dissociated, not tissue (whole words, any case)
IN_VITRO_WORDS = re.compile(
    r"(?i)\b(?:induced pluripotent|pluripotent stem|(?:embryonic |neural )?stem cells?|"
    r"organoids?|cell lines?|cell culture|cultured|in vitro|differentiated|lymphoblastoid|"
    r"fibroblasts?|single[- ]cells?|single[- ]nucle(?:us|i)|scRNA|snRNA)\b"
)
#: abbreviations, case as written (``iPS`` is an iPS cell, ``ips`` need not be)
IN_VITRO_ABBREVIATIONS = re.compile(r"\b(?:h?iPSCs?|iPS|h?ESCs?|LCLs?)\b")
#: a characteristic of this name with a value is a cell line (GEO's ``cell line: GM25256``);
#: a value that says there is none (``none``, ``N/A``, ``not applicable``) is no cell line
CELL_LINE_COLUMNS = ("cell_line", "cell_line_name", "cell_line_id", "clone")
#: columns that are not sample descriptions
_NOT_DESCRIPTIONS = ("sample",)


def in_vitro_evidence(sheet: pl.DataFrame) -> list[str]:
    """Return what in a series matrix says its samples are an in vitro model (empty: nothing).

    Parameters
    ----------
    sheet
        The series matrix's sample sheet (:func:`alsig.sources.geo.read_series_matrix`: ``sample``,
        ``title``, ``source_name`` and one column per characteristic).

    Returns
    -------
    list of str
        One entry per column that says so, e.g. ``cell_type 'iPSC-derived motor neurons'
        (6 samples)`` or ``cell_line given (12 samples)``.
    """
    evidence = []
    for column in sheet.columns:
        if column in _NOT_DESCRIPTIONS:
            continue
        values = [v for v in sheet.get_column(column).cast(pl.String).to_list() if v]
        if column in CELL_LINE_COLUMNS:
            named = [v for v in values if not is_missing_value(v)]
            if named:
                evidence.append(f"{column} given ({len(named)} samples)")
                continue
        hits: dict[str, int] = {}
        for value in values:
            if IN_VITRO_WORDS.search(value) or IN_VITRO_ABBREVIATIONS.search(value):
                hits[value] = hits.get(value, 0) + 1
        if hits:
            shown = name_some(hits, limit=3, show=repr)
            evidence.append(f"{column} {shown} ({sum(hits.values())} samples)")
    return evidence
