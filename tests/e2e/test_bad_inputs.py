"""Bad-input corpus (tests/data/bad/, see its README.md) through the real workflow.

Each failing case asserts: non-zero exit, a message naming the file + line/column or the config
key, no traceback in the job log, none of the failing rule's outputs (or temp files) left behind,
and every input file byte-identical afterwards (sha256). Cases already covered elsewhere are not
repeated here: negative counts, a top-level dataset key typo and dataset ids '../x' / 'has space'
are in tests/e2e/test_ingest_workflow.py.

The cases share Snakemake runs (each run costs seconds before its first job). A case is one
dataset (id = the case id) of a batch run with ``--keep-going`` whose targets are its cases'
targets: the corpus cases that fail in a job (ingest or QC of the 6-gene table; batch 'corpus'),
the demo copies whose sample sheet or columns differ and that fail in DE (batch 'demo'), and the
cases that succeed (batch 'ok', whose run must succeed as a whole). A case that only changes the
demo's DE settings runs alone on a copy of the session's shared demo run (batch 'demo_run',
dataset 'demo'): Snakemake reruns only its DE job there, not ingest and QC. A
module-scoped fixture makes each batch run once; every case stays its own test and asserts on
its own dataset: Snakemake reports that dataset's job of the failing rule as failed, the message
is in that dataset's logs, no traceback in them, none of its failing rule's outputs is left
behind, its input files are unchanged (and no *.tmp file anywhere). A case that fails while
Snakemake reads the config, before any job, would stop a whole batch: it runs alone, as dataset
'bad' or 'demo', and its message may be in Snakemake's output. Under pytest-xdist
(``--dist loadgroup``) a batch's tests are one xdist_group, so one worker runs that batch; under
another --dist the workers share one run of it (a file lock and a record).
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
import yaml

from alsig.io import sha256_file
from alsig.keys import te_block
from tests.conftest import REPO, absolute_paths, demo_test_config, run_workflow, uses_demo_run

BAD = REPO / "tests" / "data" / "bad"
FAST_ENRICH = {"collections": ["hallmark"], "permutations": 100}
#: the batch of a case run alone on a copy of the shared demo run (its dataset 'demo' edited)
ON_DEMO_RUN = "demo_run"
RESULTS = "results"  # output_dir of the demo config: a dataset's files are in results/<dataset>/


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


# a case's files, relative to its dataset's folder results/<dataset>/
INGEST = ("counts.h5ad",)
QC = ("qc/filtered.h5ad", "qc/sample_qc.tsv")
DE = ("de/ALS_vs_control.parquet", "de/ALS_vs_control.tsv", "de/ALS_vs_control.summary.tsv")


@dataclass
class Case:
    id: str
    dataset: dict | None = None  # a corpus dataset; the demo dataset when None
    demo_edit: dict = field(default_factory=dict)  # merged into the demo dataset otherwise
    target: str = INGEST[0]
    rule: str = "ingest"  # the rule whose job fails ('de' stands for the dataset's de_<dataset>)
    # the batch run this case is a dataset of; None: a run of its own, as dataset 'bad' or
    # 'demo' (a case that fails while Snakemake reads the config, before any job, stops a batch)
    batch: str | None = "corpus"
    dry_run: bool = False
    message: tuple[str, ...] = ()  # '{dataset}' stands for the case's dataset id
    unmade: tuple[str, ...] = INGEST  # outputs of the failing rule that must not exist

    @property
    def dataset_id(self) -> str:
        if self.batch == ON_DEMO_RUN:
            return "demo"
        if self.batch is not None:
            return self.id
        return "bad" if self.dataset is not None else "demo"


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
        message=("count-matrix column(s)", "are not in the sample sheet", ": 'S4'."),
    ),
    Case(
        "sheet_with_extra_sample",
        tiny_dataset("counts_ok.tsv", "samples_extra_sample.tsv"),
        message=("sample(s) in the sample sheet", "are not columns of the count matrix", ": 'S5'."),
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
        batch=None,
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
        rule="de",
        batch="demo",
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
        rule="de",
        batch=ON_DEMO_RUN,
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
        rule="de",
        batch="demo",
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
            "`datasets.{dataset}.gene_id_type: ensembl`",
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
        batch=None,
        message=("is a directory, not a file",),
    ),
    Case(
        "subject_in_two_conditions",
        round_two_sheet("samples_subject_two_conditions.tsv", qc={"collapse_by": "subject"}),
        target=QC[0],
        rule="qc",
        message=("subject 'D1' has libraries with condition S1: ALS, S2: control",),
        unmade=QC,
    ),
    Case(
        "unknown_in_a_numeric_covariate",
        demo_edit={"de": {"design": "~ age_at_death + condition"}},
        target=DE[0],
        rule="de",
        batch=ON_DEMO_RUN,
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
        batch=None,
        dry_run=True,
        message=(
            "config key datasets.demo.de: unknown key(s) ['desing']",
            "Did you mean 'design'?",
        ),
    ),
]


def _demo_config() -> dict:
    """The shipped config (config/config.yaml, the demo dataset) with absolute paths."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return absolute_paths(config, REPO)


def _dataset(case: Case) -> dict:
    """The settings of the case's dataset: its corpus dataset or the demo dataset edited."""
    if case.dataset is not None:
        return copy.deepcopy(case.dataset)
    settings = copy.deepcopy(_demo_config()["datasets"]["demo"])
    settings.update(copy.deepcopy(case.demo_edit))
    return settings


def _config(datasets: dict[str, dict]) -> dict:
    """The demo config with these datasets (id -> settings) in place of its own."""
    config = _demo_config()
    config["enrich"] = dict(FAST_ENRICH)
    config["datasets"] = copy.deepcopy(datasets)
    assert config["output_dir"] == RESULTS
    return config


def _input_files(config: dict, datasets: list[str] | None = None) -> list[Path]:
    """The input files of these datasets (default: all) and of the enrichment."""
    files = []
    for dataset, settings in config["datasets"].items():
        if datasets is not None and dataset not in datasets:
            continue
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


#: a failed job in Snakemake's output: "Error in rule <rule>:" then indented lines, one of them
#: "log: <output_dir>/<dataset>/logs/..."
FAILED_JOB = re.compile(r"^Error in rule (\S+):\n((?:[ \t]+.*\n)+)", re.MULTILINE)


@dataclass
class Run:
    """One Snakemake run of one or more datasets: its output, and the inputs' sha256 before and
    after."""

    workdir: Path
    config: dict
    returncode: int
    output: str
    before: dict[Path, str]
    after: dict[Path, str]

    def logs(self, dataset: str) -> dict[Path, str]:
        """The logs under results/ of this dataset (and of the run, outside every dataset's
        folder), not those of the batch's other datasets."""
        results = self.workdir / RESULTS
        others = set(self.config["datasets"]) - {dataset}
        if not results.exists():
            return {}
        return {
            log: log.read_text()
            for log in sorted(results.rglob("*.log"))
            if log.relative_to(results).parts[0] not in others
        }

    def failed_rules(self, dataset: str) -> list[str]:
        """The rules of this dataset's jobs that Snakemake reports as failed."""
        prefix = f"log: {RESULTS}/{dataset}/"
        return [
            rule
            for rule, details in FAILED_JOB.findall(self.output)
            if any(line.strip().startswith(prefix) for line in details.splitlines())
        ]

    def to_json(self) -> str:
        return json.dumps(
            {
                "workdir": str(self.workdir),
                "config": self.config,
                "returncode": self.returncode,
                "output": self.output,
                "before": {str(f): digest for f, digest in self.before.items()},
                "after": {str(f): digest for f, digest in self.after.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Run:
        data = json.loads(text)
        return cls(
            Path(data["workdir"]),
            data["config"],
            data["returncode"],
            data["output"],
            {Path(f): digest for f, digest in data["before"].items()},
            {Path(f): digest for f, digest in data["after"].items()},
        )

    def inputs_unchanged(self, dataset: str) -> bool:
        files = _input_files(self.config, [dataset])
        assert files, f"no input files of {dataset}"
        return {f: self.after[f] for f in files} == {f: self.before[f] for f in files}


def _run(workdir: Path, config: dict, targets: list[str], extra_args: tuple[str, ...]) -> Run:
    before = _checksums(_input_files(config))
    result = run_workflow(workdir, config, *targets, extra_args=extra_args)
    after = _checksums(_input_files(config))
    return Run(workdir, config, result.returncode, result.stdout + result.stderr, before, after)


def _run_batch(tmp_path_factory, batch: str, datasets: dict[str, dict], targets: list[str]) -> Run:
    """One ``--keep-going`` run of these datasets (id -> settings) with these targets (paths
    inside results/<dataset>/, one per dataset), made once per pytest session: under xdist the
    first worker that needs it runs it under a file lock and records it, any other reads the
    record (``--dist loadgroup`` keeps a batch on one worker; ``--dist load`` spreads it)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    record = shared / f"bad_inputs_{batch}_batch.json"
    with open(shared / f"bad_inputs_{batch}_batch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if record.exists():
            return Run.from_json(record.read_text())
        paths = [
            f"{RESULTS}/{dataset}/{target}"
            for dataset, target in zip(datasets, targets, strict=True)
        ]
        workdir = shared / f"bad_inputs_{batch}_batch"
        run = _run(workdir, _config(datasets), paths, extra_args=("--keep-going",))
        record.write_text(run.to_json())
        return run


def _xdist_group(batch: str) -> pytest.MarkDecorator:
    """The tests of one batch run on one xdist worker (``--dist loadgroup``), which runs it once."""
    return pytest.mark.xdist_group(f"bad_inputs_{batch}_batch")


@pytest.fixture(scope="module")
def failing_batch(tmp_path_factory):
    """``failing_batch(name)``: the run of the failing cases of batch ``name`` (made once)."""
    runs: dict[str, Run] = {}

    def get(batch: str) -> Run:
        if batch not in runs:
            cases = [case for case in CASES if case.batch == batch]
            runs[batch] = _run_batch(
                tmp_path_factory,
                batch,
                {case.id: _dataset(case) for case in cases},
                [case.target for case in cases],
            )
        return runs[batch]

    return get


def _case_param(case: Case):
    if case.batch == ON_DEMO_RUN:
        marks = [uses_demo_run]
    else:
        marks = [_xdist_group(case.batch)] if case.batch else []
    return pytest.param(case, id=case.id, marks=marks)


def _on_demo_run(workdir: Path, demo_run: Path, case: Case) -> Run:
    """The case's DE settings on a copy of the shared demo run: only its DE job runs again."""
    shutil.copytree(demo_run, workdir, symlinks=True, dirs_exist_ok=True)
    config = demo_test_config()
    config["datasets"]["demo"].update(copy.deepcopy(case.demo_edit))
    run = _run(workdir, config, [f"{RESULTS}/demo/{case.target}"], ("--keep-going",))
    ran = re.findall(r"^(?:local)?rule (\w+):", run.output, re.M)
    assert ran == ["de_demo"], f"jobs {ran} ran on the demo run's copy, expected only de_demo"
    return run


@pytest.mark.parametrize("case", [_case_param(case) for case in CASES])
def test_bad_input_fails_cleanly(tmp_path, failing_batch, case, request):
    dataset = case.dataset_id
    if case.batch is None:  # fails before any job: alone, with the whole output as its own
        config = _config({dataset: _dataset(case)})
        extra = ("-n",) if case.dry_run else ()
        run = _run(tmp_path, config, [f"{RESULTS}/{dataset}/{case.target}"], extra)
    elif case.batch == ON_DEMO_RUN:
        run = _on_demo_run(tmp_path, request.getfixturevalue("demo_run"), case)
    else:
        run = failing_batch(case.batch)
    output = run.output
    assert run.returncode != 0, output[-3000:]
    logs = run.logs(dataset)
    if case.batch is None:
        said = output + "".join(logs.values())  # the message or the job's log
        where, shown = "output or logs", output[-4000:]
    else:  # this dataset's own job: Snakemake reports it failed, its log says why
        said = "".join(logs.values())
        where, shown = f"the logs of {dataset}", said or output[-4000:]
        rule = f"de_{dataset}" if case.rule == "de" else case.rule
        failed = run.failed_rules(dataset)
        assert failed == [rule], (
            f"Snakemake reports failed jobs {failed} of {dataset}, expected [{rule!r}]; "
            f"{where}:\n{shown}"
        )
    for text in case.message:
        text = text.replace("{dataset}", dataset)
        assert text in said, f"{text!r} not in {where}:\n{shown}"
    for log, text in logs.items():
        assert "Traceback" not in text, f"traceback in {log}:\n{text}"
    _assert_no_leftovers(run.workdir, tuple(f"{RESULTS}/{dataset}/{f}" for f in case.unmade))
    assert run.inputs_unchanged(dataset), "an input file was modified"


@uses_demo_run
def test_broken_gmt_lines_fail_enrichment_only(tmp_path, demo_run):
    """enrich.extra_gmt with a line that is not tab-separated: the enrichment of that collection
    fails naming file and line; DE (upstream, done in a copy of the shared demo run) is not run
    again and is kept."""
    shutil.copytree(demo_run, tmp_path, symlinks=True, dirs_exist_ok=True)
    config = demo_test_config()
    config["enrich"]["extra_gmt"] = [{"id": "broken", "path": str(BAD / "broken.gmt")}]
    before = _checksums(_input_files(config))
    de_table = (tmp_path / "results/demo" / DE[0]).read_bytes()
    target = "results/demo/enrich/ALS_vs_control/broken.parquet"
    result = run_workflow(tmp_path, config, target)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "broken.gmt', line 2: malformed GMT line" in output, output[-4000:]
    assert re.findall(r"^(?:local)?rule (\w+):", output, re.M) == ["enrich"]  # nothing upstream
    _assert_no_leftovers(
        tmp_path,
        (
            target,
            "results/demo/enrich/ALS_vs_control/broken.tsv",
            "results/demo/enrich/ALS_vs_control/broken.run.json",
        ),
    )
    assert (tmp_path / "results/demo" / DE[0]).read_bytes() == de_table  # upstream stays
    assert _checksums(_input_files(config)) == before


# The cases that succeed (ingest repairs the input and says so): dataset id -> settings, one
# batch run that must succeed as a whole.
REPAIRABLE = [
    ("excel_mangled_symbols", "counts_excel_mangled.tsv", {"7-Sep": "SEPTIN7", "4-Mar": "MARCHF4"}),
    ("duplicate_gene_ids", "counts_duplicate_gene.tsv", None),
]
FEATURECOUNTS = "featurecounts_bom_crlf"
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
SUCCEEDING = {
    **{case: tiny_dataset(counts) for case, counts, _ in REPAIRABLE},
    FEATURECOUNTS: tiny_dataset("counts_featurecounts.tsv"),
    **dict(ROUND_TWO_REPAIRS),
}
ok_batch_group = _xdist_group("ok")


@pytest.fixture(scope="module")
def ok_batch(tmp_path_factory) -> Run:
    """Every succeeding case as a dataset of one run (target: its ingest), which must succeed."""
    return _run_batch(tmp_path_factory, "ok", SUCCEEDING, [INGEST[0]] * len(SUCCEEDING))


def _ingested(run: Run, dataset: str) -> tuple[ad.AnnData, str]:
    """The dataset's counts.h5ad and ingest log, once its ingest succeeded. The run must succeed
    too, unless a job of another dataset failed (that case's own test then fails and names it)."""
    log_path = run.workdir / RESULTS / dataset / "logs/ingest.log"
    failed = run.failed_rules(dataset)
    shown = log_path.read_text() if log_path.exists() else run.output[-3000:]
    assert not failed, f"Snakemake reports failed jobs {failed} of {dataset}:\n{shown}"
    failed_elsewhere = [d for d in run.config["datasets"] if d != dataset and run.failed_rules(d)]
    assert run.returncode == 0 or failed_elsewhere, run.output[-3000:]
    adata = ad.read_h5ad(run.workdir / RESULTS / dataset / INGEST[0])
    return adata, log_path.read_text()


@ok_batch_group
@pytest.mark.parametrize(
    ("case", "expected"),
    [(case, expected) for case, _, expected in REPAIRABLE],
    ids=[case for case, _, _ in REPAIRABLE],
)
def test_repairable_inputs_succeed_and_are_reported(ok_batch, case, expected):
    """Excel-mangled symbols are repaired and duplicate gene rows summed; both are reported in
    uns['provenance']['gene_harmonisation'], the run succeeds and the input stays untouched."""
    adata, log = _ingested(ok_batch, case)
    report = adata.uns["provenance"]["gene_harmonisation"]
    if expected:
        repaired = dict(
            zip(report["excel_repaired"]["from"], report["excel_repaired"]["to"], strict=True)
        )
        assert repaired == expected
        assert {"SEPTIN7", "MARCHF4"} <= set(adata.var_names)
        assert not {"7-Sep", "4-Mar"} & set(adata.var_names)
        assert len(report["excel_ambiguous"]["from"]) == 0
        assert "7-Sep -> SEPTIN7" in log and "4-Mar -> MARCHF4" in log, log
    else:
        assert report["n_duplicate_rows_summed"] == 1
        assert adata.n_vars == 5
        gapdh = np.asarray(
            adata[:, "GAPDH"].X.todense() if hasattr(adata.X, "todense") else adata[:, "GAPDH"].X
        ).ravel()
        # GAPDH rows 1 and 5 of the file: (900, 1100, 1000, 950) + (40, 90, 35, 95)
        assert gapdh.tolist() == [940, 1190, 1035, 1045]
    assert ok_batch.inputs_unchanged(case)


@ok_batch_group
def test_featurecounts_output_with_bom_and_crlf_is_read(ok_batch):
    """featureCounts' own layout (comment line, five annotation columns) saved with a BOM and
    CRLF: read by name, the annotation columns dropped and the repairs in the log and provenance."""
    adata, log = _ingested(ok_batch, FEATURECOUNTS)
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
    assert "UTF-8 byte-order mark removed" in log and "featureCounts annotation columns" in log


@ok_batch_group
@pytest.mark.parametrize("case", [i for i, _ in ROUND_TWO_REPAIRS])
def test_round_two_inputs_are_handled_and_said(ok_batch, case):
    """Issue 29: each input used to change a result silently; now it is read, repaired or
    decided with a line in the ingest log and a record in uns['provenance']."""
    adata, log = _ingested(ok_batch, case)
    provenance = adata.uns["provenance"]
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
        te = te_block(adata)
        assert list(te.columns) == ["L1HS:L1:LINE", "AluY:Alu:SINE", "HERVK-int:ERVK:LTR"]
        assert provenance["te_counts_repairs"]["n_not_te_ids"] == 1
        assert "'broken:id:with:colons'" in log
    assert ok_batch.inputs_unchanged(case)
