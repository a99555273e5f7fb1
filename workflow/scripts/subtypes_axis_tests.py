from alsig.runner import run_stage
from alsig.settings import DeSettings
from alsig.stages.subtypes import run_axis_tests

# the rule passes the de: keys axis tests read (alsig.settings.AXIS_TEST_DE_KEYS)
run_stage(snakemake, run_axis_tests, DeSettings, settings_subset=True)  # noqa: F821
