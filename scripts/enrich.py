from alsig.enrich import run_enrich_rule
from alsig.rule_runner import run_rule

run_rule(snakemake, run_enrich_rule)  # noqa: F821 (injected by Snakemake)
