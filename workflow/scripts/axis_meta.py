from alsig.runner import run_stage
from alsig.stages.catalog import run_meta

run_stage(snakemake, run_meta)  # noqa: F821 (injected by Snakemake)
