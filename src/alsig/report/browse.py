"""Browsable HTML tables for the Snakemake report.

One self-contained page per dataset holds its four tables (samples, DE top genes, enrichment
terms, axis scores), each sortable and searchable in any browser without a network. The page
carries the DataTables bundle of itables ONCE, gzip-compressed (about 0.25 MB instead of the 1 MB
that itables' offline mode embeds in every table page) and unpacked by the browser
(``DecompressionStream``, in every browser since 2023). A Snakemake report embeds every result
file on its own (an opaque ``data:`` page that cannot load a sibling file), so one bundle per page
is the floor there; one page per dataset keeps it at one bundle per dataset.

What the reader sees: p-values in scientific notation (sorted as numbers), sample ids in natural
order (``JR9`` before ``JR18``, also when a column is re-sorted) and long text (terms, leading
edges, QC reasons) wrapped.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from alsig.io import write_text

#: Float columns are shown with this many significant digits (the files keep every digit).
SIGNIFICANT_DIGITS = 4
#: Columns holding p-values or FDRs: shown in scientific notation with this many digits.
PVALUE_COLUMNS = frozenset({"pvalue", "padj", "fdr", "qvalue", "pvalue_adj"})
PVALUE_DIGITS = 2
#: A boolean column saying a p-value is at its permutation floor (shown as ``< p``, hidden).
PVALUE_FLOOR_COLUMN = "pvalue_at_floor"
#: Identifier columns sorted naturally (``S2`` before ``S10``).
NATURAL_COLUMNS = frozenset({"sample", "subject", "gene_id"})
#: Text columns that can be long: they wrap within a bounded width.
LONG_TEXT_COLUMNS = frozenset(
    {"term", "leading_edge", "qc_reasons", "qc_exclusion", "qc_flag", "sex_decision"}
)
#: Rows per table page.
PAGE_LENGTH = 25

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
p.note { color: #444; max-width: 70em; }
nav.alsig-tables { position: sticky; top: 0; background: white; padding: 0.4em 0;
  border-bottom: 1px solid #ddd; z-index: 5; }
nav.alsig-tables a { margin-right: 1.2em; }
section.alsig-table { margin-top: 1.5em; }
table.dataTable td { white-space: nowrap; vertical-align: top; }
table.dataTable td.alsig-long { white-space: normal; overflow-wrap: break-word; min-width: 14em;
  max-width: 30em; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>{style}</style>
{loader}
</head>
<body>
<h2>{title}</h2>
<p class="note">{note}</p>
<nav class="alsig-tables">{nav}</nav>
{sections}
</body>
</html>
"""

_SECTION = """<section class="alsig-table" id="{key}">
<h3>{heading}</h3>
<p class="note">{note}</p>
{table}
</section>
"""

# The bundle, unpacked by the browser; the itables table snippets wait for the same promise and
# event as in itables' own offline mode (itables.javascript.generate_init_offline_itables_html).
_LOADER = """<script>
(function () {
  if (window[%(key)s]) return;
  async function gunzip(b64) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }
  window[%(key)s] = (async () => {
    const style = document.createElement("style");
    style.textContent = await gunzip("%(css)s");
    document.head.appendChild(style);
    const code = new Blob([await gunzip("%(js)s")], { type: "application/javascript" });
    const url = URL.createObjectURL(code);
    try { return await import(url); } finally { URL.revokeObjectURL(url); }
  })();
  window[%(key)s].then(() => window.dispatchEvent(new Event(%(ready)s)));
})();
</script>"""


@dataclass(frozen=True)
class Section:
    """One table of a page.

    Attributes
    ----------
    key
        Its id: the section is ``#<key>``, the table ``table#<key>-table``... see
        :func:`table_id`.
    heading
        Section heading (and the navigation link).
    note
        One sentence under the heading: which rows these are and where the full table is.
    rows
        The rows to show (every row is shown: no down-sampling).
    """

    key: str
    heading: str
    note: str
    rows: pl.DataFrame


def table_id(key: str) -> str:
    """Return the HTML id of a section's table (stable, so tests and links can find it)."""
    return f"alsig-{key}"


def natural_key(text: object) -> tuple:
    """Return a sort key that orders numbers within text by value (``S2`` before ``S10``).

    Parameters
    ----------
    text
        A value (``None`` sorts last).

    Returns
    -------
    tuple
        Key for ``sorted``.
    """
    if text is None:
        return (1, ())
    parts = re.split(r"(\d+)", str(text))
    return (0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p))


def natural_sort(df: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """Return ``df`` sorted by the columns ``by`` in natural order.

    Parameters
    ----------
    df
        A table.
    by
        Columns, most significant first (missing ones are skipped).

    Returns
    -------
    polars.DataFrame
        The rows reordered (stable).
    """
    columns = [c for c in by if c in df.columns]
    if not columns or df.height == 0:
        return df
    keys = list(zip(*(df[c].to_list() for c in columns), strict=True))
    order = sorted(range(df.height), key=lambda i: tuple(natural_key(v) for v in keys[i]))
    return df[order]


def _shown(df: pl.DataFrame) -> pl.DataFrame:
    """Return the table as the page shows it.

    Floats other than p-values rounded to :data:`SIGNIFICANT_DIGITS` significant digits (display
    only; p-values keep every digit, the page writes them in scientific notation), list
    columns as ``"; "``-joined text and ``;``-joined flags with a space after the ``;`` (so
    long lists wrap).
    """
    exprs = []
    for name, dtype in df.schema.items():
        if dtype.is_float() and name not in PVALUE_COLUMNS:
            exprs.append(pl.col(name).round_sig_figs(SIGNIFICANT_DIGITS))
        elif isinstance(dtype, pl.List):
            exprs.append(pl.col(name).cast(pl.List(pl.String)).list.join("; "))
        elif dtype == pl.String and name in LONG_TEXT_COLUMNS:
            exprs.append(pl.col(name).str.replace_all(";", "; ", literal=True))
    return df.with_columns(exprs) if exprs else df


def _pvalue_render(floor_index: int | None) -> str:
    """JavaScript: a p-value in scientific notation, ``< p`` when ``row[floor_index]`` is true."""
    floor = f"row[{floor_index}] === true" if floor_index is not None else "false"
    return (
        "function (data, type, row) { if (type !== 'display' || data === null || data === '') "
        "return data; const x = Number(data); if (!Number.isFinite(x)) return data; "
        f"const s = x === 0 ? '0' : x.toExponential({PVALUE_DIGITS}); "
        f"return ({floor}) ? '< ' + s : s; }}"
    )


# identifiers wrap after their underscores (<wbr>: nothing is added to copied or searched text)
_LONG_TEXT_RENDER = (
    "function (data, type) { return (type === 'display' && typeof data === 'string') "
    "? data.replace(/_/g, '_<wbr>') : data; }"
)
_NATURAL_RENDER = (
    "function (data, type) { return (type === 'sort' && typeof data === 'string') "
    "? data.toLowerCase().replace(/\\d+/g, (d) => d.padStart(12, '0')) : data; }"
)


def column_defs(columns: Sequence[str]) -> list[dict]:
    """Return the DataTables ``columnDefs`` of a table with these columns.

    Parameters
    ----------
    columns
        The table's column names, in order.

    Returns
    -------
    list of dict
        P-value columns rendered in scientific notation (the ``pvalue`` column as ``< p`` at a
        permutation floor, the floor flag hidden), identifier columns sorted naturally, long
        text columns wrapped (other cells stay on one line).
    """
    from itables import JavascriptFunction

    index = {name: i for i, name in enumerate(columns)}
    floor = index.get(PVALUE_FLOOR_COLUMN)
    defs: list[dict] = []
    pvalues = [i for name, i in index.items() if name in PVALUE_COLUMNS and name != "pvalue"]
    if "pvalue" in index:  # the floor flag is about the permutation p only
        defs.append(
            {"targets": [index["pvalue"]], "render": JavascriptFunction(_pvalue_render(floor))}
        )
    if pvalues:
        defs.append({"targets": pvalues, "render": JavascriptFunction(_pvalue_render(None))})
    if floor is not None:
        defs.append({"targets": [floor], "visible": False, "searchable": False})
    natural = [i for name, i in index.items() if name in NATURAL_COLUMNS]
    if natural:
        defs.append({"targets": natural, "render": JavascriptFunction(_NATURAL_RENDER)})
    long_text = [i for name, i in index.items() if name in LONG_TEXT_COLUMNS]
    if long_text:
        defs.append(
            {
                "targets": long_text,
                "className": "alsig-long",
                "render": JavascriptFunction(_LONG_TEXT_RENDER),
            }
        )
    return defs


def table_html(section: Section) -> str:
    """Return the HTML of one section's DataTable (it needs the page's loader to run).

    Parameters
    ----------
    section
        The table.

    Returns
    -------
    str
        itables' offline table snippet.
    """
    from itables import to_html_datatable

    rows = _shown(section.rows)
    return to_html_datatable(
        rows,
        connected=False,
        maxBytes=0,  # never down-sample: the note says how the rows were chosen
        table_id=table_id(section.key),
        showIndex=False,
        show_dtypes=False,
        scrollX=True,
        pageLength=PAGE_LENGTH,
        classes="display compact",
        columnDefs=column_defs(rows.columns),
    )


@functools.lru_cache(maxsize=1)
def bundle_loader() -> str:
    """Return the ``<script>`` that unpacks the gzip-compressed DataTables bundle of itables.

    Returns
    -------
    str
        The script (the same bytes every call: gzip without a time stamp).
    """
    from itables import options
    from itables.javascript import _itables_ready_event, _itables_underscore_version

    js_path = os.fspath(options.dt_bundle)
    css_path = os.path.splitext(js_path)[0] + ".css"

    def packed(path: str) -> str:
        with open(path, "rb") as handle:
            data = gzip.compress(handle.read(), compresslevel=9, mtime=0)
        return base64.b64encode(data).decode("ascii")

    return _LOADER % {
        "key": json.dumps(_itables_underscore_version()),
        "ready": json.dumps(_itables_ready_event()),
        "css": packed(css_path),
        "js": packed(js_path),
    }


def tables_page(sections: Iterable[Section], *, title: str, note: str) -> str:
    """Return one standalone HTML page holding every section's table.

    Parameters
    ----------
    sections
        The tables, in page order.
    title
        Page heading and ``<title>``.
    note
        One sentence under the heading.

    Returns
    -------
    str
        The page; it embeds the DataTables bundle once, so it opens offline.
    """
    sections = list(sections)
    nav = " ".join(
        f'<a href="#{html.escape(s.key)}">{html.escape(s.heading)} ({s.rows.height:,})</a>'
        for s in sections
    )
    body = "".join(
        _SECTION.format(
            key=html.escape(s.key),
            heading=html.escape(s.heading),
            note=html.escape(s.note),
            table=table_html(s),
        )
        for s in sections
    )
    return _PAGE.format(
        title=html.escape(title),
        note=html.escape(note),
        style=_STYLE,
        loader=bundle_loader(),
        nav=nav,
        sections=body,
    )


def write_tables_page(
    sections: Iterable[Section], path: str | os.PathLike[str], *, title: str, note: str
) -> None:
    """:func:`tables_page` written atomically to ``path``.

    Parameters
    ----------
    sections
        The tables, in page order.
    path
        The HTML file.
    title, note
        As for :func:`tables_page`.
    """
    write_text(tables_page(sections, title=title, note=note), path)
