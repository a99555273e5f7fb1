from alsig.runner import run_stage
from alsig.settings import DeSettings
from alsig.stages.subtypes import run_axis_tests

run_stage(snakemake, run_axis_tests, DeSettings)  # noqa: F821 (injected by Snakemake)
