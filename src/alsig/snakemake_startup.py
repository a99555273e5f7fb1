"""Snakemake processes without a pandas import (applied by ``workflow/rules/common.smk``).

Snakemake 9 imports pandas (and polars) in its main process whenever they are installed, only to
ask whether a rule's param is one of their data frames:

- the params-changed check (``PersistenceBase._serialize_param``), at every start that finds
  outputs, every dry run included;
- the ``snakemake`` object of each ``script:`` job (``iocontainers.Snakemake._safely_store_params``),
  at the first job of every run.

That is 0.27 s of this workflow's ~1.15 s start (a dry run of the demo: 1.17 -> 0.91 CPU-s), and
~0.3 s of every run that executes a job (each Slurm job runs one): ~100 Snakemake processes in
the test suite (``bench/results/test_suite.md``). Snakemake's own start-up costs are known
upstream (snakemake/snakemake#4220).

A value cannot be a pandas or polars object unless that library was imported, so both places
take Snakemake's own path whenever pandas or polars is in ``sys.modules`` (or a param is a numpy
array), and otherwise the path Snakemake would take for plain values. What Snakemake stores is
the same either way (tests/integration/test_snakemake_startup.py). When Snakemake's internals do
not look as expected, nothing is changed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

#: Libraries whose objects Snakemake converts; it imports them to recognise their objects.
FRAME_LIBRARIES = ("pandas", "polars")


def frames_possible(values: Iterable[Any]) -> bool:
    """Whether any of ``values`` may be an object Snakemake converts (a frame or an array).

    True when pandas or polars is imported (their objects can only exist then) or a value is a
    numpy array.
    """
    if any(name in sys.modules for name in FRAME_LIBRARIES):
        return True
    numpy = sys.modules.get("numpy")
    return numpy is not None and any(isinstance(value, numpy.ndarray) for value in values)


def params_serializer(persistence: Any) -> Callable[[Any], object]:
    """Return the serialiser Snakemake would use for ``persistence``'s params, without imports.

    Parameters
    ----------
    persistence
        Snakemake's ``PersistenceBase`` (anything with its two ``_serialize_param_*`` methods).

    Returns
    -------
    callable
        ``_serialize_param_pandas`` when pandas is imported, else ``_serialize_param_builtin``
        (pandas' hands every non-pandas value to it).
    """
    if "pandas" in sys.modules:
        return persistence._serialize_param_pandas
    return persistence._serialize_param_builtin


def _store_params(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """Wrap ``Snakemake._safely_store_params``: plain params are stored without the imports."""
    from snakemake.iocontainers import Params

    def store(job_object: Any, params: Any) -> None:
        if frames_possible(params):
            original(job_object, params)
            return
        # what Snakemake's own method does when no value is a frame or an array
        job_object._params_store = Params(toclone=list(params))
        job_object._params_types = {}
        job_object._params_store._take_names(params._get_names())

    store.wrapped = original  # type: ignore[attr-defined]
    return store


def skip_dataframe_imports() -> list[str]:
    """Keep Snakemake's params handling from importing pandas and polars for plain params.

    Returns
    -------
    list of str
        The places patched: ``"params check"``, ``"script params"`` (none when Snakemake's
        internals differ from what this module expects; then they are unchanged).
    """
    patched: list[str] = []
    try:
        from snakemake.iocontainers import Params, Snakemake
        from snakemake.persistence import PersistenceBase
    except ImportError:
        return patched
    serialisers = ("_serialize_param_pandas", "_serialize_param_builtin")
    if isinstance(PersistenceBase.__dict__.get("_serialize_param"), property) and all(
        callable(getattr(PersistenceBase, name, None)) for name in serialisers
    ):
        PersistenceBase._serialize_param = property(params_serializer)
        patched.append("params check")
    store = Snakemake.__dict__.get("_safely_store_params")
    if (
        callable(store)
        and not hasattr(store, "wrapped")
        and callable(getattr(Params, "_take_names", None))
        and callable(getattr(Params, "_get_names", None))
    ):
        Snakemake._safely_store_params = _store_params(store)
        patched.append("script params")
    return patched
