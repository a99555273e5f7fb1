from alsig.runner import run_stage
from alsig.stages.de import run

run_stage(snakemake, run)  # noqa: F821 (injected by Snakemake)
