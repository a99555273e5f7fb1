"""How much of each state score (and subtype probability) is cell mix.

Bulk cortex differs between samples largely in its cell mix (neurons lost, microglia and
astrocytes expanded), and every state and subtype follows it in part: the Glia-like state
contains the microglia and astrocyte marker scores, the TDP-43 proxy (STMN2/UNC13A) falls with
neuron content, and the composition-only floor of the reference model reaches a balanced
accuracy of 0.78 (``bench/results/subtypes.md``). :func:`state_cellmix` says how much, per
state: the share of the state score's variance over the disease samples that the BRETIGEA
cell-type indices (:mod:`alsig.cellmix`, ``rank`` method on the VST) explain linearly (R² and
adjusted R² of least squares on all six indices), and the index it follows most (Spearman).

The indices of each state are recomputed without the state's own genes
(:meth:`alsig.cellmix.CellIndexer.indices`), so a marker gene the state contains cannot make the
overlap look like composition. For the subtype probabilities (as logits) the model's gene
features are left out the same way. A high R² does not make a state an artefact (neuron loss and
gliosis are part of ALS); it says the state cannot be read as cell-intrinsic biology.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from alsig.cellmix import CELL_TYPES, CellIndexer, MarkerLists
from alsig.distributions import spearman
from alsig.signatures import Signature
from alsig.stages.subtypes.states import LABELS, STATES

AXIS_PREFIX = "axis:"
#: columns of :func:`state_cellmix`, besides one ``rho_<cell type>`` per cell type
COLUMNS = (
    "view",
    "name",
    "n_samples",
    "n_genes_left_out",
    "r_squared",
    "adj_r_squared",
    "top_cell_type",
    "top_rho",
)


def state_genes(
    signatures: Iterable[Signature], states: Mapping[str, Sequence[str]] = STATES
) -> dict[str, list[str]]:
    """Return the genes behind each state's members.

    Parameters
    ----------
    signatures
        The gene signatures of the run (TE signatures have no genes in the VST and are skipped
        by the caller's choice of list).
    states
        ``{state: members}``; a member ``axis:<axis>`` stands for every signature of that axis,
        any other member for the signature of that name.

    Returns
    -------
    dict
        ``{state: genes}`` (each gene once, in signature order).
    """
    signatures = list(signatures)
    out: dict[str, list[str]] = {}
    for state, members in states.items():
        genes: list[str] = []
        for member in members:
            if member.startswith(AXIS_PREFIX):
                axis = member[len(AXIS_PREFIX) :]
                chosen = [s for s in signatures if s.axis == axis]
            else:
                chosen = [s for s in signatures if s.name == member]
            for signature in chosen:
                genes += signature.genes
        out[state] = list(dict.fromkeys(genes))
    return out


def variance_explained(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Return R² and adjusted R² of least squares of ``y`` on ``x`` with an intercept.

    Parameters
    ----------
    y
        One value per sample.
    x
        Samples x predictors.

    Returns
    -------
    tuple of float
        ``(r2, adjusted r2)``; NaN when there are not more samples than parameters or ``y`` is
        constant.
    """
    n, p = x.shape
    if n <= p + 1 or np.var(y) == 0:
        return float("nan"), float("nan")
    design = np.column_stack([np.ones(n), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    r2 = 1.0 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())
    return r2, 1.0 - (1.0 - r2) * (n - 1) / (n - p - 1)


def _row(view: str, name: str, y: pd.Series, indices: pd.DataFrame, n_left_out: int) -> dict:
    frame = pd.concat([y.rename("_y"), indices], axis=1, join="inner")
    usable = [c for c in indices.columns if frame[c].notna().all() and frame[c].std() > 0]
    frame = frame[frame["_y"].notna()]
    r2, adj = variance_explained(frame["_y"].to_numpy(float), frame[usable].to_numpy(float))
    rhos = {}
    for cell_type in CELL_TYPES:
        if cell_type in usable and len(frame) >= 3 and frame["_y"].std() > 0:
            rhos[cell_type] = spearman(frame["_y"].to_numpy(), frame[cell_type].to_numpy())
        else:
            rhos[cell_type] = float("nan")
    finite = {k: v for k, v in rhos.items() if np.isfinite(v)}
    top = max(finite, key=lambda k: abs(finite[k])) if finite else None
    return {
        "view": view,
        "name": name,
        "n_samples": len(frame),
        "n_genes_left_out": n_left_out,
        "r_squared": r2,
        "adj_r_squared": adj,
        "top_cell_type": top,
        "top_rho": finite.get(top, float("nan")) if top else float("nan"),
        **{f"rho_{k}": v for k, v in rhos.items()},
    }


def state_cellmix(
    expression: pd.DataFrame,
    state_scores: pd.DataFrame,
    genes_by_state: Mapping[str, Sequence[str]],
    *,
    probabilities: pd.DataFrame | None = None,
    model_genes: Sequence[str] = (),
    markers: MarkerLists | None = None,
) -> pd.DataFrame:
    """Say per state (and per subtype probability) how much of it the cell mix explains.

    Parameters
    ----------
    expression
        Samples x genes log-scale expression (QC's VST, expressed genes; symbols as columns) of
        the samples to describe (the disease samples).
    state_scores
        Samples x states (``ox``, ``glia``, ``te``).
    genes_by_state
        The genes of each state (:func:`state_genes`), left out of its indices.
    probabilities
        Optional samples x ``p_ox``/``p_glia``/``p_te``: described as logits, with the
        indices recomputed without ``model_genes``; samples with missing values are skipped.
    model_genes
        Symbols of the reference model's gene features.
    markers
        Ranked marker lists (default: the shipped BRETIGEA human brain markers).

    Returns
    -------
    pandas.DataFrame
        One row per state (``view`` = ``state``) and per probability (``view`` =
        ``subtype_probability``): :data:`COLUMNS` and ``rho_<cell type>`` per BRETIGEA type.
    """
    indexer = CellIndexer(expression, markers)
    rows = []
    for state, label in LABELS.items():
        if state not in state_scores:
            continue
        genes = [g for g in genes_by_state.get(state, ()) if g in expression.columns]
        indices = indexer.indices(genes).values
        rows.append(_row("state", label, state_scores[state].astype(float), indices, len(genes)))
    if probabilities is not None and not probabilities.empty:
        genes = [g for g in model_genes if g in expression.columns]
        indices = indexer.indices(genes).values
        clipped = probabilities.astype(float).clip(1e-6, 1 - 1e-6)
        for column in probabilities.columns:
            logit = np.log(clipped[column] / (1.0 - clipped[column]))
            rows.append(_row("subtype_probability", column, logit, indices, len(genes)))
    return pd.DataFrame(rows, columns=[*COLUMNS, *(f"rho_{t}" for t in CELL_TYPES)])
