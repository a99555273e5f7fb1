"""alsig.deseq2's likelihood-ratio test against a live R DESeq2 on the committed toy cohort.

Skips with a reason when Rscript or DESeq2 is absent; the committed R fixture
(tests/unit/test_deseq2_engine.py) covers CI without R.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from alsig.deseq2 import fit_deseq2
from alsig.stages.de.design import design_matrix
from tests.conftest import missing_r_packages
from tests.unit.test_deseq2_engine import DESIGN, FIXTURE, REPO, fixture_data, r_table

# one xdist worker runs this module, so its module-scoped fixture is built once
pytestmark = pytest.mark.xdist_group("deseq2_r")


@pytest.fixture(scope="module")
def data():
    return fixture_data()


@pytest.fixture(scope="module")
def fit(data):
    counts, coldata = data
    return fit_deseq2(counts, design_matrix(coldata, DESIGN))


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript not installed")
def test_lrt_matches_r_deseq2_live(tmp_path, data, fit):
    if missing_r_packages("DESeq2"):
        pytest.skip("R package DESeq2 not installed")
    subprocess.run(
        [
            "Rscript",
            str(REPO / "scripts" / "deseq2_fixture.R"),
            str(FIXTURE / "toy_counts.tsv.gz"),
            str(FIXTURE / "toy_coldata.tsv"),
            str(tmp_path),
            "lrt",
        ],
        check=True,
        capture_output=True,
    )
    live = pd.read_csv(tmp_path / "r_lrt.tsv", sep="\t", index_col=0)
    committed = r_table("r_lrt.tsv")
    np.testing.assert_allclose(live["stat"], committed["stat"], rtol=1e-8)
    _, coldata = data
    ours = fit.lrt(design_matrix(coldata, "~ region")).table
    ok = ours["pvalue"].notna().to_numpy() & live["pvalue"].notna().to_numpy()
    rho = spearmanr(-np.log10(ours["pvalue"][ok]), -np.log10(live["pvalue"][ok])).correlation
    assert rho > 0.999
    assert ours["log2FoldChange"].isna().all()  # no coefficient named
