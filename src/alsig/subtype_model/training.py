"""Fit a subtype reference model with every choice made in a donor-grouped inner cross-validation.

:func:`select_and_fit` is the whole training procedure, applied unchanged to the full reference
(the shipped model) and to each outer training set of the validation (:mod:`.cross_validation`), so the
outer folds judge the procedure, choices included:

1. **Gene filter and ranking** (training rows only): genes with mean log2 CPM >= ``min_log2cpm``
   are ordered by their one-way ANOVA F statistic across the three labels; TE subfamilies with
   mean log2 CPM >= ``min_te_log2cpm`` likewise.
2. **Candidates**: the top ``n_genes`` genes (within-sample rank normal scores among themselves,
   :mod:`alsig.stages.subtypes.features`) plus the top ``n_te`` TE subfamilies (log2 CPM), standardised with the
   training rows' mean and SD; a multinomial L2 logistic regression with balanced class weights
   at inverse penalty ``C``. Grid: :class:`TrainingSettings`.
3. **Inner CV** (``inner_folds`` folds, grouped by donor, stratified by label): the out-of-fold
   logits of every candidate; the candidate with the lowest class-balanced log loss wins.
4. **Calibration**: a temperature and per-class bias fitted to the winner's out-of-fold logits,
   either to the reference prevalence (unweighted log loss) or to equal class priors (balanced).
5. **Thresholds**: the calibration target and ``min_probability`` minimise the class-balanced
   cost of the out-of-fold calls (a wrong call costs 1, ``unassigned`` ``abstain_cost``); the
   distance threshold is the ``distance_quantile`` of the winner's out-of-fold reference
   distances (each sample measured against training rows that exclude its donor).
6. The winner is refitted on all training rows.

The logistic regression is fitted in the span of the training rows (SVD rotation, which leaves
the L2 problem unchanged), so a fit costs the same for 250 or 2,000 features, and by
:func:`.logistic.fit_multinomial`: scikit-learn's ``LogisticRegression`` to the bit, without its
per-step overhead (~2,500 fits per model and inner CV).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.feature_selection import f_classif
from sklearn.model_selection import StratifiedGroupKFold

from alsig.stages.subtypes.features import log2_cpm, rank_normal_scores, te_features
from alsig.stages.subtypes.projection import (
    calibrated_probabilities,
    call_rule,
    reference_distance,
)
from alsig.stages.subtypes.reference_model import (
    CLASSES,
    DEFAULT_MIN_COVERAGE,
    DEFAULT_REFERENCE_REGIONS,
    UNASSIGNED,
    ReferenceModel,
)
from alsig.subtype_model.logistic import fit_multinomial

CALIBRATION_TARGETS = ("prevalence", "balanced")


@dataclass(frozen=True)
class TrainingSettings:
    """The grid and rules of :func:`select_and_fit`."""

    # 16000 and 1000: every gene and TE subfamily that passes the filters (11,839 and 962 on the
    # reference). Model version 1's grids stopped at 2,000 genes and 400 TE subfamilies, and its
    # inner CV chose that edge in most outer folds; C goes one step lower because more features
    # ask for a stronger penalty (bench/results/subtypes_grid_edge.md).
    gene_grid: tuple[int, ...] = (250, 500, 1000, 2000, 4000, 8000, 16000)
    te_grid: tuple[int, ...] = ()
    c_grid: tuple[float, ...] = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
    inner_folds: int = 5
    inner_repeats: int = 2
    min_log2cpm: float = 3.0
    min_te_log2cpm: float = 1.0
    neighbours: int = 5
    distance_quantile: float = 0.99
    abstain_cost: float = 0.5
    probability_grid: tuple[float, ...] = (0.0, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
    seed: int = 0

    def te_levels(self, with_te: bool) -> tuple[int, ...]:
        """Return the numbers of TE subfamilies the grid tries (``(0,)``: genes only).

        Parameters
        ----------
        with_te
            Whether the training data have TE counts.

        Returns
        -------
        tuple of int
            ``te_grid``, or ``(0,)`` without TE counts or an empty ``te_grid``.
        """
        return self.te_grid if with_te and self.te_grid else (0,)

    def grid(self, with_te: bool) -> list[Candidate]:
        """Return every grid point, in the order the inner CV reports them.

        Parameters
        ----------
        with_te
            Whether the training data have TE counts (:meth:`te_levels`).

        Returns
        -------
        list of Candidate
            Genes, then TE subfamilies, then ``C``, outermost first.
        """
        levels = self.te_levels(with_te)
        return [Candidate(g, t, c) for g in self.gene_grid for t in levels for c in self.c_grid]

    def as_dict(self) -> dict:
        """Return the settings as plain values (tuples as lists), as a model stores them.

        Returns
        -------
        dict
            Field name -> value.
        """
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


#: the settings of the shipped models (``scripts/build_subtype_model.py``), by model name
REFERENCE_SETTINGS = {
    "genes": TrainingSettings(),
    "genes_te": TrainingSettings(te_grid=(25, 100, 400, 1000)),
}


@dataclass(frozen=True)
class TrainingSet:
    """Labelled samples with their per-sample features precomputed.

    ``gene_counts`` are samples x genes raw counts keyed by Entrez id (``gene_symbols`` gives
    the current symbol of each); ``te_counts`` samples x TEcount rows (or None); ``meta`` holds
    per sample at least ``label`` (one of :data:`CLASSES`) and ``subject`` (the donor).
    """

    gene_counts: pd.DataFrame
    gene_symbols: dict[str, str]
    meta: pd.DataFrame
    te_counts: pd.DataFrame | None = None
    libraries: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def samples(self) -> list[str]:
        """Sample ids, in row order."""
        return list(self.gene_counts.index)

    @property
    def y(self) -> np.ndarray:
        """Label of each row as its index in :data:`CLASSES`."""
        return np.array([CLASSES.index(v) for v in self.meta.loc[self.samples, "label"]])

    @property
    def groups(self) -> np.ndarray:
        """Donor (``subject``) of each row: the CV groups."""
        return self.meta.loc[self.samples, "subject"].astype(str).to_numpy()

    @property
    def gene_ids(self) -> list[str]:
        """Entrez ids of the count columns."""
        return [str(c) for c in self.gene_counts.columns]

    @property
    def counts(self) -> np.ndarray:
        """Samples x genes counts as floats (computed once)."""
        if "counts" not in self._cache:
            self._cache["counts"] = self.gene_counts.to_numpy(dtype=float)
        return self._cache["counts"]

    @property
    def library_sizes(self) -> np.ndarray:
        """Gene-assigned reads per sample: ``libraries`` when given, else the count row sums."""
        if self.libraries is not None:
            return np.asarray(self.libraries, dtype=float)
        return self.counts.sum(axis=1)

    @property
    def gene_log2cpm(self) -> np.ndarray:
        """Samples x genes log2 CPM (:func:`~alsig.stages.subtypes.features.log2_cpm`, once)."""
        if "log2cpm" not in self._cache:
            self._cache["log2cpm"] = log2_cpm(self.counts, self.library_sizes)
        return self._cache["log2cpm"]

    @property
    def te_names(self) -> list[str]:
        """TE subfamilies of ``te_counts``, in order of first appearance (empty without)."""
        if self.te_counts is None:
            return []
        return list(dict.fromkeys(str(c).split(":", 1)[0] for c in self.te_counts.columns))

    def te_columns(self, rows: np.ndarray, tes: np.ndarray) -> np.ndarray:
        """Return ``rows`` x ``tes`` of :attr:`te_log2cpm`.

        Parameters
        ----------
        rows
            Row indices.
        tes
            Indices into :attr:`te_names`.

        Returns
        -------
        numpy.ndarray
            The TE log2 CPM of those rows and subfamilies.
        """
        values = self.te_log2cpm
        assert values is not None  # TE indices come from feature_order, which needs TE counts
        return values[np.ix_(rows, tes)]

    @property
    def te_log2cpm(self) -> np.ndarray | None:
        """Samples x :attr:`te_names` log2 TE CPM (computed once); None without TE counts."""
        if self.te_counts is None:
            return None
        if "te" not in self._cache:
            frame = te_features(self.te_counts, self.library_sizes, self.te_names)
            self._cache["te"] = frame.to_numpy(dtype=float)
        return self._cache["te"]


@dataclass(frozen=True)
class Candidate:
    """One point of the grid."""

    n_genes: int
    n_te: int
    C: float


@dataclass(frozen=True)
class Fitted:
    """A candidate fitted on some rows: features, standardisation, coefficients, reference."""

    genes: np.ndarray  # column indices into TrainingSet.gene_ids
    tes: np.ndarray  # indices into TrainingSet.te_names
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    reference: np.ndarray  # standardised features of the fitted rows


@dataclass(frozen=True)
class InnerReport:
    """What the inner CV saw: the balanced log loss of every candidate and the choices made."""

    losses: pd.DataFrame
    chosen: Candidate
    calibration_target: str
    min_probability: float
    distance_threshold: float
    inner_cost: float
    temperature: float
    bias: np.ndarray


def feature_order(data: TrainingSet, rows: np.ndarray, settings: TrainingSettings):
    """Order the genes and TE subfamilies that pass the expression filter on ``rows``.

    Parameters
    ----------
    data
        The labelled samples.
    rows
        The training rows the filter and the F statistics see.
    settings
        ``min_log2cpm``, ``min_te_log2cpm`` and ``te_grid`` (no TE order without it).

    Returns
    -------
    genes, tes : numpy.ndarray
        Column indices into :attr:`TrainingSet.gene_ids` and :attr:`TrainingSet.te_names`,
        best one-way ANOVA F across the labels first.
    """
    y = data.y[rows]
    cpm = data.gene_log2cpm[rows]
    expressed = np.flatnonzero(cpm.mean(axis=0) >= settings.min_log2cpm)
    genes = expressed[_f_order(cpm[:, expressed], y)]
    tes = np.array([], dtype=int)
    if data.te_log2cpm is not None and settings.te_grid:
        te = data.te_log2cpm[rows]
        expressed_te = np.flatnonzero(te.mean(axis=0) >= settings.min_te_log2cpm)
        tes = expressed_te[_f_order(te[:, expressed_te], y)]
    return genes, tes


def _f_order(values: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.nan_to_num(f_classif(values, y)[0], nan=0.0, posinf=0.0)
    return np.argsort(-statistic, kind="stable")


def raw_features(data: TrainingSet, rows: np.ndarray, genes: np.ndarray, tes: np.ndarray):
    """Compute the raw (unstandardised) features of some rows.

    Parameters
    ----------
    data
        The labelled samples.
    rows
        The rows.
    genes, tes
        Indices of the genes and TE subfamilies (:func:`feature_order`).

    Returns
    -------
    numpy.ndarray
        ``rows`` x features: rank normal scores of ``genes`` among themselves, then TE log2 CPM.
    """
    blocks = [rank_normal_scores(data.counts[np.ix_(rows, genes)])]
    if len(tes):
        blocks.append(data.te_columns(rows, tes))
    return np.column_stack(blocks)


def _standardise(fit_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = fit_values.mean(axis=0)
    scale = np.maximum(fit_values.std(axis=0, ddof=1), 1e-3)
    return mean, scale


def _lr_in_span(z: np.ndarray, y: np.ndarray, C: float, basis=None):
    """Fit a balanced multinomial L2 logistic regression of ``y`` on ``z`` in its row span.

    The fit is on ``z``'s SVD scores (the solution lies in the row span); returns
    ``(coef, intercept)`` in ``z`` space.
    """
    u, s, vt = basis if basis is not None else np.linalg.svd(z, full_matrices=False)
    classes, fitted, fitted_intercept = fit_multinomial(u * s, y, C, tol=1e-8, max_iter=10000)
    coef = np.zeros((len(CLASSES), z.shape[1]))
    coef[classes] = fitted @ vt
    intercept = np.full(len(CLASSES), -1e3)
    intercept[classes] = fitted_intercept
    return coef, intercept


def fit_candidate(
    data: TrainingSet, rows: np.ndarray, candidate: Candidate, order=None, settings=None
) -> Fitted:
    """Fit one candidate on ``rows``.

    Parameters
    ----------
    data
        The labelled samples.
    rows
        The training rows.
    candidate
        Numbers of genes and TE subfamilies and the inverse penalty ``C``.
    order
        ``(genes, tes)`` of :func:`feature_order`; computed from ``rows`` when None.
    settings
        For :func:`feature_order` when ``order`` is None.

    Returns
    -------
    Fitted
        Feature indices, standardisation, coefficients and the standardised training rows.
    """
    genes, tes = order if order is not None else feature_order(data, rows, settings)
    genes, tes = genes[: candidate.n_genes], tes[: candidate.n_te]
    values = raw_features(data, rows, genes, tes)
    mean, scale = _standardise(values)
    z = (values - mean) / scale
    coef, intercept = _lr_in_span(z, data.y[rows], candidate.C)
    return Fitted(genes, tes, mean, scale, coef, intercept, z)


def _balanced_log_loss(probabilities: np.ndarray, y: np.ndarray) -> float:
    picked = np.log(np.clip(probabilities[np.arange(len(y)), y], 1e-15, 1.0))
    return float(-np.mean([picked[y == c].mean() for c in np.unique(y)]))


def _softmax(logits: np.ndarray) -> np.ndarray:
    return calibrated_probabilities(logits, 1.0, np.zeros(logits.shape[1]))


def fit_calibration(logits: np.ndarray, y: np.ndarray, target: str) -> tuple[float, np.ndarray]:
    """Fit the temperature and per-class bias that minimise the (weighted) log loss of ``y``.

    ``target="prevalence"`` weighs every sample alike (probabilities follow the training class
    shares); ``"balanced"`` weighs each class equally (equal class priors).

    Parameters
    ----------
    logits
        Samples x classes out-of-fold logits.
    y
        Label index of each sample.
    target
        ``prevalence`` or ``balanced``.

    Returns
    -------
    temperature : float
        The temperature (> 0).
    bias : numpy.ndarray
        One bias per class, the first fixed at 0.
    """
    counts = np.bincount(y, minlength=logits.shape[1]).astype(float)
    weights = np.ones(len(y)) if target == "prevalence" else 1.0 / counts[y]
    weights = weights / weights.sum()

    def loss(theta: np.ndarray) -> float:
        bias = np.concatenate([[0.0], theta[1:]])
        p = calibrated_probabilities(logits, float(np.exp(theta[0])), bias)
        return float(-(weights * np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1))).sum())

    start = np.zeros(logits.shape[1])
    found = minimize(
        loss, start, method="L-BFGS-B", bounds=[(-4.0, 4.0)] + [(-10, 10)] * (len(start) - 1)
    )
    bias = np.concatenate([[0.0], found.x[1:]])
    return float(np.exp(found.x[0])), bias


def balanced_cost(calls: np.ndarray, y: np.ndarray, abstain_cost: float) -> float:
    """Average the per-sample cost of calls over classes (each class weighs the same).

    Parameters
    ----------
    calls
        ``subtype_call`` per sample.
    y
        True label index per sample.
    abstain_cost
        The cost of ``unassigned``.

    Returns
    -------
    float
        Mean over classes of the mean cost: 0 right, ``abstain_cost`` unassigned, 1 wrong.
    """
    labels = np.asarray(CLASSES, dtype=object)[y]
    cost = np.where(calls == labels, 0.0, np.where(calls == UNASSIGNED, abstain_cost, 1.0))
    return float(np.mean([cost[y == c].mean() for c in np.unique(y)]))


def inner_cv(
    data: TrainingSet,
    rows: np.ndarray,
    settings: TrainingSettings,
    cells: Collection[Candidate] | None = None,
) -> InnerReport:
    """Judge every candidate out of fold on ``rows`` and make the choices it implies.

    Parameters
    ----------
    data
        The labelled samples.
    rows
        The training rows (split into folds grouped by donor, stratified by label).
    settings
        The grid and rules.
    cells
        Judge only these points of the grid (None: all of it). Each candidate's out-of-fold
        predictions depend on its own grid point only, so a point's loss is the same to the bit
        whichever others are judged beside it: a spot check of a shipped choice reruns a few.

    Returns
    -------
    InnerReport
        Every candidate's balanced log loss, the winner, its calibration and thresholds.
    """
    y, groups = data.y[rows], data.groups[rows]
    te_grid = settings.te_levels(data.te_counts is not None)
    candidates = settings.grid(data.te_counts is not None)
    if cells is not None:
        outside = set(cells) - set(candidates)
        if outside:
            raise ValueError(f"cells outside the settings' grid: {sorted(map(str, outside))}")
        candidates = [c for c in candidates if c in cells]
    # out-of-fold logits and distances of every candidate, inner_repeats splits stacked
    per_repeat: dict[Candidate, list[np.ndarray]] = {c: [] for c in candidates}
    distances_per_repeat: dict[tuple[int, int], list[np.ndarray]] = {
        (c.n_genes, c.n_te): [] for c in candidates
    }
    for repeat in range(settings.inner_repeats):
        for c in candidates:
            per_repeat[c].append(np.zeros((len(rows), len(CLASSES))))
        for key in distances_per_repeat:
            distances_per_repeat[key].append(np.zeros(len(rows)))
        folds = StratifiedGroupKFold(
            settings.inner_folds, shuffle=True, random_state=settings.seed + repeat
        )
        for fit_part, held_part in folds.split(rows, y, groups):
            _inner_fold(
                data, rows, fit_part, held_part, settings, te_grid, per_repeat, distances_per_repeat
            )
    logits = {c: np.concatenate(v) for c, v in per_repeat.items()}
    distances = {k: np.concatenate(v) for k, v in distances_per_repeat.items()}
    y = np.tile(y, settings.inner_repeats)
    losses = pd.DataFrame(
        [
            {
                "n_genes": c.n_genes,
                "n_te": c.n_te,
                "C": c.C,
                "balanced_log_loss": _balanced_log_loss(_softmax(logits[c]), y),
            }
            for c in candidates
        ]
    )
    best = candidates[int(np.argmin(losses["balanced_log_loss"].to_numpy()))]
    distance = distances[(best.n_genes, best.n_te)]
    threshold = float(np.quantile(distance, settings.distance_quantile))
    choice: tuple[float, str, float, float, np.ndarray] | None = None
    for target in CALIBRATION_TARGETS:
        temperature, bias = fit_calibration(logits[best], y, target)
        probabilities = calibrated_probabilities(logits[best], temperature, bias)
        for minimum in settings.probability_grid:
            calls = call_rule(
                probabilities,
                np.zeros(len(y)),
                np.ones(len(y), dtype=bool),
                classes=CLASSES,
                min_probability=minimum,
                distance_threshold=np.inf,
            )
            cost = balanced_cost(calls, y, settings.abstain_cost)
            if choice is None or cost < choice[0] - 1e-12:
                choice = (cost, target, minimum, temperature, bias)
    if choice is None:
        raise ValueError("TrainingSettings.probability_grid is empty: no threshold to choose.")
    cost, target, minimum, temperature, bias = choice
    return InnerReport(
        losses, best, target, float(minimum), threshold, float(cost), temperature, bias
    )


def _inner_fold(data, rows, fit_part, held_part, settings, te_grid, logits, distances) -> None:
    """Fill one inner fold's held-out rows of the last repeat's arrays for each candidate.

    The candidates are the keys of ``logits``; grid points without one are not fitted.
    """
    y = data.y[rows]
    fit_rows, held_rows = rows[fit_part], rows[held_part]
    genes, tes = feature_order(data, fit_rows, settings)
    for n_genes in settings.gene_grid:
        if not any(n_genes == g for g, _ in distances):
            continue
        fit_genes = rank_normal_scores(data.counts[np.ix_(fit_rows, genes[:n_genes])])
        held_genes = rank_normal_scores(data.counts[np.ix_(held_rows, genes[:n_genes])])
        for n_te in te_grid:
            if (n_genes, n_te) not in distances:
                continue
            fit_values = _with_te(fit_genes, data, fit_rows, tes[:n_te])
            held_values = _with_te(held_genes, data, held_rows, tes[:n_te])
            mean, scale = _standardise(fit_values)
            z_fit, z_held = (fit_values - mean) / scale, (held_values - mean) / scale
            distances[(n_genes, n_te)][-1][held_part] = reference_distance(
                z_held, z_fit, settings.neighbours
            )
            basis = np.linalg.svd(z_fit, full_matrices=False)
            for c in settings.c_grid:
                if Candidate(n_genes, n_te, c) not in logits:
                    continue
                coef, intercept = _lr_in_span(z_fit, y[fit_part], c, basis)
                logits[Candidate(n_genes, n_te, c)][-1][held_part] = z_held @ coef.T + intercept


def _with_te(gene_values: np.ndarray, data: TrainingSet, rows: np.ndarray, tes: np.ndarray):
    if not len(tes):
        return gene_values
    return np.column_stack([gene_values, data.te_columns(rows, tes)])


def select_and_fit(
    data: TrainingSet,
    rows: Sequence[int] | np.ndarray | None = None,
    settings: TrainingSettings | None = None,
    *,
    name: str = "genes",
    description: str = "",
    reference_regions: Sequence[str] = DEFAULT_REFERENCE_REGIONS,
    cells: Collection[Candidate] | None = None,
) -> tuple[ReferenceModel, InnerReport]:
    """Run the training procedure (module docstring) on ``rows`` of ``data`` (default: all).

    Parameters
    ----------
    data
        Labelled samples.
    rows
        Row indices to train on (an outer training set); default all rows.
    settings
        Grid and rules; default :class:`TrainingSettings` (genes only; set ``te_grid`` for TE
        features).
    name, description
        Stored in the model.
    reference_regions
        Regions the training samples come from (stored in the model).
    cells
        The grid points the inner CV judges (:func:`inner_cv`; None: all of them).

    Returns
    -------
    model : ReferenceModel
        The fitted model; its floats are rounded as written to disk.
    report : InnerReport
        What the inner CV saw and chose.
    """
    settings = settings or TrainingSettings()
    rows = np.arange(len(data.samples)) if rows is None else np.asarray(rows)
    report = inner_cv(data, rows, settings, cells)
    fitted = fit_candidate(data, rows, report.chosen, settings=settings)
    gene_ids = data.gene_ids
    features = [("gene", gene_ids[j], data.gene_symbols.get(gene_ids[j], "")) for j in fitted.genes]
    features += [("te", data.te_names[j], "") for j in fitted.tes]
    model = ReferenceModel(
        name=name,
        features=tuple(features),
        mean=fitted.mean,
        scale=fitted.scale,
        coef=fitted.coef,
        intercept=fitted.intercept,
        temperature=report.temperature,
        bias=report.bias,
        calibration_target=report.calibration_target,
        min_probability=report.min_probability,
        distance_threshold=report.distance_threshold,
        neighbours=settings.neighbours,
        reference=fitted.reference.astype(np.float32),
        reference_samples=tuple(data.samples[i] for i in rows),
        reference_regions=tuple(reference_regions),
        min_coverage=DEFAULT_MIN_COVERAGE,
        description=description,
        hyperparameters={
            "n_genes": report.chosen.n_genes,
            "n_te": report.chosen.n_te,
            "C": report.chosen.C,
            "calibration_target": report.calibration_target,
            "min_probability": report.min_probability,
            "inner_balanced_cost": round(report.inner_cost, 6),
            "grid": settings.as_dict(),
        },
    )
    return model.rounded(), report
