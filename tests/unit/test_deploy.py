"""One version everywhere a deployment reads it: the package (pyproject.toml), the workflow's
check of the installed package (common.smk), the jobs' conda env pin and the changelog."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.conftest import REPO


def package_version() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_workflow_env_and_changelog_name_the_package_version():
    version = package_version()
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    assert re.search(rf'(?m)^ALSIG_VERSION = "{re.escape(version)}"', common)
    env = yaml.safe_load((REPO / "workflow" / "envs" / "alsig.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert f"alsig=={version}" in pip
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert f"## {version}" in changelog
    assert re.search(rf"\| package `alsig` \| {re.escape(version)} \|", changelog)


def test_the_workflow_puts_no_src_folder_on_the_path():
    text = "\n".join(
        p.read_text()
        for p in [REPO / "workflow" / "Snakefile", *(REPO / "workflow").rglob("*.smk")]
    )
    assert "PYTHONPATH" not in text and "sys.path" not in text
