from alsig.ingest import run_download_rule
from alsig.rule_runner import run_rule

run_rule(snakemake, run_download_rule)  # noqa: F821 (injected by Snakemake)
