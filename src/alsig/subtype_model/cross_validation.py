"""Leakage-free validation of the subtype reference model: nested and batch-held-out schemes.

Only outer folds are scored. Each outer training set goes through the full training procedure
(:func:`.training.select_and_fit`: gene filter, features, hyper-parameters, calibration and
thresholds chosen in its own donor-grouped inner CV), and the held-out samples are projected
with :func:`alsig.stages.subtypes.projection.project`, the code path a new sample takes.

- **Nested**: ``repeats`` x ``folds`` outer splits grouped by donor (stratified by label).
- **Batch held out**: each ``seq_batch`` in turn is the test set; every donor with any sample in
  it is removed from training. The out-of-fold predictions of all batches are pooled before
  scoring (one prediction per sample).

Metrics (:func:`call_metrics`): balanced accuracy (BA) with ``unassigned`` / ``out_of_reference``
counted as errors, BA among the called samples and the share called (coverage), recall per
class, the confusion matrix, macro-F1, one-vs-rest AUC of each probability, and the multiclass
Brier score. Confidence intervals resample donors (:func:`donor_bootstrap`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from alsig.stages.subtypes.projection import project
from alsig.stages.subtypes.reference_model import (
    CLASSES,
    OUT_OF_REFERENCE,
    PROBABILITY_COLUMNS,
    UNASSIGNED,
    ReferenceModel,
)
from alsig.subtype_model.training import (
    TrainingSet,
    TrainingSettings,
    select_and_fit,
)

CALL_COLUMNS = ("subtype_call", "label")
PREDICTION_COLUMNS = (
    "scheme",
    "repeat",
    "fold",
    "sample",
    "subject",
    "label",
    "region",
    "batch",
    *PROBABILITY_COLUMNS,
    "reference_distance",
    "subtype_call",
    "n_genes",
    "n_te",
    "C",
    "calibration_target",
    "min_probability",
    "distance_threshold",
)


def predict_rows(model: ReferenceModel, data: TrainingSet, rows: np.ndarray) -> pd.DataFrame:
    """Project some rows of ``data`` with :func:`alsig.stages.subtypes.projection.project`.

    Parameters
    ----------
    model
        The model to apply.
    data
        The labelled samples.
    rows
        The rows to project (regions from ``meta["region"]``).

    Returns
    -------
    pandas.DataFrame
        :func:`alsig.stages.subtypes.projection.project`'s table of those samples.
    """
    samples = [data.samples[i] for i in rows]
    # a TE model on data without TE counts gets None: project() then names what is missing
    te = data.te_counts.loc[samples] if model.uses_te and data.te_counts is not None else None
    return project(
        model,
        data.gene_counts.loc[samples],
        te_counts=te,
        libraries=data.library_sizes[rows],
        regions=data.meta.loc[samples, "region"],
    )


def fold_frame(
    scheme: str,
    repeat: int,
    fold: str,
    model: ReferenceModel,
    data: TrainingSet,
    rows: np.ndarray,
) -> pd.DataFrame:
    """Predict the held-out ``rows`` of one outer fold, with what the fold's model chose.

    Parameters
    ----------
    scheme, repeat, fold
        Where the prediction comes from (``nested`` / ``batch_held_out``, repeat, fold or batch).
    model
        The model the fold's training set gave.
    data
        The labelled samples.
    rows
        The held-out rows.

    Returns
    -------
    pandas.DataFrame
        One row per held-out sample: :data:`PREDICTION_COLUMNS`.
    """
    projected = predict_rows(model, data, rows)
    meta = data.meta.iloc[rows]
    frame = pd.DataFrame(
        {
            "scheme": scheme,
            "repeat": repeat,
            "fold": fold,
            "sample": list(projected.index),
            "subject": meta["subject"].to_numpy(),
            "label": meta["label"].to_numpy(),
            "region": meta["region"].to_numpy(),
            "batch": meta["batch"].to_numpy() if "batch" in meta else None,
        }
    )
    for column in (*PROBABILITY_COLUMNS, "reference_distance", "subtype_call"):
        frame[column] = projected[column].to_numpy()
    hyper = model.hyperparameters
    frame["n_genes"], frame["n_te"], frame["C"] = hyper["n_genes"], hyper["n_te"], hyper["C"]
    frame["calibration_target"] = model.calibration_target
    frame["min_probability"] = model.min_probability
    frame["distance_threshold"] = model.distance_threshold
    return frame


def outer_splits(data: TrainingSet, repeats: int, folds: int, seed: int = 1000):
    """Split ``data`` by the nested scheme (donor-grouped, stratified by label).

    Parameters
    ----------
    data
        The labelled samples.
    repeats, folds
        Repeats of a ``folds``-fold split.
    seed
        Seed of the first repeat (``seed + repeat`` for the others).

    Yields
    ------
    tuple
        ``(repeat, fold, train_rows, test_rows)``.
    """
    y, groups = data.y, data.groups
    for repeat in range(repeats):
        splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed + repeat)
        for fold, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
            yield repeat, fold, train, test


def batch_splits(data: TrainingSet):
    """Split ``data`` by batch: each batch held out, its donors' samples removed from training.

    Parameters
    ----------
    data
        The labelled samples (``meta["batch"]``).

    Yields
    ------
    tuple
        ``(batch, train_rows, test_rows)``, batches in sorted order.
    """
    batches = data.meta["batch"].astype(str).to_numpy()
    groups = data.groups
    for batch in sorted(set(batches)):
        test = np.flatnonzero(batches == batch)
        donors = set(groups[test])
        train = np.flatnonzero(~np.isin(groups, sorted(donors)))
        yield batch, train, test


def nested_cv(
    data: TrainingSet,
    settings: TrainingSettings,
    *,
    name: str,
    repeats: int = 5,
    folds: int = 5,
    seed: int = 1000,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Predict every sample out of fold in every repeat of the nested scheme.

    Parameters
    ----------
    data
        The labelled samples.
    settings
        The training grid and rules (each outer training set runs the whole procedure).
    name
        The model name.
    repeats, folds, seed
        As for :func:`outer_splits`.
    progress
        Called with a line per fold, if given.

    Returns
    -------
    pandas.DataFrame
        One row per sample, repeat and fold: :data:`PREDICTION_COLUMNS`.
    """
    frames = []
    for repeat, fold, train, test in outer_splits(data, repeats, folds, seed):
        model, _ = select_and_fit(data, train, settings, name=name)
        frames.append(fold_frame("nested", repeat, str(fold), model, data, test))
        if progress:
            progress(f"{name} nested repeat {repeat} fold {fold}: {model.hyperparameters}")
    return pd.concat(frames, ignore_index=True)[list(PREDICTION_COLUMNS)]


def batch_held_out_cv(
    data: TrainingSet,
    settings: TrainingSettings,
    *,
    name: str,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Predict every sample with its batch held out (:func:`batch_splits`), pooled.

    Parameters
    ----------
    data
        The labelled samples.
    settings
        The training grid and rules.
    name
        The model name.
    progress
        Called with a line per batch, if given.

    Returns
    -------
    pandas.DataFrame
        One row per sample: :data:`PREDICTION_COLUMNS`.
    """
    frames = []
    for batch, train, test in batch_splits(data):
        model, _ = select_and_fit(data, train, settings, name=name)
        frames.append(fold_frame("batch_held_out", 0, batch, model, data, test))
        if progress:
            progress(f"{name} batch {batch}: {len(test)} held out, {len(train)} trained")
    return pd.concat(frames, ignore_index=True)[list(PREDICTION_COLUMNS)]


# -- metrics -----------------------------------------------------------------------------------


def call_metrics(frame: pd.DataFrame) -> dict:
    """Compute the metrics of one set of predictions.

    Parameters
    ----------
    frame
        Predictions with ``label``, ``subtype_call`` and the probability columns.

    Returns
    -------
    dict
        ``ba`` (unassigned and out_of_reference are errors), ``ba_called``, ``coverage``,
        ``recall`` and ``auc`` per class, ``macro_f1``, ``brier``, ``n``, ``n_unassigned``,
        ``n_out_of_reference``.
    """
    labels = frame["label"].to_numpy(dtype=object)
    calls = frame["subtype_call"].to_numpy(dtype=object)
    recall = {c: float(np.mean(calls[labels == c] == c)) for c in CLASSES if (labels == c).any()}
    called = np.isin(calls, CLASSES)
    recall_called = {
        c: float(np.mean(calls[(labels == c) & called] == c))
        for c in CLASSES
        if ((labels == c) & called).any()
    }
    probabilities = frame[list(PROBABILITY_COLUMNS)].to_numpy(dtype=float)
    onehot = (labels[:, None] == np.asarray(CLASSES, dtype=object)[None, :]).astype(float)
    auc = {}
    for j, c in enumerate(CLASSES):
        positives = labels == c
        if positives.any() and (~positives).any():
            auc[c] = float(roc_auc_score(positives, probabilities[:, j]))
    return {
        "n": int(len(frame)),
        "ba": float(np.mean(list(recall.values()))),
        "ba_called": float(np.mean(list(recall_called.values()))) if recall_called else np.nan,
        "coverage": float(called.mean()),
        "n_unassigned": int((calls == UNASSIGNED).sum()),
        "n_out_of_reference": int((calls == OUT_OF_REFERENCE).sum()),
        "recall": recall,
        "macro_f1": float(
            f1_score(labels, calls, labels=list(CLASSES), average="macro", zero_division=0)
        ),
        "auc": auc,
        "brier": float(np.mean(((probabilities - onehot) ** 2).sum(axis=1))),
    }


def confusion(frame: pd.DataFrame) -> pd.DataFrame:
    """Tabulate labels against calls.

    Parameters
    ----------
    frame
        Predictions with ``label`` and ``subtype_call``.

    Returns
    -------
    pandas.DataFrame
        Labels (rows) x calls (the three classes, then unassigned and out_of_reference).
    """
    columns = [*CLASSES, UNASSIGNED, OUT_OF_REFERENCE]
    table = pd.crosstab(frame["label"], frame["subtype_call"])
    return table.reindex(index=list(CLASSES), columns=columns, fill_value=0)


def flat_metrics(metrics: dict) -> dict[str, float]:
    """Flatten :func:`call_metrics` into one ``{name: value}``.

    Parameters
    ----------
    metrics
        The result of :func:`call_metrics`.

    Returns
    -------
    dict of str to float
        The scalar metrics, and ``recall_<class>`` / ``auc_<class>`` for the per-class ones.
    """
    flat = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    for key in ("recall", "auc"):
        for c, v in metrics[key].items():
            flat[f"{key}_{c}"] = v
    return flat


def repeat_mean(frame: pd.DataFrame) -> dict[str, float]:
    """Average the flat metrics over the repeats of ``frame`` (one repeat: its metrics).

    Parameters
    ----------
    frame
        Predictions with a ``repeat`` column.

    Returns
    -------
    dict of str to float
        :func:`flat_metrics` averaged over the repeats (NaN ignored).
    """
    per_repeat = [flat_metrics(call_metrics(part)) for _, part in frame.groupby("repeat")]
    keys = per_repeat[0].keys()
    return {k: float(np.nanmean([m.get(k, np.nan) for m in per_repeat])) for k in keys}


def donor_bootstrap(
    frame: pd.DataFrame,
    statistic: Callable[[pd.DataFrame], dict[str, float]] = repeat_mean,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Estimate each value of ``statistic(frame)`` with a donor-bootstrap percentile interval.

    Donors (``subject``) are drawn with replacement; a drawn donor brings all its rows (in every
    repeat). A draw the statistic cannot be computed on (a class missing) is skipped.

    Parameters
    ----------
    frame
        Predictions with a ``subject`` column.
    statistic
        Frame -> ``{metric: value}``.
    n_boot
        Bootstrap draws.
    seed
        Seed of the draws.
    level
        Confidence level of the interval.

    Returns
    -------
    pandas.DataFrame
        Indexed by metric: ``estimate``, ``low``, ``high``.
    """
    estimate = statistic(frame)
    rng = np.random.default_rng(seed)
    donors = np.array(sorted(frame["subject"].unique()))
    rows_of = {d: np.flatnonzero(frame["subject"].to_numpy() == d) for d in donors}
    draws = []
    for _ in range(n_boot):
        picked = rng.choice(donors, size=len(donors), replace=True)
        index = np.concatenate([rows_of[d] for d in picked])
        sample = frame.iloc[index]
        try:
            draws.append(statistic(sample))
        except ValueError:  # a draw without one class: skipped
            continue
    table = pd.DataFrame(draws)
    alpha = (1 - level) / 2
    return pd.DataFrame(
        {
            "estimate": pd.Series(estimate),
            "low": table.quantile(alpha),
            "high": table.quantile(1 - alpha),
        }
    )


def region_check(frame: pd.DataFrame, label: str = "ALS-Ox", column: str = "p_glia") -> float:
    """Measure how well a probability separates motor from frontal cortex within one label.

    The probability is averaged over repeats per sample; an AUC of 0.5 means the model does not
    see region there.

    Parameters
    ----------
    frame
        Predictions with ``label``, ``sample``, ``region`` and ``column``.
    label
        The samples looked at.
    column
        The probability column.

    Returns
    -------
    float
        AUC of ``column`` for motor (vs other) cortex among samples labelled ``label``.
    """
    part = frame[frame["label"] == label]
    mean = part.groupby("sample").agg(p=(column, "mean"), region=("region", "first"))
    motor = mean["region"].str.lower().str.contains("motor").to_numpy()
    return float(roc_auc_score(motor, mean["p"].to_numpy()))


def reliability(frame: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Tabulate one-vs-rest reliability: per class and probability bin, predicted and observed.

    Parameters
    ----------
    frame
        Predictions with ``label`` and the probability columns.
    bins
        Equal-width probability bins.

    Returns
    -------
    pandas.DataFrame
        ``class``, ``bin``, ``n``, ``predicted`` (mean probability) and ``observed`` (share of
        the class) for each non-empty bin.
    """
    rows = []
    labels = frame["label"].to_numpy(dtype=object)
    edges = np.linspace(0, 1, bins + 1)
    for j, c in enumerate(CLASSES):
        p = frame[PROBABILITY_COLUMNS[j]].to_numpy(dtype=float)
        which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
        for b in range(bins):
            inside = which == b
            if inside.any():
                rows.append(
                    {
                        "class": c,
                        "bin": b,
                        "n": int(inside.sum()),
                        "predicted": float(p[inside].mean()),
                        "observed": float(np.mean(labels[inside] == c)),
                    }
                )
    return pd.DataFrame(rows)


# -- floors ------------------------------------------------------------------------------------

Design = Callable[[TrainingSet, np.ndarray], np.ndarray]


def region_batch_design(data: TrainingSet, train: np.ndarray) -> np.ndarray:
    """Build the region-and-batch floor's design: one-hot region and batch for all rows.

    Parameters
    ----------
    data
        The labelled samples (``meta["region"]``, ``meta["batch"]``).
    train
        The training rows: the categories come from them only.

    Returns
    -------
    numpy.ndarray
        Rows x categories (0/1).
    """
    blocks = []
    for column in ("region", "batch"):
        values = data.meta[column].astype(str).to_numpy()
        levels = sorted(set(values[train]))
        blocks.append((values[:, None] == np.array(levels)[None, :]).astype(float))
    return np.column_stack(blocks)


def marker_index_design(markers: Mapping[str, Sequence[str]]) -> Design:
    """Build the composition floor's design: a marker index per cell type.

    The index is the mean z score (log2 CPM, mean/SD of the training rows) of the cell type's
    marker genes present in the data.

    Parameters
    ----------
    markers
        Cell type -> marker genes (Entrez ids).

    Returns
    -------
    Callable
        ``design(data, train)`` -> rows x cell types.
    """

    def design(data: TrainingSet, train: np.ndarray) -> np.ndarray:
        position = {g: j for j, g in enumerate(data.gene_ids)}
        columns = []
        for genes in markers.values():
            idx = [position[g] for g in genes if g in position]
            values = data.gene_log2cpm[:, idx]
            mean = values[train].mean(axis=0)
            sd = np.maximum(values[train].std(axis=0, ddof=1), 1e-6)
            columns.append(((values - mean) / sd).mean(axis=1))
        return np.column_stack(columns)

    return design


def floor_predictions(
    data: TrainingSet,
    design: Design,
    splits: Sequence[tuple[str, int, str, np.ndarray, np.ndarray]],
    *,
    c_grid: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
    inner_folds: int = 5,
) -> pd.DataFrame:
    """Predict every outer fold with a floor model on ``design``.

    A balanced multinomial logistic regression on ``design`` (standardised on the training
    rows), ``C`` chosen by balanced log loss in a donor-grouped inner CV, call = most probable
    class (no unassigned, no out_of_reference).

    Parameters
    ----------
    data
        The labelled samples.
    design
        ``design(data, train)`` -> rows x covariates.
    splits
        ``(scheme, repeat, fold, train, test)`` (:func:`all_splits`).
    c_grid
        Inverse penalties tried.
    inner_folds
        Folds of the inner CV.

    Returns
    -------
    pandas.DataFrame
        One row per test sample and split: scheme, repeat, fold, the probabilities, sample,
        subject, label, region and ``subtype_call``.
    """
    y, groups = data.y, data.groups
    frames = []
    for scheme, repeat, fold, train, test in splits:
        x = design(data, train)
        best, best_loss = c_grid[0], np.inf
        inner = StratifiedGroupKFold(inner_folds, shuffle=True, random_state=0)
        for c in c_grid:
            probabilities = np.zeros((len(train), len(CLASSES)))
            for fit, held in inner.split(train, y[train], groups[train]):
                probabilities[held] = _floor_fit(x, y, train[fit], c).predict_proba(
                    _scaled(x, train[fit])[train[held]]
                )
            loss = _balanced_loss(probabilities, y[train])
            if loss < best_loss - 1e-12:
                best, best_loss = c, loss
        fitted = _floor_fit(x, y, train, best)
        probabilities = fitted.predict_proba(_scaled(x, train)[test])
        meta = data.meta.iloc[test]
        frame = pd.DataFrame(probabilities, columns=list(PROBABILITY_COLUMNS))
        frame.insert(0, "scheme", scheme)
        frame.insert(1, "repeat", repeat)
        frame.insert(2, "fold", fold)
        frame["sample"] = [data.samples[i] for i in test]
        frame["subject"] = meta["subject"].to_numpy()
        frame["label"] = meta["label"].to_numpy()
        frame["region"] = meta["region"].to_numpy()
        frame["subtype_call"] = np.asarray(CLASSES, dtype=object)[probabilities.argmax(axis=1)]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _scaled(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    mean = x[train].mean(axis=0)
    sd = x[train].std(axis=0, ddof=1)
    return (x - mean) / np.where(sd > 0, sd, 1.0)


def _floor_fit(x: np.ndarray, y: np.ndarray, rows: np.ndarray, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=10000)
    return model.fit(_scaled(x, rows)[rows], y[rows])


def _balanced_loss(probabilities: np.ndarray, y: np.ndarray) -> float:
    picked = np.log(np.clip(probabilities[np.arange(len(y)), y], 1e-15, 1))
    return float(-np.mean([picked[y == c].mean() for c in np.unique(y)]))


def all_splits(data: TrainingSet, repeats: int = 5, folds: int = 5, seed: int = 1000) -> list:
    """List the nested and the batch-held-out splits, for the floors.

    They are the splits the model is judged on.

    Parameters
    ----------
    data
        The labelled samples.
    repeats, folds, seed
        As for :func:`outer_splits`.

    Returns
    -------
    list of tuple
        ``(scheme, repeat, fold, train, test)``, the nested splits first.
    """
    nested = [
        ("nested", r, str(f), tr, te) for r, f, tr, te in outer_splits(data, repeats, folds, seed)
    ]
    batches = [("batch_held_out", 0, b, tr, te) for b, tr, te in batch_splits(data)]
    return nested + batches
