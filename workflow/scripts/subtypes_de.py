from alsig.runner import run_stage
from alsig.settings import DeSettings
from alsig.stages.subtypes import run_de

run_stage(snakemake, run_de, DeSettings)  # noqa: F821 (injected by Snakemake)
