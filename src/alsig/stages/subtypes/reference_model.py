"""The subtype reference model as shipped files: a JSON document plus a Parquet matrix, no pickle.

A model ``<name>`` is two files in ``resources/subtypes/``:

- ``<name>.json``: format and version, the classes, every feature (kind ``gene`` with Entrez id
  and current symbol, or kind ``te`` with the TEcount subfamily) with its training mean, scale and
  one coefficient per class, the intercepts, the calibration (temperature, per-class bias and its
  target), the call thresholds (``min_probability``, ``distance_threshold``), the reference
  regions and minimum coverage, the hyper-parameters the inner cross-validation chose, the
  training-data hash and the cross-validation report. One feature per line keeps diffs readable.
- ``<name>.reference.parquet``: the standardised features of the training samples (float32,
  one column per feature, same order), the reference the distance of a new sample is measured to.
  Its content hash is in the JSON, so a mismatched pair is refused. Its rows are the training
  samples listed in the JSON's ``reference_samples``.
- ``reference_calls.tsv`` (one per folder, all models): the outer-fold probabilities, distance
  and call of every reference sample (from a model that never saw its donor). A sample that
  *is* a reference sample gets these, never an in-sample call (:func:`.projection.project`).
- ``cv_predictions.tsv`` (one per folder): every outer-fold prediction of the validation, with
  the thresholds each outer fold chose. The ``min_probability`` and ``distance_threshold`` of
  the fold each stored call comes from (nested repeat 0) are read from it, so the call rule can
  be re-applied to a reference sample's stored values exactly as the fold applied it.

Floats are rounded to :data:`DIGITS` significant digits before use and before writing, so a model
behaves the same in memory, after a round trip and after a rebuild on the same software stack.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from alsig.errors import AlsigError
from alsig.io import atomic_path
from alsig.resources import subtype_model_dir

FORMAT = "alsig-subtype-reference-model"
FORMAT_VERSION = 1
CLASSES = ("ALS-Ox", "ALS-Glia", "ALS-TE")
#: probability column of each class, in :data:`CLASSES` order
PROBABILITY_COLUMNS = ("p_ox", "p_glia", "p_te")
UNASSIGNED = "unassigned"
OUT_OF_REFERENCE = "out_of_reference"
GENES_MODEL = "genes"
GENES_TE_MODEL = "genes_te"
DIGITS = 9
#: regions the reference (GSE124439) samples come from
DEFAULT_REFERENCE_REGIONS = ("frontal cortex", "motor cortex")
DEFAULT_MIN_COVERAGE = 0.5
#: outer-fold calls of the reference samples, beside the model files (all models of a folder)
REFERENCE_CALLS = "reference_calls.tsv"
#: every outer-fold prediction of the validation, with each fold's thresholds
CV_PREDICTIONS = "cv_predictions.tsv"
#: the thresholds of the outer fold a reference sample's stored call was made in
FOLD_THRESHOLDS = ("min_probability", "distance_threshold")
#: the validation scheme and repeat the stored calls come from (scripts/build_subtype_model.py)
STORED_CALLS_SCHEME, STORED_CALLS_REPEAT = "nested", 0
_HEADER_KEYS = (
    "format",
    "format_version",
    "name",
    "description",
    "classes",
    "probability_columns",
    "intercept",
    "calibration",
    "min_probability",
    "distance",
    "reference_samples",
    "reference_regions",
    "min_coverage",
    "hyperparameters",
    "training",
    "cv_report",
)


@dataclass(frozen=True)
class ReferenceModel:
    """A fitted subtype classifier and everything its calls need.

    ``features`` are ``(kind, id, symbol)`` triples (kind ``gene``: Entrez id and current symbol;
    kind ``te``: subfamily, symbol empty). ``mean``/``scale`` standardise the raw features;
    ``coef`` (classes x features) and ``intercept`` give the logits; the calibrated probabilities
    are ``softmax(logits / temperature + bias)``. ``reference`` holds the standardised features of
    the training samples (rows) for ``reference_distance``.
    """

    name: str
    features: tuple[tuple[str, str, str], ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    temperature: float
    bias: np.ndarray
    calibration_target: str
    min_probability: float
    distance_threshold: float
    neighbours: int
    reference: np.ndarray
    reference_samples: tuple[str, ...] = ()
    classes: tuple[str, ...] = CLASSES
    reference_regions: tuple[str, ...] = DEFAULT_REFERENCE_REGIONS
    min_coverage: float = DEFAULT_MIN_COVERAGE
    description: str = ""
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    cv_report: Mapping[str, Any] = field(default_factory=dict)
    reference_calls: pd.DataFrame | None = None

    @property
    def genes(self) -> list[str]:
        """Entrez ids of the gene features, in model order."""
        return [fid for kind, fid, _ in self.features if kind == "gene"]

    @property
    def gene_symbols(self) -> list[str]:
        """Current symbols of the gene features, in model order."""
        return [sym for kind, _, sym in self.features if kind == "gene"]

    @property
    def te_subfamilies(self) -> list[str]:
        """TE subfamilies of the model (empty for a genes-only model)."""
        return [fid for kind, fid, _ in self.features if kind == "te"]

    @property
    def uses_te(self) -> bool:
        """Whether the model has TE features (a genes+TE model)."""
        return bool(self.te_subfamilies)

    def rounded(self) -> ReferenceModel:
        """Round every float to :data:`DIGITS` significant digits (what is written).

        Returns
        -------
        ReferenceModel
            A copy; the reference matrix as float32.
        """
        return replace(
            self,
            mean=_round(self.mean),
            scale=_round(self.scale),
            coef=_round(self.coef),
            intercept=_round(self.intercept),
            temperature=float(_round(np.array([self.temperature]))[0]),
            bias=_round(self.bias),
            min_probability=float(_round(np.array([self.min_probability]))[0]),
            distance_threshold=float(_round(np.array([self.distance_threshold]))[0]),
            reference=np.asarray(self.reference, dtype=np.float32),
        )


def _round(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return (
        np.vectorize(lambda v: float(f"{v:.{DIGITS}g}"), otypes=[float])(values)
        if values.size
        else values
    )


def reference_hash(reference: np.ndarray) -> str:
    """Hash the reference matrix: its shape and float32 little-endian bytes (row-major).

    Parameters
    ----------
    reference
        Reference samples x features.

    Returns
    -------
    str
        The sha256 hex digest.
    """
    matrix = np.ascontiguousarray(np.asarray(reference, dtype="<f4"))
    digest = hashlib.sha256(f"{matrix.shape[0]}x{matrix.shape[1]};".encode())
    digest.update(matrix.tobytes())
    return digest.hexdigest()


def model_paths(directory: str | Path, name: str) -> tuple[Path, Path]:
    """Return the paths of a model's two files.

    Parameters
    ----------
    directory
        The models' folder.
    name
        The model's name.

    Returns
    -------
    tuple of pathlib.Path
        ``<name>.json`` and ``<name>.reference.parquet`` in ``directory``.
    """
    directory = Path(directory)
    return directory / f"{name}.json", directory / f"{name}.reference.parquet"


def model_document(model: ReferenceModel) -> dict[str, Any]:
    """Build the JSON document of a model (rounded).

    Parameters
    ----------
    model
        The model.

    Returns
    -------
    dict
        The header keys first, then ``features``: one entry per feature (kind, id, symbol, mean,
        scale, coef per class).
    """
    model = model.rounded()
    features = [
        {
            "kind": kind,
            "id": fid,
            "symbol": symbol,
            "mean": float(model.mean[j]),
            "scale": float(model.scale[j]),
            "coef": [float(v) for v in model.coef[:, j]],
        }
        for j, (kind, fid, symbol) in enumerate(model.features)
    ]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": model.name,
        "description": model.description,
        "classes": list(model.classes),
        "probability_columns": list(PROBABILITY_COLUMNS),
        "intercept": [float(v) for v in model.intercept],
        "calibration": {
            "temperature": model.temperature,
            "bias": [float(v) for v in model.bias],
            "target": model.calibration_target,
        },
        "min_probability": model.min_probability,
        "distance": {
            "metric": "mean RMS distance to the nearest reference samples (standardised features)",
            "neighbours": model.neighbours,
            "threshold": model.distance_threshold,
            "reference_sha256": reference_hash(model.reference),
            "reference_shape": list(model.reference.shape),
        },
        "reference_samples": list(model.reference_samples),
        "reference_regions": list(model.reference_regions),
        "min_coverage": model.min_coverage,
        "hyperparameters": dict(model.hyperparameters),
        "training": dict(model.training),
        "cv_report": dict(model.cv_report),
        "features": features,
    }


def dump_document(document: Mapping[str, Any]) -> str:
    """Write a model document as JSON text: header keys indented, one feature per line.

    Parameters
    ----------
    document
        A document of :func:`model_document`.

    Returns
    -------
    str
        The JSON text, ending with a newline.
    """
    lines = ["{"]
    for key in _HEADER_KEYS:
        lines.append(f" {json.dumps(key)}: {json.dumps(document[key], indent=None)},")
    lines.append(' "features": [')
    features = document["features"]
    for i, feature in enumerate(features):
        lines.append("  " + json.dumps(feature) + ("," if i < len(features) - 1 else ""))
    lines += [" ]", "}", ""]
    return "\n".join(lines)


def save_model(model: ReferenceModel, directory: str | Path) -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.reference.parquet`` atomically (rounded).

    Parameters
    ----------
    model
        The model.
    directory
        The models' folder.

    Returns
    -------
    tuple of pathlib.Path
        The paths written (:func:`model_paths`).
    """
    model = model.rounded()
    json_path, parquet_path = model_paths(directory, model.name)
    columns = feature_keys(model.features)
    frame = pl.DataFrame(
        {c: model.reference[:, j] for j, c in enumerate(columns)},
        schema={c: pl.Float32 for c in columns},
    )
    with atomic_path(parquet_path) as tmp:
        frame.write_parquet(tmp, compression="zstd", statistics=False)
    with atomic_path(json_path) as tmp:
        tmp.write_text(dump_document(model_document(model)))
    return json_path, parquet_path


def load_model(path: str | Path) -> ReferenceModel:
    """Read and validate a model from its JSON file (the Parquet file lies beside it).

    Parameters
    ----------
    path
        ``<name>.json`` of a model written by :func:`save_model`.

    Returns
    -------
    ReferenceModel
        The model with its reference matrix, and its reference samples' stored outer-fold
        calls when the folder has them.

    Raises
    ------
    AlsigError
        The file is missing, not JSON, not a subtype model, of an unknown format version, or
        inconsistent (lengths, classes, non-finite numbers, thresholds out of range, a reference
        matrix of the wrong shape or hash). The message names the file and the field.
    """
    path = Path(path)
    if not path.is_file():
        raise AlsigError(
            f"file '{path}': subtype model not found; build it with "
            "scripts/build_subtype_model.py or give the path of a <name>.json model."
        )
    try:
        document = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AlsigError(f"file '{path}': not a JSON subtype model ({exc}).") from None
    model = model_from_document(document, path)
    parquet_path = path.with_name(f"{model.name}.reference.parquet")
    reference = _read_reference(parquet_path, model)
    expected = document["distance"]
    if model.reference_samples and len(model.reference_samples) != reference.shape[0]:
        raise AlsigError(
            f"file '{path}': reference matrix does not match "
            f"({len(model.reference_samples)} reference_samples for "
            f"{reference.shape[0]} rows)."
        )
    if list(reference.shape) != list(expected["reference_shape"]) or (
        reference_hash(reference) != expected["reference_sha256"]
    ):
        raise AlsigError(
            f"file '{parquet_path}': reference matrix does not match '{path.name}' (shape "
            f"{list(reference.shape)} vs {expected['reference_shape']}, or its sha256 differs); "
            "the two files of a model must come from the same build."
        )
    calls = _read_reference_calls(path.with_name(REFERENCE_CALLS), model)
    return replace(model, reference=reference, reference_calls=calls)


def save_reference_calls(table: pd.DataFrame, directory: str | Path) -> Path:
    """Write the outer-fold calls of the reference samples (all models of ``directory``).

    Parameters
    ----------
    table
        One row per model and reference sample: ``subtype_model``, ``sample``, the probability
        columns, ``reference_distance``, ``subtype_call`` (and any descriptive columns).
    directory
        The models' folder.

    Returns
    -------
    pathlib.Path
        The table written.
    """
    path = Path(directory) / REFERENCE_CALLS
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g", lineterminator="\n")
    return path


def _read_reference_calls(path: Path, model: ReferenceModel) -> pd.DataFrame | None:
    """Read the stored outer-fold calls of the model's reference samples (None without file).

    The table gains the outer fold's ``min_probability`` and ``distance_threshold`` per sample
    (:func:`_fold_thresholds`) when the folder's ``cv_predictions.tsv`` has them; without it those
    columns are absent and the projection uses the model's thresholds.
    """
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path, sep="\t", dtype={"sample": str, "subtype_model": str})
    except (ValueError, UnicodeDecodeError) as exc:
        raise AlsigError(f"file '{path}': not a readable reference-call table ({exc}).") from None
    needed = ["subtype_model", "sample", *PROBABILITY_COLUMNS, "reference_distance", "subtype_call"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise AlsigError(
            f"file '{path}': column(s) {', '.join(missing)} missing; rebuild with "
            "scripts/build_subtype_model.py."
        )
    table = table[table["subtype_model"] == model.name].set_index("sample")
    if table.index.has_duplicates or set(table.index) != set(model.reference_samples):
        raise AlsigError(
            f"file '{path}': the outer-fold calls of model '{model.name}' must list each of its "
            f"{len(model.reference_samples)} reference samples once (found {len(table)} rows); "
            "rebuild the model so the files come from the same build."
        )
    table = table.loc[list(model.reference_samples)]
    if not set(FOLD_THRESHOLDS) <= set(table.columns):
        folds = _fold_thresholds(path.with_name(CV_PREDICTIONS), model, table)
        if folds is not None:
            table = table.join(folds)
    return table


def _fold_thresholds(path: Path, model: ReferenceModel, calls: pd.DataFrame) -> pd.DataFrame | None:
    """Return each reference sample's outer-fold thresholds from ``cv_predictions.tsv``.

    Parameters
    ----------
    path
        ``cv_predictions.tsv`` beside the model.
    model
        The model whose reference samples are looked up.
    calls
        Its stored calls (indexed by sample; ``outer_fold`` when the table has it).

    Returns
    -------
    pandas.DataFrame or None
        Indexed by sample: :data:`FOLD_THRESHOLDS`; None without the file or its columns.

    Raises
    ------
    AlsigError
        The file lists a reference sample not exactly once, or in another fold than its call.
    """
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path, sep="\t", dtype={"sample": str, "subtype_model": str})
    except (ValueError, UnicodeDecodeError) as exc:
        raise AlsigError(f"file '{path}': not a readable prediction table ({exc}).") from None
    needed = {"subtype_model", "scheme", "repeat", "fold", "sample", *FOLD_THRESHOLDS}
    if not needed <= set(table.columns):
        return None
    table = table[
        (table["subtype_model"] == model.name)
        & (table["scheme"] == STORED_CALLS_SCHEME)
        & (table["repeat"] == STORED_CALLS_REPEAT)
    ].set_index("sample")
    samples = list(calls.index)
    if table.index.has_duplicates or not set(samples) <= set(table.index):
        raise AlsigError(
            f"file '{path}': the {STORED_CALLS_SCHEME} repeat {STORED_CALLS_REPEAT} predictions "
            f"of model '{model.name}' must list each of its {len(samples)} reference samples "
            "once; rebuild the model so the files come from the same build."
        )
    table = table.loc[samples]
    # folds are numbers in the nested scheme, batch names in the other: compared as text
    folds = table["fold"].astype(str).to_numpy()
    if "outer_fold" in calls and (folds != calls["outer_fold"].astype(str).to_numpy()).any():
        raise AlsigError(
            f"file '{path}': the outer folds of model '{model.name}' differ from those of "
            f"'{REFERENCE_CALLS}'; rebuild the model so the files come from the same build."
        )
    return table[list(FOLD_THRESHOLDS)].astype(float)


def _read_reference(path: Path, model: ReferenceModel) -> np.ndarray:
    if not path.is_file():
        raise AlsigError(
            f"file '{path}': the model's reference matrix is missing (it is written "
            "beside the JSON by scripts/build_subtype_model.py)."
        )
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # pyarrow/polars raise several types for a broken file
        raise AlsigError(
            f"file '{path}': not a readable Parquet reference matrix ({exc})."
        ) from None
    columns = feature_keys(model.features)
    if frame.columns != columns:
        raise AlsigError(
            f"file '{path}': columns do not match the model's features; rebuild the "
            "model so both files come from the same build."
        )
    return frame.to_numpy().astype(np.float32)


def model_from_document(document: Any, path: str | Path = "<model>") -> ReferenceModel:
    """Build a :class:`ReferenceModel` from a parsed JSON document (reference matrix empty).

    Parameters
    ----------
    document
        The parsed JSON.
    path
        Where it was read from, for the messages.

    Returns
    -------
    ReferenceModel
        The model; its reference matrix has no rows yet.

    Raises
    ------
    AlsigError
        As :func:`load_model`, for the JSON part.
    """

    def fail(what: str) -> AlsigError:
        return AlsigError(
            f"file '{path}': {what}. Use a model written by "
            "scripts/build_subtype_model.py (resources/subtypes/)."
        )

    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise fail(f"not an alsig subtype model (field 'format' must be '{FORMAT}')")
    if document.get("format_version") != FORMAT_VERSION:
        raise fail(
            f"format_version {document.get('format_version')!r} is not supported "
            f"(this alsig reads version {FORMAT_VERSION})"
        )
    missing = [k for k in (*_HEADER_KEYS, "features") if k not in document]
    if missing:
        raise fail(f"missing field(s) {', '.join(missing)}")
    classes = tuple(document["classes"])
    if classes != CLASSES:
        raise fail(f"field 'classes' is {list(classes)}, expected {list(CLASSES)}")
    features = document["features"]
    if not isinstance(features, list) or not features:
        raise fail("field 'features' is empty")
    triples, mean, scale, coef = [], [], [], []
    for i, feature in enumerate(features):
        try:
            kind, fid, symbol = str(feature["kind"]), str(feature["id"]), str(feature["symbol"])
            values = [float(feature["mean"]), float(feature["scale"])]
            row = [float(v) for v in feature["coef"]]
        except (KeyError, TypeError, ValueError):
            raise fail(f"feature {i} needs kind, id, symbol, mean, scale and coef") from None
        if kind not in ("gene", "te") or len(row) != len(classes):
            raise fail(
                f"feature {i} ('{fid}'): kind must be gene|te and coef have {len(classes)} values"
            )
        if not all(math.isfinite(v) for v in (*values, *row)) or values[1] <= 0:
            raise fail(f"feature {i} ('{fid}'): mean, scale (> 0) and coef must be finite")
        triples.append((kind, fid, symbol))
        mean.append(values[0])
        scale.append(values[1])
        coef.append(row)
    ids = [(k, f) for k, f, _ in triples]
    if len(set(ids)) != len(ids):
        raise fail("a feature id appears twice")
    calibration = document["calibration"]
    distance = document["distance"]
    try:
        intercept = np.array(document["intercept"], dtype=float)
        bias = np.array(calibration["bias"], dtype=float)
        temperature = float(calibration["temperature"])
        target = str(calibration["target"])
        threshold = float(distance["threshold"])
        neighbours = int(distance["neighbours"])
        min_probability = float(document["min_probability"])
        min_coverage = float(document["min_coverage"])
    except (KeyError, TypeError, ValueError):
        raise fail(
            "fields 'intercept', 'calibration' (temperature, bias, target), 'distance' "
            "(threshold, neighbours), 'min_probability' and 'min_coverage' are required"
        ) from None
    if intercept.shape != (len(classes),) or bias.shape != (len(classes),):
        raise fail(f"intercept and calibration bias need {len(classes)} values")
    if not (temperature > 0 and threshold > 0 and neighbours >= 1):
        raise fail("temperature and distance threshold must be > 0, neighbours >= 1")
    if not (0 <= min_probability < 1 and 0 < min_coverage <= 1):
        raise fail("min_probability must be in [0, 1) and min_coverage in (0, 1]")
    regions = document["reference_regions"]
    if not isinstance(regions, list) or not regions:
        raise fail("field 'reference_regions' must be a non-empty list")
    return ReferenceModel(
        name=str(document["name"]),
        features=tuple(triples),
        mean=np.array(mean),
        scale=np.array(scale),
        coef=np.array(coef).T.copy(),
        intercept=intercept,
        temperature=temperature,
        bias=bias,
        calibration_target=target,
        min_probability=min_probability,
        distance_threshold=threshold,
        neighbours=neighbours,
        reference=np.zeros((0, len(triples)), dtype=np.float32),
        classes=classes,
        reference_samples=tuple(str(v) for v in document["reference_samples"]),
        reference_regions=tuple(str(r) for r in regions),
        min_coverage=min_coverage,
        description=str(document["description"]),
        hyperparameters=dict(document["hyperparameters"]),
        training=dict(document["training"]),
        cv_report=dict(document["cv_report"]),
    )


def load_shipped(name: str) -> ReferenceModel:
    """Load a shipped model by name.

    Parameters
    ----------
    name
        :data:`GENES_MODEL` or :data:`GENES_TE_MODEL`.

    Returns
    -------
    ReferenceModel
        As :func:`load_model`.
    """
    return load_model(model_paths(subtype_model_dir(), name)[0])


def feature_keys(features: Sequence[tuple[str, str, str]]) -> list[str]:
    """Return the ``kind:id`` key of each feature (the reference Parquet's column names).

    Parameters
    ----------
    features
        ``(kind, id, symbol)`` triples.

    Returns
    -------
    list of str
        One key per feature, in order.
    """
    return [f"{kind}:{fid}" for kind, fid, _ in features]
