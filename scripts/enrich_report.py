from alsig.enrich import run_enrich_report_rule
from alsig.rule_runner import run_rule

run_rule(snakemake, run_enrich_report_rule)  # noqa: F821 (injected by Snakemake)
