"""Scheduled reprocessing: discover GEO series, keep the registry, run the DAG for what changed.

The ``alsig reprocess`` and ``alsig discover`` commands call :func:`reprocess` and
:func:`discover_only`.
"""

from alsig.ops.reprocess import (
    EXIT_DATASETS_FAILED,
    EXIT_DISCOVERY,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_USAGE,
    Options,
    discover_only,
    reprocess,
)

__all__ = [
    "EXIT_DATASETS_FAILED",
    "EXIT_DISCOVERY",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Options",
    "discover_only",
    "reprocess",
]
