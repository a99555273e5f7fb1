"""``alsig check-config --profile``: whether a Slurm run has a partition to submit to."""

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
        "pass --default-resources slurm_partition=<partition> to snakemake, or export "
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
