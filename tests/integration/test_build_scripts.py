"""The build scripts of scripts/, run as a user runs them (a subprocess each)."""

from __future__ import annotations

import subprocess
import sys

from alsig.signatures.library import DEFAULT_GMT
from tests.conftest import REPO


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
