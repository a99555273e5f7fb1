from alsig.runner import run_stage
from alsig.stages.subtypes import run_de

# params.settings: the de: mapping without the null's keys (run_de builds the settings)
run_stage(snakemake, run_de)  # noqa: F821 (injected by Snakemake)
