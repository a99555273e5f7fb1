from alsig.runner import run_stage
from alsig.stages.enrich import run_report

run_stage(snakemake, run_report)  # noqa: F821 (injected by Snakemake)
