from alsig.runner import run_stage
from alsig.settings import SubtypesSettings
from alsig.stages.subtypes import run

run_stage(snakemake, run, SubtypesSettings)  # noqa: F821 (injected by Snakemake)
