"""The one toy-cohort generator: its planted truth travels with the data, and the same arguments
give the same cohort."""

from __future__ import annotations

import numpy as np

from alsig.toy import toy_cohort


def test_named_genes_carry_their_planted_fold_change():
    adata = toy_cohort(
        (20, 20),
        n_genes=200,
        seed=4,
        mean_log=(6.0, 0.5),
        planted_log2fc={"G00003": 2.0, "G00007": -1.0},
    )
    truth = adata.var["true_log2fc"]
    assert truth["G00003"] == 2.0 and truth["G00007"] == -1.0
    assert set(adata.var_names[adata.var["is_de"]]) == {"G00003", "G00007"}
    als = (adata.obs["condition"] == "ALS").to_numpy()
    counts = np.asarray(adata.X, dtype=float)
    observed = np.log2(counts[als].mean(axis=0) / counts[~als].mean(axis=0))
    genes = list(adata.var_names)
    assert abs(observed[genes.index("G00003")] - 2.0) < 0.4
    assert abs(observed[genes.index("G00007")] + 1.0) < 0.4


def test_without_named_genes_the_cohort_is_unchanged():
    """Backwards compatible: the new argument leaves every earlier cohort as it was."""
    a = toy_cohort((4, 4), n_genes=60, seed=9, de_fraction=0.1)
    b = toy_cohort((4, 4), n_genes=60, seed=9, de_fraction=0.1, planted_log2fc={})
    np.testing.assert_array_equal(a.X, b.X)
    assert a.var["true_log2fc"].equals(b.var["true_log2fc"])
