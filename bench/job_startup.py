"""What each job of a workflow run costs before its work: CPU and imports per rule script.

Runs the bundled demo (or any config, ``--configfile``) once in a fresh workdir with
``--skip-script-cleanup``, then reruns every job's script alone, twice: with
``python -X importtime`` (the top-level imports, summed) and plainly (the CPU of the process,
user + sys). Also times a Snakemake start (a dry run of the same DAG) and numba in a fresh
process (``import numba``, then the first call of an already compiled, cached kernel). Prints a
markdown table; ``bench/results/job_startup.md`` holds the readings.

Usage: python bench/job_startup.py [--workdir /tmp/job_startup] [--configfile config/config.yaml]
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
#: The rule of a script Snakemake wrote: ``.snakemake/scripts/tmp<random>.<rule>.py``.
SCRIPT_RULE = re.compile(r"^tmp[^.]+\.(?P<rule>\w+)\.py$")
NUMBA_FIRST_CALL = """
import time
t0 = time.process_time()
import numba
t1 = time.process_time()
import numpy as np
from alsig.gsea.kernels import walk_score
weights = np.ones(100)
ranks = np.arange(0, 100, 10)
t2 = time.process_time()
walk_score(weights, ranks, ranks.size, weights.size)
t3 = time.process_time()
print(f"{t1 - t0:.3f} {t3 - t2:.3f}")
"""


def child_cpu(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    """CPU seconds (user + sys) of ``command`` and its children, and its outcome."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, result


def top_level_imports(importtime_output: str) -> float:
    """Seconds of the top-level imports in ``python -X importtime`` output."""
    total = 0
    for line in importtime_output.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)\S", line)
        if match and len(match.group(2)) == 1:  # one space: imported by the script itself
            total += int(match.group(1))
    return total / 1e6


def prepare(workdir: Path, configfile: Path) -> None:
    """Lay out a fresh workdir (the config, the shipped resources) and run it once."""
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "config").mkdir(parents=True)
    shutil.copy(configfile, workdir / "config" / "config.yaml")
    (workdir / "resources").symlink_to(ROOT / "resources")
    command = [SNAKEMAKE, "-s", str(ROOT / "workflow/Snakefile"), "--cores", "2", "-q"]
    cpu, result = child_cpu([*command, "--skip-script-cleanup"], workdir)
    if result.returncode != 0:
        sys.exit(f"the run failed:\n{result.stderr[-3000:]}")
    print(f"whole run: {cpu:.1f} CPU-s (Snakemake and its jobs)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/job_startup"))
    parser.add_argument("--configfile", type=Path, default=ROOT / "config/config.yaml")
    args = parser.parse_args()
    prepare(args.workdir, args.configfile)

    rows = []
    for script in sorted((args.workdir / ".snakemake/scripts").glob("tmp*.py")):
        match = SCRIPT_RULE.match(script.name)
        if not match:
            continue
        _, traced = child_cpu([sys.executable, "-X", "importtime", str(script)], args.workdir)
        cpu, _ = child_cpu([sys.executable, str(script)], args.workdir)
        rows.append((match["rule"], cpu, top_level_imports(traced.stderr)))
    print("| rule | CPU (s) | imports (s) |\n|---|---:|---:|")
    for rule, cpu, imports in sorted(rows, key=lambda row: -row[1]):
        print(f"| {rule} | {cpu:.2f} | {imports:.2f} |")
    print(
        f"| all {len(rows)} jobs | {sum(r[1] for r in rows):.1f} | {sum(r[2] for r in rows):.1f} |"
    )

    dry_run = [SNAKEMAKE, "-s", str(ROOT / "workflow/Snakefile"), "-n", "-q", "--forceall"]
    cpu, _ = child_cpu(dry_run, args.workdir)
    print(f"\na Snakemake start (a dry run of this DAG): {cpu:.2f} CPU-s")
    _, result = child_cpu([sys.executable, "-c", NUMBA_FIRST_CALL], args.workdir)
    numba_import, first_call = result.stdout.split()
    print(f"numba in a fresh process: import {numba_import} s, first cached call {first_call} s")


if __name__ == "__main__":
    main()
