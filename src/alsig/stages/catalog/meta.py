"""Cohorts compared: a random-effects meta-analysis of every axis over the datasets of a run.

For each method x signature x adjustment x contrast, the datasets' standardised effects
(``std_effect`` of :mod:`alsig.stages.axes.effects`) are combined with DerSimonian-Laird random
effects; Cochran's Q (``cochran_q``), tau² and I² report heterogeneity, ``consistent`` means every
dataset agrees in sign and I² < 50 % (agreement, not significance). ``qvalue`` is the pooled
p-value's BH adjustment per method x adjustment x contrast, axis composites and signatures as two
families, as the axis tests adjust theirs.

Both views of the axis tests are pooled. ``adjustment = none`` as above. ``cell_mix``: over the
datasets where the adjustment is estimable, the (unadjusted, adjusted) pairs are combined with
one set of weights, the unadjusted view's random-effects weights over those datasets
(:func:`alsig.cellmix.pooled_pair`, with each pair's joint covariance), so the pooled share
removed (:func:`alsig.cellmix.share_removed`, Fieller's CI) is a share of the pooled unadjusted
effect of the same datasets (``pooled_unadjusted``); cochran_q, tau² and I² of a ``cell_mix`` row
describe the adjusted effects' own heterogeneity. Datasets whose adjustment is not estimable are
named in ``note`` with the reason. Why the standardised effect and a hand-written estimator:
``docs/methods.md``, "Cohorts compared". It predicts nothing about a patient's drug response.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl

from alsig.cellmix import pooled_pair, share_removed
from alsig.distributions import norm_sf, t_ppf
from alsig.stages.axes.effects import with_qvalues
from alsig.tables import schemas

log = logging.getLogger(__name__)

SCHEMA = "axis_meta"
#: Version of the axis_meta layout (the schema's ``x-schema-version``).
SCHEMA_VERSION: str = str(schemas.load(SCHEMA)["x-schema-version"])
KEY = ["method", "signature", "axis", "adjustment", "contrast"]
#: the sets of tests ``qvalue`` adjusts over (with the axis / signature family)
FAMILY_KEYS = ("method", "adjustment", "contrast")
NONE, CELL_MIX = "none", "cell_mix"
#: the joint covariance columns of a cell_mix axis-test row
JOINT = ("std_joint_var_none", "std_joint_cov", "std_joint_var_cell_mix")
#: I² below this (with all signs agreeing) counts as a consistent effect
CONSISTENT_I2 = 0.5


def axis_meta(tests: pl.DataFrame) -> pl.DataFrame:
    """Combine the axis tests of several datasets, per method x signature x adjustment x contrast.

    Parameters
    ----------
    tests
        Concatenated ``axis_tests`` tables of the run's datasets (both adjustments).

    Returns
    -------
    polars.DataFrame
        One row per method x signature x adjustment x contrast, columns of the shipped
        ``axis_meta`` schema.
    """
    rows = []
    usable = tests.filter(pl.col("std_effect").is_not_null() & (pl.col("std_se") > 0))
    unadjusted = usable.filter(pl.col("adjustment") == NONE)
    for key, part in tests.group_by(KEY, maintain_order=True):
        named = dict(zip(KEY, key, strict=True))
        fitted = usable.join(part.select("dataset", *KEY), on=["dataset", *KEY], how="semi")
        if named["adjustment"] == CELL_MIX:
            rows.append(_combined_cell_mix(named, part, fitted, unadjusted))
        else:
            rows.append((*_combined(named, part, fitted), *_NO_SHARE, ""))
    table = pl.DataFrame(rows, schema=schemas.polars_schema(SCHEMA), orient="row")
    table = with_qvalues(table, FAMILY_KEYS)
    return schemas.validate(table.sort(KEY), SCHEMA, "axis meta-analysis")


#: the share columns of a row without a share (pooled_unadjusted .. share_ci_high)
_NO_SHARE = (None,) * 7


def _per_dataset(fitted: pl.DataFrame) -> str:
    return ";".join(
        f"{d}={e:+.3f}({s:.3f})"
        for d, e, s in zip(fitted["dataset"], fitted["std_effect"], fitted["std_se"], strict=True)
    )


def _combined(key: dict, part: pl.DataFrame, fitted: pl.DataFrame) -> tuple:
    datasets = sorted(part["dataset"].unique().to_list())
    effects = fitted["std_effect"].to_numpy()
    ses = fitted["std_se"].to_numpy()
    per_dataset = _per_dataset(fitted)
    k = len(effects)
    empty = (None,) * 12
    if k == 0:
        return (*key.values(), len(datasets), 0, per_dataset, *empty, "", False)
    if k == 1:
        # one dataset: its own test (t on its df, Satterthwaite for the mixed model), not the
        # normal, so that the meta row says what the dataset's row says
        df = fitted["df"][0] if "df" in fitted.columns else None
        crit = float(t_ppf(0.975, df)) if df is not None and df > 0 else 1.96
        own_p = fitted["pvalue"][0] if "pvalue" in fitted.columns else None
        single = (
            effects[0],
            ses[0],
            effects[0] - crit * ses[0],
            effects[0] + crit * ses[0],
            float(own_p) if own_p is not None else _two_sided(effects[0] / ses[0]),
            None,  # qvalue: filled over the family (with_qvalues)
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
        None,  # qvalue: filled over the family (with_qvalues)
        result.effect_fixed,
        result.se_fixed,
        result.q,
        result.tau2,
        result.i2,
        float(k - 1),
    )
    return (*key.values(), len(datasets), k, per_dataset, *values, agreement, consistent)


def _combined_cell_mix(
    key: dict, part: pl.DataFrame, fitted: pl.DataFrame, unadjusted: pl.DataFrame
) -> tuple:
    """Return the cell_mix row: both views pooled with the unadjusted weights, and the share."""
    fitted = fitted.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in JOINT))
    pairs = fitted.join(
        unadjusted.select(
            "dataset",
            *(c for c in KEY if c != "adjustment"),
            pl.col("std_effect").alias("_u"),
            pl.col("std_se").alias("_u_se"),
        ),
        on=["dataset", *(c for c in KEY if c != "adjustment")],
        how="inner",
    ).sort("dataset")
    note = "; ".join(
        f"{r['dataset']}: {r['note']}"
        for r in part.sort("dataset").iter_rows(named=True)
        if r["dataset"] not in set(pairs["dataset"]) and r["note"]
    )
    base = _combined(key, part, pairs)
    if pairs.height == 0:
        return (*base, *_NO_SHARE, note)
    u = pairs["_u"].to_numpy()
    a = pairs["std_effect"].to_numpy()
    variances = pairs["_u_se"].to_numpy() ** 2
    covariances = np.array(
        [
            [[r["std_joint_var_none"], r["std_joint_cov"]], [r["std_joint_cov"], r[JOINT[2]]]]
            for r in pairs.iter_rows(named=True)
        ]
    )
    tau2 = dersimonian_laird(u, variances).tau2 if len(u) > 1 else 0.0
    pooled_u, pooled_a, cov = pooled_pair(u, a, covariances, tau2, variances)
    share = share_removed(pooled_u, pooled_a, cov)
    se = float(np.sqrt(cov[1, 1]))
    # the pooled adjusted effect replaces the adjusted view's own random-effects mean, so that
    # effect, share and pooled_unadjusted are on one set of weights
    values = list(base)
    first = len(key) + 3
    values[first : first + 5] = [
        pooled_a,
        se,
        pooled_a - 1.96 * se,
        pooled_a + 1.96 * se,
        _two_sided(pooled_a / se) if se > 0 else None,
    ]
    shares = (
        pooled_u,
        share.difference,
        share.difference_low,
        share.difference_high,
        share.share,
        share.share_low,
        share.share_high,
    )
    return (*values, *(_finite(v) for v in shares), "; ".join(filter(None, [note, share.note])))


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


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

    return float(2 * norm_sf(abs(z)))
