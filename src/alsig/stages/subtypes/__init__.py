"""Subtypes of ALS tissue: the projection onto the published subtypes, and label-free states.

Each sample is projected onto the three molecular subtypes of Tam et al. 2019 (ALS-Ox,
ALS-Glia, ALS-TE) with the frozen reference model of ``resources/subtypes`` (:mod:`.projection`,
:mod:`.calls`), viewed by donor (:mod:`.donors`); the label-free Ox-, Glia- and TE-like states
(:mod:`.states`) stay as the interpretable view, with their cell mix (:mod:`.statemix`); each
called subtype's DE, enrichment and axis tests against the controls (:mod:`.carry`); and,
optionally, the cohort's own consensus NMF (:mod:`.discovery`, :mod:`.nmf`). Molecular subtypes
associated with resistance biology, not a prediction of any patient's drug response.

Rule entry points: :func:`run`, :func:`run_discovery`, :func:`run_de`, :func:`run_enrich`,
:func:`run_axis_tests`; :func:`subtype_table` is the main work on objects in memory. The names
are imported on first use (PEP 562) from one entry module per rule (:mod:`.job`,
:mod:`.discovery_job`, :mod:`.carry_job`, :mod:`.enrich_job`), so that each job loads only the
engines it runs.
"""

from __future__ import annotations

from alsig.lazy import lazy_exports

_EXPORTS = {
    "run": "alsig.stages.subtypes.job",
    "run_axis_tests": "alsig.stages.subtypes.carry_job",
    "run_de": "alsig.stages.subtypes.carry_job",
    "run_discovery": "alsig.stages.subtypes.discovery_job",
    "run_enrich": "alsig.stages.subtypes.enrich_job",
    "subtype_table": "alsig.stages.subtypes.table",
}

__all__ = ["run", "run_axis_tests", "run_de", "run_discovery", "run_enrich", "subtype_table"]


__getattr__ = lazy_exports(__name__, _EXPORTS)
