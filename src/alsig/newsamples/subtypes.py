"""New samples' subtype columns: the frozen reference model of the subtype stage, applied as is.

The model (:mod:`alsig.stages.subtypes.projection`, trained on GSE124439's labelled ALS samples
and never retrained here) scores each sample from its own counts, so a new sample gets the same
probabilities and call it would get inside any cohort. The model is chosen as the workflow
chooses it (:func:`~alsig.stages.subtypes.projection.choose_model`): genes + TE subfamilies when
TEcount counts of the samples are given (``alsig score --te-counts``), else the genes-only model.
These are molecular subtypes associated with resistance biology, not a prediction of a patient's
response.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pandas as pd
import polars as pl

from alsig.errors import AlsigError
from alsig.stages.subtypes.projection import canonical_region, choose_model, project

log = logging.getLogger(__name__)

#: The subtype columns of ``alsig score``'s table (one value per sample), and their dtypes.
SUBTYPE_COLUMNS: dict[str, pl.DataType] = {
    "p_ox": pl.Float64(),
    "p_glia": pl.Float64(),
    "p_te": pl.Float64(),
    "subtype_call": pl.String(),
    "subtype_reference_distance": pl.Float64(),
    "subtype_model": pl.String(),
    "subtype_gene_coverage": pl.Float64(),
}


def entrez_columns(counts: pd.DataFrame, gene_ids: Mapping[str, str | None]) -> pd.DataFrame:
    """Return ``counts`` with its symbol columns renamed to Entrez ids (the model's features).

    Parameters
    ----------
    counts
        Samples x current symbols (as :func:`alsig.newsamples.read_new_samples` returns them).
    gene_ids
        Symbol -> Entrez id (ingest's ``var["gene_id"]``; None for a symbol without one).

    Returns
    -------
    pandas.DataFrame
        The columns with an Entrez id, renamed to it.
    """
    kept = [c for c in counts.columns if gene_ids.get(str(c))]
    return counts[kept].set_axis([str(gene_ids[str(c)]) for c in kept], axis=1)


def region_of_stratum(stratum: str) -> str | None:
    """Return the region a reference stratum names (``region=Motor Cortex`` -> motor cortex).

    Parameters
    ----------
    stratum
        The reference stratum, e.g. ``region=Frontal Cortex`` or ``all samples``.

    Returns
    -------
    str or None
        The canonical region, or None when the stratum does not name one.
    """
    for part in stratum.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip() == "region" and value:
            return canonical_region(value)
    return None


def subtype_columns(
    counts: pd.DataFrame,
    gene_ids: Mapping[str, str | None],
    region: str | None,
    te_counts: pd.DataFrame | None,
) -> pl.DataFrame:
    """Project new samples onto the shipped subtype model.

    Parameters
    ----------
    counts
        Samples x current symbols, raw counts.
    gene_ids
        Symbol -> Entrez id.
    region
        The samples' region (judged by distance alone when None).
    te_counts
        Samples x TE ids (TEcount's ``subfamily:family:class``) of the same samples, or None.
        With them the genes + TE model runs (where it covers them), as in the workflow; the TE
        log2 CPM are over each sample's gene-assigned reads (the row sums of ``counts``, as
        QC's ``total_counts``).

    Returns
    -------
    polars.DataFrame
        ``sample`` and :data:`SUBTYPE_COLUMNS`; the values are null (and a warning says why)
        when too few of the model's genes are in the counts.
    """
    samples = [str(s) for s in counts.index]
    model = choose_model(te_counts)
    try:
        projected = project(
            model,
            entrez_columns(counts, gene_ids),
            te_counts=te_counts,
            libraries=counts.sum(axis=1).to_numpy(dtype=float),
            regions={s: region for s in samples},
        )
    except AlsigError as exc:
        log.warning("no subtype call for the new samples: %s", exc)
        return pl.DataFrame(
            {"sample": samples, **{c: [None] * len(samples) for c in SUBTYPE_COLUMNS}},
            schema={"sample": pl.String(), **SUBTYPE_COLUMNS},
        )
    projected = projected.reindex(samples)
    return pl.DataFrame(
        {
            "sample": samples,
            "p_ox": projected["p_ox"].astype(float).tolist(),
            "p_glia": projected["p_glia"].astype(float).tolist(),
            "p_te": projected["p_te"].astype(float).tolist(),
            "subtype_call": projected["subtype_call"].astype(str).tolist(),
            "subtype_reference_distance": projected["reference_distance"].astype(float).tolist(),
            "subtype_model": projected["subtype_model"].astype(str).tolist(),
            "subtype_gene_coverage": projected["gene_coverage"].astype(float).tolist(),
        },
        schema={"sample": pl.String(), **SUBTYPE_COLUMNS},
        nan_to_null=True,
    )
