"""Replicates: how many samples share a donor, and summing a donor's libraries.

The summing is ``qc.collapse_by``.

Only technical replicates are summed: libraries of one subject that share its region and
condition. Rules of :func:`collapse_replicates`:

- libraries of one subject in two conditions (or with two reported sexes) contradict each other:
  a sample-sheet error naming the subject, never a sample ``ALS;control``;
- libraries of one subject from different regions are different samples of a repeated donor
  (legitimate; the repeated-donor models handle them): they are summed per region, and the
  collapsed sample is named ``<subject>_<region>``;
- the per-library columns that differ within a group (library id, replicate number) are joined
  with ``;`` and listed in the log.

:func:`replicate_structure` describes the same structure without collapsing, for the advice QC
logs when ``collapse_by`` is not set: summing is suggested only for technical replicates.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from alsig.counts import as_counts
from alsig.errors import AlsigError, name_some
from alsig.keys import COLLAPSED_SAMPLES, N_COLLAPSED, TE_COUNTS, te_block
from alsig.stages.qc.metrics import dense_counts
from alsig.validation.sheet import SUBJECT_CONSTANT, subject_conflicts

log = logging.getLogger(__name__)

#: a subject's libraries are summed only within one value of these (repeated-donor factors)
WITHIN_SUBJECT = ("region",)


def replicate_counts(obs: pd.DataFrame, column: str = "subject") -> pd.Series:
    """Count the samples sharing each sample's ``column`` value (1 = no replicate).

    Parameters
    ----------
    obs
        Sample table.
    column
        The donor column.

    Returns
    -------
    pandas.Series
        One integer per sample.
    """
    if column not in obs:
        return pd.Series(1, index=obs.index)
    return obs.groupby(column, observed=True)[column].transform("size").astype(int)


@dataclass(frozen=True)
class ReplicateStructure:
    """How the samples of a dataset share subjects.

    Attributes
    ----------
    n_technical
        Samples that share subject, region and condition with another sample (summable).
    n_technical_groups
        Groups of such samples.
    n_repeated_donors
        Subjects with samples from more than one region.
    regions_per_donor
        Example subjects with their regions, for the log.
    """

    n_technical: int
    n_technical_groups: int
    n_repeated_donors: int
    regions_per_donor: list[str]


def _key(obs: pd.DataFrame, column: str) -> pd.Series:
    """Return a column as text, missing as an empty string (a grouping key)."""
    values = obs[column] if column in obs else pd.Series(None, index=obs.index)
    return values.astype(object).where(values.notna(), "").astype(str)


def replicate_structure(obs: pd.DataFrame, by: str = "subject") -> ReplicateStructure:
    """Technical replicates and repeated donors of ``obs`` (module docstring).

    Parameters
    ----------
    obs
        Sample table with ``by`` and, when present, ``region`` and ``condition``.
    by
        The donor column.

    Returns
    -------
    ReplicateStructure
    """
    if by not in obs:
        return ReplicateStructure(0, 0, 0, [])
    subject = _key(obs, by)
    group = subject + "\x1f" + _key(obs, "region") + "\x1f" + _key(obs, "condition")
    sizes = group.map(group.value_counts())
    technical = sizes > 1
    regions = pd.DataFrame({"s": subject, "r": _key(obs, "region")}).groupby("s")["r"].unique()
    repeated = regions[regions.map(len) > 1]
    examples = [f"{s} ({', '.join(map(str, r))})" for s, r in list(repeated.items())[:5]]
    return ReplicateStructure(
        int(technical.sum()), int(group[technical].nunique()), len(repeated), examples
    )


def replicate_advice(obs: pd.DataFrame, by: str = "subject") -> list[str]:
    """Say what QC tells about replicates when ``qc.collapse_by`` is not set.

    Parameters
    ----------
    obs
        Sample table.
    by
        The donor column.

    Returns
    -------
    list of str
        A warning for technical replicates (with the advice to sum them) and a note for
        subjects sampled in several regions (no advice to sum: region varies within subject).
    """
    found = replicate_structure(obs, by)
    out = []
    if found.n_technical:
        out.append(
            f"{found.n_technical} samples are technical replicates (same {by}, region and "
            f"condition; {found.n_technical_groups} groups); DE treats them as independent. "
            f"Set qc.collapse_by: {by} to sum them."
        )
    if found.n_repeated_donors:
        out.append(
            f"{found.n_repeated_donors} {by}(s) have samples from several regions "
            f"(e.g. {'; '.join(found.regions_per_donor)}): a repeated-donor design; these "
            "samples are different tissue and are not summed."
        )
    return out


def _check_subjects(obs: pd.DataFrame, keys: pd.Series, by: str) -> None:
    """Raise naming every subject whose libraries disagree on condition or sex."""
    problems = subject_conflicts(obs.assign(**{by: keys}), by, SUBJECT_CONSTANT)
    if problems:
        shown = name_some(problems, sep="; ")
        raise AlsigError(
            f"sample sheet: the libraries of one {by} disagree: {shown}. One {by} has one "
            f"condition and one sex: fix the sample sheet ('{by}', condition or sex of these "
            f"samples); qc.collapse_by: {by} cannot sum them."
        )


def _groups(obs: pd.DataFrame, keys: pd.Series, by: str) -> tuple[pd.Series, list[str]]:
    """Return the collapsed sample id of each sample, and the subjects split by region.

    The id is the ``by`` value, or ``<by>_<region>`` for a subject sampled in several regions.
    """
    groups = keys.copy()
    split: list[str] = []
    for column in WITHIN_SUBJECT:
        if column not in obs or column == by:
            continue
        region = _key(obs, column)
        several = region.groupby(keys.to_numpy()).transform("nunique") > 1
        if several.any():
            split += sorted(set(keys[several]))
            label = region[several].map(lambda r: re.sub(r"\s+", "_", r.strip()) or "NA")
            groups[several] = keys[several] + "_" + label
    return groups, split


def collapse_replicates(adata: ad.AnnData, by: str) -> ad.AnnData:
    """Sum the counts of technical replicates: samples sharing ``obs[by]`` (and region).

    Parameters
    ----------
    adata
        Samples x genes counts with ``obs[by]``.
    by
        The column to collapse by (``qc.collapse_by``, e.g. ``subject``).

    Returns
    -------
    anndata.AnnData
        One sample per group (index: the ``by`` value, or ``<by>_<region>`` for a subject with
        several regions). obs columns constant within a group keep their value; others become
        the sorted unique values joined by ``;``. ``n_collapsed`` and ``collapsed_samples``
        record what was summed; ``uns["replicate_collapse"]`` the decisions.

    Raises
    ------
    AlsigError
        ``by`` is not a column or is empty for a sample, or one subject's libraries disagree on
        condition or sex (naming the subject).
    """
    if by not in adata.obs:
        raise AlsigError(
            f"config key qc.collapse_by: '{by}' is not a sample column; available: "
            f"{sorted(map(str, adata.obs.columns))}."
        )
    keys = adata.obs[by]
    if keys.isna().any():
        missing = adata.obs_names[keys.isna().to_numpy()].tolist()
        raise AlsigError(
            f"config key qc.collapse_by: column '{by}' is empty for {len(missing)} sample(s) ({name_some(missing)}); "
            "fill it in the sample sheet or unset collapse_by."
        )
    keys = keys.astype(str)
    _check_subjects(adata.obs, keys, by)
    keys, split = _groups(adata.obs, keys, by)
    groups = list(dict.fromkeys(keys))
    counts = dense_counts(adata)
    codes = pd.Categorical(keys, categories=groups).codes
    indicator = sp.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(len(groups), len(codes))
    )
    summed = np.asarray(indicator @ counts.astype(np.int64))
    rows = {}
    joined: set[str] = set()
    for group, frame in adata.obs.groupby(keys.to_numpy(), sort=False, observed=True):
        row = {}
        for column in adata.obs.columns:
            values = frame[column]
            uniq = pd.unique(values.dropna().astype(str))
            if values.nunique(dropna=False) <= 1:
                row[column] = values.iloc[0]
            else:
                row[column] = ";".join(sorted(uniq))
                joined.add(str(column))
        row[N_COLLAPSED] = len(frame)
        row[COLLAPSED_SAMPLES] = ";".join(map(str, frame.index))
        rows[group] = row
    obs = pd.DataFrame.from_dict(rows, orient="index").loc[groups]
    obs.index = obs.index.astype(str)
    obs.index.name = None
    out = ad.AnnData(X=as_counts(summed), obs=obs, var=adata.var.copy(), uns=dict(adata.uns))
    te = te_block(adata)
    if te is not None:  # the TE block is summed the same way (uns keeps its ids)
        out.obsm[TE_COUNTS] = np.asarray(indicator @ te.to_numpy(dtype=np.int64))
    log.info("collapsed %d samples into %d by '%s'", adata.n_obs, out.n_obs, by)
    if joined:
        log.info(
            "per-library columns joined with ';' in the collapsed samples: %s",
            ", ".join(sorted(joined)),
        )
    if split:
        log.warning(
            "%d %s(s) have samples from several regions: summed per region, not across them "
            "(collapsed samples named <%s>_<region>): %s",
            len(split),
            by,
            by,
            name_some(split),
        )
    out.uns["replicate_collapse"] = {
        "by": by,
        "n_samples_in": int(adata.n_obs),
        "n_samples_out": int(out.n_obs),
        "columns_joined": sorted(joined),
        "split_by_region": split,
    }
    return out
