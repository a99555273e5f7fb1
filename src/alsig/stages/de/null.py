"""A contrast's empirical null: how many genes shuffled donor labels give on the same data.

Benjamini-Hochberg's ``padj`` is a false-discovery rate when the null genes' p-values are
uniform and not too dependent. In human cohorts they are often neither: donor groups differ in
sex, age, tissue quality or a broad expression axis, and a label that means nothing then moves
thousands of genes at once (Li et al. 2022, Genome Biology 23:79). Measured on GSE67196's
per-region DESeq2 contrasts with the condition moved between donors, 50 and 35 of 100
permutations had some gene at padj < 0.05, where BH promises at most about 5
(``bench/results/de_real_null.md``). So each contrast's count of genes at ``padj < alpha`` is
shown beside what shuffled labels give: the contrast factor's labels move between whole donors
(every sample of a donor takes the same other donor's label; every other design column stays
with its sample), the fit is redone with the same model and settings, and its genes at
``padj < alpha`` are counted. The DE summary gets :data:`~alsig.stages.de.tables.NULL_COLUMNS`.

The permutations are distinct splits of the donors, none the real one or the real one with two
levels of equal donor count swapped (which gives the same padj); when the donors have at most
that many other splits, all are fitted and the null is complete (exact). The summary's
``null_exceedance`` is the permutation p-value of the real count, (1 + permutations reaching
it) / (1 + permutations).

``de.null_permutations: auto`` runs :data:`AUTO_PERMUTATIONS` when they are cheap: at most
:data:`AUTO_CELLS` permuted samples x genes for the fit's model, the size ``alsig.planning``
budgets one minute of a DE job for (measured about 2 microseconds per cell for DESeq2 fits of
this size: 20 permutations of GSE67196's 26 x 17,270 cerebellum cost about 20 s; the mixed model
about 6). A count runs that many whatever the size.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from alsig.errors import AlsigError, name_some
from alsig.settings import Contrast
from alsig.stages.de.models import GeneResults

log = logging.getLogger(__name__)

#: Permutations of ``de.null_permutations: auto`` when the fit is small enough.
AUTO_PERMUTATIONS = 20
#: Most permuted samples x tested genes ``auto`` runs, per model of the fit: the one minute
#: alsig.planning's DE runtime model adds per permutation null. alsig's DESeq2 engine about
#: 1-2 microseconds per cell (20 M), pydeseq2 ten times that (2 M), the mixed model (voom +
#: dream) about 6 (GSE124439's frontal cortex, 20 permutations; bench/results/de_real_null.md):
#: 10 M.
AUTO_CELLS = {"alsig": 20_000_000, "pydeseq2": 2_000_000, "dream": 10_000_000}
#: Share of permutations with some gene at padj < alpha above which the log warns: BH's promise
#: is at most alpha (0.05) under a complete null; twice that is beyond the spread of 20 draws.
ANY_SHARE_WARNING = 0.1
#: Draws per wanted split before a sampled null stops short (a draw equivalent to the real split
#: or to one already drawn is drawn again).
REDRAWS = 100
#: Most relabellings of equal-size levels checked when telling splits apart; beyond (many
#: levels of one size) splits are compared as labelled.
MAX_RELABELLINGS = 720


class _Fit(Protocol):
    def wald(self, contrast: Contrast) -> GeneResults: ...


@dataclass(frozen=True)
class NullPlan:
    """How many permutations a fit's contrasts get, and why none when none.

    Attributes
    ----------
    permutations : int
        Permutations per contrast factor (0: none).
    note : str
        Why none (empty when there are some).
    """

    permutations: int
    note: str


def plan_permutations(setting: int | str, n_samples: int, n_genes: int, engine: str) -> NullPlan:
    """Return the permutations of one fit under ``de.null_permutations``.

    Parameters
    ----------
    setting
        ``de.null_permutations``: a count, or ``auto``.
    n_samples, n_genes
        The fit's samples and tested genes.
    engine
        ``alsig`` or ``pydeseq2`` (the DESeq2 model's engine), or ``dream`` (the mixed model).

    Returns
    -------
    NullPlan
        ``auto``: :data:`AUTO_PERMUTATIONS` when that many times ``n_samples x n_genes`` is at
        most the engine's :data:`AUTO_CELLS`, else none with the reason.
    """
    if setting != "auto":
        count = int(setting)
        return NullPlan(count, "" if count else "de.null_permutations: 0")
    cells = AUTO_PERMUTATIONS * n_samples * n_genes
    budget = AUTO_CELLS.get(engine, AUTO_CELLS["alsig"])
    if cells <= budget:
        return NullPlan(AUTO_PERMUTATIONS, "")
    return NullPlan(
        0,
        f"skipped by de.null_permutations: auto ({AUTO_PERMUTATIONS} permutations x "
        f"{n_samples} samples x {n_genes:,} genes = {cells / 1e6:.0f} M cells > "
        f"{budget / 1e6:.0f} M); set de.null_permutations: {AUTO_PERMUTATIONS} to run them",
    )


def donor_levels(values: pd.Series, subjects: pd.Series) -> pd.Series:
    """Return each donor's level of a factor.

    Parameters
    ----------
    values
        The factor per sample.
    subjects
        The donor per sample (same index).

    Returns
    -------
    pandas.Series
        Level per donor (index: donors, sorted).

    Raises
    ------
    AlsigError
        A donor's samples carry different levels (the factor varies within donors, as a region
        does): its labels cannot move between whole donors.
    """
    frame = pd.DataFrame(
        {"donor": subjects.loc[values.index].astype(str), "level": values.astype(str)}
    )
    per_donor = frame.groupby("donor", sort=True)["level"]
    mixed = per_donor.nunique()
    mixed = mixed[mixed > 1]
    if len(mixed):
        raise AlsigError(
            f"{values.name} varies within {len(mixed)} donor(s) ({name_some(mixed.index)}): "
            "its labels cannot move between whole donors"
        )
    return per_donor.first()


@dataclass(frozen=True)
class DonorSplits:
    """The permuted donor labels of one contrast factor: distinct splits, the real one excluded.

    Attributes
    ----------
    donors : pandas.Index
        The donors (sorted), in the order of each split.
    splits : list of numpy.ndarray
        Each permutation's level per donor.
    others : int
        Distinct splits other than the real one.
    complete : bool
        ``splits`` holds all ``others`` (the null is exact, not sampled).
    """

    donors: pd.Index
    splits: list[np.ndarray]
    others: int
    complete: bool


def donor_splits(
    levels: pd.Series, contrasts: Sequence[Contrast], permutations: int, rng: np.random.Generator
) -> DonorSplits:
    """Return up to ``permutations`` distinct splits of the donors, none equivalent to the real.

    A split gives each donor a level, the level counts over donors kept. Two splits are one
    when a relabelling of levels of equal donor count turns one into the other and leaves every
    contrast's pair of levels in place (ALS and control swapped, 3 donors each: every contrast
    between them has the same padj). When there are at most ``permutations`` other splits all
    are returned (a complete null); else that many are drawn without replacement.

    Parameters
    ----------
    levels
        Each donor's real level (:func:`donor_levels`).
    contrasts
        The contrasts of this factor (their levels may not be relabelled into others).
    permutations
        Most splits wanted.
    rng
        The permutations' generator (:func:`permutation_rng`); unused by a complete null.

    Returns
    -------
    DonorSplits
    """
    names = sorted(set(levels.astype(str)))
    codes = np.searchsorted(names, levels.astype(str).to_numpy())
    relabellings = _relabellings(np.bincount(codes, minlength=len(names)), names, contrasts)
    labelled = _multinomial(codes)
    others = labelled // len(relabellings) - 1  # every split has len(relabellings) labellings
    real = _canonical(codes, relabellings)
    chosen: list[np.ndarray] = []
    complete = others <= permutations
    if complete:
        for split in _multiset_permutations(codes):
            if split == _canonical(np.asarray(split), relabellings) and split != real:
                chosen.append(np.asarray(split))
    else:
        seen = {real}
        for _ in range(REDRAWS * permutations):
            split = _canonical(rng.permutation(codes), relabellings)
            if split not in seen:
                seen.add(split)
                chosen.append(np.asarray(split))
                if len(chosen) == permutations:
                    break
    as_levels = np.asarray(names, dtype=object)
    return DonorSplits(levels.index, [as_levels[split] for split in chosen], others, complete)


def apply_split(values: pd.Series, subjects: pd.Series, splits: DonorSplits, i: int) -> pd.Series:
    """Return the factor with the donors' levels of split ``i``: every sample its donor's.

    Parameters
    ----------
    values
        The factor per sample (its dtype is kept: a categorical keeps its level order).
    subjects
        The donor per sample (same index).
    splits
        The factor's :func:`donor_splits`.
    i
        Which split.

    Returns
    -------
    pandas.Series
        The permuted factor, same index and dtype.
    """
    per_donor = pd.Series(splits.splits[i], index=splits.donors)
    new = subjects.loc[values.index].astype(str).map(per_donor)
    # back to the original values (a level written '1' may be the integer 1)
    original = {str(v): v for v in values.unique()}
    return pd.Series(
        [original[level] for level in new], index=values.index, name=values.name
    ).astype(values.dtype)


def _relabellings(
    counts: np.ndarray, names: list[str], contrasts: Sequence[Contrast]
) -> list[np.ndarray]:
    """Return the relabellings of level codes that keep donor counts and contrast pairs."""
    pairs = [
        {names.index(c.test), names.index(c.reference)}
        for c in contrasts
        if c.test in names and c.reference in names
    ]
    classes = [np.flatnonzero(counts == n) for n in np.unique(counts)]
    if math.prod(math.factorial(len(c)) for c in classes) > MAX_RELABELLINGS:
        return [np.arange(len(names))]  # many equal-size levels: splits compared as labelled
    found = []
    for images in itertools.product(*(itertools.permutations(c) for c in classes)):
        mapping = np.arange(len(names))
        for members, image in zip(classes, images, strict=True):
            mapping[members] = image
        if all({int(mapping[a]) for a in pair} == pair for pair in pairs):
            found.append(mapping)
    return found


def _canonical(codes: np.ndarray, relabellings: list[np.ndarray]) -> tuple[int, ...]:
    """Return the smallest relabelled form of a split: one key per equivalent split."""
    return min(tuple(int(c) for c in mapping[codes]) for mapping in relabellings)


def _multinomial(codes: np.ndarray) -> int:
    """Return the number of labelled splits: arrangements of the codes over the donors."""
    total = math.factorial(len(codes))
    for n in np.bincount(codes):
        total //= math.factorial(int(n))
    return total


def _multiset_permutations(codes: np.ndarray) -> Iterator[tuple[int, ...]]:
    """Yield every distinct arrangement of the codes, in lexicographic order."""
    current = sorted(int(c) for c in codes)
    while True:
        yield tuple(current)
        i = len(current) - 2
        while i >= 0 and current[i] >= current[i + 1]:
            i -= 1
        if i < 0:
            return
        j = len(current) - 1
        while current[j] <= current[i]:
            j -= 1
        current[i], current[j] = current[j], current[i]
        current[i + 1 :] = reversed(current[i + 1 :])


def permutation_rng(seed: int, factor: str, samples: Sequence[str]) -> np.random.Generator:
    """Return the generator of one contrast factor's permutations in one fit.

    Keyed on the seed, the factor and the fit's samples only: adding a contrast or a test (which
    renames the fit) or another fit leaves an unchanged contrast's permutations as they were.

    Parameters
    ----------
    seed
        ``de.seed``.
    factor
        The contrast factor.
    samples
        The fit's samples (their order does not matter).

    Returns
    -------
    numpy.random.Generator
    """
    key = "\x1f".join([factor, *sorted(map(str, samples))])
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def null_columns(real: int, discoveries: Sequence[int], note: str = "") -> dict[str, Any]:
    """Return the summary's null columns of one contrast.

    Parameters
    ----------
    real
        Genes at padj < alpha under the real labels.
    discoveries
        Genes at padj < alpha under each permutation.
    note
        Why there are none, what went wrong in some, or that the null is complete.

    Returns
    -------
    dict
        :data:`~alsig.stages.de.tables.NULL_COLUMNS`: permutations done, median and 90th
        percentile (linear interpolation) of their discoveries, share with at least one, and
        ``null_exceedance``, the permutation p-value of the real count: (1 + permutations with
        at least ``real``) / (1 + permutations), the real labels counted as one draw of the
        null (never 0: at least 1/21 with 20 permutations); absent where there were none.
    """
    counts = np.asarray(discoveries, dtype=float)
    if counts.size == 0:
        return {"null_permutations": 0, "null_note": note}
    return {
        "null_permutations": int(counts.size),
        "null_discoveries_median": round(float(np.median(counts)), 2),
        "null_discoveries_p90": round(float(np.percentile(counts, 90)), 2),
        "null_any_share": float(np.mean(counts > 0)),
        "null_exceedance": float((1 + np.sum(counts >= real)) / (1 + counts.size)),
        "null_note": note,
    }


def run_null(
    meta: pd.DataFrame,
    subjects: pd.Series,
    contrasts: Sequence[Contrast],
    real: dict[str, int],
    refit: Callable[[pd.DataFrame], _Fit],
    *,
    permutations: int,
    seed: int,
    alpha: float,
    label: str,
) -> dict[str, dict[str, Any]]:
    """Return each contrast's null columns: the fit redone on labels moved between donors.

    Contrasts of one factor share the permutations (one refit serves them all). The splits are
    distinct and none is the real one or equivalent to it (:func:`donor_splits`); with few
    donors every other split is fitted and ``null_note`` says the null is complete.

    Parameters
    ----------
    meta
        The fit's design variables (the real fit's, cell-mix covariates included).
    subjects
        The donor of each sample of ``meta``.
    contrasts
        The fit's contrasts.
    real
        Genes at padj < alpha of each contrast under the real labels.
    refit
        Fits the same model and settings on a permuted ``meta``; returns an object whose
        ``wald(contrast)`` gives the contrast's :class:`GeneResults` (and ``close()`` when it
        has one).
    permutations
        Most permutations per factor.
    seed
        ``de.seed``.
    alpha
        The padj threshold (``de.alpha``).
    label
        The fit, for the log.

    Returns
    -------
    dict
        Contrast name -> :func:`null_columns`.
    """
    out: dict[str, dict[str, Any]] = {}
    for factor in dict.fromkeys(c.factor for c in contrasts):
        members = [c for c in contrasts if c.factor == factor]
        try:
            levels = donor_levels(meta[factor], subjects)
        except AlsigError as error:
            note = f"skipped: {error}"
            log.info("%s: no permutation null for %s: %s", label, factor, note)
            out.update({c.name: null_columns(0, [], note) for c in members})
            continue
        rng = permutation_rng(seed, factor, [str(s) for s in meta.index])
        splits = donor_splits(levels, members, permutations, rng)
        sizes = ", ".join(f"{n} {level}" for level, n in levels.value_counts().sort_index().items())
        if not splits.splits:
            note = f"skipped: the {len(levels)} donors ({sizes}) have no other split of {factor}"
            log.info("%s: no permutation null: %s", label, note)
            out.update({c.name: null_columns(0, [], note) for c in members})
            continue
        log.info(
            "%s: %d permutations of %s between %d whole donors, same model (contrasts %s)",
            label,
            len(splits.splits),
            factor,
            len(levels),
            ", ".join(c.name for c in members),
        )
        began = time.perf_counter()
        discoveries, failed = _permuted(meta, subjects, factor, members, refit, splits)
        notes = []
        if splits.complete:
            notes.append(
                f"complete: all {splits.others} other splits of the {len(levels)} donors "
                f"({sizes}; a split and its swap of equal-size levels counted once)"
            )
        if failed:
            notes.append(
                f"{len(failed)} of {len(splits.splits)} permutations not fitted: "
                f"{name_some(failed)}"
            )
            log.warning("%s: %s", label, notes[-1])
        for contrast in members:
            counts = [int(np.sum(padj < alpha)) for padj in discoveries[contrast.name]]
            out[contrast.name] = null_columns(real[contrast.name], counts, "; ".join(notes))
            seconds = time.perf_counter() - began
            _report(contrast, real[contrast.name], counts, out[contrast.name], alpha, seconds)
    return out


def _permuted(
    meta: pd.DataFrame,
    subjects: pd.Series,
    factor: str,
    contrasts: list[Contrast],
    refit: Callable[[pd.DataFrame], _Fit],
    splits: DonorSplits,
) -> tuple[dict[str, list[np.ndarray]], list[str]]:
    """Return each contrast's padj under every fitted split, and the failed ones."""
    padj: dict[str, list[np.ndarray]] = {c.name: [] for c in contrasts}
    failed: list[str] = []
    for i in range(len(splits.splits)):
        permuted = meta.copy()
        permuted[factor] = apply_split(meta[factor], subjects, splits, i)
        try:
            with _quiet():
                values = _padj(refit(permuted), contrasts)
        except (AlsigError, ValueError, np.linalg.LinAlgError) as error:
            # a permuted design can be singular (a covariate nested in the shuffled factor)
            failed.append(f"permutation {i + 1}: {error}")
            continue
        for name, value in values.items():
            padj[name].append(value)
    return padj, failed


def _padj(fit: _Fit, contrasts: list[Contrast]) -> dict[str, np.ndarray]:
    """Return each contrast's padj of one permuted fit (closing the fit)."""
    try:
        return {c.name: np.asarray(fit.wald(c).columns["padj"], float) for c in contrasts}
    finally:
        close = getattr(fit, "close", None)
        if close is not None:
            close()


def _report(
    contrast: Contrast,
    real: int,
    counts: list[int],
    columns: dict[str, Any],
    alpha: float,
    seconds: float,
) -> None:
    """Log a contrast's null; warn when shuffled labels find genes too often."""
    done = columns["null_permutations"]
    if not done:
        log.warning("contrast %s: no permutation fitted (%s)", contrast.name, columns["null_note"])
        return
    any_count = round(columns["null_any_share"] * done)
    reached = sum(count >= real for count in counts)
    text = (
        f"{contrast.name}: {real} genes at padj < {alpha:g} with the real labels; with "
        f"{contrast.factor} shuffled between donors, median {columns['null_discoveries_median']:g}"
        f", 90th percentile {columns['null_discoveries_p90']:g}, some gene in {any_count} of "
        f"{done} permutations, at least {real} in {reached} of {done} (permutation p = "
        f"{columns['null_exceedance']:.2g})"
    )
    if columns["null_any_share"] <= ANY_SHARE_WARNING:
        log.info("contrast %s (%.1f s)", text, seconds)
    else:
        log.warning(
            "contrast %s. BH promises some gene in at most about %.0f %% of such permutations; "
            "here %.0f %%: on these data the contrast's padj is not a false-discovery rate. Read "
            "its %d genes beside the null (DE summary columns null_*; docs/methods.md).",
            text,
            100 * alpha,
            100 * columns["null_any_share"],
            real,
        )


@contextmanager
def _quiet() -> Iterator[None]:
    """Keep the permuted fits' phase-by-phase INFO lines out of the log (warnings pass)."""
    logger = logging.getLogger("alsig")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)
