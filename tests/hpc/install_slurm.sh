#!/usr/bin/env bash
# Install what the `slurm`-marked test needs (tests/hpc/test_slurm.py): Debian's slurm-wlm and
# munge, and the Snakemake Slurm executor plugin in the given Python environment (default:
# .venv of this checkout). Used by .ci/run. Never fails the build: when it cannot install (not
# root, no apt-get, no network) it says why and exits 0, and the test then skips with the reason.
set -uo pipefail

PYTHON="${1:-$(dirname "$0")/../../.venv/bin/python}"

say() { echo "install_slurm: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "not root: not installing slurm-wlm/munge (the slurm test will skip)"
elif ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get: not installing slurm-wlm/munge (the slurm test will skip)"
elif command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
    && command -v sbatch >/dev/null && command -v munged >/dev/null; then
    say "slurm-wlm and munge already installed"
else
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null; then
        say "installed $(dpkg-query -W -f='slurm-wlm ${Version}, ' slurm-wlm)$(dpkg-query -W -f='munge ${Version}' munge)"
    else
        say "apt-get install slurm-wlm munge failed (the slurm test will skip)"
    fi
fi

if [ -x "$PYTHON" ]; then
    if "$PYTHON" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
        say "snakemake-executor-plugin-slurm already installed"
    elif "$PYTHON" -m pip install --quiet "snakemake-executor-plugin-slurm>=2.8,<3"; then
        say "installed snakemake-executor-plugin-slurm"
    else
        say "pip install snakemake-executor-plugin-slurm failed (the slurm test will skip)"
    fi
else
    say "no Python at $PYTHON: not installing the Snakemake Slurm plugin"
fi
exit 0
