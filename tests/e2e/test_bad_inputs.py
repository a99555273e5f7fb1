"""Bad-input corpus (tests/data/bad/, see its README.md) through the real workflow.

Each failing case asserts: non-zero exit, a message naming the file + line/column or the config
key, no traceback in the job log, none of the failing rule's outputs (or temp files) left behind,
and every input file byte-identical afterwards (sha256). Cases already covered elsewhere are not
repeated here: negative counts, a top-level dataset key typo and dataset ids '../x' / 'has space'
are in tests/e2e/test_ingest_workflow.py.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pytest

from alsig.io import sha256_file
from tests.conftest import REPO, run_workflow

BAD = REPO / "tests" / "data" / "bad"
DEMO_SHEET = REPO / "resources" / "demo" / "GSE122649_demo_samples.tsv"
FAST_ENRICH = {"collections": ["hallmark"], "permutations": 100}


def tiny_dataset(counts: str, samples: str = "samples.tsv") -> dict:
    """The 6-gene x 4-sample dataset of the corpus with one file swapped for a bad one."""
    return {
        "source": "local",
        "counts": str(BAD / counts),
        "samples": str(BAD / samples),
        "sample_column": "sample_id",
        "gene_id_type": "symbol",
        "condition": {"column": "group"},
        "columns": {"subject": "subject_id", "sex": "sex"},
    }


INGEST = ("results/bad/counts.h5ad",)
DE = (
    "results/demo/de/ALS_vs_control.parquet",
    "results/demo/de/ALS_vs_control.tsv",
    "results/demo/de/ALS_vs_control.summary.tsv",
)


@dataclass
class Case:
    id: str
    dataset: dict | None = None  # replaces the demo dataset (id 'bad') when given
    demo_edit: dict = field(default_factory=dict)  # merged into the demo config otherwise
    target: str = INGEST[0]
    dry_run: bool = False
    message: tuple[str, ...] = ()
    unmade: tuple[str, ...] = INGEST  # outputs of the failing rule that must not exist
    inputs: tuple[Path, ...] = ()


CASES = [
    Case(
        "fractional_count",
        tiny_dataset("counts_fractional.tsv"),
        message=("counts_fractional.tsv', line 4, column 'S2': count is not an integer",),
    ),
    Case(
        "nan_count",
        tiny_dataset("counts_nan.tsv"),
        message=("counts_nan.tsv', line 3, column 'S4': count is NaN",),
    ),
    Case(
        "text_count",
        tiny_dataset("counts_text.tsv"),
        message=("counts_text.tsv', line 5, column 'S3': value 'n/a-low' is not a number",),
    ),
    Case(
        "duplicate_sample_column",
        tiny_dataset("counts_duplicate_sample.tsv"),
        message=("counts_duplicate_sample.tsv': duplicate column names (sample ids): 'S2'",),
    ),
    Case(
        "duplicate_sample_id_in_sheet",
        tiny_dataset("counts_ok.tsv", "samples_duplicate_id.tsv"),
        message=(
            "samples_duplicate_id.tsv', column 'sample_id': duplicate sample ids at line 4 ('S3'),"
            " line 6 ('S3')",
        ),
    ),
    Case(
        "sheet_missing_a_sample",
        tiny_dataset("counts_ok.tsv", "samples_missing_sample.tsv"),
        message=("count-matrix column(s)", "are not in the sample sheet", "['S4']"),
    ),
    Case(
        "sheet_with_extra_sample",
        tiny_dataset("counts_ok.tsv", "samples_extra_sample.tsv"),
        message=("sample(s) in the sample sheet", "are not columns of the count matrix", "['S5']"),
    ),
    Case(
        "estimated_counts",
        tiny_dataset("counts_estimated.tsv"),
        message=(
            "counts_estimated.tsv', line 3, column 'S3': count is not an integer",
            "counts_rounding: round",
        ),
    ),
    Case(
        "mouse_symbols",
        tiny_dataset("counts_mouse_symbols.tsv"),
        message=("counts_mouse_symbols.tsv': 5 of 6 gene symbols are written like mouse",),
    ),
    Case(
        "empty_counts",
        tiny_dataset("counts_empty.tsv"),
        message=("counts_empty.tsv' is empty",),
    ),
    Case(
        "truncated_gzip",
        tiny_dataset("counts_truncated.tsv.gz"),
        message=("counts_truncated.tsv.gz' is not a complete gzip file",),
    ),
    Case(
        "h5ad_non_integer_x",
        tiny_dataset("nonint_x.h5ad"),
        message=("nonint_x.h5ad': X holds non-integer values",),
    ),
    Case(
        "one_sample_in_a_condition",
        demo_edit={
            "samples": str(BAD / "demo_samples_one_control.tsv"),
            "condition": {
                "column": "group",
                "rules": [
                    {"pattern": "^ALS$", "condition": "ALS"},
                    {"pattern": "^control$", "condition": "control"},
                    {"pattern": "^other$", "condition": "other"},
                ],
            },
        },
        target=DE[0],
        message=(
            "contrast 'ALS_vs_control'",
            "level 'control' has 1 sample(s), at least 2 needed",
            "de.contrasts",
        ),
        unmade=DE,
    ),
    Case(
        "design_not_full_rank_subject",
        demo_edit={"de": {"design": "~ subject + condition"}},
        target=DE[0],
        message=("design '~ subject + condition'", "the design matrix is not full rank"),
        unmade=DE,
    ),
    Case(
        "design_confounded_covariate",
        demo_edit={
            "columns": {"subject": "subject_id", "sex": "sex", "batch": "group"},
            "de": {"design": "~ batch + condition"},
        },
        target=DE[0],
        message=("the design matrix is not full rank", "'batch' x 'condition'"),
        unmade=DE,
    ),
    Case(
        "stage_key_typo",
        demo_edit={"de": {"desing": "~ condition"}},
        target="results/demo/counts.h5ad",
        dry_run=True,
        message=("config key datasets.demo.de: unknown key(s) ['desing']",),
        unmade=("results/demo/counts.h5ad",),
    ),
]


def _config(case: Case, demo_config: dict) -> dict:
    config = copy.deepcopy(demo_config)
    config["enrich"] = dict(FAST_ENRICH)
    if case.dataset is not None:
        config["datasets"] = {"bad": case.dataset}
    else:
        config["datasets"]["demo"].update(copy.deepcopy(case.demo_edit))
    return config


def _input_files(config: dict) -> list[Path]:
    files = []
    for settings in config["datasets"].values():
        files += [Path(settings["counts"]), Path(settings["samples"])]
    for entry in (config.get("enrich") or {}).get("extra_gmt") or []:
        files.append(Path(entry["path"]))
    return files


def _checksums(paths: list[Path]) -> dict[Path, str]:
    return {p: sha256_file(p) for p in paths}


def _assert_no_leftovers(workdir: Path, unmade: tuple[str, ...]) -> None:
    for output in unmade:
        assert not (workdir / output).exists(), f"{output} left behind by a failed rule"
    temps = (
        [p for p in (workdir / "results").rglob("*.tmp")] if (workdir / "results").exists() else []
    )
    assert not temps, f"temporary files left behind: {temps}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_cleanly(tmp_path, demo_config, case):
    config = _config(case, demo_config)
    before = _checksums(_input_files(config))
    extra = ("-n",) if case.dry_run else ()
    result = run_workflow(tmp_path, config, case.target, extra_args=extra)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    for text in case.message:
        assert text in output, f"{text!r} not in output:\n{output[-4000:]}"
    logs = list((tmp_path / "results").rglob("*.log")) if (tmp_path / "results").exists() else []
    for log in logs:
        assert "Traceback" not in log.read_text(), f"traceback in {log}:\n{log.read_text()}"
    _assert_no_leftovers(tmp_path, case.unmade)
    assert _checksums(_input_files(config)) == before, "an input file was modified"


def test_broken_gmt_lines_fail_enrichment_only(tmp_path, demo_config):
    """enrich.extra_gmt with a line that is not tab-separated: the enrichment of that collection
    fails naming file and line; DE (upstream) is done and kept."""
    config = _config(Case("gmt"), demo_config)
    config["enrich"]["extra_gmt"] = [{"id": "broken", "path": str(BAD / "broken.gmt")}]
    before = _checksums(_input_files(config))
    target = "results/demo/enrich/ALS_vs_control/broken.parquet"
    result = run_workflow(tmp_path, config, target)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "broken.gmt', line 2: malformed GMT line" in output, output[-4000:]
    _assert_no_leftovers(
        tmp_path,
        (
            target,
            "results/demo/enrich/ALS_vs_control/broken.tsv",
            "results/demo/enrich/ALS_vs_control/broken.run.json",
        ),
    )
    assert (tmp_path / DE[0]).exists()  # the upstream job finished and stays
    assert _checksums(_input_files(config)) == before


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ("counts_excel_mangled.tsv", {"7-Sep": "SEPTIN7", "4-Mar": "MARCHF4"}),
        ("counts_duplicate_gene.tsv", None),
    ],
    ids=["excel_mangled_symbols", "duplicate_gene_ids"],
)
def test_repairable_inputs_succeed_and_are_reported(tmp_path, demo_config, counts, expected):
    """Excel-mangled symbols are repaired and duplicate gene rows summed; both are reported in
    uns['provenance']['gene_harmonisation'], the run succeeds and the input stays untouched."""
    config = _config(Case("ok", tiny_dataset(counts)), demo_config)
    before = _checksums(_input_files(config))
    result = run_workflow(tmp_path, config, INGEST[0])
    assert result.returncode == 0, result.stderr[-3000:]
    adata = ad.read_h5ad(tmp_path / INGEST[0])
    report = adata.uns["provenance"]["gene_harmonisation"]
    if expected:
        repaired = dict(
            zip(report["excel_repaired"]["from"], report["excel_repaired"]["to"], strict=True)
        )
        assert repaired == expected
        assert {"SEPTIN7", "MARCHF4"} <= set(adata.var_names)
        assert not {"7-Sep", "4-Mar"} & set(adata.var_names)
        assert len(report["excel_ambiguous"]["from"]) == 0
        log = (tmp_path / "results/bad/logs/ingest.log").read_text()
        assert "7-Sep -> SEPTIN7" in log and "4-Mar -> MARCHF4" in log, log
    else:
        assert report["n_duplicate_rows_summed"] == 1
        assert adata.n_vars == 5
        gapdh = np.asarray(
            adata[:, "GAPDH"].X.todense() if hasattr(adata.X, "todense") else adata[:, "GAPDH"].X
        ).ravel()
        # GAPDH rows 1 and 5 of the file: (900, 1100, 1000, 950) + (40, 90, 35, 95)
        assert gapdh.tolist() == [940, 1190, 1035, 1045]
    assert _checksums(_input_files(config)) == before


def test_featurecounts_output_with_bom_and_crlf_is_read(tmp_path, demo_config):
    """featureCounts' own layout (comment line, five annotation columns) saved with a BOM and
    CRLF: read by name, the annotation columns dropped and the repairs in the log and provenance."""
    config = _config(Case("ok", tiny_dataset("counts_featurecounts.tsv")), demo_config)
    result = run_workflow(tmp_path, config, INGEST[0])
    assert result.returncode == 0, result.stderr[-3000:]
    adata = ad.read_h5ad(tmp_path / INGEST[0])
    assert list(adata.obs_names) == ["S1", "S2", "S3", "S4"] and adata.n_vars == 6
    dense = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
    assert dense[:, list(adata.var_names).index("GAPDH")].tolist() == [900, 1100, 1000, 950]
    repairs = adata.uns["provenance"]["counts_repairs"]
    assert list(repairs["featurecounts_columns_dropped"]) == [
        "Chr",
        "Start",
        "End",
        "Strand",
        "Length",
    ]
    log = (tmp_path / "results/bad/logs/ingest.log").read_text()
    assert "UTF-8 byte-order mark removed" in log and "featureCounts annotation columns" in log
