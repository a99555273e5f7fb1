from alsig.report.summary import run
from alsig.runner import run_stage

run_stage(snakemake, run)  # noqa: F821 (injected by Snakemake)
