"""Which report file a finished run gets: one self-contained ``.html``, or a ``.zip`` when big.

``snakemake --report <path>`` writes a single HTML page when ``<path>`` ends in ``.html``: every
result file is embedded as base64 (4/3 of its size) on top of about 3 MB of page code, and the
browser decodes all of it when the page opens. With ``.zip`` the results are stored as files
beside the page, which opens at once whatever the run's size (unzip, open ``report.html``).
:func:`report_format` chooses: ``zip`` when the estimated page exceeds :data:`ZIP_ABOVE_MB` (a
single page of that size takes several seconds to open and is too big to mail), else ``html``.
Measured sizes: ``bench/results/report_size.md`` (demo: 8.6 MB, html; three cohorts: zip).

The ``make report CONFIG=...`` driver asks :func:`report_target` (or
``python -m alsig.report.target <output_dir>``, which prints the path).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

#: Above this estimated size (MB) the report is a .zip.
ZIP_ABOVE_MB = 25.0
#: Page code of a Snakemake report without any result (measured: 3.0 MB, snakemake 9).
TEMPLATE_MB = 3.0
#: Files of the output folder a report embeds (result types marked ``report()`` in the rules).
REPORT_SUFFIXES = (".png", ".tsv", ".html", ".svg", ".pdf")
#: Folders and files that are never in the report.
NOT_IN_REPORT = ("logs", "benchmarks", ".snakemake")
NOT_IN_REPORT_SUFFIXES = ("_mqc.tsv", "gene_filter.tsv", "report.html")


def embedded_mb(output_dir: str | os.PathLike[str]) -> float:
    """Return an upper bound of the report page's size, in MB.

    Parameters
    ----------
    output_dir
        The run's output folder.

    Returns
    -------
    float
        :data:`TEMPLATE_MB` plus 4/3 of the size of every figure, table and page of the folder
        a report can embed (base64). An upper bound: a few tables are not report entries.
    """
    total = 0
    root = Path(output_dir)
    for path in root.rglob("*"):
        relative = path.relative_to(root).parts
        if (
            not path.is_file()
            or any(part in NOT_IN_REPORT for part in relative)
            or not path.name.endswith(REPORT_SUFFIXES)
            or path.name.endswith(NOT_IN_REPORT_SUFFIXES)
        ):
            continue
        total += path.stat().st_size
    return TEMPLATE_MB + total * 4 / 3 / 1e6


def report_format(output_dir: str | os.PathLike[str]) -> Literal["html", "zip"]:
    """Return ``zip`` when the report of ``output_dir`` would exceed :data:`ZIP_ABOVE_MB`.

    Parameters
    ----------
    output_dir
        The run's output folder (after the run).

    Returns
    -------
    str
        ``html`` or ``zip``.
    """
    return "zip" if embedded_mb(output_dir) > ZIP_ABOVE_MB else "html"


def report_target(output_dir: str | os.PathLike[str]) -> str:
    """Return the report path to pass to ``snakemake --report``.

    Parameters
    ----------
    output_dir
        The run's output folder (after the run).

    Returns
    -------
    str
        ``<output_dir>/report.html`` or ``<output_dir>/report.zip`` (:func:`report_format`).
    """
    return f"{os.fspath(output_dir).rstrip('/')}/report.{report_format(output_dir)}"


if __name__ == "__main__":  # python -m alsig.report.target <output_dir>: print the path
    if len(sys.argv) != 2:
        sys.exit("usage: python -m alsig.report.target <output_dir>")
    print(report_target(sys.argv[1]))
