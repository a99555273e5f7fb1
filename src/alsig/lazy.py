"""A package's names imported on first use (PEP 562).

A rule job imports its stage package; with the names resolved lazily, a short job loads only its
own module and not the engines its stage's other jobs need (``bench/results/job_startup.md``).
A leaf module: it imports nothing of alsig.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports each exported name from its module.

    Parameters
    ----------
    package
        The package's ``__name__`` (for the error message).
    exports
        ``{name: module that defines it}`` (absolute module names).

    Returns
    -------
    callable
        ``__getattr__(name)``: the name from its module; AttributeError for any other name.
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
