"""Per-sample signature scores of a dataset.

Singscore, ssGSEA, composition-adjusted singscore, axis composites and z against each sample's
reference stratum of controls.

Rule entry points :func:`run` (the scores) and :func:`run_figures` (their overview figures);
:func:`score_anndata` is the scoring pass on an AnnData in memory. The signatures themselves
are :mod:`alsig.signatures`; the condition effect on the scores is :mod:`alsig.stages.axes`.
The names are imported on first use (PEP 562), so that ``score_figures`` loads only its module.
"""

from __future__ import annotations

from alsig.lazy import lazy_exports

_EXPORTS = {
    "run": "alsig.stages.score.job",
    "run_figures": "alsig.stages.score.figures_job",
    "score_anndata": "alsig.stages.score.scoring",
}

__all__ = ["run", "run_figures", "score_anndata"]


__getattr__ = lazy_exports(__name__, _EXPORTS)
