from alsig.runner import run_stage
from alsig.settings import QcSettings
from alsig.stages.qc import run

run_stage(snakemake, run, QcSettings)  # noqa: F821 (injected by Snakemake)
