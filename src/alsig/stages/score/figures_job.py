"""Rule ``score_figures``: the axis heatmap and distributions of one dataset's scores.

Kept apart from :mod:`alsig.stages.score.job` so that this short job does not import the scoring
pass and the cell-mix indexer it does not run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from alsig.io import read_h5ad_obs, save_figure
from alsig.stages.score.figures import axis_distributions, axis_heatmap
from alsig.tables import read_scores

log = logging.getLogger(__name__)


def run_figures(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    settings: None,
    threads: int,
    *,
    dataset: str,
) -> None:
    """Rule ``score_figures``: the long table -> axis heatmap and distributions (PNG).

    Parameters
    ----------
    inputs
        ``scores``: the dataset's long table (parquet); optional ``obs``: the scored h5ad, whose
        region / sex / batch columns become heatmap tracks.
    outputs
        ``heatmap``, ``distributions``: PNG files.
    settings
        None: the rule has no settings.
    threads
        Unused.
    dataset
        The job's dataset id (figure titles).

    Notes
    -----
    The figures show singscore when the table has it, otherwise the first method by name.
    """
    long = read_scores(inputs["scores"])
    methods = long["method"].unique().to_list()
    method = "singscore" if "singscore" in methods else sorted(methods)[0]
    log.info("dataset %s: figures of %s axis scores", dataset, method)
    obs = read_h5ad_obs(inputs["obs"]) if inputs.get("obs") else None
    save_figure(axis_heatmap(long, method=method, dataset=dataset, obs=obs), outputs["heatmap"])
    save_figure(axis_distributions(long, method=method, dataset=dataset), outputs["distributions"])
