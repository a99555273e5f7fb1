from alsig.runner import run_rule
from alsig.stages.ingest import run_download_rule

run_rule(snakemake, run_download_rule)  # noqa: F821 (injected by Snakemake)
