from alsig.runner import run_stage
from alsig.settings import DeSettings
from alsig.stages.axes import run

# the rule passes the de: keys axis tests read (alsig.settings.AXIS_TEST_DE_KEYS)
run_stage(snakemake, run, DeSettings, settings_subset=True)  # noqa: F821 (injected by Snakemake)
