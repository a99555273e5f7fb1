from alsig.runner import run_stage
from alsig.settings import SubtypesSettings
from alsig.stages.subtypes import run_discovery

run_stage(snakemake, run_discovery, SubtypesSettings)  # noqa: F821 (injected by Snakemake)
