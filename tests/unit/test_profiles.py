"""The shipped Snakemake profiles: nothing to fill in, no thread cap from the default profile, the
Slurm groups name real rules, and snakedeploy finds them (``profiles/`` at the repository root)."""

from __future__ import annotations

import re

import yaml

from alsig import planning
from tests.conftest import REPO

PROFILES = REPO / "workflow" / "profiles"


def rule_names() -> set[str]:
    text = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    return set(re.findall(r"(?m)^rule (\w+):", text))


def test_no_placeholder_in_a_shipped_file():
    shipped = [REPO / "README.md", *(REPO / f for f in ("workflow", "config", "docs", "src"))]
    files = [p for top in shipped for p in ([top] if top.is_file() else top.rglob("*"))]
    hits = [
        str(p.relative_to(REPO))
        for p in files
        if p.is_file()
        and p.suffix in {".yaml", ".md", ".py", ".smk", ".rst", ""}
        and "CHANGE_ME" in p.read_text(errors="ignore")
    ]
    assert hits == []


def test_the_default_profile_sets_no_cores():
    # a workflow profile is applied on top of --profile: `cores: all` would cap a Slurm run's
    # threads at the login node's cores
    default = yaml.safe_load((PROFILES / "default" / "profile.yaml").read_text())
    assert "cores" not in default and "jobs" not in default


def test_the_slurm_profile_groups_real_rules_and_leaves_partition_to_the_plugin():
    slurm = yaml.safe_load((PROFILES / "slurm" / "profile.yaml").read_text())
    assert slurm["executor"] == "slurm"
    assert set(slurm["groups"]) <= rule_names()
    assert set(slurm["group-components"]) <= set(slurm["groups"].values())
    assert {"enrich", "enrich_report"} <= set(slurm["groups"])
    assert slurm["groups"]["enrich"] == slurm["groups"]["enrich_report"]
    resources = slurm["default-resources"]
    assert "slurm_partition" not in resources and "slurm_account" not in resources
    # the plugin lets a default mem_mb_per_cpu override every rule's mem_mb (plugin issue #335)
    assert "mem_mb_per_cpu" not in resources


def test_profiles_are_where_snakedeploy_copies_them():
    # snakedeploy deploy-workflow copies <repo>/profiles to <dest>/profiles
    assert (REPO / "profiles").resolve() == PROFILES.resolve()
    assert (REPO / "profiles" / "slurm" / "profile.yaml").is_file()


def _readme_row(rule: str) -> str:
    rows = [line for line in (REPO / "README.md").read_text().splitlines() if line.startswith(rule)]
    assert len(rows) == 1, rows
    return rows[0]


def test_the_readme_resource_table_states_the_planned_memory_models():
    def model(memory: dict[str, float]) -> str:
        return f"{memory['base_mb'] / 1000:g} GB + {memory['bytes_per_cell']:g} bytes"

    assert model(planning.QC_MEMORY) in _readme_row("| `qc` |")
    de_row = _readme_row("| `de_<dataset>` (one per dataset), `subtypes_de` |")
    for memory in (planning.DE_MEMORY, planning.DE_MIXED_MEMORY, planning.PYDESEQ2_MEMORY):
        assert model(memory) in de_row


def test_no_shipped_text_sets_resources_of_a_rule_named_de():
    """Each dataset's DE job is the rule de_<dataset>: a setting for `de` would be refused."""
    texts = [REPO / "README.md", PROFILES / "slurm" / "profile.yaml", REPO / "config" / "README.md"]
    texts += sorted((REPO / "docs").glob("*.md"))
    pattern = re.compile(r"--set-(?:resources|threads) de[:=]")
    assert [str(p) for p in texts if pattern.search(p.read_text())] == []
    slurm = yaml.safe_load((PROFILES / "slurm" / "profile.yaml").read_text())
    assert set(slurm.get("set-threads") or {}) <= rule_names()
    assert set(slurm.get("set-resources") or {}) <= rule_names()
