from alsig.runner import run_rule
from alsig.stages.qc import run_qc_rule

run_rule(snakemake, run_qc_rule)  # noqa: F821 (injected by Snakemake)
