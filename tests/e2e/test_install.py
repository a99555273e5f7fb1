"""A non-editable install works without the checkout: the wheel carries the schemas, the
signatures, the gene map and the gene sets, and a downstream tool gets ``alsig.read_scores``,
the signature table and the CLI.

The wheel is built from this checkout and installed (``--no-deps``) into a fresh virtual
environment whose only other packages are this test environment's dependencies, linked by a
``.pth`` line (so nothing is downloaded, and this environment's editable alsig is not seen).
Everything then runs from a temporary directory outside the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import REPO

# one xdist worker runs this module, so its module-scoped fixture is built once
pytestmark = [pytest.mark.xdist_group("install"), pytest.mark.slow]


def install_venv(source: Path, work: Path) -> Path:
    """A fresh venv holding alsig installed from a wheel of the checkout ``source``, beside this
    test environment's other packages (linked by a ``.pth`` line: nothing is downloaded)."""
    wheels = work / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    env = work / "venv"
    venv.create(env, with_pip=False)
    target_site = next((env / "lib").glob("python*/site-packages"))
    (target_site / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (wheel,) = wheels.glob("alsig-*.whl")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env / "bin" / "python"),
            "install",
            "--no-deps",
            "--ignore-installed",
            "-q",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """Path of a venv holding alsig installed from a wheel of this checkout."""
    return install_venv(REPO, tmp_path_factory.mktemp("install"))


def clean_env() -> dict[str, str]:
    """This process's environment without PYTHONPATH (it could point at the checkout)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run_python(env: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(env / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=clean_env(),
    )


def test_installed_package_finds_its_shipped_files_outside_the_checkout(installed, tmp_path):
    code = """
import alsig, alsig.resources as r
from alsig.signatures import read_signatures
from alsig.genes import GeneMap
from alsig.genesets import read_manifest
from alsig.settings import defaults
print(alsig.__file__)
print(len(read_signatures(r.signature_table())))
print(len(GeneMap.load().by_symbol) > 10000)
print(sorted(read_manifest()))
print(defaults("enrich")["permutations"])
from alsig.cellmix import load_markers
print(len(load_markers().ranked["neurons"]))
"""
    result = run_python(installed, code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.split("\n")
    where, n_signatures, gene_map, collections, permutations, neurons = lines[:6]
    assert str(installed) in where and str(REPO) not in where
    assert int(n_signatures) > 20
    assert gene_map == "True"
    assert collections == "['alsig_resistance', 'go_bp', 'hallmark', 'reactome']"
    assert permutations == "1000"
    assert neurons == "998"  # the BRETIGEA markers ship in the wheel


def test_installed_read_scores_and_cli(installed, tmp_path):
    table = pl.DataFrame({"x": [1]})  # not a score table: read_scores must say so
    table.write_parquet(tmp_path / "not_scores.parquet")
    code = "import alsig; alsig.read_scores('not_scores.parquet')"
    result = run_python(installed, code, tmp_path)
    assert result.returncode != 0 and "AlsigError" in result.stderr
    config = tmp_path / "config.yaml"
    config.write_text("datasets:\n  x:\n    source: geo\n    accession: GSE1\n")
    check = subprocess.run(
        [str(installed / "bin" / "alsig"), "check-config", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env=clean_env(),
    )
    assert check.returncode == 2  # bad config
    assert "config key datasets.x: 'condition' is a required property" in check.stderr
