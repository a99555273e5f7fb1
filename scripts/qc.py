from alsig.qc import run_qc_rule
from alsig.rule_runner import run_rule

run_rule(snakemake, run_qc_rule)  # noqa: F821 (injected by Snakemake)
