from alsig.runner import run_rule
from alsig.stages.ingest import run_ingest_rule

run_rule(snakemake, run_ingest_rule)  # noqa: F821 (injected by Snakemake)
