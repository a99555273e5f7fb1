"""camera: a competitive gene-set test that allows for the correlation between genes.

Wu & Smyth 2012 (Nucleic Acids Res 40:e133), written from the paper and the method as limma
documents it (limma is GPL; this is not a copy of its code). GSEA's gene-label permutation null
(:mod:`alsig.gsea.alsig_engine`) draws a set's genes as if they were independent. In tissue,
the genes of a pathway move together across samples (cell mix, RNA quality), so the mean
statistic of a set varies far more than that null says, and the permutation p-values are far
too small (bench/results/enrich_null.md). camera inflates the variance of a set's mean statistic
by the variance inflation factor ``VIF = 1 + (m - 1) * rho``, with ``rho`` the mean correlation
between the set's genes, estimated from the residuals of the linear model of the contrast.

Steps:

1. :func:`standardised_residuals`: log-expression (genes x samples) projected onto the
   ``n - p`` dimensional residual space of the design (the last ``n - p`` columns of a complete
   QR decomposition of the design, limma's ``effects[-(1:p), ]``), each gene scaled to mean
   square 1 there.
2. :func:`inter_gene_correlation`: for a set of ``m`` genes, ``VIF = m * mean_k(mean_i U_ik)^2``
   over the residual dimensions ``k``, and ``rho = (VIF - 1) / (m - 1)`` (the mean off-diagonal
   correlation of the set's residuals).
3. :func:`camera_test`: the two-sample t of the set's mean statistic against the other genes',
   with the pooled variance of the statistic and the set's variance multiplied by the VIF
   (``VIF`` at least 1: a negative estimate is not allowed to make the test anti-conservative,
   camera's default ``allow.neg.cor = FALSE``). Degrees of freedom ``min(n - p, G - 2)`` (camera
   with an estimated correlation: the estimate has ``n - p`` residual dimensions). Two-sided
   ``p = 2 * min(P_down, P_up)``; the direction is that of the smaller tail.

The per-gene statistic is the DE stage's ``stat`` (cameraPR semantics: any signed per-gene
statistic; limma's camera would compute a moderated t from the same linear model itself).

Self-contained like the rest of :mod:`alsig.gsea` (numpy and ``scipy.special`` only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

#: Smallest residual mean square a gene is scaled by (limma's ``pmax(sigma2, 1e-8)``): a gene
#: constant in the residual space gets residuals of 0 instead of a division by zero.
MIN_RESIDUAL_VARIANCE = 1e-8


@dataclass(frozen=True)
class Residuals:
    """Standardised residuals of each gene under a contrast's design.

    Attributes
    ----------
    genes : list of str
        Gene names, one per row of ``values``.
    values : numpy.ndarray
        Genes x ``df_residual``: each gene's residual effects, mean square 1.
    df_residual : int
        ``n - p``: samples minus the rank of the design.
    """

    genes: list[str]
    values: np.ndarray
    df_residual: int


@dataclass(frozen=True)
class CameraRecord:
    """camera's result for one gene set.

    Attributes
    ----------
    term : str
        The set's name.
    n_genes : int
        Set genes among the genes with a statistic (``m``).
    correlation : float
        The estimated inter-gene correlation (NaN for a one-gene set).
    t : float
        The two-sample t with the variance inflation.
    pvalue : float
        Two-sided p-value.
    direction : str
        ``Up`` (set genes' statistics higher than the others') or ``Down``.
    """

    term: str
    n_genes: int
    correlation: float
    t: float
    pvalue: float
    direction: str


def standardised_residuals(
    expression: np.ndarray, design: np.ndarray, genes: Sequence[str]
) -> Residuals:
    """Return each gene's residual effects under ``design``, scaled to mean square 1.

    Parameters
    ----------
    expression
        Log-expression, genes x samples (e.g. voom's log2 CPM).
    design
        The design matrix, samples x coefficients (full column rank).
    genes
        Gene names, one per row of ``expression``.

    Returns
    -------
    Residuals
        Genes x ``n - p`` standardised residual effects.

    Raises
    ------
    ValueError
        Shapes that do not match, a design without full column rank, or no residual degree of
        freedom.
    """
    y = np.asarray(expression, dtype=float)
    x = np.asarray(design, dtype=float)
    if y.ndim != 2 or x.ndim != 2 or y.shape[1] != x.shape[0]:
        raise ValueError(
            f"expression ({y.shape}, genes x samples) and design ({x.shape}, samples x "
            "coefficients) do not match."
        )
    if len(genes) != y.shape[0]:
        raise ValueError(f"{len(genes)} gene names for {y.shape[0]} rows of expression.")
    n, p = x.shape
    rank = int(np.linalg.matrix_rank(x))
    if rank < p:
        raise ValueError(f"the design has rank {rank} < {p} columns: not of full rank.")
    if n - p < 1:
        raise ValueError(f"{n} samples and {p} coefficients leave no residual degree of freedom.")
    q, _ = np.linalg.qr(x, mode="complete")
    # the residual space's orthonormal basis: any basis gives the same mean squares and VIFs
    effects = y @ q[:, p:]  # genes x (n - p)
    mean_square = np.mean(effects**2, axis=1, keepdims=True)
    effects /= np.sqrt(np.maximum(mean_square, MIN_RESIDUAL_VARIANCE))
    return Residuals(list(genes), effects, n - p)


def inter_gene_correlation(residuals: np.ndarray) -> tuple[float, float]:
    """Return a set's variance inflation factor and mean inter-gene correlation.

    Parameters
    ----------
    residuals
        The set's genes x residual dimensions, each row of mean square 1
        (:func:`standardised_residuals`).

    Returns
    -------
    tuple of float
        ``(vif, correlation)``: ``vif = m * mean_k(mean_i U_ik)^2``, ``correlation = (vif - 1)
        / (m - 1)``; ``(1.0, nan)`` for one gene.
    """
    u = np.asarray(residuals, dtype=float)
    m = u.shape[0]
    if m < 2:
        return 1.0, float("nan")
    vif = float(m * np.mean(np.mean(u, axis=0) ** 2))
    return vif, (vif - 1.0) / (m - 1.0)


def camera_test(
    statistic: np.ndarray,
    genes: Sequence[str],
    sets: Mapping[str, Sequence[str]],
    residuals: Residuals,
) -> list[CameraRecord]:
    """Test each set with camera: mean statistic in the set vs the rest, variance inflated.

    Parameters
    ----------
    statistic
        One finite signed statistic per gene (the DE ``stat``), in ``genes`` order.
    genes
        The genes with a statistic (unique).
    sets
        ``{set name: genes}``; genes without a statistic are ignored, a set left with none is
        not tested.
    residuals
        Standardised residuals (:func:`standardised_residuals`) of at least every gene of
        ``genes`` that is in a set.

    Returns
    -------
    list of CameraRecord
        One per set with at least one gene among ``genes``, in ``sets`` order.

    Raises
    ------
    ValueError
        Fewer than 3 genes, a statistic that is not finite, or set genes without residuals.
    """
    stat = np.asarray(statistic, dtype=float)
    total = stat.size
    if total < 3 or len(genes) != total:
        raise ValueError(f"camera needs at least 3 genes with one statistic each ({total} given).")
    if not np.all(np.isfinite(stat)):
        raise ValueError("camera: every statistic must be finite.")
    position = {g: i for i, g in enumerate(genes)}
    residual_row = {g: i for i, g in enumerate(residuals.genes)}
    mean_all = float(stat.mean())
    var_all = float(stat.var(ddof=1))
    df = float(min(residuals.df_residual, total - 2))
    records = []
    for term, members in sets.items():
        chosen = list(dict.fromkeys(g for g in members if g in position))
        m = len(chosen)
        if m == 0:
            continue
        missing = [g for g in chosen if g not in residual_row]
        if missing:
            raise ValueError(
                f"set {term}: {len(missing)} genes have a statistic but no residuals "
                f"({', '.join(missing[:10])}{', ...' if len(missing) > 10 else ''})."
            )
        vif, correlation = inter_gene_correlation(
            residuals.values[[residual_row[g] for g in chosen]]
        )
        t = _two_sample_t(stat[[position[g] for g in chosen]], m, total, mean_all, var_all, vif)
        down = float(special.stdtr(df, t))
        up = float(special.stdtr(df, -t))
        records.append(
            CameraRecord(
                term=term,
                n_genes=m,
                correlation=correlation,
                t=t,
                pvalue=min(2.0 * min(down, up), 1.0),
                direction="Down" if down < up else "Up",
            )
        )
    return records


def _two_sample_t(
    in_set: np.ndarray, m: int, total: int, mean_all: float, var_all: float, vif: float
) -> float:
    """Return the set's two-sample t, its variance inflated by ``max(vif, 1)`` (Wu & Smyth eq. 3).

    ``delta`` is the set's mean minus the other genes' mean (from the overall mean without a
    second pass), the pooled variance is the two groups' within-group variance.
    """
    others = total - m
    if others < 1:
        return 0.0  # a set of every gene has nothing to be compared with
    delta = total / others * (float(in_set.mean()) - mean_all)
    pooled = ((total - 1) * var_all - delta**2 * m * others / total) / (total - 2)
    scale = pooled * (max(vif, 1.0) / m + 1.0 / others)
    if scale <= 0:
        return 0.0
    return float(delta / np.sqrt(scale))
