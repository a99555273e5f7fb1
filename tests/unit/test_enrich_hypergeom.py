"""alsig's over-representation test against the implementations it replaces: the tail against
``scipy.stats.hypergeom.sf`` and whole ORA records against ``gseapy.enrich``."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import hypergeom

from alsig.gsea.hypergeom import overrepresentation, upper_tail
from alsig.stages.enrich.ora import _enrich_records


def test_upper_tail_matches_scipy_over_a_grid():
    rng = np.random.default_rng(5)
    n_background = 19366
    for n_query in (1, 37, 495, 813, 5000):
        sizes = rng.integers(15, 501, size=200)
        hits = np.minimum(rng.integers(0, 60, size=200), np.minimum(sizes, n_query))
        ours = upper_tail(hits, sizes, n_query, n_background)
        theirs = hypergeom.sf(hits - 1, n_background, sizes, n_query)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-300)


def test_upper_tail_is_one_at_zero_hits_and_tiny_for_full_overlap():
    p, odds = overrepresentation(np.array([0, 200]), np.array([200, 200]), 200, 20000)
    assert p[0] == pytest.approx(1.0)
    assert 0 < p[1] < 1e-300 or p[1] == 0.0  # C(20000, 200)^-1 underflows; the caller floors it
    assert odds[1] > odds[0]


def test_records_match_gseapy_enrich():
    gseapy = pytest.importorskip("gseapy")
    rng = np.random.default_rng(11)
    background = [f"G{i}" for i in range(3000)]
    sets = {
        f"set{j}": list(rng.choice(background, size=rng.integers(15, 200), replace=False))
        for j in range(40)
    }
    # a planted set: half of the query is in it
    query = list(rng.choice(background, size=150, replace=False))
    sets["planted"] = query[:75] + list(rng.choice(background, size=60, replace=False))
    sets["planted"] = list(dict.fromkeys(sets["planted"]))
    ours = {r["term"]: r for r in _enrich_records(query, sets, background)}
    res = gseapy.enrich(
        gene_list=query,
        gene_sets=sets,
        background=background,
        outdir=None,
        no_plot=True,
        verbose=False,
    ).res2d
    assert set(ours) == set(res["Term"])
    for row in res.to_dict("records"):
        mine = ours[row["Term"]]
        assert mine["pvalue"] == pytest.approx(row["P-value"], rel=1e-9, abs=1e-300)
        assert mine["odds_ratio"] == pytest.approx(row["Odds Ratio"], rel=1e-12)
        assert ";".join(sorted(mine["hits"])) == ";".join(sorted(row["Genes"].split(";")))
    assert min(ours, key=lambda t: ours[t]["pvalue"]) == "planted"
