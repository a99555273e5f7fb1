"""The engine registry: which code computes the prerank records of an ``engine`` name.

Every engine takes ``(genes, values, sets, options)`` -- the ranking (upper-case names, highest
statistic first), its statistics, the eligible sets restricted to the ranking and the
:class:`~alsig.gsea.records.PrerankOptions` -- and returns one
:class:`~alsig.gsea.records.PrerankRecord` per tested set. A new engine is a module with such a
function and one entry in :data:`ENGINES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from alsig.gsea.alsig_engine import alsig_records
from alsig.gsea.gseapy_engine import gseapy_records
from alsig.gsea.records import PrerankOptions, PrerankRecord

Engine = Callable[
    [list[str], np.ndarray, Mapping[str, Sequence[str]], PrerankOptions], list[PrerankRecord]
]

#: ``enrich.engine`` value -> the function that computes the records.
ENGINES: dict[str, Engine] = {"alsig": alsig_records, "gseapy": gseapy_records}


def engine_records(
    genes: list[str],
    values: np.ndarray,
    sets: Mapping[str, Sequence[str]],
    options: PrerankOptions,
) -> list[PrerankRecord]:
    """Return the records of the engine ``options.engine`` names.

    Parameters
    ----------
    genes
        Ranked gene names (upper case), highest statistic first.
    values
        Their statistics, same order.
    sets
        Eligible sets, restricted to ``genes``.
    options
        The run's options; ``options.engine`` is a key of :data:`ENGINES`.

    Returns
    -------
    list of PrerankRecord
        One per tested set.

    Raises
    ------
    ValueError
        An engine name that is not registered.
    """
    engine = ENGINES.get(options.engine)
    if engine is None:
        raise ValueError(f"unknown prerank engine {options.engine!r}; use one of {sorted(ENGINES)}")
    return engine(genes, values, sets, options)
