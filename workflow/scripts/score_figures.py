from alsig.runner import run_stage
from alsig.stages.score import run_figures

run_stage(snakemake, run_figures)  # noqa: F821 (injected by Snakemake)
