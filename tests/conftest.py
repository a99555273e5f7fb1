"""Shared test fixtures: paths, the real cohorts in ../shared, and running the workflow.

``demo_run`` is one uninterrupted run of the whole demo DAG (reduced enrichment, every score
method) that the demo, fault, determinism, report and Slurm tests all read, copy or compare
against, so a session pays for it once: under pytest-xdist (``make test``) the first worker that
needs it builds it in the session's shared temporary folder under a file lock, and every other
worker waits for that build and reads it. Tests only read it (a test that runs Snakemake on it
copies it first, or only dry-runs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ALSIG_SHARED_DATA", REPO.parent / "shared" / "data"))
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

needs_shared = pytest.mark.skipif(
    not (SHARED_DATA / "PROVENANCE.md").exists(),
    reason=f"real cohorts not found at {SHARED_DATA} (CI keeps ../shared beside the checkout)",
)


#: modules whose tests take minutes (a Slurm run polled by the executor plugin, a second
#: dataset's DAG, a fresh environment compiling the numba engines, the reprocessing runs, the
#: subtype models' refit: ~65 s on one core with model version 2's wider grids).
#: ``make test`` keeps this order (``--no-loadscope-reorder``): the Slurm test starts at once on
#: one worker while the other builds the shared demo run in the report render's setup; the
#: module test is queued behind the Slurm test (xdist sends each worker its next unit early).
LONGEST_FIRST = (
    "tests/hpc/test_slurm.py",
    "tests/e2e/test_report_render.py",
    "tests/e2e/test_module.py",
    "tests/e2e/test_reprocess.py",
    "tests/integration/test_build_scripts.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the longest tests first: under pytest-xdist they then overlap with the many short
    ones instead of running alone at the end."""

    def rank(item: pytest.Item) -> int:
        module = Path(str(item.path)).relative_to(REPO).as_posix()
        return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a module is kept


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "PROVENANCE.md").exists():
        pytest.skip(f"real cohorts not found at {SHARED_DATA}")
    return SHARED_DATA


# Enrichment is the slow stage (GO BP ~2 min at 1000 permutations on the demo): tests that are not
# about enrichment run two small collections at 100 permutations, which keeps the DAG's shape.
FAST_ENRICH = {"collections": ["hallmark", "alsig_resistance"], "permutations": 100}


def fast_demo_config() -> dict:
    """The shipped demo config (config/config.yaml) with FAST_ENRICH and absolute paths."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["enrich"] = dict(FAST_ENRICH)
    return absolute_paths(config, REPO)


def demo_test_config() -> dict:
    """The configuration of the session's shared demo run: FAST_ENRICH and every score method."""
    config = fast_demo_config()
    config["score"] = {"methods": ["singscore", "ssgsea", "singscore_adjusted"]}
    return config


def missing_r_packages(*packages: str) -> list[str]:
    """The R packages of ``packages`` that are not installed (all of them without Rscript).

    Asks ``system.file`` rather than loading the packages: loading DESeq2's namespace alone costs
    ~5 s of CPU, which a test that runs R afterwards pays again anyway.
    """
    if shutil.which("Rscript") is None:
        return list(packages)
    names = ", ".join(f'"{p}"' for p in packages)
    probe = f"cat(c({names})[!nzchar(sapply(c({names}), function(p) system.file(package = p)))])"
    out = subprocess.run(["Rscript", "-e", probe], capture_output=True, text=True, timeout=120)
    return out.stdout.split() if out.returncode == 0 else list(packages)


def absolute_paths(config: dict, base: Path) -> dict:
    """Dataset file paths made absolute so a config runs from any working directory."""
    for settings in config.get("datasets", {}).values():
        for key in ("counts", "samples", "te_counts"):
            if key in settings and not Path(settings[key]).is_absolute():
                settings[key] = str((base / settings[key]).resolve())
    return config


def workflow_command(
    workdir: Path,
    config: dict,
    *targets: str,
    extra_args: tuple[str, ...] = (),
    cores: int = 1,
) -> list[str]:
    """The snakemake command running this checkout's Snakefile in ``workdir`` with ``config``
    (written to ``workdir/config/config.yaml``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config").mkdir(exist_ok=True)
    config_path = workdir / "config" / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    # --cores (one value) after the extra options ends any that takes several (--set-threads)
    return [*snakemake_in(workdir), *extra_args, "--cores", str(cores), *targets]


def snakemake_in(workdir: Path, config: str = "config/config.yaml") -> list[str]:
    """This checkout's Snakefile run in ``workdir`` with the config file ``config`` there (by
    default the one :func:`workflow_command` writes)."""
    return [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / config),
    ]


def run_workflow(
    workdir: Path,
    config: dict,
    *targets: str,
    extra_args: tuple[str, ...] = (),
    cores: int = 1,
) -> subprocess.CompletedProcess:
    """Run the real workflow (this checkout's Snakefile) in ``workdir`` with ``config``.

    One core unless a test needs more: under ``make test`` two xdist workers already keep both
    cores busy, and a run's jobs side by side on top only oversubscribe them (two demo runs at
    once: 38.5 CPU-s each with ``--cores 1``, 40.8 with ``--cores 2``, for the same work).
    """
    cmd = workflow_command(workdir, config, *targets, extra_args=extra_args, cores=cores)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=1800)


def build_report(workdir: Path, report: Path) -> subprocess.CompletedProcess:
    """``snakemake --report report`` of a finished run in ``workdir`` (its config as
    :func:`workflow_command` wrote it)."""
    cmd = [*snakemake_in(workdir), "--report", str(report)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=600)


@pytest.fixture
def demo_config(repo: Path) -> dict:
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    return absolute_paths(config, repo)


@pytest.fixture
def copy_demo(tmp_path: Path, repo: Path):
    """Copy the bundled demo files into tmp (tests may corrupt the copies)."""

    def _copy() -> Path:
        target = tmp_path / "demo"
        shutil.copytree(repo / "resources" / "demo", target, dirs_exist_ok=True)
        return target

    return _copy


#: tests that read the shared demo run (a marker to select them: ``-m uses_demo_run``)
uses_demo_run = pytest.mark.uses_demo_run

#: the unit modules that fit the repeated-donor models (voom, dream, the axis tests' mixed model)
#: run on one xdist worker: in a fresh clone their numba kernels compile on first use (~18 s of
#: CPU), and two workers starting them at once both compiled them (CI: two tests of 15-19 s each)
uses_voom_kernels = pytest.mark.xdist_group("voom_kernels")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, worker_id: str) -> Path:
    """Workdir of one uninterrupted ``--cores 2`` run of the whole demo DAG (default target),
    built once per session whatever the number of xdist workers."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # pytest-xdist: the workers' folders sit in one session folder
        shared = shared.parent
    workdir, failed = shared / "demo_run", shared / "demo_run.failed"
    with FileLock(str(shared / "demo_run.lock")):
        if failed.exists():
            pytest.fail(f"the shared demo run failed on another worker:\n{failed.read_text()}")
        if not (workdir / ".demo_run_done").exists():
            result = run_workflow(workdir, demo_test_config(), cores=2)
            if result.returncode != 0:
                failed.write_text(result.stderr[-4000:])
                pytest.fail(f"the shared demo run failed:\n{result.stderr[-4000:]}")
            (workdir / ".demo_run_done").touch()
    return workdir
