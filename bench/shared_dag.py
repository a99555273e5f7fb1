"""The shared-cohorts DAG from an empty workdir: wall time and CPU, like for like across code and scope.

Each variant is a code revision (``checkout``, or a git revision run from a worktree with its
``src`` on ``PYTHONPATH``), a config (a file, or ``REV:PATH`` read from git history) and an
optional ``de.repeated_subjects`` override (issue 28 times its engine with ``ignore``). Data
paths ``../shared/data`` are made absolute. Variants run in turn, round after round (A B C A B C:
the machine's speed drifts), each in a fresh workdir after one warm-up run of every revision
other than the checkout (its numba kernels compiled there, not in a counted run). Prints one
markdown row per run: wall, CPU (user + sys of Snakemake and every job), the peak RSS summed
over the process tree, and jobs. The worktrees stay under ``--workdir`` for their numba caches
(``git worktree remove`` them when done).

Usage::

    python bench/shared_dag.py --rounds 2 \
        --variant "today, issue-28 config, DESeq2 path=checkout|f64cf55:config/examples/shared_cohorts.yaml|ignore" \
        --variant "issue-28 code and config=f64cf55|f64cf55:config/examples/shared_cohorts.yaml|" \
        --variant "today, shipped config=checkout|config/examples/shared_cohorts.yaml|"

``bench/results/shared_cohorts_dag.md`` holds the readings.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "src")]
from de_vs_deseq2_r import SHARED, run_measured  # noqa: E402

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


@dataclass(frozen=True)
class Variant:
    """One row of the comparison: which code runs which config with which DE model."""

    label: str
    revision: str  # "checkout" or a git revision
    config: str  # a path, or REV:PATH in git history
    repeated_subjects: str  # "" keeps the config's


def parse_variant(text: str) -> Variant:
    """``LABEL=REVISION|CONFIG|REPEATED_SUBJECTS`` (the last part may be empty)."""
    label, _, spec = text.partition("=")
    revision, config, repeated = (spec.split("|") + ["", "", ""])[:3]
    return Variant(label.strip(), revision.strip(), config.strip(), repeated.strip())


def config_text(source: str) -> str:
    """Read the config: a file of the checkout, else ``REV:PATH`` from git history."""
    path = ROOT / source
    if path.is_file():
        return path.read_text()
    revision, _, inside = source.partition(":")
    return subprocess.run(
        ["git", "show", f"{revision}:{inside}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def write_config(variant: Variant, target: Path) -> None:
    """Write the variant's config with absolute data paths and its DE model override."""
    config = yaml.safe_load(config_text(variant.config).replace("../shared/data", str(SHARED)))
    if variant.repeated_subjects:
        config.setdefault("de", {})["repeated_subjects"] = variant.repeated_subjects
        for dataset in config["datasets"].values():
            if "de" in dataset:
                dataset["de"]["repeated_subjects"] = variant.repeated_subjects
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False))


def code_root(revision: str, worktrees: Path) -> Path:
    """Return the checkout, or a worktree of ``revision`` (made once, kept for its numba caches)."""
    if revision == "checkout":
        return ROOT
    tree = worktrees / revision
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "-f", str(tree), revision], cwd=ROOT, check=True)
    return tree


def run_dag(variant: Variant, code: Path, workdir: Path) -> dict[str, float]:
    """Run the variant's DAG from an empty ``workdir``.

    Returns :func:`de_vs_deseq2_r.run_measured`'s wall, CPU and peak RSS, and the jobs finished;
    Snakemake's log stays in ``workdir/snakemake.log`` until the next run.
    """
    shutil.rmtree(workdir, ignore_errors=True)
    configfile = workdir / "config" / "config.yaml"
    write_config(variant, configfile)
    # another revision's alsig comes first on the path (the checkout is installed editable)
    env = None if code == ROOT else {**os.environ, "PYTHONPATH": str(code / "src")}
    command = [SNAKEMAKE, "-s", str(code / "workflow" / "Snakefile"), "--cores", "2"]
    command += ["--configfile", str(configfile), "--directory", str(workdir)]
    log = workdir / "snakemake.log"
    measured = run_measured(command, log, env=env)
    measured["jobs"] = log.read_text().count("Finished jobid")
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", type=parse_variant, required=True)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/shared_dag"))
    args = parser.parse_args()
    worktrees = args.workdir / "worktrees"
    codes = {v.revision: code_root(v.revision, worktrees) for v in args.variant}
    first_of = {v.revision: v for v in reversed(args.variant)}  # one warm-up per revision
    for revision, variant in first_of.items():
        if revision != "checkout":
            run_dag(variant, codes[revision], args.workdir / "warmup")
    print("| round | variant | wall (s) | CPU (s) | peak RSS (GB) | jobs |")
    print("|---|---|---:|---:|---:|---:|")
    for round_ in range(1, args.rounds + 1):
        for variant in args.variant:
            m = run_dag(variant, codes[variant.revision], args.workdir / "run")
            print(
                f"| {round_} | {variant.label} | {m['wall_s']:.1f} | {m['cpu_s']:.1f} "
                f"| {m['peak_rss_mb'] / 1000:.2f} | {m['jobs']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
