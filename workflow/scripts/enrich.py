from alsig.runner import run_stage
from alsig.settings import EnrichSettings
from alsig.stages.enrich import run

run_stage(snakemake, run, EnrichSettings)  # noqa: F821 (injected by Snakemake)
