from alsig.runner import run_stage
from alsig.stages.qc import run

run_stage(snakemake, run)  # noqa: F821 (injected by Snakemake)
