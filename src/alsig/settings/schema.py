"""The config schema as the one source of truth for keys, types and defaults.

``workflow/schemas/config.schema.yaml`` says which keys exist, what they may hold and their
defaults. This module

- reports schema violations one line per problem, naming the key (:func:`schema_errors`);
- resolves the settings a job gets: stage defaults of the schema, overridden by the config's
  top-level stage section, overridden by the dataset's own section (:func:`resolve_mapping`;
  :mod:`alsig.settings.stages` makes the typed object of it);
- checks what a schema cannot say (cross-field rules, regexes that compile, files that exist)
  for every dataset before any job runs (:func:`check_config`).

Defaults are applied after merging, never by the schema validator: a validator would fill them
into a dataset's own section and mask the top-level values.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alsig.errors import AlsigError
from alsig.resources import load_schema
from alsig.validation import did_you_mean, path_problem

STAGES = ("qc", "de", "enrich", "score", "subtypes")
#: Contrast and test names the DE stage's own files take (``de/summary.tsv``: planning.DE_SUMMARY).
RESERVED_DE_NAMES = ("summary",)

#: Keys that were removed or renamed, and what to write instead.
RETIRED_KEYS: dict[tuple[str, str], str] = {
    ("qc", "exclude_sex_mismatch"): (
        "sex-label mismatches are handled by `qc.sex_mismatch: exclude | use_inferred | keep` "
        "(default exclude: the sample leaves DE and the control references but is still scored;"
        " `exclude_sex_mismatch: false` was `keep`)"
    ),
    ("enrich", "threads"): (
        "the threads of enrichment jobs are a scheduling choice: give them with "
        "`--set-threads enrich=N` or the profile's `set-threads` (workflow/profiles/*/profile.yaml)"
    ),
}


def config_schema() -> dict[str, Any]:
    """Return the config JSON schema, parsed."""
    return load_schema("config")


def resolve_ref(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return a config-schema node with its ``$ref`` resolved (recursively), its own keys kept.

    Parameters
    ----------
    node
        A node of the config schema.

    Returns
    -------
    Mapping
        The referenced definition, updated by the node's other keys.
    """
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = config_schema()
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**resolve_ref(target), **{k: v for k, v in node.items() if k != "$ref"}}


def _section_schema(name: str) -> Mapping[str, Any]:
    if name in STAGES:
        return config_schema()["definitions"][f"{name}_settings"]
    return resolve_ref(config_schema()["properties"][name])


def apply_defaults(node: Mapping[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    """Return ``value`` with the schema ``node``'s property defaults filled in.

    Recursively for nested objects; a copy (``value`` is not changed).
    """
    out = copy.deepcopy(value)
    for key, prop in (node.get("properties") or {}).items():
        prop = resolve_ref(prop)
        if key not in out and "default" in prop:
            out[key] = copy.deepcopy(prop["default"])
        if isinstance(out.get(key), dict) and prop.get("properties"):
            out[key] = apply_defaults(prop, out[key])
    return out


def defaults(section: str) -> dict[str, Any]:
    """Return every default of one config section, as the schema states them.

    Sections: ``qc``, ``de``, ``enrich``, ``score``, ``subtypes``, ``geo``, ``reprocess``.
    """
    return apply_defaults(_section_schema(section), {})


def dataset_defaults() -> dict[str, Any]:
    """Return the schema defaults of a ``datasets.<id>`` entry's own keys (``counts_rounding``)."""
    return apply_defaults(config_schema()["definitions"]["dataset"], {})


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged into a copy of ``base``, key by key for nested mappings."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def section(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Return a top-level section (``geo``, ``reprocess``) with its defaults, checked.

    Normalised and checked; schema-check the config first.

    Raises
    ------
    AlsigError
        A value the schema cannot reject (a regex that does not compile), naming the config key.
    """
    settings = apply_defaults(_section_schema(name), dict(config.get(name) or {}))
    check = _SECTION_CHECKS.get(name)
    return check(settings) if check else settings


def complete_mapping(stage: str, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return a stage's settings mapping from a partial one, for callers outside the workflow.

    For a script, a notebook, a test: checked against the schema, the schema's defaults filled
    in, normalised.

    Parameters
    ----------
    stage
        One of :data:`STAGES`.
    settings
        Any subset of the stage's keys.

    Raises
    ------
    AlsigError
        One line per problem, naming the key (``config key de.alpha: ...``).
    """
    import jsonschema

    given = {k: v for k, v in dict(settings or {}).items()}
    schema = {"definitions": config_schema()["definitions"], **_section_schema(stage)}
    problems = []
    for error in jsonschema.Draft202012Validator(schema).iter_errors(given):
        path = ".".join([stage, *map(str, error.absolute_path)])
        if error.validator == "additionalProperties":
            problems.append(_unknown_keys_message(path, error))
        else:
            problems.append(f"config key {path}: {error.message}")
    if problems:
        raise AlsigError("; ".join(problems))
    return _CHECKS[stage](apply_defaults(_section_schema(stage), given))


def resolve_mapping(config: Mapping[str, Any], dataset: str, stage: str) -> dict[str, Any]:
    """Return the settings one job of ``stage`` gets for ``dataset``.

    Schema defaults, then the config's top-level section, then the dataset's own section;
    normalised and checked.

    Parameters
    ----------
    config
        The workflow config (already schema-checked).
    dataset
        A key of ``config["datasets"]``.
    stage
        One of :data:`STAGES`.

    Raises
    ------
    AlsigError
        A value the schema cannot reject (e.g. a contrast comparing a level with itself),
        naming the config key.
    """
    merged = deep_merge(config.get(stage) or {}, config["datasets"][dataset].get(stage) or {})
    settings = apply_defaults(_section_schema(stage), merged)
    return _CHECKS[stage](settings)


def _check_qc(settings: dict[str, Any]) -> dict[str, Any]:
    if isinstance(settings["pca_colour_by"], str):
        settings["pca_colour_by"] = [settings["pca_colour_by"]]
    if 0 < int(settings["vst_n_genes"]) < 3:
        raise AlsigError(
            f"config key qc.vst_n_genes: {settings['vst_n_genes']} gene(s) cannot fit the VST's "
            "dispersion trend; use at least 3 (default 1000), or 0 for every gene."
        )
    return settings


#: ``+ 0``, ``0 +`` or ``- 1`` in a formula: no intercept.
_NO_INTERCEPT = re.compile(r"(?:[~+]\s*0\b)|(?:-\s*1\b)")


def _check_intercept(design: str, key: str) -> None:
    """Refuse a design without an intercept: a contrast compares a level with its reference."""
    if _NO_INTERCEPT.search(str(design)):
        raise AlsigError(
            f"config key {key}: '{design}' has no intercept ('+ 0' / '- 1'); a contrast compares "
            "a level with the reference level, which needs one: remove that term."
        )


#: Why ``de.repeated_subjects: dupcor`` is refused (issue 27: allowed only if it passes the nulls).
DUPCOR_REFUSED = (
    "config key de.repeated_subjects: 'dupcor' (limma's consensus duplicateCorrelation) is not "
    "allowed: it failed the simulated donor null that dream passes (5 datasets of 12 donors x 3 "
    "regions: 8.8 % of genes at p < 0.05 against the 3-7 % target, up to 1.75 % at padj < 0.05 "
    "against <= 1 %; one correlation for all genes under-corrects the genes whose donors differ "
    "most; bench/results/repeated_donors.md). Use 'auto' or 'dream' (a donor variance per gene), "
    "or 'ignore' (samples independent)."
)


def _subset(value: Mapping[str, Any]) -> dict[str, list[str]]:
    return {str(column): [str(v) for v in values] for column, values in value.items()}


def _check_de(settings: dict[str, Any]) -> dict[str, Any]:
    _check_intercept(settings["design"], "de.design")
    contrasts: dict[str, Any] = {}
    for name, spec in settings["contrasts"].items():
        options = spec if isinstance(spec, Mapping) else {"contrast": spec}
        factor, test, reference = (str(v) for v in options["contrast"])
        if test == reference:
            raise AlsigError(
                f"config key de.contrasts.{name}: test and reference level are both '{test}'."
            )
        if set(options) == {"contrast"}:
            contrasts[str(name)] = [factor, test, reference]
            continue
        entry: dict[str, Any] = {"contrast": [factor, test, reference]}
        if options.get("design") is not None:
            _check_intercept(options["design"], f"de.contrasts.{name}.design")
            entry["design"] = str(options["design"])
        if options.get("subset") is not None:
            entry["subset"] = _subset(options["subset"])
        contrasts[str(name)] = entry
    settings["contrasts"] = contrasts
    tests: dict[str, Any] = {}
    for name in (*contrasts, *(settings.get("tests") or {})):
        if str(name) in RESERVED_DE_NAMES:
            raise AlsigError(
                f"config key de.contrasts.{name} (or de.tests.{name}): '{name}' is the name of "
                f"the dataset's DE summary (de/{name}.tsv); give the contrast another name."
            )
    for name, spec in (settings.get("tests") or {}).items():
        if str(name) in contrasts:
            raise AlsigError(
                f"config key de.tests.{name}: '{name}' is also a contrast name; the two would "
                "write the same files (de/{name}.parquet). Rename one."
            )
        entry = {k: str(v) for k, v in spec.items() if k != "subset" and v is not None}
        if spec.get("subset") is not None:
            entry["subset"] = _subset(spec["subset"])
        tests[str(name)] = entry
    settings["tests"] = tests
    if settings["repeated_subjects"] == "dupcor":
        raise AlsigError(DUPCOR_REFUSED)
    if tests and settings["engine"] == "pydeseq2":
        raise AlsigError(
            f"config key de.tests ({', '.join(tests)}): pydeseq2 has no likelihood-ratio test; "
            "use de.engine: alsig (the default) or remove de.tests."
        )
    return settings


def _check_enrich(settings: dict[str, Any]) -> dict[str, Any]:
    if int(settings["min_size"]) > int(settings["max_size"]):
        raise AlsigError(
            f"config key enrich.min_size ({settings['min_size']}) is larger than "
            f"enrich.max_size ({settings['max_size']}); no gene set could be tested."
        )
    return settings


def _check_score(settings: dict[str, Any]) -> dict[str, Any]:
    settings["methods"] = list(dict.fromkeys(settings["methods"]))
    return settings


def _check_subtypes(settings: dict[str, Any]) -> dict[str, Any]:
    if int(settings["nmf_k_min"]) > int(settings["nmf_k_max"]):
        raise AlsigError(
            f"config key subtypes.nmf_k_min ({settings['nmf_k_min']}) is larger than "
            f"subtypes.nmf_k_max ({settings['nmf_k_max']})."
        )
    return settings


_CHECKS = {
    "qc": _check_qc,
    "de": _check_de,
    "enrich": _check_enrich,
    "score": _check_score,
    "subtypes": _check_subtypes,
}


def _check_reprocess(settings: dict[str, Any]) -> dict[str, Any]:
    # Also run beside the schema check (alsig.ops.config.reprocess_settings), so that both
    # problems are reported: skip what the schema rejects anyway.
    condition = settings["default_condition"]
    rules = condition.get("rules") if isinstance(condition, Mapping) else None
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, Mapping) and isinstance(rule.get("pattern"), str):
            _check_regex(rule["pattern"], f"reprocess.default_condition.rules[{i}].pattern")
    if isinstance(settings["exclude"], list):  # a plain list of accessions: no reason given
        settings["exclude"] = {str(a): "excluded by the user" for a in settings["exclude"]}
    return settings


_SECTION_CHECKS = {"reprocess": _check_reprocess}


def check_config(config: Mapping[str, Any], workdir: str | Path = ".") -> None:
    """Raise :class:`AlsigError` naming the config key for problems the schema cannot see.

    Every dataset's stage settings resolve, condition regexes compile, local files exist.
    """
    workdir = Path(workdir)
    for dataset, settings in config["datasets"].items():
        key = f"datasets.{dataset}"
        for stage in STAGES:
            try:
                resolve_mapping(config, dataset, stage)
            except AlsigError as error:
                raise AlsigError(f"dataset {dataset}: {error}") from error
        for i, rule in enumerate((settings.get("condition") or {}).get("rules") or []):
            _check_regex(rule["pattern"], f"{key}.condition.rules[{i}].pattern")
        if settings["source"] == "local":
            for field in ("counts", "samples", "te_counts"):
                if field not in settings:
                    continue
                problem = path_problem(workdir / settings[field])
                if problem:
                    raise AlsigError(
                        f"config key {key}.{field}: file '{settings[field]}' {problem} "
                        f"(relative to {workdir.resolve()})."
                    )


def _check_regex(pattern: str, key: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise AlsigError(
            f"config key {key}: '{pattern}' is not a valid regular expression ({exc})."
        ) from exc


def schema_errors(config: Mapping[str, Any]) -> list[str]:
    """Human-readable schema violations, each naming the config key (``datasets.demo.source``)."""
    import jsonschema

    datasets = config.get("datasets") if isinstance(config, Mapping) else None
    not_text = (
        [k for k in datasets if not isinstance(k, str)] if isinstance(datasets, Mapping) else []
    )
    if not_text:  # jsonschema's propertyNames would not see them; every later step keys by text
        return [
            f"config key datasets: a dataset id is read by YAML as {_yaml_kind(key)}, not as "
            'text; put the id in quotes as you wrote it (e.g. "123": or "NO":).'
            for key in not_text
        ]
    validator = jsonschema.Draft202012Validator(config_schema())
    messages = []
    for error in sorted(
        validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))
    ):
        path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        if error.validator == "additionalProperties":
            messages.append(_unknown_keys_message(path, error))
        elif "propertyNames" in error.schema_path:
            messages.append(
                f"config key {path}: name '{error.instance}' is not allowed: dataset ids become "
                "folder names (letters, digits, '_', '.', '-'; starting with a letter or digit)"
            )
        else:
            messages.append(f"config key {path}: {error.message}{_type_hint(error)}")
    return messages


# a number YAML 1.1 reads as text: an exponent with no dot in the mantissa (1e-12, 5E3)
_YAML11_TEXT_NUMBER = re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$")


def _type_hint(error: Any) -> str:
    """Return what to write when YAML read a value as another type than the schema wants."""
    if error.validator != "type":
        return ""
    wanted = (
        error.validator_value
        if isinstance(error.validator_value, list)
        else [error.validator_value]
    )
    value = error.instance
    if isinstance(value, str) and ("number" in wanted or "integer" in wanted):
        try:
            float(value)
        except ValueError:
            return ""
        if _YAML11_TEXT_NUMBER.match(value):
            return (
                f"; YAML reads {value} as text (it wants a dot in a number with an exponent): "
                "write e.g. 1.0e-12, or the plain number"
            )
        return (
            f"; it is the text '{value}': write the number without quotes (values inside "
            "`snakemake --config key={...}` are read as YAML, as in the config file)"
        )
    if "string" in wanted and isinstance(value, bool | int | float):
        return f'; put it in quotes to make it text: "{value}"'
    return ""


def _yaml_kind(value: Any) -> str:
    """How YAML read an unquoted key: ``the number 123``, ``the boolean false``, ..."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()} (YAML 1.1 reads yes/no/on/off so)"
    if value is None:
        return "null (empty, ~ or null)"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"the {type(value).__name__} {value}"


def _unknown_keys_message(path: str, error: Any) -> str:
    allowed = sorted((error.schema.get("properties") or {}).keys())
    unexpected = sorted(set(error.instance) - set(allowed))
    stage = path.rsplit(".", 1)[-1]
    retired = [RETIRED_KEYS[(stage, key)] for key in unexpected if (stage, key) in RETIRED_KEYS]
    if retired:
        return (
            f"config key {path}: {', '.join(unexpected)} is no longer a key: {'; '.join(retired)}"
        )
    hints = "".join(did_you_mean(key, allowed) for key in unexpected)
    return f"config key {path}: unknown key(s) {unexpected}; allowed keys: {allowed}.{hints}"
