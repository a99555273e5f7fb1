"""The build scripts of scripts/, run as a user runs them (a subprocess each)."""

from __future__ import annotations

import subprocess
import sys

from alsig.signatures.library import DEFAULT_GMT
from tests.conftest import REPO


def test_rebuilding_the_shipped_subtype_models_reproduces_their_files_bit_for_bit(shared_data):
    """The final fits of scripts/build_subtype_model.py, redone from GSE124439, write the same
    bytes on any x86-64 CPU (the script pins OpenBLAS's kernels; an AVX-512 machine otherwise
    differs in the 8th digit). The CV report is copied: the nested CV, which ``--check`` without
    ``--final-only`` reruns in full, takes ~37 minutes on one core."""
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts/build_subtype_model.py"),
            "--data",
            str(shared_data),
            "--check",
            "--final-only",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    files = "genes.json, genes.reference.parquet, genes_te.json, genes_te.reference.parquet"
    assert f"rebuild identical: {files}" in done.stderr


def test_build_script_regenerates_the_same_gmt(tmp_path):
    out = tmp_path / "sigs.gmt"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts/build_signatures.py"),
            "--gmt-only",
            "--gmt",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == DEFAULT_GMT.read_bytes()
