"""A new sample's library size against the dataset's, by QC's ``low_library_size`` rule.

The size factors put a shallow library on the dataset's scale, but its VST values are then
counts of a few reads blown up: at 16,615 reads instead of ~16 M a sample's hallmark_ros z went
from +1.5 to -29. The workflow flags such a sample of its own (:mod:`alsig.stages.qc.flags`:
log10 library size more than ``qc.outlier_nmads`` scaled MADs below the median) and keeps it;
``alsig score`` applies that same rule with the dataset's libraries as the reference: the
new sample's scores are written and every row of it says ``low_library_size`` in ``qc_flag``.

The reference is one library each: QC sums a subject's technical replicates before it counts
(``qc.collapse_by``), so a QC'd sample's ``total_counts`` is divided by its ``n_collapsed``
libraries (a new sample is one library).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from alsig.keys import N_COLLAPSED
from alsig.settings import complete
from alsig.stages.qc.flags import LOW_LIBRARY_SIZE, log_library_size
from alsig.stages.qc.outliers import mad_outliers

log = logging.getLogger(__name__)


def reference_library_sizes(obs: pd.DataFrame) -> np.ndarray:
    """Return the dataset's library sizes, one per library.

    Parameters
    ----------
    obs
        ``obs`` of the dataset's ``qc/filtered.h5ad`` (``total_counts``; ``n_collapsed`` where
        replicates were summed).

    Returns
    -------
    numpy.ndarray
        Reads per library (a QC'd sample of n summed libraries gives its mean, n times).
    """
    totals = obs["total_counts"].to_numpy(dtype=float)
    if N_COLLAPSED not in obs:
        return totals
    libraries = pd.to_numeric(obs[N_COLLAPSED], errors="coerce").fillna(1).clip(lower=1)
    return np.repeat(totals / libraries.to_numpy(), libraries.to_numpy(dtype=int))


def outlier_nmads(dataset_dir: Path) -> float:
    """Return the ``qc.outlier_nmads`` the dataset's QC ran with (``qc/summary.json``).

    Parameters
    ----------
    dataset_dir
        ``<output_dir>/<dataset>`` of a finished run.

    Returns
    -------
    float
        The setting of that run; the default when the summary does not record it.
    """
    summary = dataset_dir / "qc" / "summary.json"
    try:
        recorded = json.loads(summary.read_text())["settings"]["outlier_nmads"]
        return float(recorded)
    except (OSError, ValueError, KeyError, TypeError):
        default = complete("qc").outlier_nmads
        log.info("%s records no qc.outlier_nmads; the default %g is used", summary, default)
        return float(default)


def low_library_flags(
    new_sizes: Mapping[str, float],
    reference_sizes: np.ndarray,
    nmads: float,
    *,
    dataset: str,
) -> dict[str, str]:
    """Flag new samples whose library is far below the dataset's, with a warning naming each.

    Parameters
    ----------
    new_sizes
        Sample -> its reads in the genes it is scored on.
    reference_sizes
        The dataset's library sizes (:func:`reference_library_sizes`).
    nmads
        ``qc.outlier_nmads`` of the dataset's run (:func:`outlier_nmads`).
    dataset
        The dataset's folder, for the warning.

    Returns
    -------
    dict of str to str
        Sample -> :data:`~alsig.stages.qc.flags.LOW_LIBRARY_SIZE`, for the flagged ones only.
    """
    _, threshold = mad_outliers(log_library_size(reference_sizes), nmads, "lower")
    if not np.isfinite(threshold):  # no spread in the dataset: QC flags nothing either
        return {}
    flagged = {}
    for sample, size in new_sizes.items():
        if log_library_size([size])[0] >= threshold:
            continue
        flagged[str(sample)] = LOW_LIBRARY_SIZE
        log.warning(
            "new sample %s: library size %s reads, below the %s of QC's %s rule on dataset %s "
            "(%g scaled MADs under the median log10 library size; its libraries hold %s to %s "
            "reads, median %s): its scores are written, flagged %s in qc_flag, and rest on few "
            "reads",
            sample,
            f"{size:,.0f}",
            f"{10**threshold:,.0f}",
            LOW_LIBRARY_SIZE,
            dataset,
            nmads,
            f"{reference_sizes.min():,.0f}",
            f"{reference_sizes.max():,.0f}",
            f"{np.median(reference_sizes):,.0f}",
            LOW_LIBRARY_SIZE,
        )
    return flagged
