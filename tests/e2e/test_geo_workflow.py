"""The workflow's GEO path end to end against the 127.0.0.1 stub (tests/stub_server.py).

Downloads (counts, annotation, series matrix) go through the real rules and ``alsig.sources.download``;
the stub serves the fixture series in NCBI's URL layout and injects faults.
"""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import run_workflow
from tests.stub_server import DATA, Fault, StubServer

ACC = "GSE900001"
COUNTS = f"{ACC}_raw_counts_GRCh38.p13_NCBI.tsv.gz"
MATRIX = f"{ACC}_series_matrix.txt.gz"
ANNOT = "Human.GRCh38.p13.annot.tsv.gz"
TARGET = "results/fcx/counts.h5ad"


@pytest.fixture
def geo_stub():
    with StubServer(DATA) as server:
        yield server


def geo_config(server: StubServer, cache: Path, accession: str = ACC) -> dict:
    return {
        "geo": {
            "download_base_url": server.download_base_url,
            "series_base_url": server.series_base_url,
            "cache_dir": str(cache),
            "timeout_seconds": 5,
            "retries": 2,
            "backoff_seconds": 0.05,
        },
        "datasets": {
            "fcx": {
                "description": "fixture series GSE900001 (frontal cortex, 6 ALS + 4 control)",
                "source": "geo",
                "accession": accession,
                "condition": {
                    "column": "disease_state",
                    "rules": [
                        {"pattern": "^ALS$", "condition": "ALS"},
                        {"pattern": "(?i)^control$", "condition": "control"},
                    ],
                },
                "columns": {"subject": "subject_id", "sex": "sex", "region": "tissue"},
            }
        },
    }


def test_geo_dataset_downloads_with_retry_and_reruns_without_downloading(geo_stub, tmp_path):
    cache = tmp_path / "cache"
    config = geo_config(geo_stub, cache)
    geo_stub.inject(COUNTS, Fault.drop())  # the first connection for the counts file is dropped

    result = run_workflow(tmp_path / "run", config, TARGET)
    assert result.returncode == 0, result.stderr[-4000:]
    assert geo_stub.hits == {COUNTS: 2, MATRIX: 1, ANNOT: 1}

    adata = ad.read_h5ad(tmp_path / "run" / TARGET)
    assert adata.shape == (10, 604)
    assert list(adata.obs_names[:3]) == ["GSM9001001", "GSM9001002", "GSM9001003"]
    assert adata.obs["condition"].value_counts().to_dict() == {"ALS": 6, "control": 4}
    assert adata.obs["sex"].value_counts().to_dict() == {"female": 5, "male": 5}
    assert set(adata.obs["region"]) == {"Frontal Cortex"}
    assert adata.obs.loc["GSM9001008", "subject"] == "PF-UCL-1"
    for gene in ("XIST", "RPS4Y1", "DDX3Y", "GAPDH", "ACTB"):
        assert gene in adata.var_names
    assert adata.var.loc["GAPDH", "gene_id"] == "2597"
    # female donors express XIST, male donors RPS4Y1 (real counts carried through)
    column = adata[:, "XIST"].X
    xist = np.asarray(column.toarray() if sp.issparse(column) else column).ravel()
    female = (adata.obs["sex"] == "female").to_numpy()
    assert xist[female].min() > 10 * max(1, xist[~female].max())

    provenance = adata.uns["provenance"]
    assert provenance["source"] == "geo" and provenance["accession"] == ACC
    inputs = provenance["inputs"]
    assert inputs["counts"]["url"] == (
        f"{geo_stub.download_base_url}?type=rnaseq_counts&acc={ACC}&format=file&file={COUNTS}"
    )
    assert inputs["series_matrix"]["url"] == (
        f"{geo_stub.series_base_url}GSE900nnn/{ACC}/matrix/{MATRIX}"
    )
    assert inputs["annotation"]["url"].endswith(f"&file={ANNOT}")
    sidecar = json.loads((cache / ACC / f"{COUNTS}.json").read_text())
    assert sidecar["attempts"] == 2
    assert inputs["counts"]["sha256"] == sidecar["sha256"]
    assert inputs["counts"]["retrieved_at"] == sidecar["retrieved_at"]
    assert len(inputs["annotation"]["sha256"]) == 64

    # a second run downloads nothing and has nothing to do
    before = dict(geo_stub.hits)
    again = run_workflow(tmp_path / "run", config, TARGET)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stdout + again.stderr
    assert dict(geo_stub.hits) == before

    # a new workflow directory sharing the cache: ingest runs, downloads are cache hits
    other = run_workflow(tmp_path / "run2", config, TARGET)
    assert other.returncode == 0, other.stderr[-3000:]
    assert dict(geo_stub.hits) == before


def test_series_that_keeps_failing_fails_the_run_and_caches_nothing(geo_stub, tmp_path):
    cache = tmp_path / "cache"
    config = geo_config(geo_stub, cache)
    config["geo"]["retries"] = 1
    geo_stub.inject(MATRIX, always=Fault.status(500))

    result = run_workflow(tmp_path / "run", config, TARGET)
    assert result.returncode != 0
    url = f"{geo_stub.series_base_url}GSE900nnn/{ACC}/matrix/{MATRIX}"
    assert f"download of {url} failed after 2 attempt(s)" in result.stderr
    assert "HTTP 500" in result.stderr
    assert geo_stub.hits[MATRIX] == 2  # geo.retries + 1; no rule-level retries on top
    assert not (cache / ACC / MATRIX).exists()
    assert not list(cache.rglob("*.part-*"))
    assert not (tmp_path / "run" / TARGET).exists()
    log = (tmp_path / "run" / "results/logs/download_geo_series_matrix" / f"{ACC}.log").read_text()
    assert url in log and "Traceback" not in log


def test_unresolvable_conditions_name_the_samples_and_the_config_key(geo_stub, tmp_path):
    config = geo_config(geo_stub, tmp_path / "cache", accession="GSE900003")
    result = run_workflow(tmp_path / "run", config, TARGET)
    assert result.returncode != 0
    assert "6 sample(s) have no condition" in result.stderr
    assert "GSM9003001 ('pending review')" in result.stderr
    assert "datasets.fcx.condition.rules" in result.stderr
    assert not (tmp_path / "run" / TARGET).exists()
