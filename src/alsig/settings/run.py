"""The settings of a whole run, resolved once, and the typed settings of one stage.

The workflow builds one :class:`RunSettings` at parse time (``workflow/rules/common.smk``);
every rule's params, input functions and resource models read it, so a job's settings are
resolved once however often Snakemake asks while it builds the DAG. Code outside the workflow (a
script, a notebook, a test) gets a stage's settings from :func:`complete`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alsig.errors import AlsigError
from alsig.settings.schema import STAGES, complete_mapping, resolve_mapping
from alsig.settings.stages import (
    DE_NULL_KEYS,
    STAGE_SETTINGS,
    DeSettings,
    EnrichSettings,
    QcSettings,
    ScoreSettings,
    SubtypesSettings,
    from_mapping,
)


@dataclass(frozen=True)
class DatasetSettings:
    """One dataset's settings of every stage.

    Attributes
    ----------
    qc : QcSettings
    de : DeSettings
    enrich : EnrichSettings
    score : ScoreSettings
    subtypes : SubtypesSettings
    """

    qc: QcSettings
    de: DeSettings
    enrich: EnrichSettings
    score: ScoreSettings
    subtypes: SubtypesSettings


class RunSettings:
    """Every dataset's stage settings of one config, resolved once.

    Parameters
    ----------
    config
        The workflow config (schema-checked).

    Raises
    ------
    AlsigError
        A value the schema cannot reject, naming the dataset and the config key.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        # what the ingest reads of each entry: everything but the stage sections and free text
        not_read = {*STAGES, "description"}
        self._sources: dict[str, dict[str, Any]] = {
            dataset: {k: v for k, v in entry.items() if k not in not_read}
            for dataset, entry in config["datasets"].items()
        }
        self._mappings: dict[str, dict[str, dict[str, Any]]] = {}
        self._typed: dict[str, DatasetSettings] = {}
        #: the folder of this run's outputs (``output_dir``, trailing ``/`` removed)
        self.output_dir: str = output_dir_of(config)
        for dataset in config["datasets"]:
            try:
                mappings = {stage: resolve_mapping(config, dataset, stage) for stage in STAGES}
            except AlsigError as error:
                raise AlsigError(f"dataset {dataset}: {error}") from error
            self._mappings[dataset] = mappings
            self._typed[dataset] = DatasetSettings(
                **{stage: from_mapping(STAGE_SETTINGS[stage], mappings[stage]) for stage in STAGES}
            )

    @property
    def datasets(self) -> list[str]:
        """The dataset ids, in config order."""
        return list(self._typed)

    def __getitem__(self, dataset: str) -> DatasetSettings:
        """Return one dataset's typed settings of every stage."""
        return self._typed[dataset]

    def params(self, dataset: str, stage: str) -> dict[str, Any]:
        """Return a stage's resolved settings as a rule's ``params.settings``.

        Plain values, so Snakemake's params rerun trigger sees a changed setting; the job makes
        the typed object of them (:func:`alsig.runner.run_stage`).

        Parameters
        ----------
        dataset
            A dataset id.
        stage
            One of :data:`~alsig.settings.schema.STAGES`.

        Returns
        -------
        dict
            The resolved mapping (a copy).
        """
        return dict(self._mappings[dataset][stage])

    def params_of(self, dataset: str, stage: str, keys: Sequence[str]) -> dict[str, Any]:
        """Return the ``keys`` of a stage's settings, for a job that reads only those.

        Snakemake reruns a job when any of its params change: a job that reads a few keys of a
        section gets those alone (its script fills the rest with the schema's defaults,
        :func:`complete`), e.g. the axis tests :data:`~alsig.settings.stages.AXIS_TEST_DE_KEYS`.

        Parameters
        ----------
        dataset
            A dataset id.
        stage
            One of :data:`~alsig.settings.schema.STAGES`.
        keys
            The keys the job reads.

        Returns
        -------
        dict
            Those keys' resolved values.
        """
        resolved = self._mappings[dataset][stage]
        return {key: resolved[key] for key in keys}

    def de_params_without_null(self, dataset: str) -> dict[str, Any]:
        """Return the ``de:`` settings without :data:`~alsig.settings.stages.DE_NULL_KEYS`.

        For the jobs that fit or reuse the DE design but run no permutation null (the
        subtypes' DE and enrichment, camera's residuals in the enrichment): a changed
        ``de.null_permutations`` or ``de.seed`` reruns the DE job, not them. The job builds its
        settings with :func:`~alsig.settings.stages.de_settings_without_null`.

        Parameters
        ----------
        dataset
            A dataset id.

        Returns
        -------
        dict
            The resolved ``de:`` mapping less those keys.
        """
        resolved = self._mappings[dataset]["de"]
        return {key: value for key, value in resolved.items() if key not in DE_NULL_KEYS}

    def source_params(self, dataset: str) -> dict[str, Any]:
        """Return what the ingest job reads of a dataset's entry, as its ``params.settings``.

        The entry without its stage sections (:data:`~alsig.settings.schema.STAGES`) and its
        free-text ``description``: a changed DE design or enrichment setting reruns the jobs
        that read it, not the ingest (and with it every job of the dataset).

        Parameters
        ----------
        dataset
            A dataset id.

        Returns
        -------
        dict
            The source keys (files, columns, condition rules, gene-id settings), a copy.
        """
        return dict(self._sources[dataset])


def output_dir_of(config: Mapping[str, Any]) -> str:
    """Return the folder of a config's outputs (``output_dir``, default ``results``).

    Parameters
    ----------
    config
        A workflow config.

    Returns
    -------
    str
        The folder, without a trailing ``/``; a leading ``~`` is the user's home folder, as in
        a shell (Snakemake would make a folder named ``~``).
    """
    return os.path.expanduser(str(config.get("output_dir") or "results")).rstrip("/") or "."


def resolve(config: Mapping[str, Any], dataset: str, stage: str) -> Any:
    """Return the typed settings one job of ``stage`` gets for ``dataset``.

    Parameters
    ----------
    config
        The workflow config (schema-checked).
    dataset
        A key of ``config["datasets"]``.
    stage
        One of :data:`~alsig.settings.schema.STAGES`.

    Returns
    -------
    QcSettings, DeSettings, EnrichSettings, ScoreSettings or SubtypesSettings
        Schema defaults, then the top-level section, then the dataset's own section.

    Raises
    ------
    AlsigError
        A value the schema cannot reject, naming the config key.
    """
    return from_mapping(STAGE_SETTINGS[stage], resolve_mapping(config, dataset, stage))


def complete(stage: str, settings: Mapping[str, Any] | None = None) -> Any:
    """Return a stage's typed settings from any subset of its keys (the schema's defaults).

    For callers outside the workflow: a script, a notebook, a test.

    Parameters
    ----------
    stage
        One of :data:`~alsig.settings.schema.STAGES`.
    settings
        Any subset of the stage's keys.

    Returns
    -------
    QcSettings, DeSettings, EnrichSettings, ScoreSettings or SubtypesSettings
        The given values over the schema's defaults, checked.

    Raises
    ------
    AlsigError
        One line per problem, naming the key (``config key de.alpha: ...``).
    """
    return from_mapping(STAGE_SETTINGS[stage], complete_mapping(stage, settings))
