"""The types every GSEA engine shares: the options of one prerank run and one set's record.

This module imports nothing of alsig (nor of the engines), so an engine, the registry and their
callers can all build on it without an import circle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PrerankOptions:
    """The options of one prerank run (the engine registry picks ``engine``).

    Attributes
    ----------
    permutations : int
        Random sets (or gene-label shuffles, gseapy) per set; at least 1.
    seed : int
        Seed of the draws: the same seed gives the same records.
    min_size, max_size : int
        Inclusive range of ranked genes a set needs to be tested.
    threads : int
        Threads of the permutations (results do not depend on them).
    engine : str
        A key of :data:`alsig.gsea.engines.ENGINES`.
    multilevel : bool
        Estimate the p-values of the sets beyond every permutation by multilevel splitting.
    multilevel_eps : float
        Smallest p-value the multilevel estimate goes to, in (0, 1).
    """

    permutations: int
    seed: int
    min_size: int
    max_size: int
    threads: int
    engine: str
    multilevel: bool
    multilevel_eps: float

    def __post_init__(self) -> None:
        """Check the ranges the engines rely on.

        Raises
        ------
        ValueError
            ``permutations`` below 1 or ``multilevel_eps`` outside (0, 1).
        """
        if int(self.permutations) < 1:
            raise ValueError(f"permutations must be at least 1, got {self.permutations}")
        if not 0 < float(self.multilevel_eps) < 1:
            raise ValueError(f"multilevel_eps must be in (0, 1), got {self.multilevel_eps}")


@dataclass(frozen=True)
class PrerankRecord:
    """One set's result as an engine gives it (before the p-value floor).

    Attributes
    ----------
    term : str
        The set's name.
    es, nes, pvalue, fdr : float or None
        Enrichment score, normalised score, nominal p-value and FDR; ``None`` when the engine
        could not compute them.
    leading_edge : tuple of str
        The leading-edge genes in ranking order, the engine's (upper-case) names.
    """

    term: str
    es: float | None
    nes: float | None
    pvalue: float | None
    fdr: float | None
    leading_edge: tuple[str, ...]


def finite_float(value: Any) -> float | None:
    """Return ``value`` as a float, or ``None`` when it is missing, not a number or not finite.

    Parameters
    ----------
    value
        Anything ``float()`` may take.

    Returns
    -------
    float or None
        The number, or ``None``.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def pvalue_floor(permutations: int) -> float:
    """Return the smallest p-value ``permutations`` permutations can support: 1/(n+1).

    Parameters
    ----------
    permutations
        Permutations of the run.

    Returns
    -------
    float
        ``1 / (permutations + 1)``.
    """
    return 1.0 / (int(permutations) + 1)
