from alsig.de import run_de_rule
from alsig.rule_runner import run_rule

run_rule(snakemake, run_de_rule)  # noqa: F821 (injected by Snakemake)
