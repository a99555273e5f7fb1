from alsig.runner import run_rule
from alsig.stages.score.figures import run_score_figures_rule

run_rule(snakemake, run_score_figures_rule)  # noqa: F821 (injected by Snakemake)
