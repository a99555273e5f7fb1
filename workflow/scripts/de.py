from alsig.runner import run_rule
from alsig.stages.de import run_de_rule

run_rule(snakemake, run_de_rule)  # noqa: F821 (injected by Snakemake)
