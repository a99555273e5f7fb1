from alsig.runner import run_rule
from alsig.stages.enrich import run_enrich_rule

run_rule(snakemake, run_enrich_rule)  # noqa: F821 (injected by Snakemake)
