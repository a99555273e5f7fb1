"""Build the subtype reference models (``resources/subtypes/``) from GSE124439 and its labels.

Trains the classifier of :mod:`alsig.subtype_model.training` on the 148 ALS samples of
GSE124439 with their published subtypes (Tam et al. 2019, Table S1A; ``../shared/data``) twice:

- ``genes``: within-sample gene ranks only (for data without TE counts, e.g. GSE67196);
- ``genes_te``: the same plus TE subfamilies normalised as the retrotransposon axis.

For each it runs the validation of :mod:`alsig.subtype_model.cross_validation` (nested donor-grouped
CV, 5 x 5 outer folds, and the batch-held-out scheme), stores the CV report in the model JSON
and the outer-fold predictions of the reference samples in ``cv_predictions.tsv``, from which
``reference_calls.tsv`` (nested repeat 0: the call each reference sample is given, never an
in-sample call) is taken. Nothing carries a date, BLAS runs on one thread and, on x86-64,
OpenBLAS runs its AVX2 (``Haswell``) kernels whatever the CPU, so rebuilding on the same software
stack reproduces every file bit for bit: ``--check`` rebuilds into a temporary folder and
compares; ``--check --final-only`` refits the two final models only (their CV report is copied
from the shipped files) and compares the model files, in about 65 s on one core instead of the
whole rebuild's ~37 min (model version 2's grids; ``bench/results/subtypes_grid_edge.md``).
``--spot-cells K`` with it runs the final inner CV only at the K best grid points of the shipped
inner losses, which must come out as stored (~15 s: the suite's check; ``make check-models`` runs
the whole grid).

Usage:
    python scripts/build_subtype_model.py [--data ../shared/data] [--out resources/subtypes]
    python scripts/build_subtype_model.py --check [--final-only [--spot-cells K]]
"""

from __future__ import annotations

import os
import platform

# OpenBLAS picks its kernels by CPU (Haswell, SkylakeX, Zen, ...) and their sums round
# differently: the solver's coefficients then differ in the 8th digit between machines (seen:
# an AVX-512 EPYC against the AVX2 machine that built the shipped models). Every x86-64 CPU with
# AVX2 runs the Haswell kernels, so they are pinned before numpy loads OpenBLAS.
if platform.machine() == "x86_64":
    os.environ["OPENBLAS_CORETYPE"] = "Haswell"

import argparse  # noqa: E402 (after the kernel pin: numpy must not load OpenBLAS before it)
import dataclasses  # noqa: E402
import filecmp  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from alsig.stages.subtypes.reference_model import (  # noqa: E402
    GENES_MODEL,
    GENES_TE_MODEL,
    PROBABILITY_COLUMNS,
    load_model,
    model_paths,
    save_model,
    save_reference_calls,
)
from alsig.subtype_model.cross_validation import (  # noqa: E402
    batch_held_out_cv,
    call_metrics,
    confusion,
    donor_bootstrap,
    nested_cv,
    region_check,
)
from alsig.subtype_model.reference_data import (  # noqa: E402
    DATASET,
    file_hashes,
    load_reference,
    reference_files,
    training_hash,
)
from alsig.subtype_model.training import (  # noqa: E402
    REFERENCE_SETTINGS,
    Candidate,
    select_and_fit,
)

ROOT = Path(__file__).resolve().parents[1]
REPEATS, FOLDS, N_BOOT = 5, 5, 1000
SETTINGS = REFERENCE_SETTINGS
DESCRIPTIONS = {
    GENES_MODEL: "Tam et al. 2019 subtypes (ALS-Ox / ALS-Glia / ALS-TE) from within-sample "
    "gene ranks; for data without TE counts.",
    GENES_TE_MODEL: "Tam et al. 2019 subtypes (ALS-Ox / ALS-Glia / ALS-TE) from within-sample "
    "gene ranks and TE subfamily log2 CPM (gene-library denominator, as the retrotransposon axis).",
}
WORDING = (
    "Molecular subtypes associated with resistance biology, not a prediction of any patient's "
    "drug response."
)


def _r(value: float) -> float | None:
    """Round to 4 significant digits; ``None`` (JSON null) for NaN and infinities."""
    return float(f"{value:.4g}") if np.isfinite(value) else None


def summary(frame: pd.DataFrame, seed: int) -> dict:
    """Estimate and donor-bootstrap 95 % CI of each metric, and the confusion matrix."""
    table = donor_bootstrap(frame, n_boot=N_BOOT, seed=seed)
    metrics = {
        name: {"estimate": _r(row.estimate), "ci95": [_r(row.low), _r(row.high)]}
        for name, row in table.iterrows()
    }
    pooled = confusion(frame)
    return {
        "metrics": metrics,
        "confusion_all_repeats": {
            k: {c: int(v) for c, v in row.items()} for k, row in pooled.iterrows()
        },
    }


def cv_report(nested: pd.DataFrame, batch: pd.DataFrame) -> dict:
    """Summarise the model's cross-validation (outer folds only) for its JSON."""
    chosen = nested.groupby(["repeat", "fold"]).first()
    choices = chosen.value_counts(["n_genes", "n_te", "C"]).reset_index()
    return {
        "note": "Outer folds only; every choice made in a donor-grouped inner CV of each outer "
        "training set. 'ba' counts unassigned and out_of_reference as errors; estimates are "
        "means over repeats; CIs resample donors (1,000 draws).",
        "nested": {"repeats": REPEATS, "folds": FOLDS, **summary(nested, seed=1)},
        "batch_held_out": {
            "note": "each seq_batch held out, every donor with a sample in it removed from "
            "training; predictions pooled before scoring",
            **summary(batch, seed=2),
        },
        "region_check_auc_p_glia_motor_vs_frontal_in_ALS_Ox": _r(region_check(nested)),
        "outer_choices": [
            {"n_genes": int(r.n_genes), "n_te": int(r.n_te), "C": float(r.C), "folds": int(r.count)}
            for r in choices.itertuples()
        ],
        "outer_calibration_targets": {
            str(k): int(v) for k, v in chosen["calibration_target"].value_counts().items()
        },
        "outer_min_probability": {
            str(k): int(v) for k, v in chosen["min_probability"].value_counts().sort_index().items()
        },
    }


def build(data_dir: Path, out: Path, log) -> None:
    """Train, validate and write both models, the CV predictions and the reference calls."""
    paths = reference_files(data_dir)
    data = load_reference(data_dir)
    training = {
        "dataset": DATASET,
        "labels": "Tam et al. 2019 Cell Rep 29:1164 Table S1A, column 'ALS NMF subtype' "
        "(GSE124439_tam2019_subtypes.tsv.gz)",
        "n_samples": len(data.samples),
        "n_donors": int(data.meta["subject"].nunique()),
        "class_counts": {
            k: int(v) for k, v in data.meta["label"].value_counts().sort_index().items()
        },
        "data_sha256": training_hash(data),
        "file_sha256": file_hashes(paths),
        "wording": WORDING,
    }
    out.mkdir(parents=True, exist_ok=True)
    predictions = []
    for name, settings in SETTINGS.items():
        start = time.perf_counter()
        model, inner = select_and_fit(
            data, settings=settings, name=name, description=DESCRIPTIONS[name]
        )
        log(f"{name}: final model {model.hyperparameters}")
        nested = nested_cv(data, settings, name=name, repeats=REPEATS, folds=FOLDS, progress=log)
        batch = batch_held_out_cv(data, settings, name=name, progress=log)
        report = cv_report(nested, batch)
        report["final_inner_losses"] = [
            {k: (_r(v) if isinstance(v, float) else int(v)) for k, v in row.items()}
            for row in inner.losses.to_dict(orient="records")
        ]
        model = dataclasses.replace(model, training=training, cv_report=report)
        save_model(model, out)
        both = pd.concat([nested, batch], ignore_index=True)
        both.insert(0, "subtype_model", name)
        predictions.append(both)
        log(
            f"{name}: nested BA {call_metrics(nested)['ba']:.3f} "
            f"({time.perf_counter() - start:.0f} s)"
        )
    table = pd.concat(predictions, ignore_index=True)
    _write_tsv(table, out / "cv_predictions.tsv")
    emitted = table[(table["scheme"] == "nested") & (table["repeat"] == 0)]
    calls = emitted[
        [
            "subtype_model",
            "sample",
            "subject",
            "region",
            "label",
            *PROBABILITY_COLUMNS,
            "reference_distance",
            "subtype_call",
            "fold",
        ]
    ].copy()
    calls = calls.rename(columns={"label": "published_subtype", "fold": "outer_fold"})
    calls["reference_sample"] = True
    save_reference_calls(calls.sort_values(["subtype_model", "sample"], kind="stable"), out)


def refit_final(
    data_dir: Path, shipped: Path, out: Path, log, spot_cells: int | None = None
) -> list[str]:
    """Refit the final models into ``out``; return the names of the model files written.

    Their description, training record and CV report are copied from the models in ``shipped``.
    Refuses when the reference data's hash is not the one the shipped models were trained on.
    With ``spot_cells``, the inner CV judges only that many grid points, the best of the shipped
    models' inner losses (:func:`spot_check_cells`), instead of the whole grid.
    """
    data = load_reference(data_dir)
    data_hash = training_hash(data)
    written = []
    for name, settings in SETTINGS.items():
        before = load_model(model_paths(shipped, name)[0])
        if data_hash != before.training["data_sha256"]:
            raise SystemExit(
                f"{data_dir}: the reference data's hash differs from the one {name} was trained "
                "on (training.data_sha256): these are not the files the shipped models came from"
            )
        cells = None if spot_cells is None else spot_check_cells(before, settings, spot_cells)
        model, inner = select_and_fit(data, settings=settings, name=name, cells=cells)
        if cells is not None:
            _check_spot_losses(name, before, inner.losses)
        model = dataclasses.replace(
            model,
            description=before.description,
            training=before.training,
            cv_report=before.cv_report,
        )
        written += [path.name for path in save_model(model, out)]
        log(f"{name}: final model refitted {model.hyperparameters}")
    return sorted(written)


def spot_check_cells(model, settings, count: int) -> list[Candidate]:
    """Return the ``count`` grid points with the lowest inner loss in ``model``'s CV report.

    Refuses (SystemExit) when the report's table is not the loss of every point of
    ``settings``' grid, or the model's stored grid is not ``settings``: a spot check only
    stands for the whole grid when the grid is the one the shipped choice was made on.
    """
    table = pd.DataFrame(model.cv_report["final_inner_losses"])
    grid = [(c.n_genes, c.n_te, c.C) for c in settings.grid(with_te=True)]
    stored = list(zip(table["n_genes"], table["n_te"], table["C"], strict=True))
    if model.hyperparameters["grid"] != settings.as_dict() or stored != grid:
        raise SystemExit(
            f"{model.name}: the shipped model's grid is not the build script's "
            "(hyperparameters.grid, cv_report.final_inner_losses): rebuild in full"
        )
    best = table.sort_values("balanced_log_loss", kind="stable").head(count)
    return [Candidate(int(row.n_genes), int(row.n_te), float(row.C)) for row in best.itertuples()]


def _check_spot_losses(name: str, model, losses: pd.DataFrame) -> None:
    """Refuse (SystemExit) refitted spot losses that differ from the shipped table's.

    Compared rounded as stored; the shipped table's minimum must also be the shipped choice.
    """
    stored = pd.DataFrame(model.cv_report["final_inner_losses"])
    key = ["n_genes", "n_te", "C"]
    both = losses.merge(stored, on=key, suffixes=("", "_shipped"), validate="one_to_one")
    refitted = [_r(v) for v in both["balanced_log_loss"]]
    if len(both) != len(losses) or refitted != both["balanced_log_loss_shipped"].tolist():
        raise SystemExit(f"{name}: inner losses differ from the shipped table:\n{both}")
    best = stored.loc[stored["balanced_log_loss"].idxmin(), key].tolist()
    chosen = [model.hyperparameters[k] for k in key[:2]] + [model.hyperparameters["C"]]
    if best != chosen:
        raise SystemExit(f"{name}: the shipped table's best point {best} is not its choice")


def _write_tsv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, sep="\t", index=False, float_format="%.6g", lineterminator="\n")


def main(argv: list[str] | None = None) -> int:
    """Build the shipped subtype models (``--check``: compare a rebuild); return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("ALSIG_SHARED_DATA", ROOT.parent / "shared" / "data")),
    )
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "subtypes")
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild into a temporary folder and compare with --out",
    )
    parser.add_argument(
        "--final-only",
        action="store_true",
        help="with --check: refit the final models only and compare the model files",
    )
    parser.add_argument(
        "--spot-cells",
        type=int,
        metavar="K",
        help="with --final-only: the inner CV judges only the K best grid points of the shipped "
        "models' inner losses (which must match), not the whole grid",
    )
    args = parser.parse_args(argv)
    if args.final_only and not args.check:
        parser.error("--final-only goes with --check")
    if args.spot_cells is not None and (not args.final_only or args.spot_cells < 1):
        parser.error("--spot-cells K goes with --final-only, K >= 1")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with threadpool_limits(limits=1):
        if not args.check:
            build(args.data, args.out, log)
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            if args.final_only:
                names = shipped = refit_final(args.data, args.out, Path(tmp), log, args.spot_cells)
            else:
                build(args.data, Path(tmp), log)
                names = sorted(p.name for p in Path(tmp).iterdir())
                shipped = sorted(p.name for p in args.out.iterdir() if p.name != "README.md")
            same, differ, missing = filecmp.cmpfiles(tmp, args.out, names, shallow=False)
            if differ or missing or names != shipped:
                log(f"rebuild differs: {differ + missing or set(names) ^ set(shipped)}")
                return 1
            log(f"rebuild identical: {', '.join(same)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
