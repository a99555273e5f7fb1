"""Reprocess building blocks: condition check, lock, snakemake log parsing, settings, downloads."""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

import alsig
from alsig import settings
from alsig.errors import AlsigError
from alsig.ops.config import reprocess_settings
from alsig.ops.curation import check_conditions, queue_series
from alsig.ops.downloads import check_server_files
from alsig.ops.in_vitro import in_vitro_evidence
from alsig.ops.lock import LockedError, run_lock
from alsig.ops.registry import Entry, Registry
from alsig.ops.workflow import (
    Interrupted,
    dataset_of,
    rule_errors,
    stop_on_signals,
    without_forcerun,
)
from alsig.sources import geo_layout
from alsig.sources.download import fetch_geo, read_sidecar
from alsig.sources.geo import read_series_matrix
from alsig.sources.geo_layout import series_matrix_url
from alsig.stages.ingest.samples import label_values
from tests.conftest import SHARED_DATA
from tests.stub_server import DATA, StubServer

DEFAULT_CONDITION = settings.defaults("reprocess")["default_condition"]


def sheet(values: list[str], column: str = "disease_state") -> pl.DataFrame:
    return pl.DataFrame({"sample": [f"GSM{i}" for i in range(len(values))], column: values})


def check(frame, override=None):
    return check_conditions(
        frame,
        dataset="GSE1",
        source="m.txt.gz",
        override=override,
        default_condition=DEFAULT_CONDITION,
        required_conditions=["ALS", "control"],
        min_samples=2,
    )


def test_default_rules_resolve_common_labels():
    result = check(sheet(["ALS", "sALS", "Control", "non-neurological control", "ALS"]))
    assert result.ok and result.column == "disease_state"
    assert result.conditions == {"ALS": 3, "control": 2}


def test_unresolvable_values_need_curation_with_reason():
    result = check(sheet(["pending review", "see publication", "ALS", "Control"]))
    assert not result.ok
    assert "'disease_state'" in result.reason and "'pending review' (GSM0)" in result.reason
    assert "Add datasets.GSE1" in result.reason


def write_series_matrix(path: Path, samples: list[dict], title: str = "A series") -> Path:
    """A small series matrix in GEO's format: one dict (title, source, chars) per sample."""
    gsms = [f"GSM{i + 1}" for i in range(len(samples))]

    def row(field: str, cells: list[str]) -> str:
        return f"!Sample_{field}\t" + "\t".join(f'"{c}"' for c in cells)

    lines = [f'!Series_title\t"{title}"', '!Series_geo_accession\t"GSE1"', ""]
    lines += [row("title", [s["title"] for s in samples]), row("geo_accession", gsms)]
    lines.append(row("source_name_ch1", [s["source"] for s in samples]))
    lines.append(row("organism_ch1", ["Homo sapiens"] * len(samples)))
    for i in range(max(len(s["chars"]) for s in samples)):
        lines.append(row("characteristics_ch1", [s["chars"][i] for s in samples]))
    lines += ["!series_matrix_table_begin", '"ID_REF"\t' + "\t".join(f'"{g}"' for g in gsms)]
    lines.append("!series_matrix_table_end")
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def matrix(tmp_path, values, key="diagnosis", source="whole blood", title="s", **chars):
    """Series matrix with one sample per value (``key: value``) and more characteristics."""
    samples = [
        {
            "title": f"{title}{i + 1}",
            "source": source,
            "chars": [f"{key}: {v}", *(f"{k.replace('_', ' ')}: {c}" for k, c in chars.items())],
        }
        for i, v in enumerate(values)
    ]
    return read_series_matrix(write_series_matrix(tmp_path / "GSE1_series_matrix.txt.gz", samples))


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("ALS", "ALS"),
        ("sALS", "ALS"),
        ("Familial ALS", "ALS"),
        ("C9orf72-ALS", "ALS"),
        ("c9ALS", "ALS"),
        ("ALS Spectrum MND", "ALS"),  # GSE124439
        ("sALS/FTD", "ALS"),  # GSE122649: ALS with FTD is ALS
        ("FTD/ALS", "ALS"),
        ("Amyotrophic lateral sclerosis", "ALS"),
        ("Control", "control"),
        ("healthy control", "control"),
        ("Non-Neurological Control", "control"),
        ("Neurologically normal control", "control"),  # GSE20589
        ("Other Neurological Disorders", "other"),  # GSE124439: kept, not compared
        # ALS followed by a parenthesis or a gene: still the disease (a 0.4.7 registry's series)
        ("ALS (C9orf72+)", "ALS"),
        ("ALS-TDP", "ALS"),
        ("sporadic amyotrophic lateral sclerosis (sALS)", "ALS"),
        ("amyotrophic lateral sclerosis (ALS)", "ALS"),
        ("ALS C9+", "ALS"),
        ("ALS with C9orf72 repeat expansion", "ALS"),
        ("ALS with FTD", "ALS"),
        ("ALS-SOD1 patients", "ALS"),
        ("control (non-neurological)", "control"),
        ("Control (healthy)", "control"),
        ("ALS deficiency", None),  # acid-labile subunit, not the disease
        ("ALS mimic", None),
        ("non-ALS neurological disease", None),
        ("non-ALS control", None),  # a disease control or a healthy one? the user says
        ("ALS model", None),
        ("FTD-TDP", None),
        ("Non-ALS", None),
        ("ALS (mimic)", None),
        ("ALS-like", None),
        ("neurological control", None),  # a disease control
        ("disease control", None),
        ("control (neurological disease)", None),
        ("control (ALS mimic)", None),
    ],
)
def test_default_rules_take_only_the_spellings_of_als_and_control(value, label):
    assert label_values([value], DEFAULT_CONDITION["rules"]) == [label]


def test_als_look_alikes_need_curation_naming_values_samples_and_the_config(tmp_path):
    values = ["ALS", "ALS", "ALS mimic", "ALS mimic", "non-ALS neurological disease", "healthy"]
    result = check(matrix(tmp_path, values))
    assert not result.ok
    reason = result.reason
    assert (
        "'diagnosis': 3 sample(s) have a value the default rules do not take as ALS or control: "
        "'ALS mimic' (GSM3, GSM4; names ALS but is no spelling of the disease), 'non-ALS neurological disease' "
        "(GSM5; names ALS but is no spelling of the disease); the others resolve: 'ALS' -> ALS (2), "
        "'healthy' -> control (1)"
    ) in reason
    # the example entry is valid config: one rule per value, unknown ones 'other'
    example = reason.split("e.g. ")[1].split("; or, if it has no")[0]
    entry = yaml.safe_load(example)["datasets"]["GSE1"]
    assert entry["condition"]["column"] == "diagnosis"
    rules = entry["condition"]["rules"]
    assert label_values(values, rules) == ["ALS", "ALS", "other", "other", "other", "control"]
    assert reason.endswith("reprocess: {exclude: {GSE1: '<why>'}}.")


def test_a_resolution_records_which_value_became_which_label(tmp_path):
    result = check(matrix(tmp_path, ["sALS", "sALS/FTD", "Non-neurological control", "Control"]))
    assert result.ok and result.conditions == {"ALS": 2, "control": 2}
    assert result.labels == [
        "'sALS' -> ALS (1)",
        "'sALS/FTD' -> ALS (1)",
        "'Non-neurological control' -> control (1)",
        "'Control' -> control (1)",
    ]


def test_in_vitro_series_need_curation_and_say_how_to_add_or_exclude_them(tmp_path):
    ipsc = matrix(
        tmp_path,
        ["ALS", "ALS", "healthy control", "healthy control"],
        key="disease state",
        source="iPSC-derived motor neurons",
        cell_line="CS01",
        cell_type="iPSC-derived motor neurons",
    )
    result = check(ipsc)
    assert not result.ok
    assert result.reason.startswith(
        "in vitro model (source_name 'iPSC-derived motor neurons' (4 samples); cell_line given "
        "(4 samples); cell_type 'iPSC-derived motor neurons' (4 samples)): the default run "
        "compares ALS with control tissue"
    )
    assert result.reason.endswith("or reprocess: {exclude: {GSE1: 'in vitro model'}}.")
    example = result.reason.split("(e.g. ")[1].split("), or reprocess")[0]
    assert yaml.safe_load(example)["datasets"]["GSE1"]["condition"]["column"] == "disease_state"
    # the user who adds it (here: the example entry as it is) gets it processed
    assert check(ipsc, yaml.safe_load(example)["datasets"]["GSE1"]).ok

    # acid-labile subunit deficiency in cultured fibroblasts: both problems are named
    fibroblasts = matrix(tmp_path, ["ALS deficiency"] * 2 + ["healthy"] * 2, source="fibroblasts")
    reason = check(fibroblasts).reason
    assert reason.startswith("in vitro model (source_name 'fibroblasts' (4 samples)): ")
    assert "Its conditions need curation too: 'diagnosis': 2 sample(s) have a value" in reason
    assert "'ALS deficiency' (GSM1, GSM2; names ALS but is no spelling of the disease)" in reason


@pytest.mark.parametrize(
    ("chars", "title", "expected"),
    [
        ({"cell_type": "motor neuron", "tissue": "cervical spinal cord"}, "s", []),  # LCM
        (
            {"tissue": "Frontal Cortex"},
            "cortical organoid ",
            ["title 'cortical organoid 1', 'cort"],
        ),
        ({"tissue": "Motor Cortex", "assay": "single nucleus RNA-seq"}, "s", ["assay 'single nu"]),
        ({"cell_type": "lymphoblastoid cells"}, "s", ["cell_type 'lymphoblastoid cells' (2 s"]),
        ({"cell_type": "hiPSC"}, "s", ["cell_type 'hiPSC' (2 samples)"]),
        ({"cell_line": "GM25256"}, "s", ["cell_line given (2 samples)"]),
        # a cell line that says there is none: tissue
        ({"tissue": "spinal cord", "cell_line": "none"}, "s", []),
        ({"tissue": "spinal cord", "cell_line": "N/A"}, "s", []),
        ({"tissue": "spinal cord", "cell_line": "not applicable"}, "s", []),
    ],
)
def test_in_vitro_evidence_reads_titles_sources_and_characteristics(
    tmp_path, chars, title, expected
):
    evidence = in_vitro_evidence(matrix(tmp_path, ["ALS", "Control"], title=title, **chars))
    assert [e[: len(x)] for e, x in zip(evidence, expected, strict=True)] == expected


def test_one_sided_series_needs_curation_and_is_told_to_exclude_it():
    result = check(sheet(["sALS"] * 6))
    assert not result.ok
    assert (
        "'disease_state': every sample resolves ('sALS' -> ALS (6)) but control has fewer than "
        "2 samples: a DE contrast of ALS vs control needs >= 2 samples of each"
    ) in result.reason
    assert result.reason.endswith(
        "It cannot be compared as it is: add reprocess: {exclude: {GSE1: '<why>'}} to the config "
        "(a datasets.GSE1 entry would not help: DE needs both conditions)."
    )
    assert "Add datasets" not in result.reason


def test_an_override_without_both_conditions_is_refused_before_de_fails():
    override = {
        "condition": {"column": "disease state", "rules": [{"pattern": "sALS", "condition": "ALS"}]}
    }
    result = check(sheet(["sALS"] * 6), override)
    assert not result.ok
    assert result.reason == (
        "datasets.GSE1: its rules label 'sALS' -> ALS (6), so control has fewer than 2 samples, "
        "and DE compares ALS vs control (>= 2 samples of each): every run would fail in DE. Fix "
        "the rules of datasets.GSE1.condition, or remove the entry and add "
        "reprocess: {exclude: {GSE1: '<why>'}}."
    )
    # a dataset with its own contrast needs the conditions that contrast compares
    frame = sheet(["C9orf72", "C9orf72", "sporadic", "sporadic"])
    own = {
        "condition": {
            "column": "disease_state",
            "rules": [
                {"pattern": "C9", "condition": "C9"},
                {"pattern": "spor", "condition": "sporadic"},
            ],
        },
        "de": {"contrasts": {"C9_vs_sporadic": {"contrast": ["condition", "C9", "sporadic"]}}},
    }
    assert check(frame, own).ok


def test_an_override_comparing_another_factor_or_by_tests_is_checked_on_what_de_uses():
    frame = pl.DataFrame(
        {
            "sample": [f"GSM{i}" for i in range(5)],
            "disease_state": ["sALS", "sALS", "sALS", "sALS", "Control"],
            "genotype": ["C9", "C9", "WT", "WT", "WT"],
        }
    )
    rules = [{"pattern": "ALS", "condition": "ALS"}, {"pattern": "Control", "condition": "control"}]
    condition = {"column": "disease_state", "rules": rules}
    # a contrast of genotype among the ALS samples: one control does not matter
    genotype = {
        "condition": condition,
        "de": {
            "contrasts": {
                "C9_vs_WT": {"contrast": ["genotype", "C9", "WT"], "subset": {"condition": ["ALS"]}}
            },
            "tests": {"genotype": {"test": "lrt", "reduced": "~ 1", "design": "~ genotype"}},
        },
    }
    assert check(frame, genotype).ok
    # a test on the ALS and control samples needs both
    tests = {
        "condition": condition,
        "de": {
            "contrasts": {"C9_vs_WT": ["genotype", "C9", "WT"]},
            "tests": {
                "disease": {
                    "test": "lrt",
                    "reduced": "~ genotype",
                    "subset": {"condition": ["ALS", "control"]},
                }
            },
        },
    }
    result = check(frame, tests)
    assert not result.ok
    assert "so control has fewer than 2 samples, and DE compares ALS vs control" in result.reason


SERIES_MATRICES = SHARED_DATA / "geo_series_matrices"
REAL_CURATION = [  # the hand curation of SERIES_MATRICES/README.md: nothing real changes label
    (
        SERIES_MATRICES,
        "GSE124439",
        [
            "'ALS Spectrum MND' -> ALS (145)",
            "'Non-Neurological Control' -> control (17)",
            "'Other Neurological Disorders' -> other (14)",
        ],
        "",
    ),
    (SERIES_MATRICES, "GSE182976", [], "in vitro model (cell_line given (12 samples); cell_type"),
    (SERIES_MATRICES, "GSE20589", [], "'SOD1 mutant individual' (GSM517143, GSM517144, GSM517145)"),
    (SERIES_MATRICES, "GSE3343", [], "none of its 18 samples is human (GSM75464 (Mus musculus)"),
    (SERIES_MATRICES, "GSE68605", [], "none of the condition columns"),
    (
        SHARED_DATA / "GSE122649",
        "GSE122649",
        [
            "'sALS' -> ALS (22)",
            "'sALS/FTD' -> ALS (4)",
            "'Non-neurological control' -> control (12)",
        ],
        "",
    ),
    (SHARED_DATA / "GSE67196", "GSE67196", [], "none of the condition columns"),
]


@pytest.mark.skipif(not SERIES_MATRICES.exists(), reason=f"no {SERIES_MATRICES}")
@pytest.mark.parametrize(("folder", "accession", "labels", "reason"), REAL_CURATION)
def test_real_series_matrices_are_curated_as_by_hand(folder, accession, labels, reason):
    try:
        frame = read_series_matrix(folder / f"{accession}_series_matrix.txt.gz")
    except AlsigError as error:  # a mouse series: its samples are left out, none remains
        assert not labels and reason in str(error)
        return
    result = check(frame)
    assert (result.ok, result.labels) == (bool(labels), labels)
    assert reason in result.reason


def test_missing_columns_and_override():
    frame = sheet(["patient", "patient", "healthy donor", "healthy donor"], column="cohort")
    result = check(frame)
    assert not result.ok and "none of the condition columns" in result.reason
    override = {
        "condition": {
            "column": "cohort",
            "rules": [
                {"pattern": "patient", "condition": "ALS"},
                {"pattern": "healthy", "condition": "control"},
            ],
        }
    }
    result = check(frame, override)
    assert result.ok and result.conditions == {"ALS": 2, "control": 2}


def test_lock_excludes_second_holder_and_waits(tmp_path):
    lock = tmp_path / "state" / "reprocess.lock"
    held = pytest.raises(LockedError, match=r"another reprocess run holds the lock.*pid \d+")
    with run_lock(lock), held, run_lock(lock, timeout=0.3):
        pass
    acquired = []
    with run_lock(lock):
        waiter = threading.Thread(target=lambda: acquired.append(_take(lock)))
        waiter.start()
        time.sleep(0.3)
        assert not acquired
    waiter.join(5)
    assert acquired == [True]


def test_lock_message_says_when_the_run_that_took_it_has_ended(tmp_path):
    lock = tmp_path / "state" / "reprocess.lock"
    with run_lock(lock):
        # the run that wrote its pid was killed; a child (its snakemake: here, this process)
        # inherited the descriptor and holds the lock. 4194305 is above any Linux pid_max.
        lock.write_text("pid 4194305 since 2026-01-01T00:00:00+00:00\n")
        with pytest.raises(LockedError) as info, run_lock(lock):
            pass
    message = str(info.value)
    assert "the run that took it (pid 4194305 since 2026-01-01T00:00:00+00:00) has ended" in message
    assert f"Processes with the lock file open: pid {os.getpid()}: " in message
    assert "do not delete the lock file while it runs" in message
    assert "still running" not in message


def test_taking_the_lock_removes_temp_files_of_interrupted_writes(tmp_path, caplog):
    state = tmp_path / "state"
    (state / "runs").mkdir(parents=True)
    (state / "registry.tsv").write_text("kept\n")
    left = [state / ".registry.tsv.n027njsk.tmp", state / "runs" / ".last_run.json.a_b3c4d5.tmp"]
    others = [state / "notes.tmp", state / ".registry.tsv.tmp", state / "runs" / "x.json"]
    for path in left + others:
        path.write_text("partial")
    with caplog.at_level("WARNING", logger="alsig.ops.lock"), run_lock(state / "reprocess.lock"):
        pass
    assert [p for p in left if p.exists()] == [] and all(p.exists() for p in others)
    assert (state / "registry.tsv").read_text() == "kept\n"
    (record,) = caplog.records
    assert "cleaned up an interrupted write" in record.getMessage()
    assert ".registry.tsv.n027njsk.tmp, runs/.last_run.json.a_b3c4d5.tmp" in record.getMessage()


def _take(lock):
    with run_lock(lock, timeout=5):
        return True


def test_rule_errors_and_dataset_mapping():
    log = (
        "Error in rule ingest:\n"
        "    message: None\n"
        "    jobid: 3\n"
        "    output: results/GSE2/counts.h5ad\n"
        "    log: results/GSE2/logs/ingest.log (check log file(s) for error details)\n"
        "\n"
        "Error in rule download_geo_series:\n"
        "    output: .cache/geo/GSE3/GSE3_raw_counts_GRCh38.p13_NCBI.tsv.gz, "
        ".cache/geo/GSE3/GSE3_series_matrix.txt.gz\n"
    )
    errors = rule_errors(log)
    assert [e["rule"] for e in errors] == ["ingest", "download_geo_series"]
    assert errors[0]["log"] == ["results/GSE2/logs/ingest.log"]
    datasets = {"GSE2": {"accession": "GSE2"}, "tam": {"accession": "GSE3"}}
    assert dataset_of(errors[0]["output"][0], datasets, ".cache/geo", "results") == "GSE2"
    assert dataset_of(errors[1]["output"][1], datasets, ".cache/geo", "results") == "tam"
    assert (
        dataset_of("results/catalog/signature_scores.parquet", datasets, ".cache/geo", "results")
        is None
    )


def test_settings_validation():
    assert reprocess_settings({})["min_samples_per_condition"] == 2
    with pytest.raises(AlsigError, match=r"reprocess: unknown key\(s\) \['trem'\]"):
        reprocess_settings({"reprocess": {"trem": "x"}})
    with pytest.raises(AlsigError, match=r"default_condition.rules\[0\]"):
        reprocess_settings({"reprocess": {"default_condition": {"rules": [{"pattern": "("}]}}})
    assert reprocess_settings({"reprocess": {"exclude": ["GSE5"]}})["exclude"] == {
        "GSE5": "excluded by the user"
    }


def test_series_matrix_url_layout():
    assert series_matrix_url("https://x/geo/series/", "GSE124439") == (
        "https://x/geo/series/GSE124nnn/GSE124439/matrix/GSE124439_series_matrix.txt.gz"
    )
    assert series_matrix_url("https://x/s", "GSE1234").startswith("https://x/s/GSE1nnn/GSE1234/")
    assert series_matrix_url("https://x/s/", "GSE33356", "GPL570") == (
        "https://x/s/GSE33nnn/GSE33356/matrix/GSE33356-GPL570_series_matrix.txt.gz"
    )


def test_without_forcerun_keeps_targets_and_options():
    command = ["snakemake", "--forcerun", "results/a/counts.h5ad", "results/b/counts.h5ad"]
    command += ["--keep-going", "results/a/counts.h5ad"]
    assert without_forcerun(command) == ["snakemake", "--keep-going", "results/a/counts.h5ad"]


def test_settings_are_the_schema_defaults():
    assert reprocess_settings({}) == settings.defaults("reprocess")
    assert reprocess_settings({"reprocess": {"cores": 8}})["default_condition"] == DEFAULT_CONDITION


def test_run_summary_keys_and_outcome(tmp_path):
    import json

    from alsig.ops import EXIT_DATASETS_FAILED
    from alsig.ops.registry import Observation, Registry
    from alsig.ops.summary import RunSummary

    summary = RunSummary(run_id="r1", registry="reg.tsv")
    summary.timing("lock_wait_seconds", time.monotonic())
    observation = Observation(["GSE2"], [], ["GSE1"], [], [], [])
    summary.record_discovery(["GSE2", "GSE1", "GSE2"], observation)
    status, code = summary.record_outcome(
        Registry(), observation, ran=True, problem="", processed=[], failed={"GSE2": "boom"}
    )
    assert (status, code) == ("failed", EXIT_DATASETS_FAILED)
    written = json.loads(summary.write(tmp_path, status, code).read_text())
    assert list(written) == [
        "schema_version",
        "run_id",
        "started_at",
        "status",
        "exit_code",
        "counts",
        "datasets",
        "snakemake",
        "timings",
        "registry",
        "snakemake_ran",
        "finished_at",
    ]
    assert written["datasets"]["discovered"] == ["GSE1", "GSE2"]
    assert list(written["timings"]) == ["lock_wait_seconds", "total_seconds"]
    assert (tmp_path / "last_run.json").read_text() == (tmp_path / "runs" / "r1.json").read_text()


def tracked(tmp_path, **statuses: str):
    """A saved registry with one row per accession, in the given status."""
    from alsig.ops.registry import Entry, Registry

    entries = {acc: Entry(accession=acc, dataset=acc, status=s) for acc, s in statuses.items()}
    registry = Registry(entries, tmp_path / "registry.tsv")
    registry.save()
    return registry


def test_series_processed_earlier_that_fails_now_is_marked_failed(tmp_path, caplog):
    from alsig.ops.reprocess import record_outcomes

    registry = tracked(tmp_path, GSE1="processed", GSE2="new", GSE3="processed")
    error = "rule download_geo_counts failed (log: x.log): HTTP 404"
    processed, failed = record_outcomes(
        registry, {"GSE2"}, {"GSE1": error, "static": "rule ingest failed"}, cache_dir=tmp_path
    )
    assert processed == ["GSE2"]
    assert failed == {"GSE1": error, "static": "rule ingest failed"}
    assert {a: e.status for a, e in registry.entries.items()} == {
        "GSE1": "failed",
        "GSE2": "processed",
        "GSE3": "processed",
    }
    assert registry.entries["GSE1"].reason == error
    assert f"GSE1 failed (processed in an earlier run; now marked failed): {error}" in caplog.text
    saved = registry.load(registry.path)
    assert saved.entries["GSE1"].status == "failed"


def test_a_dag_problem_does_not_mark_earlier_series_failed(tmp_path):
    from alsig.ops.reprocess import record_outcomes

    registry = tracked(tmp_path, GSE1="processed", GSE2="new")
    problem = "snakemake failed (exit 1); see run.log"
    processed, failed = record_outcomes(
        registry,
        {"GSE2"},
        {"GSE1": problem, "GSE2": problem},
        cache_dir=tmp_path,
        problem=problem,
    )
    assert (processed, failed) == ([], {"GSE2": problem})
    assert registry.entries["GSE1"].status == "processed"


def test_curation_failures_are_failures_of_the_run(tmp_path):
    from alsig.ops import EXIT_DATASETS_FAILED
    from alsig.ops.registry import Observation
    from alsig.ops.reprocess import curation_failures, record_outcomes
    from alsig.ops.summary import RunSummary

    registry = tracked(tmp_path, GSE1="failed", GSE2="failed", GSE3="new")
    registry.entries["GSE1"].reason = "series matrix: HTTP 404"  # failed in this curation
    before = {"GSE1": "new", "GSE2": "failed", "GSE3": "new"}
    assert curation_failures(registry, before, {"GSE3"}, retry_failed=False) == {
        "GSE1": "series matrix: HTTP 404"
    }
    not_curated = curation_failures(registry, before, {"GSE3"}, retry_failed=True)
    assert list(not_curated) == ["GSE1", "GSE2"]  # GSE2 was retried and failed again
    processed, failed = record_outcomes(
        registry, {"GSE3"}, {}, cache_dir=tmp_path, curation_failed=not_curated
    )
    assert processed == ["GSE3"] and list(failed) == ["GSE1", "GSE2"]
    summary = RunSummary(run_id="r1", registry="reg.tsv")
    observation = Observation([], [], ["GSE1", "GSE2", "GSE3"], [], [], [])
    summary.record_discovery(["GSE1", "GSE2", "GSE3"], observation)
    status = summary.record_outcome(
        registry, observation, ran=False, problem="", processed=[], failed=failed
    )
    assert status == ("failed", EXIT_DATASETS_FAILED) and summary.counts["failed"] == 2


def test_force_names_unknown_and_excluded_series_and_takes_other_case(tmp_path, caplog):
    from alsig.ops.reprocess import UsageError, forced_accessions

    registry = tracked(tmp_path, GSE900001="excluded", GSE900003="needs_curation")
    registry.entries["GSE900001"].reason = "cell lines only"
    config = tmp_path / "reprocess.yaml"
    assert forced_accessions(["gse900003", "GSE900003"], registry, config) == ["GSE900003"]
    assert "--force 'gse900003': taken as GSE900003" in caplog.text
    with pytest.raises(UsageError) as refused:
        forced_accessions(["GSE900001", "GSE90003", "GSE123456"], registry, config)
    message = str(refused.value)
    assert (
        f"GSE900001 is excluded ('cell lines only'); remove it from reprocess.exclude in {config}"
        in message
    )
    assert "'GSE90003' is not in the registry. Did you mean 'GSE900003' or" in message
    assert "'GSE123456' is not in the registry." in message
    assert "The registry tracks 2 series (GSE900001, GSE900003)" in message
    assert "Nothing was changed." in message


def test_search_warnings_name_series_no_longer_returned(tmp_path):
    from alsig.ops.registry import Observation
    from alsig.ops.reprocess import search_warnings, tracked_missing
    from alsig.ops.summary import RunSummary

    registry = tracked(tmp_path, GSE1="processed", GSE2="needs_curation", GSE3="excluded")
    one_gone = Observation([], [], ["GSE2"], [], [], ["GSE1", "GSE3"])
    assert tracked_missing(one_gone, registry) == ["GSE1"]  # an excluded series is no news
    (warning,) = search_warnings(one_gone, registry, n_found=1)
    assert warning.startswith("1 tracked series no longer returned by the search: GSE1 (processed)")
    assert "stays processed and in the catalog" in warning
    assert (
        search_warnings(Observation([], [], ["GSE1", "GSE2"], [], [], []), registry, n_found=2)
        == []
    )

    all_gone = Observation([], [], [], [], [], ["GSE1", "GSE2", "GSE3"])
    (warning,) = search_warnings(all_gone, registry, n_found=0)
    assert warning.startswith(
        "the search returned none of the 2 series the registry tracks (0 series found in all): "
        "the search term (reprocess.term) is likely broken"
    )
    summary = RunSummary(run_id="r1", registry="reg.tsv")
    summary.record_discovery([], all_gone)
    summary.record_missing({"GSE1": "processed", "GSE2": "needs_curation"}, [warning])
    summary.record_outcome(registry, all_gone, ran=False, problem="", processed=[], failed={})
    record = summary.as_dict()
    assert record["datasets"]["missing"] == {"GSE1": "processed", "GSE2": "needs_curation"}
    assert record["counts"]["missing"] == 2 and record["warnings"] == [warning]


def test_a_summary_of_a_run_stopped_early_still_has_every_count():
    """A monitor reads counts['discovered'] even after a discovery failure."""
    from alsig.ops.summary import COUNT_KEYS, RunSummary

    summary = RunSummary(run_id="r1", registry="registry.tsv")
    assert summary.as_dict()["counts"] == dict.fromkeys(COUNT_KEYS, 0)


def test_a_stop_signal_raises_interrupted_once_then_is_ignored():
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        with pytest.raises(Interrupted) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises at the next bytecode, long before this ends
        os.kill(os.getpid(), signal.SIGINT)  # while the stopped run writes its summary
        time.sleep(0.01)
    assert stop.received == signal.SIGTERM
    assert stopped.value.exit_code == 143
    assert str(stopped.value).startswith("stopped by SIGTERM: no further step was started")
    assert "next run resumes them" in str(stopped.value)
    assert signal.getsignal(signal.SIGTERM) is before


class GeoServer:
    """The stub GEO server on a copy of the fixtures, a download cache and a registry."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "server"
        shutil.copytree(DATA, self.root)
        self.stub = StubServer(self.root).start()
        self.cache = tmp_path / "cache" / "geo"
        self.geo = {
            **settings.defaults("geo"),
            "download_base_url": self.stub.download_base_url,
            "series_base_url": self.stub.series_base_url,
            "timeout_seconds": 5,
            "retries": 0,
            "backoff_seconds": 0,
        }
        self.registry = Registry(
            {a: Entry(a, a) for a in ("GSE900001", "GSE900003")}, tmp_path / "registry.tsv"
        )

    def queue(self) -> set[str]:
        return queue_series(
            self.registry,
            overrides={},
            settings=reprocess_settings({}),
            geo=self.geo,
            cache_dir=self.cache,
        )

    def check(self) -> dict[str, str]:
        return check_server_files(self.registry, cache_dir=self.cache, geo=self.geo)

    def workflow_download(self, accession: str, kind: str) -> Path:
        """What the workflow's download rules do (same URL, same file)."""
        urls = {
            "counts": geo_layout.download_url(
                self.geo["download_base_url"], geo_layout.counts_file(accession), accession
            ),
            "series_matrix": series_matrix_url(self.geo["series_base_url"], accession),
            "annotation": geo_layout.download_url(
                self.geo["download_base_url"], geo_layout.ANNOTATION_FILE
            ),
        }
        dest = Path(geo_layout.cache_files(str(self.cache), accession)[kind])
        fetch_geo(urls[kind], dest, self.geo)
        return dest


@pytest.fixture
def geo_server(tmp_path):
    server = GeoServer(tmp_path)
    yield server
    server.stub.stop()


def test_curation_and_the_workflow_share_one_series_matrix_download(geo_server):
    assert geo_server.queue() == {"GSE900001"}
    assert geo_server.registry.entries["GSE900003"].status == "needs_curation"
    matrix = geo_server.workflow_download("GSE900001", "series_matrix")  # the workflow's job
    assert matrix == geo_server.cache / "GSE900001" / "GSE900001_series_matrix.txt.gz"
    assert geo_server.stub.hits["GSE900001_series_matrix.txt.gz"] == 1
    assert geo_server.stub.hits["GSE900003_series_matrix.txt.gz"] == 1


def test_curation_records_the_value_to_label_map_in_the_registry_and_log(geo_server, caplog):
    with caplog.at_level(logging.INFO, logger="alsig.ops.curation"):
        geo_server.queue()
    entries = Registry.load(geo_server.registry.path).entries
    assert entries["GSE900001"].condition_labels == "'ALS' -> ALS (6); 'Control' -> control (4)"
    assert (
        "GSE900001: conditions from 'disease_state': 'ALS' -> ALS (6), 'Control' -> control (4)"
        in caplog.text
    )
    assert entries["GSE900003"].condition_labels == ""  # needs_curation: the reason says


def test_a_file_changed_on_the_server_queues_its_series_again(geo_server, caplog):
    geo_server.queue()
    counts = geo_server.workflow_download("GSE900001", "counts")
    geo_server.registry.mark_processed("GSE900001")
    assert geo_server.check() == {}

    # NCBI recomputes GSE900001's counts; GSE900003's submitter corrects its characteristics
    geo_server.stub.change_file(f"GSE900001/{counts.name}", (b"\t3125\t", b"\t9999\t"))
    geo_server.stub.change_file(
        "GSE900003/GSE900003_series_matrix.txt.gz",
        (b"pending review", b"ALS"),
        (b"see publication", b"Control"),
    )
    with caplog.at_level(logging.WARNING, logger="alsig.ops.downloads"):
        changed = geo_server.check()
    assert sorted(changed) == ["GSE900001", "GSE900003"]
    assert changed["GSE900001"].startswith(f"file changed on the server ({counts.name}: Last-")
    assert f"GSE900001: file changed on the server ({counts.name}" in caplog.text
    entries = geo_server.registry.entries
    assert (entries["GSE900001"].status, entries["GSE900001"].reason) == (
        "new",
        changed["GSE900001"],
    )
    assert entries["GSE900003"].status == "needs_curation"  # curated again below
    assert b"\t9999\t" in gzip.decompress(counts.read_bytes())  # downloaded again
    assert geo_server.stub.hits[counts.name] == 2
    assert geo_server.stub.hits["GSE900001_series_matrix.txt.gz"] == 1  # unchanged: kept

    assert geo_server.queue() == {"GSE900001", "GSE900003"}
    assert entries["GSE900003"].condition_column == "disease_state"
    assert geo_server.stub.hits["GSE900003_series_matrix.txt.gz"] == 2
    assert geo_server.check() == {}


def test_a_changed_gene_annotation_queues_every_processed_series(geo_server):
    geo_server.queue()
    annotation = geo_server.workflow_download("GSE900001", "annotation")
    geo_server.registry.mark_processed("GSE900001")
    before = read_sidecar(annotation)["sha256"]
    path = geo_server.root / geo_layout.ANNOTATION_FILE
    path.write_bytes(path.read_bytes() + gzip.compress(b""))  # one more (empty) gzip member
    changed = geo_server.check()
    assert list(changed) == ["GSE900001"]
    assert changed["GSE900001"].startswith("the shared gene annotation changed on the server (")
    assert geo_server.registry.entries["GSE900001"].status == "new"
    assert geo_server.registry.entries["GSE900003"].status == "needs_curation"
    assert read_sidecar(annotation)["sha256"] != before


def test_a_config_error_of_the_workflow_is_quoted_in_the_failure_reason(tmp_path, monkeypatch):
    from alsig.ops import workflow

    command = ["snakemake", "--configfile", "run_config.yaml"]
    log = tmp_path / "run.snakemake.log"
    refusal = (
        "alsig config error: output folder 'results' holds another run (datasets ['GSE1']); "
        "this config runs ['GSE2']."
    )
    log.write_text(f"$ {' '.join(command)}\nBuilding DAG of jobs...\n{refusal}\n")
    monkeypatch.setattr(workflow, "pending_outputs", lambda *args: None)  # no DAG
    result = workflow.SnakemakeRun(returncode=1, seconds=1.0, log=log, command=command)
    failures = workflow.find_failures(
        result, {"GSE2": {}}, workdir=tmp_path, cache_dir="cache", output_dir="results"
    )
    assert failures.problem == f"snakemake failed (exit 1): {refusal}; see {log}"
    assert failures.datasets == {"GSE2": failures.problem}


def test_a_failed_snakemake_run_with_nothing_pending_names_no_empty_list(tmp_path, monkeypatch):
    from alsig.ops import workflow

    log = tmp_path / "run.snakemake.log"
    log.write_text("$ snakemake\nBuilding DAG of jobs...\nSome other error\n")
    monkeypatch.setattr(workflow, "pending_outputs", lambda *args: [])  # everything built
    result = workflow.SnakemakeRun(returncode=1, seconds=1.0, log=log, command=["snakemake"])
    failures = workflow.find_failures(
        result, {"GSE2": {}}, workdir=tmp_path, cache_dir="cache", output_dir="results"
    )
    assert failures.problem == f"snakemake failed (exit 1); see {log}"
    assert failures.datasets == {}


def test_a_series_held_for_shared_samples_is_not_curated_nor_queued(geo_server):
    from alsig.ops.registry import Observation
    from alsig.ops.reprocess import shared_sample_warnings

    reason = "shares samples with a series that is kept: 10 with GSE900003 (new) of its 10 samples"
    geo_server.registry.set("GSE900001", "needs_curation", reason)  # as discovery held it
    queued = queue_series(
        geo_server.registry,
        skip={"GSE900001"},
        overrides={},
        settings=reprocess_settings({}),
        geo=geo_server.geo,
        cache_dir=geo_server.cache,
    )
    assert "GSE900001" not in queued
    entry = geo_server.registry.entries["GSE900001"]
    assert (entry.status, entry.reason) == ("needs_curation", reason)
    assert geo_server.stub.hits["GSE900001_series_matrix.txt.gz"] == 0
    observation = Observation([], [], [], [], [], [], shared={"GSE900001": reason})
    assert shared_sample_warnings(observation) == [
        f"GSE900001 not processed (needs_curation): {reason}"
    ]


def platform_matrix(
    server: GeoServer, accession: str, platform: str, organism: str, *, strategy: bool = True
) -> None:
    """Serve GSE900001's series matrix as ``<accession>-<platform>_series_matrix.txt.gz``.

    ``strategy=False``: without its ``!Sample_library_strategy`` line (an older series).
    """
    text = gzip.decompress(
        (DATA / "GSE900001" / "GSE900001_series_matrix.txt.gz").read_bytes()
    ).decode()
    if not strategy:
        text = "\n".join(
            line for line in text.split("\n") if not line.startswith("!Sample_library_strategy")
        )
    taxid = {"Homo sapiens": "9606", "Mus musculus": "10090"}[organism]
    text = text.replace('"Homo sapiens"', f'"{organism}"').replace('"9606"', f'"{taxid}"')
    text = text.replace('"GPL16791"', f'"{platform}"')
    folder = server.root / accession
    folder.mkdir(exist_ok=True)
    name = geo_layout.series_matrix_file(accession, platform)
    (folder / name).write_bytes(gzip.compress(text.encode()))


def choose_platforms_of(server: GeoServer, overrides=None) -> set[str]:
    """:func:`alsig.ops.platforms.choose_platforms` on the stub server's registry."""
    from alsig.ops.platforms import choose_platforms

    return choose_platforms(
        server.registry,
        skip=(),
        overrides=overrides or {},
        settings=reprocess_settings({}),
        geo=server.geo,
        cache_dir=server.cache,
    )


def test_a_series_geo_splits_by_platform_uses_the_human_rnaseq_matrix(geo_server):
    from alsig.ops.run_config import dataset_settings
    from alsig.planning import ingest_inputs

    platform_matrix(geo_server, "GSE900011", "GPL16791", "Homo sapiens")
    platform_matrix(geo_server, "GSE900011", "GPL17021", "Mus musculus")
    entries = geo_server.registry.entries
    entries["GSE900011"] = Entry("GSE900011", "GSE900011", platforms="GPL16791;GPL17021")

    def choose(overrides=None):
        return choose_platforms_of(geo_server, overrides)

    assert choose() == set()
    assert entries["GSE900011"].platform == "GPL16791"
    assert "GSE900011" in geo_server.queue()  # curated on that platform's matrix
    hits = geo_server.stub.hits
    assert hits["GSE900011-GPL16791_series_matrix.txt.gz"] == 1  # one download for both
    assert hits["GSE900011-GPL17021_series_matrix.txt.gz"] == 1
    assert hits["GSE900011_series_matrix.txt.gz"] == 0  # GEO has no such file
    settings = dataset_settings(entries["GSE900011"], None, DEFAULT_CONDITION["rules"])
    assert settings["platform"] == "GPL16791"
    config = {"geo": {"cache_dir": "cache/geo"}, "datasets": {"GSE900011": settings}}
    assert ingest_inputs(config, "GSE900011")["series_matrix"] == (
        "cache/geo/GSE900011/GSE900011-GPL16791_series_matrix.txt.gz"
    )
    assert choose() == set() and hits["GSE900011-GPL17021_series_matrix.txt.gz"] == 1  # asked once

    # two human RNA-seq platforms: the user picks one
    platform_matrix(geo_server, "GSE900012", "GPL16791", "Homo sapiens")
    platform_matrix(geo_server, "GSE900012", "GPL24676", "Homo sapiens")
    entries["GSE900012"] = Entry("GSE900012", "GSE900012", platforms="GPL16791;GPL24676")
    assert choose() == {"GSE900012"}
    entry = entries["GSE900012"]
    assert entry.status == "needs_curation" and entry.platform == ""
    assert entry.reason == (
        "GEO splits this series by platform and 2 of its series matrices hold human RNA-seq "
        "samples (GPL16791: 10 samples (Homo sapiens), 10 human RNA-seq; GPL24676: 10 samples "
        "(Homo sapiens), 10 human RNA-seq); alsig reads one series matrix per dataset. Set "
        "datasets.GSE900012.platform (with source: geo, accession: GSE900012 and its condition) "
        "to the platform to use, or add the series to reprocess.exclude."
    )
    override = {"source": "geo", "accession": "GSE900012", "platform": "GPL24676"}
    assert choose({"GSE900012": ("GSE900012", override)}) == set()
    assert entry.platform == "GPL24676"

    # a mouse and an array platform only: nothing to analyse
    platform_matrix(geo_server, "GSE900013", "GPL17021", "Mus musculus")
    platform_matrix(geo_server, "GSE900013", "GPL1261", "Mus musculus")
    entries["GSE900013"] = Entry("GSE900013", "GSE900013", platforms="GPL17021;GPL1261")
    assert choose() == {"GSE900013"}
    assert entries["GSE900013"].reason.startswith(
        "GEO splits this series by platform and none of its series matrices holds human RNA-seq "
        "samples, whose counts NCBI computes (GPL17021: 10 samples (Mus musculus), 0 human "
        "RNA-seq; GPL1261"
    )


def test_a_platform_matrix_missing_or_without_strategy_decides_only_when_it_must(
    geo_server, caplog
):
    entries = geo_server.registry.entries
    # GPL99999's matrix is not on the server: the human RNA-seq samples are on GPL16791
    platform_matrix(geo_server, "GSE900015", "GPL16791", "Homo sapiens")
    entries["GSE900015"] = Entry("GSE900015", "GSE900015", platforms="GPL16791;GPL99999")
    # GPL99999 missing and GPL17021 mouse: the answer lies in the missing one
    platform_matrix(geo_server, "GSE900016", "GPL17021", "Mus musculus")
    entries["GSE900016"] = Entry("GSE900016", "GSE900016", platforms="GPL17021;GPL99999")
    # an older series: no library strategy on either platform; one is human
    platform_matrix(geo_server, "GSE900017", "GPL11154", "Homo sapiens", strategy=False)
    platform_matrix(geo_server, "GSE900017", "GPL13112", "Mus musculus", strategy=False)
    entries["GSE900017"] = Entry("GSE900017", "GSE900017", platforms="GPL11154;GPL13112")
    with caplog.at_level(logging.INFO, logger="alsig.ops.platforms"):
        assert choose_platforms_of(geo_server) == {"GSE900016"}
    assert (entries["GSE900015"].status, entries["GSE900015"].platform) == ("new", "GPL16791")
    assert "GSE900015: using GPL16791's series matrix; not read, and not needed for the " in (
        caplog.text
    )
    assert "series matrix of platform GPL99999: download of http" in caplog.text
    failed = entries["GSE900016"]
    assert failed.status == "failed" and failed.platform == ""
    assert failed.reason.startswith("series matrix of platform GPL99999: download of http")
    assert failed.reason.endswith(
        "The others hold no human RNA-seq sample (GPL17021: 10 samples (Mus musculus), 0 human "
        "RNA-seq). Retried at the next run; or set datasets.GSE900016.platform (with source: "
        "geo, accession: GSE900016 and its condition)."
    )
    assert (entries["GSE900017"].status, entries["GSE900017"].platform) == ("new", "GPL11154")
    assert (
        "GSE900017: samples on 2 platforms; using GSE900017-GPL11154_series_matrix.txt.gz (the "
        "only one with human samples; no library strategy given) (GPL11154: 10 samples (Homo "
        "sapiens), 0 human RNA-seq, 10 human of library strategy not given; GPL13112: 10 "
        "samples (Mus musculus), 0 human RNA-seq)" in caplog.text
    )


def test_a_series_without_a_human_sample_needs_curation(geo_server):
    platform_matrix(geo_server, "GSE900014", "", "Mus musculus")  # one platform: no GPL in name
    entries = geo_server.registry.entries
    entries["GSE900014"] = Entry("GSE900014", "GSE900014", platforms="GPL17021")
    assert choose_platforms_of(geo_server) == {"GSE900014"}
    assert (entries["GSE900014"].status, entries["GSE900014"].reason) == (
        "needs_curation",
        "series matrix: none of its 10 samples is human (GSM9001001 (Mus musculus), "
        "GSM9001002 (Mus musculus), GSM9001003 (Mus musculus), GSM9001004 (Mus musculus), "
        "GSM9001005 (Mus musculus), GSM9001006 (Mus musculus), GSM9001007 (Mus musculus), "
        "GSM9001008 (Mus musculus), GSM9001009 (Mus musculus), GSM9001010 (Mus musculus)); "
        "NCBI computes its counts for human samples only. Add it to reprocess.exclude.",
    )
    assert entries["GSE900001"].status == "new"  # human: left to curation


def test_reprocess_releases_the_series_it_leaves_out_from_the_output_folder(tmp_path):
    """Excluding the only processed series must not make the next run 'another run'."""
    from alsig import planning
    from alsig.ops.reprocess import Options, Reprocess

    config = tmp_path / "reprocess.yaml"
    config.write_text("reprocess: {exclude: {GSE1: not ALS}}\ndatasets: {}\n")
    runner = Reprocess(Options(config=config, workdir=tmp_path))
    registry = tracked(tmp_path, GSE1="excluded", GSE2="new")
    results = str(tmp_path / "results")
    planning.claim_output_dir(results, ["GSE1"])  # run 1 processed GSE1
    with pytest.raises(AlsigError, match="holds another run"):
        planning.check_output_dir(results, ["GSE2"])
    runner._release_left_out({"datasets": {"GSE2": {}}}, registry)
    assert planning.check_output_dir(results, ["GSE2"]) is None
    record = json.loads((tmp_path / "results" / planning.RUN_RECORD).read_text())
    assert record == {"datasets": [], "alsig_version": alsig.__version__}


def as_written_by_0_4_7(path: Path) -> None:
    """Drop the registry columns alsig 0.4.7 did not write (condition_labels, condition_rules)."""
    table = pl.read_csv(path, separator="\t", infer_schema=False)
    table.drop("condition_labels", "condition_rules").write_csv(path, separator="\t")


def test_processed_series_are_curated_again_when_the_default_rules_changed(geo_server, caplog):
    from alsig.ops.curation import recurate_processed, rules_digest

    # GSE900003's submitter wrote 'ALS mimic': an earlier alsig took it as ALS
    geo_server.stub.change_file(
        "GSE900003/GSE900003_series_matrix.txt.gz",
        (b"pending review", b"ALS mimic"),
        (b"see publication", b"Control"),
    )
    registry = geo_server.registry
    registry.entries["GSE900099"] = Entry("GSE900099", "GSE900099")  # its matrix is gone
    for accession, entry in registry.entries.items():
        registry.mark_processed(accession, now="T1")
        entry.condition_column = "disease_state"
    registry.save()
    as_written_by_0_4_7(registry.path)
    registry = Registry.load(registry.path)
    assert {e.condition_rules for e in registry.entries.values()} == {""}

    def recurate(settings=None, overrides=None) -> list[str]:
        return recurate_processed(
            registry,
            overrides=overrides or {},
            settings=settings or reprocess_settings({}),
            geo=geo_server.geo,
            cache_dir=geo_server.cache,
        )

    with caplog.at_level(logging.INFO, logger="alsig.ops.curation"):
        warnings = recurate()
    since = (
        "may differ from those it was curated with (the registry, written by alsig 0.4.7 or "
        "earlier, does not record them)"
    )
    kept = registry.entries["GSE900001"]
    assert kept.status == "processed"
    assert kept.condition_labels == "'ALS' -> ALS (6); 'Control' -> control (4)"
    assert kept.condition_rules == rules_digest(DEFAULT_CONDITION["rules"])
    assert (
        f"GSE900001: the default condition rules {since}; curated again, its conditions still "
        "resolve from 'disease_state': 'ALS' -> ALS (6), 'Control' -> control (4). It stays "
        "processed; its ingest reruns once with the current rules." in caplog.text
    )
    dropped = registry.entries["GSE900003"]
    assert dropped.status == "needs_curation"
    assert dropped.reason.startswith(
        f"the default condition rules (reprocess.default_condition.rules) {since}; curated "
        "again, the series is no longer taken: conditions not resolved by "
        "reprocess.default_condition: 'disease_state': 3 sample(s) have a value the default "
        "rules do not take as ALS or control: 'ALS mimic' (GSM9003001, GSM9003003, GSM9003005; "
        "names ALS but is no spelling of the disease); the others resolve: 'Control' -> "
        "control (3). Add datasets.GSE900003 to the config with a rule for each value"
    )
    entry = dropped.reason.split("e.g. ")[1].split("; or, if it has no")[0]
    assert yaml.safe_load(entry)["datasets"]["GSE900003"]["condition"]["rules"] == [
        {"pattern": "^ALS mimic$", "condition": "other"},
        {"pattern": "^Control$", "condition": "control"},
    ]
    unread = registry.entries["GSE900099"]
    assert unread.status == "processed" and unread.condition_rules == ""  # tried again next run
    assert warnings[1].startswith(
        f"GSE900099: the default condition rules (reprocess.default_condition.rules) {since}, "
        "and its series matrix could not be read to curate it again ("
    )
    assert warnings[1].endswith(
        "it stays processed, its ingest runs with the current rules, and the next run tries again."
    )
    assert warnings[0] == (
        f"GSE900003 was processed and leaves the catalog (now needs_curation): {dropped.reason}"
    )
    assert Registry.load(registry.path).entries["GSE900001"].condition_rules == kept.condition_rules

    # the same rules again: nothing to do, nothing downloaded
    del registry.entries["GSE900099"]
    hits = dict(geo_server.stub.hits)
    assert recurate() == [] and dict(geo_server.stub.hits) == hits
    # rules edited in the config: curated again from the cached matrix
    rules = [*DEFAULT_CONDITION["rules"], {"pattern": "^ALS mimic$", "condition": "other"}]
    edited = reprocess_settings({"reprocess": {"default_condition": {"rules": rules}}})
    override = {"source": "geo", "accession": "GSE900001", "condition": {"column": "x"}}
    assert recurate(edited, {"GSE900001": ("GSE900001", override)}) == []  # its own entry: kept
    assert kept.condition_rules == rules_digest(DEFAULT_CONDITION["rules"])
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="alsig.ops.curation"):
        assert recurate(edited) == []
    assert kept.condition_rules == rules_digest(rules)
    assert "GSE900001: the default condition rules changed since it was curated;" in caplog.text
    assert dict(geo_server.stub.hits) == hits


def test_a_reprocess_run_drops_a_series_the_new_rules_do_not_take_and_says_so(
    tmp_path, monkeypatch
):
    import json

    from alsig.ops import workflow
    from alsig.ops.reprocess import Options, Reprocess
    from tests.eutils_stub import EutilsFixture

    root = tmp_path / "ncbi"
    shutil.copytree(DATA, root)
    stub = StubServer(root).start()
    stub.register("/entrez/eutils/", EutilsFixture(published=["GSE900001", "GSE900003"]).respond)
    stub.change_file(
        "GSE900003/GSE900003_series_matrix.txt.gz",
        (b"pending review", b"ALS mimic"),
        (b"see publication", b"Control"),
    )
    config = tmp_path / "reprocess.yaml"
    base = {
        "reprocess": {
            "eutils_base_url": f"{stub.base_url}/entrez/eutils/",
            "retries": 0,
            "requests_per_second": 100,
        },
        "geo": {
            "download_base_url": stub.download_base_url,
            "series_base_url": stub.series_base_url,
            "cache_dir": "cache/geo",
            "retries": 0,
        },
        "datasets": {},
    }
    config.write_text(yaml.safe_dump(base))
    ran: list[list[str]] = []

    def run(self, config, targets, forcerun=()):  # no snakemake: every output built
        ran.append(sorted(config["datasets"]))
        return workflow.SnakemakeRun(0, 0.1, tmp_path / "snakemake.log", ["snakemake"])

    monkeypatch.setattr(workflow.Workflow, "run", run)
    try:
        assert Reprocess(Options(config=config, workdir=tmp_path)).run() == 0
        state = tmp_path / "results" / "reprocess"
        # as alsig 0.4.7 left it: GSE900003 processed ('ALS mimic' taken as ALS), no rules recorded
        registry = Registry.load(state / "registry.tsv")
        assert registry.entries["GSE900003"].status == "needs_curation"
        registry.mark_processed("GSE900003")
        registry.save()
        as_written_by_0_4_7(state / "registry.tsv")
        (state / "last_success.json").unlink()

        assert Reprocess(Options(config=config, workdir=tmp_path)).run() == 0
    finally:
        stub.stop()
    registry = Registry.load(state / "registry.tsv")
    assert registry.entries["GSE900001"].status == "processed"
    assert registry.entries["GSE900003"].status == "needs_curation"
    assert ran[-1] == ["GSE900001"]  # the catalog is built without it
    summary = json.loads((state / "last_run.json").read_text())
    assert summary["status"] == "ok"
    assert summary["datasets"]["needs_curation"] == {
        "GSE900003": registry.entries["GSE900003"].reason
    }
    assert summary["warnings"] == [
        "GSE900003 was processed and leaves the catalog (now needs_curation): "
        + registry.entries["GSE900003"].reason
    ]
