"""New samples' subtype columns: the subtype stage's projection, applied as is.

The frozen model (:mod:`alsig.stages.subtypes.projection`, trained on GSE124439's labelled ALS
samples and never retrained here) scores each sample from its own counts, so a new sample gets
the same probabilities and call it would get inside any cohort. The columns are the stage's
(:data:`~alsig.stages.subtypes.calls.PROJECTION_COLUMNS`, same names and meaning), made by the
stage's own code (:func:`~alsig.stages.subtypes.calls.project_counts`) at the default
``subtypes`` settings: the model chosen as the workflow chooses it (genes + TE subfamilies when
TEcount counts of the samples are given, ``alsig score --te-counts``, else the genes-only model),
``out_of_reference`` by coverage below half of the model's genes (with a warning), by region, or
by distance. A new sample whose counts are a reference library's own is recognised as the stage
recognises it (``reference_sample`` true, its outer-fold values). These are molecular subtypes
associated with resistance biology, not a prediction of a patient's response.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pandas as pd
import polars as pl

from alsig.settings import complete
from alsig.stages.subtypes.calls import (
    dataset_model,
    project_counts,
    projection_columns,
    projection_dtypes,
)
from alsig.stages.subtypes.projection import canonical_region
from alsig.stages.subtypes.reference_model import ReferenceModel

log = logging.getLogger(__name__)

#: The subtype columns of ``alsig score``'s table (one value per sample), and their dtypes: the
#: subtype stage's projection columns (schema ``subtypes``), same names.
SUBTYPE_COLUMNS: dict[str, pl.DataType] = projection_dtypes()


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
    models: Mapping[str, ReferenceModel] | None = None,
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
    models
        ``{name: model}`` to choose from (default: the shipped models).

    Returns
    -------
    polars.DataFrame
        ``sample`` and :data:`SUBTYPE_COLUMNS`. When too few of the model's genes are in the
        counts, every sample is ``out_of_reference`` by ``coverage`` without probabilities
        (and a warning says so), as in the stage.
    """
    samples = [str(s) for s in counts.index]
    settings = complete("subtypes")
    model = dataset_model(te_counts, settings, models)
    projected = project_counts(
        model,
        entrez_columns(counts, gene_ids),
        settings,
        te_counts=te_counts,
        libraries=counts.sum(axis=1).to_numpy(dtype=float),
        regions={s: region for s in samples},
        check="that the counts are a human whole-transcriptome count matrix (gene symbols or ids "
        "that map to Entrez ids)",
    )
    projected.index = projected.index.astype(str)
    return pl.DataFrame(
        {"sample": samples, **projection_columns(projected.reindex(samples))},
        schema={"sample": pl.String(), **SUBTYPE_COLUMNS},
    )
