"""The report's browsable tables: which rows a reader sees, on offline HTML pages.

Which rows of the stage tables a reader sees (:mod:`alsig.report.rows`) and the offline, sortable
HTML page that holds them (:mod:`alsig.report.browse`). Reads stage outputs as files; imports no
stage.

Rule entry point :func:`run`.
"""

from alsig.report.job import run

__all__ = ["run"]
