"""Snakemake's params handling without pandas/polars imports (``alsig.snakemake_startup``)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from functools import partial
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from snakemake.iocontainers import Params, Snakemake
from snakemake.persistence import PersistenceBase

from alsig.snakemake_startup import (
    frames_possible,
    params_serializer,
    skip_dataframe_imports,
)
from tests.conftest import fast_demo_config, workflow_command

#: Params as alsig's rules give them: settings mappings, strings, numbers, lists, None.
PLAIN = {
    "settings": {"design": "~ sex + condition", "alpha": 0.05, "contrasts": {"a": ["x", "y"]}},
    "dataset": "demo",
    "threads_hint": 2,
    "collections": ["hallmark", "go_bp"],
    "missing": None,
}


@pytest.fixture
def unpatched(monkeypatch):
    """Snakemake's own methods back in place for the test, patched again afterwards."""
    monkeypatch.setattr(
        PersistenceBase, "_serialize_param", PersistenceBase.__dict__["_serialize_param"]
    )
    store = Snakemake.__dict__["_safely_store_params"]
    monkeypatch.setattr(Snakemake, "_safely_store_params", getattr(store, "wrapped", store))


def job_object(params: dict) -> Snakemake:
    """A script job's ``snakemake`` object, built as Snakemake builds it for the preamble."""
    empty = Params()
    return Snakemake(empty, empty, Params(fromdict=params), empty, 1, empty, empty, {}, "r", None)


def stored(job: Snakemake) -> tuple:
    return list(job._params_store), job._params_types, dict(job.params.items())


def without_frame_libraries(monkeypatch) -> None:
    for name in ("pandas", "polars"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_pandas_serialiser_only_when_pandas_is_imported(monkeypatch):
    serialisers = SimpleNamespace(_serialize_param_pandas="p", _serialize_param_builtin="b")
    import pandas  # noqa: F401  (the check reads sys.modules)

    assert params_serializer(serialisers) == "p"
    monkeypatch.delitem(sys.modules, "pandas")
    assert params_serializer(serialisers) == "b"


def test_frames_are_possible_only_with_their_library_or_an_array(monkeypatch):
    without_frame_libraries(monkeypatch)
    assert not frames_possible(PLAIN.values())
    assert frames_possible([np.arange(3)])
    monkeypatch.setitem(sys.modules, "polars", pl)
    assert frames_possible(PLAIN.values())


def test_both_places_are_patched_and_store_what_snakemake_stores(unpatched, monkeypatch):
    expected = stored(job_object(PLAIN))
    assert skip_dataframe_imports() == ["params check", "script params"]
    assert PersistenceBase.__dict__["_serialize_param"].fget is params_serializer
    without_frame_libraries(monkeypatch)
    job = job_object(PLAIN)
    assert stored(job) == expected
    assert stored(pickle.loads(pickle.dumps(job, protocol=4))) == expected  # as the preamble does
    assert "pandas" not in sys.modules and "polars" not in sys.modules
    # the params check: pandas' serialiser hands every non-pandas value to the builtin one
    persistence = SimpleNamespace()
    persistence._serialize_param_builtin = partial(
        PersistenceBase._serialize_param_builtin, persistence
    )
    for value in PLAIN.values():
        by_pandas = PersistenceBase._serialize_param_pandas(persistence, value)
        assert by_pandas == persistence._serialize_param_builtin(value)


def test_frames_and_arrays_still_take_snakemake_s_own_path(unpatched):
    frame_params = {"table": pl.DataFrame({"a": [1, 2]}), "array": np.arange(3), **PLAIN}
    expected = stored(job_object(frame_params))
    skip_dataframe_imports()
    job = job_object(frame_params)
    assert job._params_types == {0: "pl.DataFrame", 1: "np.ndarray"}
    assert list(job._params_store) == expected[0] and job._params_types == expected[1]
    assert job.params.table.equals(frame_params["table"])


def test_unexpected_snakemake_internals_are_left_alone(unpatched, monkeypatch):
    monkeypatch.setattr(PersistenceBase, "_serialize_param", lambda self: None)
    monkeypatch.setattr(Snakemake, "_safely_store_params", None)
    assert skip_dataframe_imports() == []
    assert not isinstance(PersistenceBase.__dict__["_serialize_param"], property)
    assert Snakemake.__dict__["_safely_store_params"] is None


#: Runs Snakemake in this process and says at exit which frame libraries it imported.
MAIN_PROCESS = """
import atexit, sys
atexit.register(lambda: print("imported:", *[m for m in ("pandas", "polars") if m in sys.modules]))
from snakemake.cli import main
sys.argv[0] = "snakemake"
main()
"""


def test_a_workflow_run_imports_no_frame_library_in_snakemake_s_process(tmp_path):
    """The demo's ingest job through the real workflow: common.smk applied both patches, so
    neither the params check nor the script job's params imported pandas or polars."""
    config = fast_demo_config()
    command = workflow_command(tmp_path, config, "results/demo/counts.h5ad", cores=1)
    run = subprocess.run(
        [sys.executable, "-c", MAIN_PROCESS, *command[1:]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "results/demo/counts.h5ad").exists()
    assert run.stdout.strip().splitlines()[-1] == "imported:"
