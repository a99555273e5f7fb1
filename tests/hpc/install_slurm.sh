#!/usr/bin/env bash
# Install what the `slurm`-marked test needs (tests/hpc/test_slurm.py): Debian's slurm-wlm and
# munge, and the Snakemake Slurm executor plugin in an environment layered on the given one
# (default: .venv of this checkout; the plugin's: .venv-slurm). Used by .ci/run. Never fails the
# build: when it cannot install (not root, no apt-get, no network) it says why and exits 0, and
# the test then skips with the reason.
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

# The plugin goes into its own environment, .venv-slurm beside the given one and layered on it
# (its site-packages added by a .pth line), used by the Slurm test only: Snakemake imports every
# installed executor plugin at start, and plugin 2.8.0 imports pandas for its efficiency report,
# ~0.4 s in each of the ~90 Snakemake starts of the test suite (bench/results/test_suite.md).
if [ -x "$PYTHON" ]; then
    BASE_VENV="$(cd "$(dirname "$PYTHON")/.." && pwd)"
    SLURM_VENV="$BASE_VENV-slurm"
    if "$SLURM_VENV/bin/python" -c "import snakemake_executor_plugin_slurm, alsig" 2>/dev/null; then
        say "snakemake-executor-plugin-slurm already installed in $SLURM_VENV"
    else
        site_dir="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
        if "$PYTHON" -m venv --clear "$SLURM_VENV" \
            && echo "import site; site.addsitedir('$site_dir')" \
                > "$("$SLURM_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/alsig_base_env.pth" \
            && "$SLURM_VENV/bin/python" -m pip install --quiet "snakemake-executor-plugin-slurm>=2.8,<3"; then
            say "installed snakemake-executor-plugin-slurm in $SLURM_VENV (layered on $BASE_VENV)"
        else
            say "pip install snakemake-executor-plugin-slurm failed (the slurm test will skip)"
        fi
    fi
else
    say "no Python at $PYTHON: not installing the Snakemake Slurm plugin"
fi
exit 0
