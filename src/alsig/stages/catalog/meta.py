"""Cohorts compared: a random-effects meta-analysis of every axis over the datasets of a run.

For each method x signature x contrast, the datasets' standardised effects (``std_effect`` of
:mod:`alsig.stages.axes.effects`) are combined with DerSimonian-Laird random effects; Cochran's
Q, tau² and I² report heterogeneity, ``consistent`` means every dataset agrees in sign and
I² < 50 %. Why the standardised effect and a hand-written estimator: ``docs/methods.md``,
"Cohorts compared". It predicts nothing about a patient's drug response.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl

from alsig.tables import schemas

log = logging.getLogger(__name__)

SCHEMA = "axis_meta"
KEY = ["method", "signature", "axis", "contrast"]
#: I² below this (with all signs agreeing) counts as a consistent effect
CONSISTENT_I2 = 0.5


def axis_meta(tests: pl.DataFrame) -> pl.DataFrame:
    """Combine the axis tests of several datasets, per method x signature x contrast.

    Parameters
    ----------
    tests
        Concatenated ``axis_tests`` tables of the run's datasets.

    Returns
    -------
    One row per method x signature x contrast, columns of the shipped ``axis_meta`` schema.
    """
    rows = []
    usable = tests.filter(pl.col("std_effect").is_not_null() & (pl.col("std_se") > 0))
    for key, part in tests.group_by(KEY, maintain_order=True):
        fitted = usable.join(part.select("dataset", *KEY), on=["dataset", *KEY], how="semi")
        rows.append(_combined(dict(zip(KEY, key, strict=True)), part, fitted))
    table = pl.DataFrame(rows, schema=schemas.polars_schema(SCHEMA), orient="row")
    return schemas.validate(table.sort(KEY), SCHEMA, "axis meta-analysis")


def _combined(key: dict, part: pl.DataFrame, fitted: pl.DataFrame) -> tuple:
    datasets = sorted(part["dataset"].unique().to_list())
    effects = fitted["std_effect"].to_numpy()
    ses = fitted["std_se"].to_numpy()
    per_dataset = ";".join(
        f"{d}={e:+.3f}({s:.3f})" for d, e, s in zip(fitted["dataset"], effects, ses, strict=True)
    )
    k = len(effects)
    empty = (None,) * 11
    if k == 0:
        return (*key.values(), len(datasets), 0, per_dataset, *empty, "", False)
    if k == 1:
        z = effects[0] / ses[0]
        single = (
            effects[0],
            ses[0],
            effects[0] - 1.96 * ses[0],
            effects[0] + 1.96 * ses[0],
            _two_sided(z),
            effects[0],
            ses[0],
            None,
            None,
            None,
            None,
        )
        return (*key.values(), len(datasets), 1, per_dataset, *single, _agreement(effects), False)
    result = dersimonian_laird(effects, ses**2)
    mean, se = result.effect, result.se
    agreement = _agreement(effects, mean)
    consistent = bool(np.all(np.sign(effects) == np.sign(mean)) and result.i2 < CONSISTENT_I2)
    values = (
        mean,
        se,
        mean - 1.96 * se,
        mean + 1.96 * se,
        _two_sided(mean / se),
        result.effect_fixed,
        result.se_fixed,
        result.q,
        result.tau2,
        result.i2,
        float(k - 1),
    )
    return (*key.values(), len(datasets), k, per_dataset, *values, agreement, consistent)


@dataclass(frozen=True)
class Combined:
    """A DerSimonian-Laird random-effects combination and its fixed-effect counterpart."""

    effect: float
    se: float
    effect_fixed: float
    se_fixed: float
    q: float
    tau2: float
    i2: float


def dersimonian_laird(effects: np.ndarray, variances: np.ndarray) -> Combined:
    """Return the DerSimonian & Laird (1986) random-effects meta-analysis of ``effects``.

    One effect per study with its sampling variance in ``variances``; tau² is truncated at 0 and
    I² = max(0, (Q - df) / Q).
    """
    w = 1.0 / variances
    fixed = float(np.sum(w * effects) / np.sum(w))
    q = float(np.sum(w * (effects - fixed) ** 2))
    df = len(effects) - 1
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (q - df) / c) if c > 0 else 0.0
    w_re = 1.0 / (variances + tau2)
    return Combined(
        effect=float(np.sum(w_re * effects) / np.sum(w_re)),
        se=float(np.sqrt(1.0 / np.sum(w_re))),
        effect_fixed=fixed,
        se_fixed=float(np.sqrt(1.0 / np.sum(w))),
        q=q,
        tau2=tau2,
        i2=max(0.0, (q - df) / q) if q > 0 else 0.0,
    )


def _agreement(effects: np.ndarray, reference: float | None = None) -> str:
    sign = np.sign(reference if reference is not None else effects[0])
    direction = "up" if sign > 0 else "down"
    return f"{int(np.sum(np.sign(effects) == sign))}/{len(effects)} {direction}"


def _two_sided(z: float) -> float:
    from scipy.stats import norm

    return float(2 * norm.sf(abs(z)))
