"""The keys of the shared AnnData one stage leaves for the next, and the readers that interpret them.

Ingest writes ``counts.h5ad``, QC ``qc/filtered.h5ad``; DE, scoring, subtypes and ``alsig score``
read them. The names below are that contract (as scanpy keeps its keys in one place), so a stage
reads another stage's output through this module instead of importing that stage. It imports
nothing of alsig.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# --- obs: one row per sample -------------------------------------------------------------------
#: Condition label of each sample (``ALS``, ``control``; ingest's condition rules).
CONDITION = "condition"
#: Donor of each sample (several samples of one donor: regions, technical replicates).
SUBJECT = "subject"
#: Reported sex (``female`` / ``male``); after QC's ``use_inferred`` decision, the inferred one.
SEX = "sex"
#: Brain region / tissue of each sample.
REGION = "region"
#: Sequencing batch.
BATCH = "batch"
#: Gene-assigned reads per sample (QC metrics).
TOTAL_COUNTS = "total_counts"
#: Median-of-ratios size factor (QC).
SIZE_FACTOR = "size_factor"
#: Sex inferred from XIST and the Y genes (QC).
SEX_INFERRED = "sex_inferred"
#: What QC did with a sex-label mismatch, by ``qc.sex_mismatch``: ``exclude`` -> ``excluded``,
#: ``use_inferred`` -> ``sex_replaced``, ``keep`` -> ``kept``; empty when the labels agree.
SEX_DECISION = "sex_decision"
#: Why QC leaves a sample out of DE and of the control references (empty: it does not).
QC_EXCLUSION = "qc_exclusion"
#: The QC flags a sample carries into the score tables.
QC_FLAG = "qc_flag"
#: How many libraries QC's replicate collapse (``qc.collapse_by``) summed into this sample.
N_COLLAPSED = "n_collapsed"
#: The ids of those libraries, joined by ``;``.
COLLAPSED_SAMPLES = "collapsed_samples"

# --- var: one row per gene ---------------------------------------------------------------------
#: Ingest's gene identifier (Entrez / Ensembl) of each symbol.
GENE_ID = "gene_id"
#: Chromosome of each gene (offline gene map).
CHROMOSOME = "chromosome"
#: QC's ``filterByExpr`` decision (bool): the genes DE tests.
EXPRESSED = "expressed"

# --- layers ------------------------------------------------------------------------------------
#: Counts divided by the size factors (float32).
NORMALIZED = "normalized"
#: DESeq2-style blind variance-stabilised expression of all genes (float32): what is scored.
VST = "vst"

# --- obsm --------------------------------------------------------------------------------------
#: Samples x transposable elements counts (TEtranscripts): an array whose columns are the TE ids
#: of :data:`TE_FEATURES` ``te_id`` in order (one HDF5 dataset; a DataFrame, as alsig <= 0.3.2
#: wrote it, is a dataset per TE: ~1,000 of them, ~1 s per write and 0.4 s per read). Read it with
#: :func:`te_block`.
TE_COUNTS = "te_counts"
#: QC's PCA scores.
QC_PCA = "X_qc_pca"

# --- uns ---------------------------------------------------------------------------------------
#: The dataset id.
DATASET = "dataset"
#: Ingest's record of the input files (paths, checksums, downloads).
PROVENANCE = "provenance"
#: The TE annotation (``te_id, subfamily, family, class``).
TE_FEATURES = "te_features"
#: QC's fitted normalisation (size-factor geometric means, the VST's dispersion trend): new
#: samples get the same transform.
QC_NORMALISATION = "qc_normalisation"
#: QC's summary counts.
QC_SUMMARY = "qc"
#: Variance ratio of QC's PCA components (``qc.pca_components`` of them).
QC_PCA_VARIANCE = "qc_pca_variance_ratio"


def excluded_samples(obs: pd.DataFrame) -> dict[str, str]:
    """Return the samples QC leaves out of DE and of the control references.

    Parameters
    ----------
    obs
        A sample table (QC's output has :data:`QC_EXCLUSION`).

    Returns
    -------
    dict
        ``{sample: reason}``; empty when the table has no :data:`QC_EXCLUSION` column.
    """
    if QC_EXCLUSION not in obs:
        return {}
    return {
        str(sample): str(reason)
        for sample, reason in obs[QC_EXCLUSION].items()
        if not pd.isna(reason) and str(reason).strip()
    }


def sample_subjects(obs: pd.DataFrame, samples: pd.Index | None = None) -> pd.Series:
    """Return each sample's subject (donor); a sample without one is its own subject.

    Ingest writes the sample id where the sheet has no subject; a table from elsewhere may hold
    a missing or blank value, which never pools samples either.

    Parameters
    ----------
    obs
        A sample table (:data:`SUBJECT` column when the dataset maps one).
    samples
        The samples wanted, in this order; all of ``obs`` when not given.

    Returns
    -------
    pandas.Series
        Subject per sample as text, indexed by the sample ids (text).
    """
    names = (obs.index if samples is None else samples).astype(str)
    if SUBJECT not in obs:
        return pd.Series(names, index=names)
    values = obs[SUBJECT].to_numpy(dtype=object) if samples is None else obs.loc[samples, SUBJECT]
    return pd.Series(
        [
            str(value) if not pd.isna(value) and str(value).strip() else sample
            for value, sample in zip(list(values), names, strict=True)
        ],
        index=names,
    )


def te_block(adata: Any) -> pd.DataFrame | None:
    """Return the samples x TEs counts of an AnnData (:data:`TE_COUNTS`).

    Parameters
    ----------
    adata
        An AnnData of the workflow.

    Returns
    -------
    pandas.DataFrame or None
        Samples (``obs_names``) x TE ids as TEcount wrote them (``ALR/Alpha:centr:Satellite``),
        or ``None`` when the dataset has no TE input. Files of alsig <= 0.3.2 hold a DataFrame
        whose columns have ``/`` stored as ``_`` (:data:`TE_FEATURES` ``stored_id``): they are
        read back under the original ids too.
    """
    block = adata.obsm.get(TE_COUNTS) if hasattr(adata, "obsm") else None
    if block is None:
        return None
    features = adata.uns.get(TE_FEATURES, {}) if hasattr(adata, "uns") else {}
    if not isinstance(block, pd.DataFrame):
        columns = [str(t) for t in features["te_id"]] if "te_id" in features else None
        return pd.DataFrame(np.asarray(block), index=adata.obs_names, columns=columns)
    if "stored_id" in features:
        original = dict(
            zip(map(str, features["stored_id"]), map(str, features["te_id"]), strict=True)
        )
        block = block.rename(columns=original)
    return block


def library_sizes(adata: Any) -> np.ndarray:
    """Return the gene-assigned reads per sample.

    Parameters
    ----------
    adata
        An AnnData of the workflow.

    Returns
    -------
    numpy.ndarray
        QC's :data:`TOTAL_COUNTS`, else the sum of ``X`` per sample.
    """
    if TOTAL_COUNTS in adata.obs:
        return adata.obs[TOTAL_COUNTS].to_numpy(dtype=float)
    return np.asarray(adata.X.sum(axis=1), dtype=float).ravel()
