from alsig.runner import run_rule
from alsig.stages.enrich import run_enrich_report_rule

run_rule(snakemake, run_enrich_report_rule)  # noqa: F821 (injected by Snakemake)
