"""``alsig check-config`` as the pre-flight (alsig.preflight): it opens the sheets and files a
config names and says, before any job, what would stop the run; never a traceback."""

from __future__ import annotations

import shutil

import anndata as ad
import pandas as pd
import pytest
import yaml

from alsig.cli import main
from alsig.io import write_h5ad
from alsig.preflight import preflight
from tests.conftest import REPO

DEMO = REPO / "resources" / "demo"


@pytest.fixture
def project(tmp_path):
    """A copy of the demo config and files in a project folder; returns an editor."""
    for name in ("GSE122649_demo_counts.tsv.gz", "GSE122649_demo_samples.tsv"):
        shutil.copy(DEMO / name, tmp_path / name)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    demo = config["datasets"]["demo"]
    demo["counts"] = "GSE122649_demo_counts.tsv.gz"
    demo["samples"] = "GSE122649_demo_samples.tsv"
    del demo["te_counts"]

    def write(config=config, text: str | None = None):
        path = tmp_path / "config.yaml"
        path.write_text(text if text is not None else yaml.safe_dump(config, sort_keys=False))
        return path

    write.config = config
    write.dir = tmp_path
    return write


def run(path, capsys):
    code = main(["check-config", str(path), "--workdir", str(path.parent)])
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return code, out.out, out.err


def test_the_demo_passes_with_its_notes(project, capsys):
    code, out, err = run(project(), capsys)
    assert code == 0, err
    assert "OK (1 dataset(s))" in out
    assert "sex: 'Unknown' x4 (GSM3477251, GSM3477252, GSM3477253, GSM3477254)" in out
    assert "onset_site: 'Bulbar' / 'bulbar'" in out


def test_yaml_booleans_where_a_level_was_meant(project, capsys):
    config = project.config
    config["datasets"]["demo"]["de"] = {"contrasts": {"c9": ["c9orf72_repeat_expansion", "X", "Y"]}}
    text = yaml.safe_dump(config, sort_keys=False).replace("- X", "- yes").replace("- Y", "- no")
    text = text.replace("collapse_by: subject", "collapse_by: off")
    code, _, err = run(project(text=text), capsys)
    assert code == 2
    assert "config key datasets.demo.de.contrasts.c9[1]: YAML reads `yes`" in err
    assert "as the boolean true, not the text 'yes'; quote it: \"yes\"" in err
    assert "datasets.demo.qc.collapse_by: YAML reads `off`" in err
    assert "False is not of type" not in err  # the schema's own message is replaced


def test_a_typo_gets_did_you_mean(project, capsys):
    config = project.config
    config["datasets"]["demo"]["de"] = {"desing": "~ condition"}
    config["datasets"]["demo"]["condition"]["column"] = "gruop"
    code, _, err = run(project(), capsys)
    assert code == 2 and "unknown key(s) ['desing']" in err and "Did you mean 'design'?" in err
    del config["datasets"]["demo"]["de"]
    code, _, err = run(project(), capsys)
    assert "condition column 'gruop' is not in the sample sheet" in err
    assert "Did you mean 'group'?" in err


def test_contrast_levels_need_enough_samples_after_collapsing(project, capsys):
    config = project.config
    config["datasets"]["demo"]["de"] = {
        "contrasts": {"a": ["condition", "ALS", "contrl"], "b": ["condition", "ALS", "control"]},
        "design": "~ sex + condition",
        "min_samples_per_level": 7,
    }
    code, _, err = run(project(), capsys)
    assert code == 2
    assert "de.contrasts.a: of 'condition', level 'contrl' has no samples" in err
    assert "Did you mean 'control'?" in err
    # 19 donors after collapsing (not 38 libraries): control has 6 < 7
    assert "level 'control' has 6 sample(s), at least 7 needed (after replicate collapsing)" in err
    assert "design variable 'sex' is missing for 4 sample(s)" in err  # 'Unknown': DE would stop


def test_a_sex_coded_1_2_is_refused_not_called_missing(project, capsys):
    sheet = project.dir / "GSE122649_demo_samples.tsv"
    lines = sheet.read_text().splitlines()
    column = lines[0].split("\t").index("sex")
    recode = {"Male": "1", "Female": "2"}
    rows = [line.split("\t") for line in lines[1:]]
    for row in rows:
        row[column] = recode.get(row[column], row[column])
    sheet.write_text("\n".join(["\t".join(r) for r in [lines[0].split("\t"), *rows]]) + "\n")
    project.config["datasets"]["demo"]["de"] = {"design": "~ sex + condition"}
    code, _, err = run(project(), capsys)
    assert code == 2
    assert "column 'sex' (`sex`): 34 sample(s) have a sex alsig cannot read: " in err
    assert "is missing for" not in err


def test_paths_columns_and_collections(project, capsys):
    config = project.config
    demo = config["datasets"]["demo"]
    demo["te_counts"] = "."  # a directory
    demo["columns"]["region"] = "tisue"
    config["enrich"] = {"collections": ["hallmarks"]}
    code, _, err = run(project(), capsys)
    assert code == 2
    assert "datasets.demo.te_counts: file '.' is a directory, not a file" in err
    assert "column 'tisue' (for `region`) is not in the sample sheet" in err
    assert "Did you mean 'tissue'?" in err
    assert "enrich.collections[0]: unknown collection 'hallmarks'; shipped collections are" in err
    assert "Did you mean 'hallmark'?" in err


def test_the_sheet_and_the_count_matrix_must_name_the_same_samples(project, capsys):
    sheet = project.dir / "GSE122649_demo_samples.tsv"
    lines = sheet.read_text().splitlines()
    sheet.write_text("\n".join(lines[:-1]) + "\n")  # the last library is only in the counts
    code, _, err = run(project(), capsys)
    assert code == 2 and "GSM3477254" in err and "are not in the sample sheet" in err


def test_subject_in_two_conditions_is_found_before_qc(project, capsys):
    sheet = project.dir / "GSE122649_demo_samples.tsv"
    text = sheet.read_text().replace(
        "GSM3477218\tJR9\tALS-22\tsALS\tALS", "GSM3477218\tJR9\tALS-22\tsALS\tcontrol"
    )
    sheet.write_text(text)
    code, _, err = run(project(), capsys)
    assert code == 2
    assert "subject 'JR9' has libraries with condition GSM3477217: ALS, GSM3477218: control" in err


def test_broken_yaml_and_missing_config_say_where(tmp_path, capsys):
    bad = tmp_path / "c.yaml"
    bad.write_text("datasets:\n  demo: [unclosed\n")
    code, _, err = run(bad, capsys)
    assert code == 2 and "line 3" in err and "not valid YAML" in err
    code, _, err = run(tmp_path / "none.yaml", capsys)
    assert code == 2 and "does not exist" in err


def test_a_geo_dataset_not_downloaded_yet_is_a_note(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "datasets:\n  g:\n    source: geo\n    accession: GSE124439\n"
        "    condition: {column: sample group}\n"
    )
    found = preflight(path, workdir=tmp_path)
    assert not found.problems
    assert any("GSE124439 is not downloaded yet" in n for n in found.notes)


def test_a_cached_geo_series_matrix_is_checked_like_a_sheet(tmp_path):
    from tests.stub_server import DATA

    cache = tmp_path / ".cache" / "alsig" / "geo" / "GSE900001"
    cache.mkdir(parents=True)
    shutil.copy(DATA / "GSE900001" / "GSE900001_series_matrix.txt.gz", cache)
    path = tmp_path / "c.yaml"
    path.write_text(
        "datasets:\n  g:\n    source: geo\n    accession: GSE900001\n"
        "    condition:\n      column: disease state\n      rules:\n"
        "        - {pattern: '^ALS$', condition: ALS}\n        - {pattern: '^Contrl$', condition: control}\n"
    )
    found = preflight(path, workdir=tmp_path)
    assert any("4 sample(s) have no condition" in p and "Control" in p for p in found.problems)
    path.write_text(path.read_text().replace("Contrl", "Control"))
    found = preflight(path, workdir=tmp_path)
    assert not found.problems, found.problems
    assert any("column 'sex' used as `sex`" in n for n in found.notes)
    assert any("the sheet has 'subject_id'" in n for n in found.notes)


def test_a_config_key_given_twice_is_refused_with_both_lines(project, capsys):
    text = yaml.safe_dump(project.config, sort_keys=False)
    text += "de:\n  design: '~ sex + condition'\nqc:\n  min_count: 5\nde:\n  alpha: 0.1\n"
    code, _, err = run(project(text=text), capsys)
    assert code == 2
    assert "key de (lines" in err and "is given twice: YAML keeps the last one" in err


def test_collection_lists_output_dir_and_reserved_ids(project, capsys):
    """Each of these passed check-config and then stopped the workflow with a traceback."""
    config = project.config
    config["enrich"] = {
        "collections": ["hallmark", "hallmark"],
        "extra_gmt": [{"id": "hallmark", "path": "GSE122649_demo_samples.tsv"}],
    }
    config["subtypes"] = {"enrich_collections": ["nope"]}
    (project.dir / "outfile").write_text("x")
    config["output_dir"] = "outfile"
    code, _, err = run(project(), capsys)
    assert code == 2
    assert "config key enrich.collections[1]: collection 'hallmark' is listed twice." in err
    assert "config key enrich.extra_gmt[0].id: 'hallmark' is already used" in err
    assert "config key subtypes.enrich_collections[0]: unknown collection 'nope'" in err
    assert "config key output_dir: 'outfile' is a file, not a folder" in err or (
        f"config key output_dir: '{project.dir / 'outfile'}' is a file" in err
    )
    config["output_dir"] = "out"
    config["enrich"] = config["subtypes"] = {}
    config["datasets"] = {"run_summary.tsv": config["datasets"]["demo"]}
    code, _, err = run(project(), capsys)
    assert code == 2
    assert "the id 'run_summary.tsv' is the name of one of the run's own files" in err


def test_a_dataset_id_yaml_reads_as_a_number_or_boolean(project, capsys):
    text = yaml.safe_dump(project.config, sort_keys=False).replace("  demo:", "  NO:", 1)
    code, _, err = run(project(text=text), capsys)
    assert code == 2
    assert "a dataset id is read by YAML as the boolean false" in err
    text = text.replace("  NO:", "  123:", 1)
    code, _, err = run(project(text=text), capsys)
    assert code == 2 and "read by YAML as the number 123, not as text" in err


def test_two_datasets_on_one_counts_file_are_named(project, capsys):
    config = project.config
    config["datasets"]["again"] = dict(config["datasets"]["demo"])
    code, out, err = run(project(), capsys)
    assert code == 0, err
    assert "note: again, demo read the same counts file" not in out  # order is the config's
    assert "note: demo, again read the same counts file" in out
    assert "counts them as independent cohorts" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            None,
            "is a directory, not a file (it is empty); give the path of the file itself, "
            "e.g. 'config/config.yaml'.",
        ),
        ("", "is empty; expected a YAML config with a 'datasets:' section."),
        (
            "# nothing yet\n",
            "expected a mapping with a `datasets:` section at the top level, "
            "found only comments (see config/config.yaml).",
        ),
        (
            "- demo\n",
            "expected a mapping with a `datasets:` section at the top level, "
            "found a list (see config/config.yaml).",
        ),
    ],
)
def test_a_config_path_that_is_no_config_says_what_a_config_is(project, capsys, text, message):
    path = project.dir / "given"
    if text is None:
        path.mkdir()
    else:
        path.write_text(text)
    code, _, err = run(path, capsys)
    assert code == 2
    assert f"config file '{path}' {message}" in err or f"config file '{path}': {message}" in err


def _te_table(project, names):
    path = project.dir / "te.tsv"
    path.write_text("te\t" + "\t".join(names) + "\nL1HS:L1:LINE\t" + "\t".join("5" for _ in names))
    project.config["datasets"]["demo"]["te_counts"] = "te.tsv"
    return path


def test_the_te_header_is_matched_to_the_samples_as_ingest_will(project, capsys):
    """Lower-case TE sample names: check-config said OK and ingest failed."""
    samples = [
        line.split("\t")[0]
        for line in (project.dir / "GSE122649_demo_samples.tsv").read_text().splitlines()[1:]
    ]
    _te_table(project, [s.lower() for s in samples])
    code, _, err = run(project(), capsys)
    assert code == 2
    assert "te.tsv': 38 sample(s) of the gene matrix are not TE-count columns" in err
    assert f"For '{samples[0]}': Did you mean '{samples[0].lower()}'?" in err
    # columns the run leaves out are a note, named
    _te_table(project, [*samples, "GSM9999999", "blank"])
    code, out, err = run(project(), capsys)
    assert code == 0, err
    assert (
        "2 TE column(s) are not samples of the count matrix and are left out: 'GSM9999999', "
        "'blank'" in out
    )


def test_a_transposed_matrix_gets_the_runs_diagnosis(project, capsys):
    """check-config said the samples 'are not columns ... check sample_column'."""
    counts = pd.read_csv(project.dir / "GSE122649_demo_counts.tsv.gz", sep="\t", index_col=0)
    counts.T.to_csv(project.dir / "transposed.tsv", sep="\t", index_label="sample")
    project.config["datasets"]["demo"]["counts"] = "transposed.tsv"
    code, _, err = run(project(), capsys)
    assert code == 2
    assert "transposed.tsv': the count matrix looks transposed: 38 sample(s) of the sample" in err
    assert "check `sample_column`" not in err
    # an .h5ad whose obs are the genes
    adata = ad.AnnData(
        X=counts.to_numpy(),
        obs=pd.DataFrame(index=counts.index.astype(str)),
        var=pd.DataFrame(index=counts.columns.astype(str)),
    )
    write_h5ad(adata, project.dir / "transposed.h5ad")
    project.config["datasets"]["demo"]["counts"] = "transposed.h5ad"
    code, _, err = run(project(), capsys)
    assert code == 2
    assert "transposed.h5ad': the .h5ad looks transposed: 38 sample(s) of the sample sheet" in err
    assert "write the transpose (adata.T)" in err
