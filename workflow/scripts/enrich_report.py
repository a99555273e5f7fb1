from alsig.runner import run_stage
from alsig.settings import EnrichSettings
from alsig.stages.enrich import run_report

run_stage(snakemake, run_report, EnrichSettings)  # noqa: F821 (injected by Snakemake)
