from alsig.runner import run_stage
from alsig.settings import EnrichSettings
from alsig.stages.subtypes import run_enrich

run_stage(snakemake, run_enrich, EnrichSettings)  # noqa: F821 (injected by Snakemake)
