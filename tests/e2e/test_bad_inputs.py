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


def tiny_dataset(counts: str, samples: str = "samples.tsv", **extra) -> dict:
    """The 6-gene x 4-sample dataset of the corpus with one file swapped for a bad one."""
    return {
        "source": "local",
        "counts": str(BAD / counts),
        "samples": str(BAD / samples),
        "sample_column": "sample_id",
        "gene_id_type": "symbol",
        "condition": {"column": "group"},
        "columns": {"subject": "subject_id", "sex": "sex"},
        **extra,
    }


def round_two_sheet(samples: str, **extra) -> dict:
    """The tiny dataset with a round-2 sheet (columns `subject`, `Batch` not mapped)."""
    return tiny_dataset("counts_ok.tsv", samples, columns={"sex": "sex"}, **extra)


INGEST = ("results/bad/counts.h5ad",)
QC = ("results/bad/qc/filtered.h5ad", "results/bad/qc/sample_qc.tsv")
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
        message=("nonint_x.h5ad', X sample 'S2', gene 'SNAP25': count is not an integer",),
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
    # round 2 (issue 29): one validation layer for every input path
    Case(
        "excel_error_gene_ids_over_the_limit",
        tiny_dataset("counts_excel_errors.tsv"),
        message=(
            "counts_excel_errors.tsv', line 3: 2 of 6 rows (33.3%) have no gene id",
            "spreadsheet error such as #N/A",
            "max_missing_gene_ids_fraction",
        ),
    ),
    Case(
        "header_only_counts",
        tiny_dataset("counts_header_only.tsv"),
        message=("counts_header_only.tsv': no gene rows",),
    ),
    Case(
        "all_zero_library",
        tiny_dataset("counts_zero_library.tsv"),
        message=("have no counts in any gene (an empty library): 'S3'",),
    ),
    Case(
        "ensembl_ids_read_as_symbols",
        tiny_dataset("counts_ensembl_ids.tsv"),
        message=(
            "only 0.0% of 6 gene ids map to a known human gene",
            "look like Ensembl gene ids",
            "`datasets.bad.gene_id_type: ensembl`",
        ),
    ),
    Case(
        "h5ad_float_1e20",
        tiny_dataset("float_1e20.h5ad"),
        message=("float_1e20.h5ad', X sample 'S2', gene 'SNAP25': count is too large",),
    ),
    Case(
        "directory_as_counts",
        {**tiny_dataset("counts_ok.tsv"), "counts": str(BAD)},
        message=("is a directory, not a file",),
    ),
    Case(
        "subject_in_two_conditions",
        round_two_sheet("samples_subject_two_conditions.tsv", qc={"collapse_by": "subject"}),
        target=QC[0],
        message=("subject 'D1' has libraries with condition S1: ALS, S2: control",),
        unmade=QC,
    ),
    Case(
        "unknown_in_a_numeric_covariate",
        demo_edit={"de": {"design": "~ age_at_death + condition"}},
        target=DE[0],
        message=(
            "'Unknown' for 2 sample(s) (JR70, JR73) read as missing",
            "'age_at_death' missing for 2 sample(s) (JR70, JR73)",
            "de.missing_covariates: drop",
        ),
        unmade=DE,
    ),
    Case(
        "stage_key_typo",
        demo_edit={"de": {"desing": "~ condition"}},
        target="results/demo/counts.h5ad",
        dry_run=True,
        message=(
            "config key datasets.demo.de: unknown key(s) ['desing']",
            "Did you mean 'design'?",
        ),
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
        files += [Path(settings[k]) for k in ("counts", "samples", "te_counts") if k in settings]
        files = [f for f in files if f.is_file()]
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
    logs = list((tmp_path / "results").rglob("*.log")) if (tmp_path / "results").exists() else []
    said = output + "".join(log.read_text() for log in logs)  # the message or the job's log
    for text in case.message:
        assert text in said, f"{text!r} not in output or logs:\n{output[-4000:]}"
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


ROUND_TWO_REPAIRS = [
    (
        "excel_error_ids_dropped",
        tiny_dataset("counts_excel_errors.tsv", max_missing_gene_ids_fraction=0.5),
    ),
    ("entrez_written_as_numbers", tiny_dataset("counts_entrez_float.tsv", gene_id_type="auto")),
    ("h5ad_nan_gene_names", tiny_dataset("nan_genes.h5ad", max_missing_gene_ids_fraction=0.6)),
    ("unmapped_subject_and_batch_columns", round_two_sheet("samples_subject_column.tsv")),
    ("cp1252_sample_sheet", tiny_dataset("counts_ok.tsv", "samples_cp1252.tsv")),
    (
        "te_rows_without_class_or_malformed",
        tiny_dataset("counts_ok.tsv", te_counts=str(BAD / "te_counts_malformed.tsv")),
    ),
]


@pytest.mark.parametrize(
    "dataset", [d for _, d in ROUND_TWO_REPAIRS], ids=[i for i, _ in ROUND_TWO_REPAIRS]
)
def test_round_two_inputs_are_handled_and_said(tmp_path, demo_config, dataset, request):
    """Issue 29: each input used to change a result silently; now it is read, repaired or
    decided with a line in the ingest log and a record in uns['provenance']."""
    case = request.node.callspec.id
    config = _config(Case(case, dataset), demo_config)
    before = _checksums(_input_files(config))
    result = run_workflow(tmp_path, config, INGEST[0])
    assert result.returncode == 0, result.stderr[-3000:]
    adata = ad.read_h5ad(tmp_path / INGEST[0])
    provenance = adata.uns["provenance"]
    log = (tmp_path / "results/bad/logs/ingest.log").read_text()
    if case == "excel_error_ids_dropped":
        assert not any(name.startswith("#") for name in adata.var_names)
        assert list(provenance["counts_repairs"]["spreadsheet_error_ids"]) == ["#N/A", "#NAME?"]
        assert "spreadsheet error value as gene id (#N/A, #NAME?)" in log
    elif case == "entrez_written_as_numbers":
        assert {"GAPDH", "ACTB", "SNAP25", "GFAP", "AQP4", "MBP"} == set(adata.var_names)
        assert provenance["counts_repairs"]["n_entrez_ids_written_as_numbers"] == 6
        assert "'2597.0' -> '2597'" in log
    elif case == "h5ad_nan_gene_names":
        assert list(adata.var_names) == ["GAPDH", "SNAP25", "MBP"]
        assert provenance["counts_repairs"]["n_missing_gene_ids_dropped"] == 3
    elif case == "unmapped_subject_and_batch_columns":
        assert adata.obs["subject"].tolist() == ["D1", "D1", "D2", "D2"]
        assert adata.obs["batch"].tolist() == ["b1", "b2", "b1", "b2"]
        assert "sample-sheet column 'subject' used as `subject`" in log
        assert "sample-sheet column 'Batch' used as `batch`" in log
    elif case == "cp1252_sample_sheet":
        assert provenance["sample_sheet"]["encoding"] == "cp1252"
        assert adata.obs.loc["S1", "subject"] == "Patiënt-1"
        assert "not UTF-8: 1 line(s) hold non-UTF-8 bytes, the first at line 2" in log
    else:
        te = adata.obsm["te_counts"]
        assert list(te.columns) == ["L1HS:L1:LINE", "AluY:Alu:SINE", "HERVK-int:ERVK:LTR"]
        assert provenance["te_counts_repairs"]["n_not_te_ids"] == 1
        assert "'broken:id:with:colons'" in log
    assert _checksums(_input_files(config)) == before
