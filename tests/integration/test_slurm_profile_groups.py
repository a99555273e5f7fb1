"""The Slurm profile's group sizing, as Snakemake computes it (imports Snakemake: not a unit
test, see tests/unit/conftest.py)."""

from __future__ import annotations

import yaml

from tests.conftest import REPO

PROFILES = REPO / "workflow" / "profiles"


def test_the_slurm_profile_sizes_a_group_for_one_job_at_a_time():
    """The plugin's job step runs a submission's jobs one after another (``--jobs 1``): with one
    ``serial`` slot per submission that every job takes, Snakemake sizes a group by its largest
    member (CPUs, memory) and the sum of the runtimes; local, so groups still run side by side
    (tests/hpc/test_slurm.py holds the request Slurm receives)."""
    from snakemake.resources import GroupResources, Resource, Resources

    slurm = yaml.safe_load((PROFILES / "slurm" / "profile.yaml").read_text())
    assert slurm["resources"] == {"serial": 1} and slurm["default-resources"]["serial"] == 1
    assert slurm["set-resource-scopes"] == {"serial": "local"}

    def size(slot: dict) -> tuple:
        """A group of four independent 1-thread jobs and one after them, sized as Snakemake does."""

        class Member:
            def __init__(self, runtime: int) -> None:
                self.resources = {"_cores": 1, "_nodes": 1, "mem_mb": 1000, "runtime": runtime}
                self.resources |= slot
                self.pipe_group = None

        constraints = {"_cores": slurm["cores"], "_nodes": slurm["jobs"], **slot}
        group = GroupResources.basic_layered(
            [[Member(20), Member(10), Member(30), Member(60)], [Member(20)]],
            Resources({k: Resource(k, v) for k, v in constraints.items()}),
            run_local=False,
        )
        return group["_cores"], group["mem_mb"], group["runtime"]

    assert size(slurm["resources"]) == (1, 1000, 140)
    assert size({}) == (4, 4000, 80)  # without the slot: CPUs it does not use, time too short
