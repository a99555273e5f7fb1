from alsig.runner import run_stage
from alsig.settings import DeSettings
from alsig.stages.axes import run

run_stage(snakemake, run, DeSettings)  # noqa: F821 (injected by Snakemake)
