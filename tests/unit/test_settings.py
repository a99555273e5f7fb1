"""Settings come from one source of truth, the config schema: defaults applied after merging,
checks the schema cannot say, retired keys named, and config/README.md held against it."""

from __future__ import annotations

import re

import pytest
import yaml

from alsig import settings
from alsig.errors import AlsigError
from tests.conftest import REPO

README = (REPO / "config" / "README.md").read_text()


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_dataset_section_overrides_the_top_level_which_overrides_the_schema_default():
    config = demo_config()
    config["enrich"] = {"permutations": 200, "seed": 7}
    config["datasets"]["demo"]["enrich"] = {"permutations": 50}
    resolved = settings.resolve(config, "demo", "enrich")
    assert resolved.permutations == 50  # dataset
    assert resolved.seed == 7  # top level
    assert resolved.min_size == 15  # schema default
    assert resolved.collections == ("hallmark", "reactome", "go_bp", "alsig_resistance")
    # the run's settings are the same objects, resolved once for every dataset and stage
    run = settings.RunSettings(config)
    assert run["demo"].enrich == resolved
    assert run.params("demo", "enrich") == settings.resolve_mapping(config, "demo", "enrich")


@pytest.mark.parametrize("stage", settings.STAGES)
def test_each_stage_settings_class_has_exactly_the_schema_keys(stage):
    """One typed, frozen settings object per stage, its fields the schema section's keys (the
    schema is the one source of the keys and their defaults)."""
    import dataclasses

    schema = settings.config_schema()["definitions"][f"{stage}_settings"]["properties"]
    typed = settings.complete(stage)
    assert [f.name for f in dataclasses.fields(typed)] == list(schema)
    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.seed = 1  # type: ignore[misc]
    # every default comes from the schema, typed
    defaults = settings.defaults(stage)
    for key, value in settings.as_mapping(typed).items():
        expected = defaults[key]
        if stage == "de" and key == "contrasts":
            expected = {k: list(v) for k, v in expected.items()}
        if stage == "qc" and key == "pca_colour_by" and isinstance(expected, str):
            expected = [expected]
        assert value == expected, (stage, key)


def test_a_changed_setting_changes_the_rule_params():
    """Rule params hold plain values (Snakemake's params rerun trigger cannot see a dataclass)."""
    config = demo_config()
    before = settings.RunSettings(config).params("demo", "qc")
    config["qc"] = {"min_count": 20}
    after = settings.RunSettings(config).params("demo", "qc")
    assert repr(before) != repr(after) and after["min_count"] == 20
    assert all(
        isinstance(v, (str, int, float, bool, list, dict, type(None))) for v in after.values()
    )


def test_the_rules_without_a_null_do_not_rerun_on_a_changed_null_or_seed():
    """Subtypes' DE and enrichment and the enrichment's camera read the DE design, never the
    permutation null: de.null_permutations and de.seed rerun the DE job alone."""
    config = demo_config()
    before = settings.RunSettings(config)
    config["de"] = {**config.get("de", {}), "null_permutations": 50, "seed": 9}
    after = settings.RunSettings(config)
    assert before.params("demo", "de") != after.params("demo", "de")  # the DE job reruns
    assert before.de_params_without_null("demo") == after.de_params_without_null("demo")
    assert set(after.params("demo", "de")) - set(after.de_params_without_null("demo")) == set(
        settings.DE_NULL_KEYS
    )
    # the jobs build their settings from that mapping, the null off
    built = settings.de_settings_without_null(after.de_params_without_null("demo"))
    assert built.null_permutations == 0
    assert built.contrasts == after["demo"].de.contrasts
    rules = "".join(f.read_text() for f in (REPO / "workflow" / "rules").glob("*.smk"))
    for rule, key in (("subtypes_de", "settings"), ("subtypes_enrich", "de"), ("enrich", "de")):
        body = re.search(rf"^rule {rule}:\n(?:(?!rule ).*\n)*", rules, re.M)
        assert body is not None, rule
        assert f"{key}=lambda wc: SETTINGS.de_params_without_null(wc.dataset)," in body[0], rule
        assert 'stage_params(wc.dataset, "de")' not in body[0], rule


def test_defaults_are_the_schema_defaults_and_cover_every_key():
    schema = settings.config_schema()
    for stage in settings.STAGES:
        properties = schema["definitions"][f"{stage}_settings"]["properties"]
        assert set(settings.defaults(stage)) == set(properties), stage
    reprocess = settings.defaults("reprocess")
    assert reprocess["default_condition"]["columns"][0] == "disease_state"
    assert settings.section({}, "geo")["cache_dir"] == ".cache/alsig/geo"


def test_values_the_schema_cannot_check_name_the_key():
    config = demo_config()
    config["de"] = {"contrasts": {"same": ["condition", "ALS", "ALS"]}}
    with pytest.raises(AlsigError, match=r"de.contrasts.same: test and reference level are both"):
        settings.resolve(config, "demo", "de")
    with pytest.raises(AlsigError, match=r"dataset demo: config key de.contrasts.same"):
        settings.RunSettings(config)
    config = demo_config()
    config["enrich"] = {"min_size": 50, "max_size": 10}
    with pytest.raises(AlsigError, match=r"dataset demo: config key enrich.min_size \(50\)"):
        settings.check_config(config, workdir=REPO)


def test_a_retired_key_says_what_to_write_instead():
    config = demo_config()
    config["enrich"] = {"threads": 4}
    (message,) = settings.schema_errors(config)
    assert "config key enrich: threads is no longer a key" in message
    assert "--set-threads enrich=N" in message


def _documented(section_heading: str) -> dict[str, str]:
    """``{key: default cell}`` of the first table after a heading of config/README.md."""
    start = README.index(section_heading)
    rows: dict[str, str] = {}
    for line in README[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        keys = re.findall(r"`([^`]+)`", cells[0])
        defaults = [d.strip() for d in cells[1].split(" / ")]
        for i, key in enumerate(keys):
            rows[key] = defaults[i] if len(defaults) == len(keys) else cells[1]
    return rows


def _as_cell(value) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value is None:
        return "`null`"
    if isinstance(value, list):
        return "`[" + ", ".join(map(str, value)) + "]`"
    if isinstance(value, dict):
        return "`{" + ", ".join(f"{k}: [{', '.join(v)}]" for k, v in value.items()) + "}`"
    return f"`{value}`"


@pytest.mark.parametrize("stage", settings.STAGES)
def test_config_readme_documents_every_stage_key_with_its_schema_default(stage):
    documented = _documented(f"### `{stage}`")
    defaults = settings.defaults(stage)
    assert set(documented) == set(defaults), f"{stage}: README and schema keys differ"
    for key, value in defaults.items():
        cell = documented[key]
        expected = _as_cell(value)
        if key == "design":
            expected = f'`"{value}"`'
        assert cell == expected, f"{stage}.{key}: README says {cell}, schema says {expected}"


@pytest.mark.parametrize("section", ["geo", "reprocess"])
def test_config_readme_documents_every_top_level_section_key(section):
    documented = _documented(f"## `{section}`")
    keys = set(settings.defaults(section))
    nested = {k for k in documented if "." in k}
    assert keys == {k for k in documented if "." not in k} | {k.split(".")[0] for k in nested}


def test_the_ingest_reads_only_the_source_keys_of_a_dataset():
    """A changed DE design or enrichment setting must not rerun the ingest (and everything)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    entry = config["datasets"]["demo"]
    entry["de"] = {"design": "~ sex + condition"}
    entry["enrich"] = {"permutations": 50}
    source = settings.RunSettings(config).source_params("demo")
    assert {"de", "enrich", "qc", "score", "subtypes", "description"}.isdisjoint(source)
    assert source == {
        k: v for k, v in entry.items() if k not in {"de", "enrich", "qc", "description"}
    }
    assert source["counts"] == entry["counts"] and source["condition"] == entry["condition"]


def test_type_errors_say_what_to_write():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["enrich"] = {"multilevel_eps": "1e-12"}
    config["output_dir"] = 123
    problems = settings.schema_errors(config)
    assert (
        "config key enrich.multilevel_eps: '1e-12' is not of type 'number'; YAML reads 1e-12 as "
        "text (it wants a dot in a number with an exponent): write e.g. 1.0e-12"
    ) in "\n".join(problems)
    assert (
        "config key output_dir: 123 is not of type 'string'; put it in quotes to make it text: \"123\""
        in problems
    )


def test_a_quoted_number_is_told_to_lose_its_quotes_not_to_add_a_dot():
    config = demo_config()
    config["de"] = {"alpha": "0.1"}
    assert settings.schema_errors(config) == [
        "config key de.alpha: '0.1' is not of type 'number'; it is the text '0.1': write the "
        "number without quotes (values inside `snakemake --config key={...}` are read as YAML, "
        "as in the config file)"
    ]


def test_nested_snakemake_config_values_are_read_as_the_config_file_reads_them():
    """Snakemake reads `--config 'de={alpha: 0.1}'` with YAML's base loader (every value text),
    then merges it over the config file; the workflow reads those texts again as YAML."""
    config = demo_config()
    config["de"] = {"alpha": "0.1", "design": "~ sex + condition", "lfc_shrink": True}
    config["qc"] = {"pca_components": "4", "collapse_by": "subject"}
    config["enrich"] = {"multilevel": "false", "permutations": 200}
    config["output_dir"] = "123"  # a top-level value Snakemake typed itself
    cli = {
        "de": {"alpha": "0.1", "design": "~ sex + condition"},
        "qc": {"pca_components": "4", "collapse_by": "subject"},
        "enrich": {"multilevel": "false"},
        "output_dir": "123",
    }
    settings.retype_cli_values(config, cli)
    assert config["de"] == {"alpha": 0.1, "design": "~ sex + condition", "lfc_shrink": True}
    assert config["qc"] == {"pca_components": 4, "collapse_by": "subject"}
    assert config["enrich"] == {"multilevel": False, "permutations": 200}
    assert config["output_dir"] == "123"
    assert settings.schema_errors(config) == []


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("de", {"design": "~ condition + 0"}, "config key de.design: '~ condition + 0' has no"),
        ("de", {"design": "~ sex + condition - 1"}, "has no intercept ('+ 0' / '- 1')"),
        (
            "de",
            {
                "contrasts": {
                    "c": {"contrast": ["condition", "ALS", "control"], "design": "~ 0 + condition"}
                }
            },
            "config key de.contrasts.c.design: '~ 0 + condition' has no intercept",
        ),
        ("qc", {"vst_n_genes": 2}, "config key qc.vst_n_genes: 2 gene(s) cannot fit the VST's"),
    ],
)
def test_settings_that_cannot_give_a_result_are_refused(section, value, message):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config[section] = value
    with pytest.raises(AlsigError) as error:
        settings.RunSettings(config)
    assert message in str(error.value)
