"""GSEA library: preranked tests, multilevel p-values and over-representation.

Preranked gene-set permutation tests (two engines), multilevel p-values below the permutation floor
and the hypergeometric over-representation test.

Self-contained (numpy, numba; gseapy only for its engine): it imports nothing else of alsig, so
``bench/`` and other code use it on its own. The enrich stage (:mod:`alsig.stages.enrich`)
builds its tables on it.
"""

from alsig.gsea.engines import ENGINES, engine_records
from alsig.gsea.hypergeom import overrepresentation
from alsig.gsea.multilevel import beyond_permutations, multilevel_pvalues
from alsig.gsea.positions import set_positions
from alsig.gsea.records import PrerankOptions, PrerankRecord, pvalue_floor

__all__ = [
    "ENGINES",
    "PrerankOptions",
    "PrerankRecord",
    "beyond_permutations",
    "engine_records",
    "multilevel_pvalues",
    "overrepresentation",
    "pvalue_floor",
    "set_positions",
]
