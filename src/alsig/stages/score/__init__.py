"""Per-sample signature scores of a dataset.

Singscore, ssGSEA, composition-adjusted singscore, axis composites and z against each sample's
reference stratum of controls.

Rule entry points :func:`run` (the scores) and :func:`run_figures` (their overview figures);
:func:`score_anndata` is the scoring pass on an AnnData in memory. The signatures themselves
are :mod:`alsig.signatures`; the condition effect on the scores is :mod:`alsig.stages.axes`.
"""

from alsig.stages.score.job import run, run_figures
from alsig.stages.score.scoring import score_anndata

__all__ = ["run", "run_figures", "score_anndata"]
