"""alsig deployed as a Snakemake module from a git repository and tag, as a user does it:

    snakedeploy deploy-workflow <repository> <dest> --tag v<version>

A local clone plays the remote (its path contains ``github.com/<owner>/<name>``, so snakedeploy
treats it as a GitHub repository: it clones it, checks out the tag and copies ``config/`` and
``profiles/``). The deployed Snakefile's ``github(...)`` source is pointed at the clone's
``workflow/Snakefile``, checked out at the tag (Snakemake's ``gitfile(...)``, which would read the
files from the tag's git objects, fails in Snakemake 9.27 on every rule with ``script:``:
``LocalGitFile.join`` is handed a ``LocalSourceFile``, a TypeError). alsig itself comes from a
wheel of the tag in a fresh environment, and the clone's ``src/`` is deleted before the run:
nothing reaches for a source folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import polars as pl
import pytest
import yaml

import alsig
from tests.conftest import FAST_ENRICH, REPO, absolute_paths
from tests.e2e.test_install import clean_env, install_venv

# one xdist worker runs this module, so its module-scoped fixture is built once
pytestmark = [pytest.mark.xdist_group("module"), pytest.mark.slow]

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
TAG = f"v{VERSION}"
SNAKEDEPLOY = Path(sys.executable).with_name("snakedeploy")


def git(*args: str, cwd: Path) -> None:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(clone playing the remote, deployed folder, venv with alsig of the tag)."""
    if not SNAKEDEPLOY.exists():
        pytest.skip(f"snakedeploy not installed beside {sys.executable} (the test extra has it)")
    work = tmp_path_factory.mktemp("module")
    remote = work / "github.com" / "alsig-dev" / "alsig"
    git("clone", "--quiet", str(REPO), str(remote), cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@t", "tag", "-f", TAG, cwd=remote)
    env = install_venv(remote, work)
    shutil.rmtree(remote / "src")  # the run must not need it: alsig comes from the wheel
    dest = work / "deployed"
    deploy = subprocess.run(
        [str(SNAKEDEPLOY), "deploy-workflow", str(remote), str(dest), "--tag", TAG],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=work,
    )
    assert deploy.returncode == 0, deploy.stderr[-3000:]
    return remote, dest, env


def test_snakedeploy_copies_config_and_profiles_and_declares_the_module(deployment):
    remote, dest, _ = deployment
    snakefile = (dest / "workflow" / "Snakefile").read_text()
    assert f'github("alsig-dev/alsig", path="workflow/Snakefile", tag="{TAG}")' in snakefile
    assert (dest / "config" / "config.yaml").is_file()
    slurm = yaml.safe_load((dest / "profiles" / "slurm" / "profile.yaml").read_text())
    assert slurm["executor"] == "slurm" and "groups" in slurm
    assert (dest / "profiles" / "default" / "profile.yaml").is_file()


def test_the_module_runs_the_demo_from_the_tag(deployment):
    remote, dest, env = deployment
    snakefile = dest / "workflow" / "Snakefile"
    text = snakefile.read_text()
    # the same files at the same tag, read from the local clone instead of GitHub
    git("checkout", "--quiet", TAG, "--", "workflow", "config", cwd=remote)
    text = re.sub(
        r'github\("alsig-dev/alsig", path="workflow/Snakefile", tag="[^"]+"\)',
        f'"{remote}/workflow/Snakefile"',
        text,
    )
    assert f'"{remote}/workflow/Snakefile"' in text
    snakefile.write_text(text)
    config = yaml.safe_load((dest / "config" / "config.yaml").read_text())
    config["enrich"] = dict(FAST_ENRICH)
    (dest / "config" / "config.yaml").write_text(
        yaml.safe_dump(absolute_paths(config, remote), sort_keys=False)
    )
    # the files asserted below (ingest, QC, the DE engine's compiled kernels from the wheel,
    # scores, catalog): the rest of the DAG through the module adds nothing the session's demo
    # run does not check, and each numba engine compiles afresh in the new environment (the
    # two enrichment jobs alone would add ~40 s)
    targets = [
        "results/catalog/signature_scores.manifest.tsv",
        "results/demo/de/ALS_vs_control.parquet",
    ]
    result = subprocess.run(
        [str(env / "bin" / "python"), "-m", "snakemake", "--cores", "2", *targets],
        cwd=dest,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**clean_env(), "PATH": f"{env / 'bin'}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert not (remote / "src").exists()
    scores = alsig.read_scores(dest / "results" / "catalog" / "signature_scores.parquet")
    assert set(scores["dataset"]) == {"demo"}
    assert set(scores["alsig_version"]) == {VERSION}
    assert pl.read_parquet(dest / "results" / "demo" / "de" / "ALS_vs_control.parquet").height
