"""The demo DAG run through a real (single-node, localhost) Slurm with workflow/profiles/slurm.

Starts munged/slurmctld/slurmd with tests/hpc/slurm_cluster.py, runs the workflow once locally and
once with the shipped `--profile workflow/profiles/slurm` as it is (no partition or account in it:
the plugin finds the cluster's default partition), checks that every submission went through
Slurm (squeue lists it as COMPLETED under the run's job name, with the rule in the job comment),
that the profile's groups ran as one submission each (the enrichment collections of a contrast with
their dot plot; the dataset's figures and tables), and that both runs produced the same results.
Skips with the reason when Slurm/munge are not installed or this is not root (install:
tests/hpc/install_slurm.sh). Takes a few minutes: Slurm polling.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from alsig.planning import JOB_OVERHEAD_MB
from tests.conftest import REPO, demo_test_config, uses_demo_run, workflow_command
from tests.hpc.slurm_cluster import (
    ForeignSlurmError,
    SlurmCluster,
    missing_requirements,
    run,
)

PROFILE = REPO / "workflow" / "profiles" / "slurm" / "profile.yaml"


def _skip_reason() -> str | None:
    problems = missing_requirements()
    if slurm_python() is None:
        problems.append(
            "snakemake-executor-plugin-slurm not installed (tests/hpc/install_slurm.sh puts it in "
            f'{Path(sys.prefix + "-slurm")}; or pip install -e ".[slurm]")'
        )
    return "; ".join(problems) or None


def slurm_python() -> str | None:
    """The Python whose environment has the Slurm executor plugin.

    tests/hpc/install_slurm.sh installs it in an environment of its own layered on this one
    (``<this environment>-slurm``), so that the suite's other Snakemake runs do not import it at
    every start; a plugin installed here (``pip install -e ".[slurm]"``) serves as well.
    """
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None:
        return sys.executable
    layered = Path(sys.prefix + "-slurm")
    if any(layered.glob("lib/python*/site-packages/snakemake_executor_plugin_slurm/__init__.py")):
        return str(layered / "bin" / "python")
    return None


def run_with_plugin(workdir: Path, config: dict, extra_args: tuple[str, ...]):
    """:func:`tests.conftest.run_workflow` with the Python of :func:`slurm_python`."""
    # --cores: the per-submission cap in a Slurm run; 2, as the local demo_run's cores
    command = workflow_command(workdir, config, extra_args=extra_args, cores=2)
    command[:1] = [str(slurm_python()), "-m", "snakemake"]
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=1800)


pytestmark = [
    pytest.mark.slurm,
    pytest.mark.slow,
    pytest.mark.skipif(_skip_reason() is not None, reason=f"no local Slurm: {_skip_reason()}"),
]


@pytest.fixture(scope="module")
def slurm_cluster():
    cluster = SlurmCluster()
    try:
        cluster.start()
    except ForeignSlurmError as error:
        pytest.skip(f"not starting a test Slurm beside an existing one: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


def log_blocks(snakemake_output: str) -> list[str]:
    """Snakemake's output cut at each timestamp line ("[Sun Dec  6 17:26:44 2026]": alone on its
    line before a single job, followed by " Group job ..." for a group)."""
    return re.split(r"(?m)^(?=\[\w{3} \w{3} +\d+ [\d:]+ \d{4}\])", snakemake_output)


def submissions(snakemake_output: str) -> tuple[list[str], dict[str, list[str]]]:
    """What Snakemake sent to the executor: the rules of single jobs (local rules print
    `localrule`) and, per group job, its group and the rules inside it."""
    singles, groups = [], {}
    for block in log_blocks(snakemake_output):
        group = re.search(r"\] Group job (\w+) \(", block)
        if group:
            groups.setdefault(group.group(1), []).append(
                sorted(re.findall(r"(?m)^\s+rule (\w+):$", block))
            )
        else:
            singles += re.findall(r"(?m)^rule (\w+):$", block)
    return singles, groups


def squeue_jobs(run_id: str) -> list[dict[str, str]]:
    """All jobs (any state; MinJobAge keeps finished ones) of one Snakemake run."""
    result = run(["squeue", "-t", "all", "-h", "-o", "%i|%j|%T|%C|%m|%l|%k"])
    assert result.returncode == 0, result.stderr
    jobs = []
    for line in result.stdout.splitlines():
        job_id, name, state, cpus, memory, limit, comment = line.split("|", 6)
        if name == run_id:
            jobs.append(
                {
                    "id": job_id,
                    "state": state,
                    "cpus": cpus,
                    "mem": memory,
                    "time_limit": limit,
                    "comment": comment,
                }
            )
    return jobs


def group_runtimes(snakemake_output: str, group: str) -> list[int]:
    """The planned runtime (minutes) of each member of ``group``'s submissions."""
    return [
        int(minutes)
        for block in log_blocks(snakemake_output)
        if re.search(rf"\] Group job {group} \(", block)
        for minutes in re.findall(r"(?m)^\s+resources: .*\bruntime=(\d+)", block)
    ]


# --- comparing the two runs ----------------------------------------------------------------

SKIP_PARTS = {"logs", "benchmarks", ".snakemake"}


def result_files(workdir: Path) -> dict[str, Path]:
    root = workdir / "results"
    return {
        str(p.relative_to(root)): p
        for p in root.rglob("*")
        if p.is_file() and not SKIP_PARTS & set(p.relative_to(root).parts)
    }


def dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


def assert_same_h5ad(local: Path, cluster: Path) -> None:
    a, b = ad.read_h5ad(local), ad.read_h5ad(cluster)
    np.testing.assert_allclose(dense(a.X), dense(b.X), rtol=1e-9, atol=0)
    assert a.X.dtype == b.X.dtype
    assert sorted(a.layers) == sorted(b.layers)
    for layer in a.layers:
        np.testing.assert_allclose(dense(a.layers[layer]), dense(b.layers[layer]), rtol=1e-6)
    pd.testing.assert_frame_equal(a.obs, b.obs, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(a.var, b.var, check_exact=False, rtol=1e-9)


# run-time measurements and timestamps legitimately differ between two runs
VOLATILE_COLUMN = re.compile(r"seconds|elapsed|timestamp|created_at|wall_time|n_cpus", re.I)


def read_table(path: Path, workdir: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        table = pd.read_parquet(path)
    else:
        text = path.read_text().replace(str(workdir), "<workdir>")
        # MultiQC custom content (*_mqc.tsv) starts with a '#' YAML header
        table = pd.read_csv(StringIO(text), sep="\t", comment="#" if "_mqc" in path.name else None)
    return table.drop(columns=[c for c in table.columns if VOLATILE_COLUMN.search(str(c))])


def assert_same_results(local_dir: Path, cluster_dir: Path) -> list[str]:
    """Same result files in both runs, same values in every h5ad/parquet/tsv (all differences
    are collected, so one failure lists every file that differs)."""
    local, cluster = result_files(local_dir), result_files(cluster_dir)
    assert sorted(local) == sorted(cluster)
    compared, differences = [], []
    for rel, path in sorted(local.items()):
        other = cluster[rel]
        try:
            if rel.endswith(".h5ad"):
                assert_same_h5ad(path, other)
            elif rel.endswith((".parquet", ".tsv")):
                pd.testing.assert_frame_equal(
                    read_table(path, local_dir),
                    read_table(other, cluster_dir),
                    check_exact=False,
                    rtol=1e-9,
                    obj=rel,
                )
            else:  # figures, JSON provenance with timestamps: presence is checked above
                assert other.stat().st_size > 0, f"{rel} is empty"
                continue
        except AssertionError as error:
            differences.append(f"{rel}: {error}")
            continue
        compared.append(rel)
    assert not differences, "\n\n".join(differences)
    return compared


@uses_demo_run
def test_demo_dag_through_slurm_matches_local_run(tmp_path, slurm_cluster, request):
    # The whole demo DAG with two small collections at 100 permutations (this test is about
    # execution, and both runs use the same config as the session's local run, demo_run).
    demo_config = demo_test_config()
    # the same threads in both runs (demo_run ran locally with --cores 2)
    max_threads = min(slurm_cluster.cpus, 2)

    assert "CHANGE_ME" not in PROFILE.read_text()
    cluster_args = (
        # the shipped profile as it is: the plugin finds the default partition (debug)
        "--profile",
        str(PROFILE.parent),
        # no accounting on the test cluster: sacct is disabled, squeue keeps finished jobs
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--max-threads",
        str(max_threads),
        "--slurm-keep-successful-logs",
    )
    # A job asking more memory than the node has would stay PENDING forever: skip instead.
    plan = run_with_plugin(tmp_path / "cluster", demo_config, extra_args=(*cluster_args, "-n"))
    assert plan.returncode == 0, plan.stderr[-3000:]
    largest = max(map(int, re.findall(r"\bmem_mb=(\d+)", plan.stdout + plan.stderr)))
    if largest > slurm_cluster.memory_mb:
        pytest.skip(f"a demo job asks {largest} MB; the test node has {slurm_cluster.memory_mb} MB")

    started = time.monotonic()
    result = run_with_plugin(tmp_path / "cluster", demo_config, extra_args=cluster_args)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    print(f"Slurm run of the demo DAG: {elapsed:.0f} s")

    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    jobs = squeue_jobs(run_id)
    rules, groups = submissions(output)
    assert "ingest" in rules
    # grouped: the contrast's collections and its dot plot in one submission; the dataset's
    # figure/test jobs in one (group-components: summaries=4); the subtypes' DE (one job)
    # and their enrichment in one; the run-level tables in one (run=3); the browsable tables
    # (they read the enrichment) on their own
    assert groups["enrich"] == [["enrich", "enrich", "enrich_report"]], groups
    assert sorted(sum(groups["summaries"], [])) == [
        "axis_tests",
        "score_figures",
        "subtypes",
        "subtypes_axis_tests",
        "subtypes_discovery",
    ], groups
    assert "browse_tables" in rules
    assert len(groups["carry"]) == 1, groups
    carried = groups["carry"][0]
    assert carried.count("subtypes_de") == 1 and set(carried) == {"subtypes_de", "subtypes_enrich"}
    assert sorted(sum(groups["run"], [])) == ["axis_meta", "catalog", "run_summary"], groups
    grouped_rules = {"enrich", "enrich_report", "score_figures", "subtypes_de"}
    assert not grouped_rules & set(rules)
    n_submissions = len(rules) + sum(len(v) for v in groups.values())
    assert len(jobs) == n_submissions, (jobs, rules, groups)
    assert n_submissions <= 9  # ungrouped, the demo DAG makes 18 submissions (19 jobs, `all` local)
    assert {job["state"] for job in jobs} == {"COMPLETED"}, jobs
    # the plugin's job step runs a submission's jobs one at a time (`--jobs 1`); the profile's
    # `serial` slot tells Snakemake, so the summaries group (four independent 1-thread jobs, which
    # would otherwise ask for --cores 2) asks for one CPU, its largest member's memory and the
    # sum of their runtimes (sbatch -t), which the layered estimate left short
    summaries = [j for j in jobs if j["comment"].startswith("rule_summaries_")]
    total = sum(group_runtimes(output, "summaries"))
    assert total > 0
    limit = f"{total // 60}:{total % 60:02d}:00" if total >= 60 else f"{total}:00"  # squeue %l
    requested = [(j["cpus"], j["mem"], j["time_limit"]) for j in summaries]
    largest = 1000 + JOB_OVERHEAD_MB  # its members' 1 GB work, and the job's own Snakemake
    assert requested == [("1", f"{largest}M", limit)], jobs
    # the job comment names the rule, or the group and the rules in it
    # (e.g. rule_summaries_axis_tests_score_figures_subtypes_subtypes_axis_tests)
    comments = [j["comment"] for j in jobs]
    for group, runs in groups.items():
        grouped = [c for c in comments if c.startswith(f"rule_{group}_")]
        assert len(grouped) == len(runs), (group, comments)
        comments = [c for c in comments if c not in grouped]
    job_rules = sorted(re.match(r"rule_(\w+?)(_wildcards_|$)", c).group(1) for c in comments)
    assert job_rules == sorted(rules)
    # the plugin's Slurm log of every submission is kept (--slurm-keep-successful-logs)
    slurm_logs = list((tmp_path / "cluster" / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert len(slurm_logs) == len(jobs)
    # a group's log folder is group_<group>_<its rules>
    folders = {
        p.relative_to(tmp_path / "cluster" / ".snakemake/slurm_logs").parts[0] for p in slurm_logs
    }
    assert {f.split("_")[1] for f in folders if f.startswith("group_")} == set(groups)

    # asked for only now: another worker builds the shared local run while Slurm runs this one
    demo_run = request.getfixturevalue("demo_run")
    compared = assert_same_results(demo_run, tmp_path / "cluster")
    assert any(rel.endswith("counts.h5ad") for rel in compared)
