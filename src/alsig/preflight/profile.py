"""``alsig check-config --profile``: whether a Slurm run has a partition and nodes for its jobs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml


def slurm_partition_warnings(
    profile_dir: Path,
    environ: Mapping[str, str],
    default_partition: Callable[[], str | None],
) -> list[str]:
    """Warn when a Slurm run would have no partition to submit to.

    The shipped Slurm profile names no partition: the executor plugin then submits to the
    cluster's default partition. That fails on a cluster without one unless the user sets
    ``--default-resources slurm_partition=...``, ``SNAKEMAKE_SLURM_PARTITIONS`` or the plugin's
    ``slurm-partition-config``.

    Parameters
    ----------
    profile_dir
        The Snakemake profile the run will use (``--profile``).
    environ
        The environment (``SNAKEMAKE_SLURM_PARTITIONS``).
    default_partition
        Returns the cluster's default partition (None: there is none); raises ``OSError`` when
        Slurm cannot be asked (no ``sinfo`` here).

    Returns
    -------
    list of str
        One warning per problem; empty when the profile is not a Slurm one or a partition is set.
    """
    files = [profile_dir / name for name in ("profile.yaml", "config.yaml")]
    found = next((f for f in files if f.is_file()), None)
    if found is None:
        return [f"--profile {profile_dir}: no profile.yaml (or config.yaml) in it"]
    profile = yaml.safe_load(found.read_text()) or {}
    if profile.get("executor") != "slurm":
        return []
    resources = profile.get("default-resources") or {}
    if (
        (isinstance(resources, dict) and resources.get("slurm_partition"))
        or environ.get("SNAKEMAKE_SLURM_PARTITIONS")
        or profile.get("slurm-partition-config")
    ):
        return []
    how = (
        "pass --default-resources serial=1 mem_mb=2000 runtime=30 slurm_partition=<partition> "
        "to snakemake (it replaces the profile's default-resources: repeat them), or export "
        "SNAKEMAKE_SLURM_PARTITIONS=<partitions.yaml> (sinfo -s lists the partitions)"
    )
    try:
        partition = default_partition()
    except OSError as exc:
        return [
            f"{found}: names no Slurm partition and the cluster's default cannot be checked "
            f"here ({exc}); if the cluster has no default partition, {how}"
        ]
    if partition is None:
        return [
            f"{found}: names no Slurm partition and the cluster has no default partition, so "
            f"every sbatch would be refused; {how}"
        ]
    return []


def slurm_cpu_warnings(profile_dir: Path, node_cpus: Callable[[], int]) -> list[str]:
    """Warn when a job of this Slurm profile would ask for more CPUs than any node has.

    Slurm accepts such a job and leaves it PENDING forever (``squeue`` reason
    ``PartitionConfig``), and Snakemake waits for it without a word.

    Parameters
    ----------
    profile_dir
        The Snakemake profile the run will use (``--profile``).
    node_cpus
        Returns the CPUs of the cluster's largest node; raises ``OSError`` when Slurm cannot be
        asked.

    Returns
    -------
    list of str
        One warning, or none (not a Slurm profile, every job fits, or Slurm cannot be asked).
    """
    from alsig.planning import DE_MOST_THREADS, QC_MOST_THREADS

    found = next(
        (f for f in (profile_dir / n for n in ("profile.yaml", "config.yaml")) if f.is_file()), None
    )
    profile = (yaml.safe_load(found.read_text()) or {}) if found else {}
    if profile.get("executor") != "slurm":
        return []
    asked = {"de, subtypes_de (from 10 M samples x genes)": DE_MOST_THREADS, "qc": QC_MOST_THREADS}
    asked |= {rule: int(n) for rule, n in (profile.get("set-threads") or {}).items()}
    caps = [int(profile[key]) for key in ("cores", "max-threads") if profile.get(key)]
    most = min([max(asked.values()), *caps])
    try:
        cpus = node_cpus()
    except OSError:
        return []
    if most <= cpus:
        return []
    over = ", ".join(f"{rule}: {min([n, *caps])}" for rule, n in asked.items() if n > cpus)
    return [
        f"{found}: jobs ask up to {most} CPUs ({over}) and the largest Slurm node has {cpus}: "
        f"Slurm would keep them PENDING forever (reason PartitionConfig); pass --max-threads "
        f"{cpus} to snakemake"
    ]


def sinfo_node_cpus() -> int:
    """Return the CPUs of the largest node ``sinfo`` lists."""
    sinfo = shutil.which("sinfo")
    if sinfo is None:
        raise OSError("sinfo not found")
    try:
        result = subprocess.run(
            [sinfo, "-h", "-o", "%c"], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.SubprocessError as exc:  # a hung controller: no answer is no warning
        raise OSError(f"sinfo: {exc}") from exc
    if result.returncode != 0:
        raise OSError(f"sinfo: {result.stderr.strip() or result.returncode}")
    counts = [int(c.rstrip("+")) for c in result.stdout.split() if c.rstrip("+").isdigit()]
    if not counts:
        raise OSError("sinfo lists no node")
    return max(counts)


def sinfo_default_partition() -> str | None:
    """Return the partition ``sinfo`` marks as default (``*``), or None."""
    sinfo = shutil.which("sinfo")
    if sinfo is None:
        raise OSError("sinfo not found")
    result = subprocess.run(
        [sinfo, "-h", "-o", "%P"], capture_output=True, text=True, timeout=30, check=False
    )
    if result.returncode != 0:
        raise OSError(f"sinfo: {result.stderr.strip() or result.returncode}")
    return next((p.rstrip("*") for p in result.stdout.split() if p.endswith("*")), None)
