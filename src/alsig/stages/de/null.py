"""A contrast's empirical null: how many genes shuffled donor labels give on the same data.

Benjamini-Hochberg's ``padj`` is a false-discovery rate when the null genes' p-values are
uniform and not too dependent. In human cohorts they are often neither: donor groups differ in
sex, age, tissue quality or a broad expression axis, and a label that means nothing then moves
thousands of genes at once (Li et al. 2022, Genome Biology 23:79). Measured on GSE67196's
per-region DESeq2 contrasts with the condition moved between donors, 43 and 38 of 100
permutations had some gene at padj < 0.05, where BH promises at most about 5
(``bench/results/de_real_null.md``). So each contrast's count of genes at ``padj < alpha`` is
shown beside what shuffled labels give: the contrast factor's labels move between whole donors
(every sample of a donor takes the same other donor's label; every other design column stays
with its sample), the fit is redone with the same model and settings, and its genes at
``padj < alpha`` are counted. The DE summary gets :data:`~alsig.stages.de.tables.NULL_COLUMNS`.

``de.null_permutations: auto`` runs :data:`AUTO_PERMUTATIONS` when they are cheap: at most
:data:`AUTO_CELLS` permuted samples x genes, the size ``alsig.planning`` budgets one minute of a
DE job for (measured about 2 microseconds per cell for fits of this size: 20 permutations of
GSE67196's 26 x 17,270 cerebellum cost about 20 s). A count runs that many whatever the size.
"""

from __future__ import annotations

import logging
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
#: Most permuted samples x tested genes ``auto`` runs, per implementation of the fit: one minute
#: of alsig.planning's DE runtime model (20 M cells per minute; pydeseq2 2 M).
AUTO_CELLS = {"alsig": 20_000_000, "pydeseq2": 2_000_000}
#: Share of permutations with some gene at padj < alpha above which the log warns: BH's promise
#: is at most alpha (0.05) under a complete null; twice that is beyond the spread of 20 draws.
ANY_SHARE_WARNING = 0.1
#: Redraws of a permutation that gave back the real grouping before taking it anyway.
REDRAWS = 100


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
        ``alsig`` (alsig's engine and the mixed model) or ``pydeseq2``.

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


def permute_between_donors(
    values: pd.Series, subjects: pd.Series, rng: np.random.Generator
) -> pd.Series:
    """Return a factor with its labels shuffled between whole donors.

    Each donor takes the level of another donor (a random permutation of the donors' levels),
    and every sample of it that level: the level counts over donors stay, and no donor is split.
    A draw that gives back the real grouping is redrawn (at most :data:`REDRAWS` times).

    Parameters
    ----------
    values
        The factor per sample (its dtype is kept: a categorical keeps its level order).
    subjects
        The donor per sample (same index).
    rng
        The permutations' generator.

    Returns
    -------
    pandas.Series
        The permuted factor, same index and dtype.

    Raises
    ------
    AlsigError
        The factor varies within a donor (:func:`donor_levels`).
    """
    subjects = subjects.loc[values.index]  # one donor per sample, in the factor's order
    levels = donor_levels(values, subjects)
    real = levels.to_numpy()
    shuffled = rng.permutation(real)
    for _ in range(REDRAWS):
        if not np.array_equal(shuffled, real):
            break
        shuffled = rng.permutation(real)
    new = subjects.astype(str).map(pd.Series(shuffled, index=levels.index))
    # back to the original values (a level written '1' may be the integer 1)
    original = {str(v): v for v in values.unique()}
    return pd.Series(
        [original[level] for level in new], index=values.index, name=values.name
    ).astype(values.dtype)


def permutation_rng(seed: int, *keys: str) -> np.random.Generator:
    """Return the generator of one fit's permutations: the run's seed and the fit's names.

    A fit's permutations do not depend on which other fits the dataset has, or their order.

    Parameters
    ----------
    seed
        ``de.seed``.
    *keys
        What names the permutations (the fit's label, the factor).

    Returns
    -------
    numpy.random.Generator
    """
    return np.random.default_rng([seed, zlib.crc32("\x1f".join(keys).encode())])


def null_columns(real: int, discoveries: Sequence[int], note: str = "") -> dict[str, Any]:
    """Return the summary's null columns of one contrast.

    Parameters
    ----------
    real
        Genes at padj < alpha under the real labels.
    discoveries
        Genes at padj < alpha under each permutation.
    note
        Why there are none, or what went wrong in some.

    Returns
    -------
    dict
        :data:`~alsig.stages.de.tables.NULL_COLUMNS`: permutations done, median and 90th percentile (linear
        interpolation) of their discoveries, share with at least one, share with at least
        ``real`` (the real count's exceedance); NaN where there were none.
    """
    counts = np.asarray(discoveries, dtype=float)
    if counts.size == 0:
        return {"null_permutations": 0, "null_note": note}
    return {
        "null_permutations": int(counts.size),
        "null_discoveries_median": round(float(np.median(counts)), 2),
        "null_discoveries_p90": round(float(np.percentile(counts, 90)), 2),
        "null_any_share": float(np.mean(counts > 0)),
        "null_exceedance": float(np.mean(counts >= real)),
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

    Contrasts of one factor share the permutations (one refit serves them all).

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
        Permutations per factor.
    seed
        ``de.seed``.
    alpha
        The padj threshold (``de.alpha``).
    label
        The fit, for the log and the generator.

    Returns
    -------
    dict
        Contrast name -> :func:`null_columns`.
    """
    out: dict[str, dict[str, Any]] = {}
    for factor in dict.fromkeys(c.factor for c in contrasts):
        members = [c for c in contrasts if c.factor == factor]
        try:
            donor_levels(meta[factor], subjects)
        except AlsigError as error:
            note = f"skipped: {error}"
            log.info("%s: no permutation null for %s: %s", label, factor, note)
            out.update({c.name: null_columns(0, [], note) for c in members})
            continue
        log.info(
            "%s: %d permutations of %s between %d whole donors, same model (contrasts %s)",
            label,
            permutations,
            factor,
            subjects.nunique(),
            ", ".join(c.name for c in members),
        )
        began = time.perf_counter()
        rng = permutation_rng(seed, label, factor)
        discoveries, failed = _permuted(meta, subjects, factor, members, refit, rng, permutations)
        note = ""
        if failed:
            note = f"{len(failed)} of {permutations} permutations not fitted: {name_some(failed)}"
            log.warning("%s: %s", label, note)
        for contrast in members:
            counts = [int(np.sum(padj < alpha)) for padj in discoveries[contrast.name]]
            out[contrast.name] = null_columns(real[contrast.name], counts, note)
            seconds = time.perf_counter() - began
            _report(contrast, real[contrast.name], out[contrast.name], alpha, seconds)
    return out


def _permuted(
    meta: pd.DataFrame,
    subjects: pd.Series,
    factor: str,
    contrasts: list[Contrast],
    refit: Callable[[pd.DataFrame], _Fit],
    rng: np.random.Generator,
    permutations: int,
) -> tuple[dict[str, list[np.ndarray]], list[str]]:
    """Return each contrast's padj under every fitted permutation, and the failed ones."""
    padj: dict[str, list[np.ndarray]] = {c.name: [] for c in contrasts}
    failed: list[str] = []
    for i in range(permutations):
        permuted = meta.copy()
        permuted[factor] = permute_between_donors(meta[factor], subjects, rng)
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
    contrast: Contrast, real: int, columns: dict[str, Any], alpha: float, seconds: float
) -> None:
    """Log a contrast's null; warn when shuffled labels find genes too often."""
    done = columns["null_permutations"]
    if not done:
        log.warning("contrast %s: no permutation fitted (%s)", contrast.name, columns["null_note"])
        return
    any_count = round(columns["null_any_share"] * done)
    exceed = round(columns["null_exceedance"] * done)
    text = (
        f"{contrast.name}: {real} genes at padj < {alpha:g} with the real labels; with "
        f"{contrast.factor} shuffled between donors, median {columns['null_discoveries_median']:g}"
        f", 90th percentile {columns['null_discoveries_p90']:g}, some gene in {any_count} of "
        f"{done} permutations, at least {real} in {exceed} of {done}"
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
