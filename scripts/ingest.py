from alsig.ingest import run_ingest_rule
from alsig.rule_runner import run_rule

run_rule(snakemake, run_ingest_rule)  # noqa: F821 (injected by Snakemake)
