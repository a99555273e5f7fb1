from alsig.runner import run_stage
from alsig.stages.score import run_axis_tests

run_stage(snakemake, run_axis_tests)  # noqa: F821 (injected by Snakemake)
