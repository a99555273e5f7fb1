from alsig.runner import run_rule
from alsig.tables import run_catalog_rule

run_rule(snakemake, run_catalog_rule)  # noqa: F821 (injected by Snakemake)
