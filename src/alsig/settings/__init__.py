"""Configuration: the schema (keys, types, defaults, checks) and the typed settings of each stage.

:mod:`alsig.settings.schema` reads ``workflow/schemas/config.schema.yaml``, the one source of
every key and default, and resolves a dataset's stage section; :mod:`alsig.settings.stages`
holds the frozen settings object of each stage; :mod:`alsig.settings.run` resolves a whole run
once; :mod:`alsig.settings.cli_values` reads nested ``snakemake --config`` values as YAML.
Standard library (and jsonschema/yaml for the schema itself) only: the workflow imports it at
parse time.
"""

from alsig.settings.cli_values import retype_cli_values
from alsig.settings.run import DatasetSettings, RunSettings, complete, output_dir_of, resolve
from alsig.settings.schema import (
    STAGES,
    check_config,
    config_schema,
    dataset_defaults,
    defaults,
    resolve_mapping,
    resolve_ref,
    schema_errors,
    section,
)
from alsig.settings.stages import (
    AXIS_TEST_DE_KEYS,
    DE_NULL_KEYS,
    Contrast,
    DeSettings,
    DeTest,
    EnrichSettings,
    ExtraGmt,
    QcSettings,
    ScoreSettings,
    SubtypesSettings,
    as_mapping,
    de_settings_without_null,
)

__all__ = [
    "AXIS_TEST_DE_KEYS",
    "DE_NULL_KEYS",
    "STAGES",
    "Contrast",
    "DatasetSettings",
    "DeSettings",
    "DeTest",
    "EnrichSettings",
    "ExtraGmt",
    "QcSettings",
    "RunSettings",
    "ScoreSettings",
    "SubtypesSettings",
    "as_mapping",
    "de_settings_without_null",
    "check_config",
    "complete",
    "config_schema",
    "dataset_defaults",
    "defaults",
    "output_dir_of",
    "resolve",
    "resolve_mapping",
    "resolve_ref",
    "retype_cli_values",
    "schema_errors",
    "section",
]
