"""Browsable HTML tables for the Snakemake report.

One self-contained page per table, sortable and searchable in any browser without a network (itables
bundles DataTables; nothing is fetched when the page opens).
"""

from __future__ import annotations

import html
import os

import polars as pl

from alsig.io import write_text

#: Float columns are shown with this many significant digits (the wide TSV uses the same).
SIGNIFICANT_DIGITS = 6

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>body {{ font-family: sans-serif; margin: 1.5em; }} p.note {{ color: #444; }}</style>
{init}
</head>
<body>
<h2>{title}</h2>
<p class="note">{note}</p>
{table}
</body>
</html>
"""


def _rounded(df: pl.DataFrame) -> pl.DataFrame:
    """Return the table as the page shows it: rounded floats, joined lists.

    Floats to :data:`SIGNIFICANT_DIGITS` significant digits (display only) and list columns as
    ``;``-joined text, so the page shows what the TSV tables show.
    """
    exprs = []
    for name, dtype in df.schema.items():
        if dtype.is_float():
            exprs.append(pl.col(name).round_sig_figs(SIGNIFICANT_DIGITS))
        elif isinstance(dtype, pl.List):
            exprs.append(pl.col(name).cast(pl.List(pl.String)).list.join(";"))
    return df.with_columns(exprs) if exprs else df


def table_page(df: pl.DataFrame, *, title: str, note: str, table_id: str) -> str:
    """One standalone HTML page holding ``df`` as a sortable, searchable table.

    Parameters
    ----------
    df
        The rows to show (every row is shown: no down-sampling).
    title
        Page heading and ``<title>``.
    note
        One sentence under the heading: which rows these are and where the full table is.
    table_id
        The HTML id of the table (stable, so tests and links can find it).

    Returns
    -------
    str
        The page; it embeds the DataTables bundle, so it opens offline.
    """
    from itables import options, to_html_datatable
    from itables.javascript import generate_init_offline_itables_html

    table = to_html_datatable(
        _rounded(df),
        connected=False,
        maxBytes=0,  # never down-sample: the note says how the rows were chosen
        table_id=table_id,
        showIndex=False,
        show_dtypes=False,
        scrollX=True,
        pageLength=25,
        classes="display compact",
    )
    return _PAGE.format(
        title=html.escape(title),
        note=html.escape(note),
        init=generate_init_offline_itables_html(options.dt_bundle),
        table=table,
    )


def write_table_page(
    df: pl.DataFrame, path: str | os.PathLike[str], *, title: str, note: str, table_id: str
) -> None:
    """:func:`table_page` written atomically to ``path``."""
    write_text(table_page(df, title=title, note=note, table_id=table_id), path)
