"""Project samples onto the published subtypes of Tam et al. 2019 with a shipped reference model.

For each sample the model (:mod:`.reference_model`, trained by ``scripts/build_subtype_model.py``
on the 148 labelled ALS samples of GSE124439) gives:

- ``p_ox``, ``p_glia``, ``p_te``: calibrated class probabilities (sum 1). They are calibrated on
  the reference cohort (its centre, its platform and, with calibration target ``prevalence``, its
  class shares 61/19/20 %; with target ``balanced``, equal class priors): elsewhere they are the
  reference's view of the sample, not frequencies of that cohort.
- ``reference_distance``: the mean RMS distance (in the model's standardised feature space) to
  the ``neighbours`` nearest reference samples; the model's ``distance_threshold`` is the 99th
  percentile of that distance for reference samples scored by models that never saw their donor.
- ``subtype_call``: ``out_of_reference`` when the sample's region is known and not one of the
  reference regions (frontal and motor cortex), or its distance exceeds the threshold; else
  ``unassigned`` when the largest probability is below ``min_probability`` (chosen in the inner
  cross-validation); else the class with the largest probability.

Missing model genes (policy): the model genes present are ranked among themselves (so their
quantiles keep their meaning), a missing feature is set to the reference mean (standardised
value 0: it moves no logit), and the distance is taken over the present features. Coverage is
reported per sample table; below the model's ``min_coverage`` (50 %) the projection is refused.

Reference samples: a sample whose features equal a row of the model's reference (a training
sample of GSE124439, recognised by content, not by name) gets ``reference_sample = True`` and the
probabilities and distance it received in the outer fold of the validation that never saw its
donor (stored in ``reference_calls.tsv``), never in-sample ones. Its call is made by the same
rule as every other sample's, on those stored values: with the run's ``reference_regions``,
with ``min_probability`` from the run when it sets one, else the one its outer fold chose in its
inner cross-validation, and with its outer fold's ``distance_threshold`` (both read from
``cv_predictions.tsv``; the model's when not stored). At the default settings this reproduces
the stored outer-fold call exactly; a narrower region list or a stricter ``min_probability``
applies to reference samples as to the others (logged). Without stored values its probabilities
and distance are missing and its call ``unassigned`` (``out_of_reference`` outside the regions).

Every feature depends on the sample alone (:mod:`.features`), so scoring any subset of samples
gives the same values and calls. These are molecular subtypes associated with resistance
biology, not a prediction of any patient's drug response.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsig.errors import AlsigError, name_some
from alsig.stages.subtypes.features import gene_rank_features, te_features
from alsig.stages.subtypes.reference_model import (
    GENES_MODEL,
    GENES_TE_MODEL,
    OUT_OF_REFERENCE,
    PROBABILITY_COLUMNS,
    UNASSIGNED,
    ReferenceModel,
    load_shipped,
)

log = logging.getLogger(__name__)

#: columns of :func:`project` (besides the sample index)
COLUMNS = (
    *PROBABILITY_COLUMNS,
    "subtype_call",
    "reference_distance",
    "distance_threshold",
    "min_probability",
    "region",
    "in_reference_region",
    "gene_coverage",
    "te_coverage",
    "subtype_model",
    "reference_sample",
)
#: RMS feature difference below which a sample is taken to be a reference (training) sample
SAME_SAMPLE_RMS = 1e-4


def canonical_region(text: object) -> str | None:
    """Spell a region name in one vocabulary: ``frontal cortex``, ``motor cortex``, ...

    ``Motor Cortex (Lateral)`` -> ``motor cortex``; ``FCX`` / ``Frontal Cortex`` -> ``frontal
    cortex``; ``cereb`` -> ``cerebellum``; anything else lower-cased and trimmed; missing -> None.

    Parameters
    ----------
    text
        A sample sheet's region value (any type; None and NaN are missing).

    Returns
    -------
    str or None
        The canonical name, or None for a missing or "not known" value.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)) or pd.isna(text):
        return None
    value = re.sub(r"\s+", " ", str(text).strip().lower())
    if not value or value in ("na", "nan", "none", "unknown"):
        return None
    if "motor" in value and ("cortex" in value or "ctx" in value):
        return "motor cortex"
    if value in ("fcx", "frontal") or ("frontal" in value and "cortex" in value):
        return "frontal cortex"
    if value.startswith("cereb"):
        return "cerebellum"
    return value


@dataclass(frozen=True)
class FeatureBlock:
    """Standardised features of some samples for one model, and what was present."""

    z: np.ndarray  # samples x features, missing -> 0 (the reference mean)
    present: np.ndarray  # samples x features bool
    gene_coverage: float
    te_coverage: float | None


def standardised_features(
    model: ReferenceModel,
    gene_counts: pd.DataFrame,
    te_counts: pd.DataFrame | None = None,
    libraries: np.ndarray | None = None,
) -> FeatureBlock:
    """Compute the model's standardised features for each sample (rows of ``gene_counts``).

    Parameters
    ----------
    model
        A reference model.
    gene_counts
        Samples x genes raw counts, columns Entrez ids.
    te_counts
        Samples x TEs counts (``subfamily:family:class`` columns), needed by a model with TE
        features; same rows as ``gene_counts``.
    libraries
        Gene-assigned reads per sample (the TE denominator); default: row sums of
        ``gene_counts``.

    Returns
    -------
    FeatureBlock
        The standardised features (missing ones at the reference mean, 0) and the coverage.

    Raises
    ------
    AlsigError
        The model needs TE counts and none were given, or coverage is below ``min_coverage``.
    """
    blocks = [gene_rank_features(gene_counts, model.genes).to_numpy(dtype=float)]
    gene_present = np.isin(model.genes, [str(c) for c in gene_counts.columns])
    gene_coverage = float(gene_present.mean()) if len(model.genes) else 1.0
    te_coverage = None
    if model.uses_te:
        if te_counts is None:
            raise AlsigError(
                f"subtype model '{model.name}' uses TE features but no TE counts were given; "
                f"use the '{GENES_MODEL}' model for data without TEcount input."
            )
        if libraries is None:
            libraries = gene_counts.sum(axis=1).to_numpy(dtype=float)
        te = te_features(te_counts.loc[gene_counts.index], libraries, model.te_subfamilies)
        blocks.append(te.to_numpy(dtype=float))
        te_coverage = float(te.notna().all(axis=0).mean())
    raw = np.column_stack(blocks)
    present = ~np.isnan(raw)
    for what, coverage in (("genes", gene_coverage), ("TE subfamilies", te_coverage)):
        if coverage is not None and coverage < model.min_coverage:
            raise AlsigError(
                f"subtype model '{model.name}': only {100 * coverage:.0f} % of its {what} are in "
                f"the input (minimum {100 * model.min_coverage:.0f} %). Check that genes are "
                "Entrez ids (ingest's var['gene_id']) from a human whole-transcriptome count "
                "matrix; no call is made on so few features."
            )
    z = np.where(present, (raw - model.mean) / model.scale, 0.0)
    return FeatureBlock(z, present, gene_coverage, te_coverage)


def model_logits(model: ReferenceModel, z: np.ndarray) -> np.ndarray:
    """Compute the uncalibrated logits ``z @ coef.T + intercept``.

    Parameters
    ----------
    model
        The reference model.
    z
        Samples x features, standardised (:func:`standardised_features`).

    Returns
    -------
    numpy.ndarray
        Samples x classes.
    """
    return z @ model.coef.T + model.intercept


def calibrated_probabilities(
    logits: np.ndarray, temperature: float, bias: np.ndarray
) -> np.ndarray:
    """Calibrate logits: ``softmax(logits / temperature + bias)`` row by row.

    Parameters
    ----------
    logits
        Samples x classes (:func:`model_logits`).
    temperature
        The calibration temperature (> 0).
    bias
        The calibration bias per class.

    Returns
    -------
    numpy.ndarray
        Samples x classes probabilities; each row sums to 1.
    """
    scaled = np.asarray(logits, dtype=float) / temperature + np.asarray(bias, dtype=float)
    scaled -= scaled.max(axis=1, keepdims=True)
    weights = np.exp(scaled)
    return weights / weights.sum(axis=1, keepdims=True)


def reweight_priors(probabilities: np.ndarray, priors: Sequence[float]) -> np.ndarray:
    """Re-read probabilities calibrated to equal class priors at other class priors.

    A model with calibration target ``balanced`` gives probabilities for equal class shares;
    ``reweight_priors(p, [0.61, 0.19, 0.20])`` gives them at the reference's prevalence (Bayes'
    rule: multiply by the priors and renormalise).

    Parameters
    ----------
    probabilities
        Samples x classes, calibrated to equal priors.
    priors
        The class priors to read them at (one per class).

    Returns
    -------
    numpy.ndarray
        Samples x classes; each row sums to 1.
    """
    weighted = np.asarray(probabilities, dtype=float) * np.asarray(priors, dtype=float)
    return weighted / weighted.sum(axis=1, keepdims=True)


def reference_distance(
    z: np.ndarray, reference: np.ndarray, neighbours: int, present: np.ndarray | None = None
) -> np.ndarray:
    """Measure each row of ``z``'s mean RMS distance to its nearest ``reference`` rows.

    Parameters
    ----------
    z
        Samples x features, standardised.
    reference
        Reference samples x features, standardised.
    neighbours
        How many nearest reference samples are averaged.
    present
        Samples x features bool: the RMS is taken over a sample's present features only.

    Returns
    -------
    numpy.ndarray
        One distance per sample: the mean over its ``neighbours`` nearest reference rows.
    """
    z = np.asarray(z, dtype=float)
    reference = np.asarray(reference, dtype=float)
    mask = np.ones(z.shape, dtype=bool) if present is None else np.asarray(present, dtype=bool)
    n_present = np.maximum(mask.sum(axis=1), 1)
    # ||m*(z - r)||^2 = sum m z^2 - 2 (m z) . r + m . r^2, per sample-reference pair
    zm = np.where(mask, z, 0.0)
    squared = (
        (zm**2).sum(axis=1)[:, None]
        - 2.0 * zm @ reference.T
        + mask.astype(float) @ (reference**2).T
    )
    rms = np.sqrt(np.maximum(squared, 0.0) / n_present[:, None])
    k = min(neighbours, reference.shape[0])
    nearest = np.sort(rms, axis=1)[:, :k]
    return nearest.mean(axis=1)


def call_rule(
    probabilities: np.ndarray,
    distance: np.ndarray,
    in_region: np.ndarray,
    *,
    classes: Sequence[str],
    min_probability: float | np.ndarray,
    distance_threshold: float | np.ndarray,
) -> np.ndarray:
    """Call each sample: out_of_reference, unassigned or the most probable class.

    Parameters
    ----------
    probabilities
        Samples x classes, calibrated.
    distance
        Reference distance per sample (:func:`reference_distance`).
    in_region
        Whether each sample is of a region the model calls.
    classes
        The class of each probability column.
    min_probability
        Below this top probability a sample is unassigned (one value, or one per sample).
    distance_threshold
        Beyond this distance (or outside the regions) a sample is out of reference (one value,
        or one per sample).

    Returns
    -------
    numpy.ndarray
        ``subtype_call`` per sample (object array). A sample without probabilities (a reference
        sample without stored values) is unassigned unless out of reference.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    missing = np.isnan(probabilities).any(axis=1)
    best = np.where(missing[:, None], 0.0, probabilities).argmax(axis=1)
    calls = np.asarray(classes, dtype=object)[best]
    too_low = missing | (np.where(missing, 0.0, probabilities.max(axis=1)) < min_probability)
    calls = np.where(too_low, UNASSIGNED, calls)
    outside = ~np.asarray(in_region, dtype=bool) | (np.asarray(distance) > distance_threshold)
    return np.where(outside, OUT_OF_REFERENCE, calls).astype(object)


def project(
    model: ReferenceModel,
    gene_counts: pd.DataFrame,
    *,
    te_counts: pd.DataFrame | None = None,
    libraries: np.ndarray | None = None,
    regions: pd.Series | Mapping[str, object] | None = None,
    reference_regions: Sequence[str] | None = None,
    min_probability: float | None = None,
) -> pd.DataFrame:
    """Project samples onto a reference model: probabilities, distance and call of each.

    Parameters
    ----------
    model
        The reference model to apply.
    gene_counts
        Samples x genes raw counts, columns Entrez ids (ingest's ``var["gene_id"]``).
    te_counts
        Samples x TEs counts, required by a model with TE features.
    libraries
        Gene-assigned reads per sample (QC's ``total_counts``); default: row sums of
        ``gene_counts``.
    regions
        Region of each sample (any spelling :func:`canonical_region` reads); a sample with an
        unknown region is judged by its distance only.
    reference_regions
        Regions the calls are made for (default: the model's, frontal and motor cortex).
    min_probability
        The run's ``subtypes.min_probability``: the threshold of every call, reference samples'
        included. None: the model's for new samples, the outer fold's for reference samples.

    Returns
    -------
    pandas.DataFrame
        Indexed by sample, columns :data:`COLUMNS` (``min_probability`` and
        ``distance_threshold``: the thresholds each row's call was made with).

    Raises
    ------
    AlsigError
        Too few model genes (or TE subfamilies) in the input, or TE counts missing for a TE model.
    """
    block = standardised_features(model, gene_counts, te_counts, libraries)
    probabilities = calibrated_probabilities(
        model_logits(model, block.z), model.temperature, model.bias
    )
    distance = reference_distance(block.z, model.reference, model.neighbours, block.present)
    samples = list(gene_counts.index)
    region_of = pd.Series(regions) if regions is not None else pd.Series(dtype=object)
    region = [canonical_region(region_of.get(s)) for s in samples]
    allowed = {canonical_region(r) for r in (reference_regions or model.reference_regions)}
    in_region = np.array([r is None or r in allowed for r in region])
    table = pd.DataFrame(
        probabilities, index=pd.Index(samples, name="sample"), columns=list(PROBABILITY_COLUMNS)
    )
    table["reference_distance"] = distance
    table["distance_threshold"] = float(model.distance_threshold)
    table["min_probability"] = float(
        model.min_probability if min_probability is None else min_probability
    )
    table["reference_sample"] = False
    stored_calls = _with_stored_outer_fold_values(table, model, block, min_probability)
    table["subtype_call"] = call_rule(
        table[list(PROBABILITY_COLUMNS)].to_numpy(dtype=float),
        table["reference_distance"].to_numpy(dtype=float),
        in_region,
        classes=model.classes,
        min_probability=table["min_probability"].to_numpy(dtype=float),
        distance_threshold=table["distance_threshold"].to_numpy(dtype=float),
    )
    table["region"] = region
    table["in_reference_region"] = [None if r is None else bool(r in allowed) for r in region]
    table["gene_coverage"] = block.gene_coverage
    table["te_coverage"] = np.nan if block.te_coverage is None else block.te_coverage
    table["subtype_model"] = model.name
    _log_reference_calls(table, model, stored_calls, in_region, min_probability)
    return table[list(COLUMNS)]


def reference_rows(model: ReferenceModel, block: FeatureBlock) -> np.ndarray:
    """Find the samples that are the model's reference (training) samples.

    Parameters
    ----------
    model
        The reference model (with its reference matrix).
    block
        The samples' standardised features.

    Returns
    -------
    numpy.ndarray
        Per sample, the index of the reference row it equals (RMS difference below
        :data:`SAME_SAMPLE_RMS` on complete features), else -1.
    """
    if model.reference.shape[0] == 0:
        return np.full(block.z.shape[0], -1)
    nearest = np.full(block.z.shape[0], -1)
    complete = block.present.all(axis=1)
    if complete.any():
        z = block.z[complete]
        reference = np.asarray(model.reference, dtype=float)
        squared = (z**2).sum(axis=1)[:, None] - 2.0 * z @ reference.T + (reference**2).sum(axis=1)
        rms = np.sqrt(np.maximum(squared, 0.0) / z.shape[1])
        best = rms.argmin(axis=1)
        hit = rms[np.arange(len(best)), best] < SAME_SAMPLE_RMS
        nearest[np.flatnonzero(complete)[hit]] = best[hit]
    return nearest


def _with_stored_outer_fold_values(
    table: pd.DataFrame,
    model: ReferenceModel,
    block: FeatureBlock,
    min_probability: float | None,
) -> pd.Series:
    """Give the reference samples of ``table`` their stored outer-fold values, in place.

    Parameters
    ----------
    table
        The projection before its calls: probabilities, ``reference_distance``,
        ``distance_threshold``, ``min_probability``, ``reference_sample``.
    model
        The model (its ``reference_calls``, with the outer folds' thresholds when stored).
    block
        The samples' standardised features (the reference samples are recognised by them).
    min_probability
        The run's ``subtypes.min_probability``, or None (then the outer fold's threshold).

    Returns
    -------
    pandas.Series
        The stored outer-fold call of each reference sample (indexed by sample; empty when
        there is none, missing when no calls are stored).
    """
    rows = reference_rows(model, block)
    matched = rows >= 0
    if not matched.any():
        return pd.Series(dtype=object)
    table.loc[matched, "reference_sample"] = True
    values = [*PROBABILITY_COLUMNS, "reference_distance"]
    if model.reference_calls is None or not model.reference_samples:
        table.loc[matched, values] = np.nan
        return pd.Series(None, index=table.index[matched], dtype=object)
    names = [model.reference_samples[i] for i in rows[matched]]
    stored = model.reference_calls.loc[names]
    for column in values:
        table.loc[matched, column] = stored[column].to_numpy(dtype=float)
    # the thresholds the outer fold's own call was made with, when the model folder stores them
    if "distance_threshold" in stored:
        table.loc[matched, "distance_threshold"] = stored["distance_threshold"].to_numpy(float)
    if min_probability is None and "min_probability" in stored:
        table.loc[matched, "min_probability"] = stored["min_probability"].to_numpy(float)
    return pd.Series(stored["subtype_call"].to_numpy(), index=table.index[matched], dtype=object)


def _log_reference_calls(
    table: pd.DataFrame,
    model: ReferenceModel,
    stored: pd.Series,
    in_region: np.ndarray,
    min_probability: float | None,
) -> None:
    """Say how many reference samples carry outer-fold values; warn where settings moved a call.

    Parameters
    ----------
    table
        The projection, calls made.
    model
        The model that ran.
    stored
        The stored outer-fold call of each reference sample (:func:`_with_stored_outer_fold_values`).
    in_region
        Per row of ``table``, whether the region rule lets it be called.
    min_probability
        The run's ``subtypes.min_probability``, or None.
    """
    if stored.empty:
        return
    if stored.isna().all():
        log.warning(
            "subtype model '%s': %d sample(s) are its reference (training) samples but the model "
            "folder stores no outer-fold calls (%s): no probabilities, call unassigned",
            model.name,
            len(stored),
            "reference_calls.tsv",
        )
        return
    log.info(
        "subtype model '%s': %d reference (training) sample(s) recognised by their counts carry "
        "their outer-fold probabilities and distance (never an in-sample call); their call is "
        "made by the same rule",
        model.name,
        len(stored),
    )
    now = table.loc[stored.index, "subtype_call"]
    changed = now[now.to_numpy() != stored.to_numpy()]
    if changed.empty:
        return
    outside = ~pd.Series(in_region, index=table.index).loc[changed.index].to_numpy()
    # the stored values are kept, so only the region list and the thresholds can move a call
    by_setting = {
        "subtypes.reference_regions": changed[outside],
        (
            "subtypes.min_probability"
            if min_probability is not None
            else "the model's thresholds (the outer fold's are not stored)"
        ): changed[~outside],
    }
    for setting, moved in by_setting.items():
        if moved.empty:
            continue
        named = name_some(f"{s}: {stored[s]} -> {call}" for s, call in moved.items())
        log.warning(
            "subtype model '%s': %s changed the call of %d of the %d reference samples from "
            "their stored outer-fold call (%s)",
            model.name,
            setting,
            len(moved),
            len(stored),
            named,
        )


def choose_model(
    te_counts: pd.DataFrame | None, models: Mapping[str, ReferenceModel] | None = None
) -> ReferenceModel:
    """Choose the genes+TE model when TE counts are given and cover it, else the genes-only one.

    Parameters
    ----------
    te_counts
        The dataset's TE counts or None.
    models
        ``{name: model}`` (default: the shipped :data:`GENES_MODEL` and :data:`GENES_TE_MODEL`).

    Returns
    -------
    ReferenceModel
        The model to apply.
    """
    models = (
        dict(models)
        if models is not None
        else {name: load_shipped(name) for name in (GENES_MODEL, GENES_TE_MODEL)}
    )
    with_te = models.get(GENES_TE_MODEL)
    if te_counts is not None and with_te is not None:
        subfamilies = {str(c).split(":", 1)[0] for c in te_counts.columns}
        coverage = np.mean([s in subfamilies for s in with_te.te_subfamilies])
        if coverage >= with_te.min_coverage:
            return with_te
    return models[GENES_MODEL]
