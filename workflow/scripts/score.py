from alsig.runner import run_rule
from alsig.stages.score import run_score_rule

run_rule(snakemake, run_score_rule)  # noqa: F821 (injected by Snakemake)
