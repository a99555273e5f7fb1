from alsig.runner import run_stage
from alsig.stages.ingest import run_download

run_stage(snakemake, run_download)  # noqa: F821 (injected by Snakemake)
