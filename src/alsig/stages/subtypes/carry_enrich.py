"""Enrichment of what each called subtype carries (the ``subtypes_enrich`` jobs).

The enrich stage's own prerank + ORA (:func:`alsig.stages.enrich.contrast.enrich_contrast`) on
one subtype's DE table (:func:`alsig.stages.subtypes.carry.subtype_de`) and one collection, each
row listing the model features in its set: the calls were made from those features, so their
p-values are not evidence. Apart from :mod:`.carry` so that these many small jobs load neither
the DE models nor the axis models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from alsig.gsea.camera import Residuals
from alsig.settings import EnrichSettings
from alsig.stages.enrich.contrast import enrich_contrast
from alsig.stages.enrich.results import RESULT as ENRICH_RESULT
from alsig.stages.enrich.results import empty_result
from alsig.tables import schemas

#: schema of the columns appended to the enrichment tables
ENRICH_EXTRA = "subtypes_enrichment"
#: what every per-subtype DE and enrichment table says about itself
CIRCULARITY_NOTE = (
    "descriptive: the subtype calls were made from the reference model's features, so the "
    "p-values of genes that are model features (model_feature / model_features) are not "
    "evidence of a difference"
)


def subtype_enrichment(
    de: pl.DataFrame,
    sets: Mapping[str, Sequence[str]],
    *,
    collection: str,
    enrich_settings: EnrichSettings,
    model_symbols: set[str],
    threads: int,
    source: str,
    residuals: Residuals | None = None,
) -> pl.DataFrame:
    """Enrichment of one subtype's DE table, each row listing its set's model features.

    Parameters
    ----------
    de
        The subtype's DE table (:func:`subtype_de`; ``model_feature`` is ignored here).
    sets
        ``{set name: [symbols]}`` of one harmonised collection.
    collection
        Collection id.
    enrich_settings
        The dataset's ``enrich:`` settings (engine, permutations, sizes, ORA thresholds).
    model_symbols
        Symbols of the reference model's gene features.
    threads
        Prerank threads.
    source
        The DE table's path, for messages.
    residuals
        The residuals of the subtype's fit (:func:`alsig.stages.subtypes.carry.subtype_residuals`)
        for camera, which calls the prerank sets; ``None``: camera's columns null.

    Returns
    -------
    polars.DataFrame
        The ``enrichment`` columns, then ``n_model_features`` and ``model_features``; no rows
        when the DE table has none (the subtype was not fitted).
    """
    core = de.drop("model_feature") if "model_feature" in de.columns else de
    if core.is_empty():
        table = empty_result()
    else:
        table = enrich_contrast(
            core,
            sets,
            collection=collection,
            settings=enrich_settings,
            threads=threads,
            source=source,
            residuals=residuals,
        ).table
    schemas.validate(table, ENRICH_RESULT, f"enrichment of {source}")
    overlap = {term: sorted(set(genes) & model_symbols) for term, genes in sets.items()}
    terms = table["term"].to_list()
    extra = pl.DataFrame(
        {
            "n_model_features": [len(overlap.get(t, [])) for t in terms],
            "model_features": [";".join(overlap.get(t, [])) for t in terms],
        },
        schema=schemas.polars_schema(ENRICH_EXTRA),
    )
    schemas.validate(extra, ENRICH_EXTRA, "model_features")
    return pl.concat([table, extra], how="horizontal")
