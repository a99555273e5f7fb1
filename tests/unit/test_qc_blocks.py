"""QC's block-wise matrix steps give the whole-matrix numbers bit for bit (alsig.blocks)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from alsig.blocks import blocks, gene_means
from alsig.cellmix.indices import _gene_sd, _within_sample_ranks
from alsig.counts import dense_counts
from alsig.stages.qc.gene_filter import filter_by_expr
from alsig.stages.qc.metrics import compute_metrics
from alsig.stages.qc.normalise import apply_vst, normalised_counts, size_factors, vst_counts
from alsig.stages.qc.outliers import gene_variances
from alsig.toy import toy_cohort

#: blocks much smaller than the toy matrix (and not dividing it), so every step runs in many
WHOLE, SMALL = 1_000_000, 7


def counts_matrix(n_samples: int = 23, n_genes: int = 301) -> np.ndarray:
    adata = toy_cohort((n_samples // 2, n_samples - n_samples // 2), n_genes=n_genes, seed=3)
    return dense_counts(adata).astype(np.int32)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def whole_matrix_size_factors(counts: np.ndarray) -> np.ndarray:
    """The whole-matrix median-of-ratios code the blocks replaced."""
    with np.errstate(divide="ignore"):
        logs = np.log(counts.astype(float))
    voting = np.isfinite(logs).all(axis=0)
    if voting.any():
        logmeans = logs[:, voting].mean(axis=0)
        return np.exp(np.median(logs[:, voting] - logmeans, axis=1))
    logmeans = np.where(counts > 0, logs, 0.0).mean(axis=0)
    usable = logmeans > 0
    sf = np.array(
        [
            np.exp(np.median(logs[i, usable & (row > 0)] - logmeans[usable & (row > 0)]))
            for i, row in enumerate(counts)
        ]
    )
    return sf / np.exp(np.mean(np.log(sf)))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 15])
def test_blocks_cover_the_axis_without_one_wide_blocks(n):
    parts = list(blocks(n, 7))
    assert [i for part in parts for i in range(n)[part]] == list(range(n))
    assert all(part.stop - part.start >= 2 for part in parts) or n < 2


@pytest.mark.parametrize("poscounts", [False, True])
def test_block_size_factors_equal_the_whole_matrix_ones(poscounts):
    counts = counts_matrix()
    if poscounts:  # a zero in every gene: DESeq2's poscounts variant
        counts[np.arange(counts.shape[1]) % counts.shape[0], np.arange(counts.shape[1])] = 0
    small, method = size_factors(counts, block_size=SMALL, sample_block=5)
    whole, _ = size_factors(counts, block_size=WHOLE, sample_block=WHOLE)
    assert method == ("poscounts" if poscounts else "ratio")
    assert same_bits(small, whole)
    assert same_bits(small, whole_matrix_size_factors(counts))


def test_block_layers_equal_the_whole_matrix_layers():
    counts = counts_matrix()
    sf, _ = size_factors(counts)
    normed = counts / sf[:, None]
    assert same_bits(
        normalised_counts(counts, sf, dtype=np.float32, block_size=SMALL),
        normed.astype(np.float32),
    )
    assert same_bits(gene_means(counts, lambda b: b / sf[:, None], SMALL), normed.mean(axis=0))
    genes = np.array([0, 4, 5, 9, 100, 300])
    assert same_bits(
        gene_means(counts, lambda b: b / sf[:, None], 2, columns=genes),
        normed[:, genes].mean(axis=0),
    )
    for info in (
        {"vst_fit_type": "parametric", "vst_a0": 0.05, "vst_a1": 2.5},
        {"vst_fit_type": "mean", "vst_mean_dispersion": 0.1},
    ):
        assert same_bits(
            vst_counts(counts, sf, info, dtype=np.float32, block_size=SMALL),
            apply_vst(normed, info).astype(np.float32),
        )


def test_block_filter_variances_metrics_and_ranks_equal_the_whole_matrix_ones():
    counts = counts_matrix()
    rules = {"min_count": 10, "min_total_count": 15, "large_n": 10, "min_prop": 0.7}
    assert same_bits(
        filter_by_expr(counts, block_size=SMALL, **rules),
        filter_by_expr(counts.astype(float), block_size=WHOLE, **rules),
    )
    layer = np.log2(counts + 1.0).astype(np.float32)
    columns = np.flatnonzero(np.arange(counts.shape[1]) % 3 != 0)
    assert same_bits(
        gene_variances(layer, columns, SMALL),
        np.asarray(layer[:, columns], dtype=float).var(axis=0),
    )
    values = np.asarray(layer[:, columns], dtype=float)
    assert same_bits(_gene_sd(values), values.std(axis=0))
    assert np.array_equal(_within_sample_ranks(values), rankdata(values, method="min", axis=1))
    adata = toy_cohort((12, 11), n_genes=301, seed=3)
    small, whole = compute_metrics(adata, block_size=5), compute_metrics(adata, block_size=WHOLE)
    assert small.equals(whole)
