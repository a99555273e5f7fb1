"""One line for an error alsig did not foresee; the traceback goes to a file, not to cron mail.

``alsig reprocess`` runs from cron/scrontab, whose mail (or log) the operator reads: a bug in alsig
should arrive there as one line that says what happened, where the details are and to report it,
the same promise ``alsig check-config`` makes.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from alsig.io import write_text


def unexpected_error(exc: BaseException, traceback_file: Path | None) -> str:
    """Write the traceback of ``exc`` to ``traceback_file`` and return a one-line message.

    An operating-system error (disk full, permission denied) is the machine's, not alsig's: its
    message says to check the file it names instead of asking for a report.

    Parameters
    ----------
    exc
        The exception.
    traceback_file
        Where the traceback goes (its folder is created); ``None``: nowhere (the caller logs it).

    Returns
    -------
    str
        ``<type>: <message>`` followed by what to do and where the traceback is.
    """
    saved = None
    if traceback_file is not None:
        try:
            write_text("".join(traceback.format_exception(exc)), traceback_file)
            saved = traceback_file
        except OSError:  # the disk that failed the run may fail this too; the line still goes out
            saved = None
    what = " ".join(f"{type(exc).__name__}: {exc}".split())  # one line, whatever the message
    where = f"traceback in {saved}" if saved else "rerun with -v for the traceback"
    if isinstance(exc, OSError):
        return f"{what} (check the disk and the permissions of that path; {where})"
    return f"unexpected error, please report it with the config: {what} ({where})"
