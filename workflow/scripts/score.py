from alsig.runner import run_stage
from alsig.settings import ScoreSettings
from alsig.stages.score import run

run_stage(snakemake, run, ScoreSettings)  # noqa: F821 (injected by Snakemake)
