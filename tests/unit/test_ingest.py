import gzip
import logging
from importlib.metadata import version
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from alsig.errors import AlsigError
from alsig.stages.ingest import ingest_local
from alsig.stages.ingest.assemble import to_storage
from alsig.stages.ingest.counts import read_count_matrix, read_h5ad_count_matrix
from alsig.stages.ingest.harmonise import harmonise_genes
from alsig.stages.ingest.samples import read_sample_sheet, resolve_conditions

COUNTS = "gene\tS1\tS2\tS3\tS4\nSOD1\t10\t0\t5\t7\nGAPDH\t100\t200\t150\t120\nTARDBP\t3\t4\t0\t9\n"
SHEET = "sample\tgroup\tdonor\tsex\nS1\tALS\tD1\tM\nS2\tALS\tD1\tM\nS3\tControl\tD2\tfemale\nS4\tControl\tD3\tunknown\n"
SETTINGS = {
    "source": "local",
    "sample_column": "sample",
    "condition": {
        "column": "group",
        "rules": [
            {"pattern": "^ALS$", "condition": "ALS"},
            {"pattern": "(?i)control", "condition": "control"},
        ],
    },
    "columns": {"subject": "donor", "sex": "sex"},
}


def write(path: Path, text: str) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def local_settings(tmp_path, counts=COUNTS, sheet=SHEET, name="counts.tsv"):
    return {
        **SETTINGS,
        "counts": str(write(tmp_path / name, counts)),
        "samples": str(write(tmp_path / "samples.tsv", sheet)),
    }


def test_ingest_local_builds_anndata_with_sheet_and_provenance(tmp_path):
    adata = ingest_local("toy", local_settings(tmp_path, name="counts.tsv.gz"))
    assert adata.shape == (4, 3)
    assert list(adata.obs_names) == ["S1", "S2", "S3", "S4"]
    assert list(adata.obs["condition"]) == ["ALS", "ALS", "control", "control"]
    assert list(adata.obs["subject"]) == ["D1", "D1", "D2", "D3"]
    assert adata.obs["sex"].tolist()[:3] == ["male", "male", "female"]
    assert adata.obs["sex"].isna().tolist()[3]
    dense = adata.X.toarray() if sp.issparse(adata.X) else adata.X
    assert dense.dtype == np.int32
    assert dense[:, list(adata.var_names).index("SOD1")].tolist() == [10, 0, 5, 7]
    assert adata.var.loc["SOD1", "gene_id"] == "6647"
    assert adata.var.loc["SOD1", "biotype"] == "protein-coding"
    prov = adata.uns["provenance"]
    assert prov["inputs"]["counts"]["sha256"] and prov["inputs"]["samples"]["size_bytes"] > 0
    assert prov["versions"]["anndata"] == version("anndata")


def test_ingest_records_which_value_became_which_condition(tmp_path, caplog):
    sheet = SHEET.replace("S3\tControl", "S3\tcontrol subject")
    with caplog.at_level(logging.INFO, logger="alsig.stages.ingest.samples"):
        adata = ingest_local("toy", local_settings(tmp_path, sheet=sheet))
    report = adata.uns["provenance"]["sample_sheet"]
    assert report["condition_column"] == "group"
    assert list(report["condition_labels"]) == [
        "'ALS' -> ALS (2)",
        "'control subject' -> control (1)",
        "'Control' -> control (1)",
    ]
    assert (
        "dataset toy: conditions from 'group': 'ALS' -> ALS (2), 'control subject' -> control (1), "
        "'Control' -> control (1)"
    ) in caplog.text


def test_csv_and_h5ad_inputs(tmp_path):
    csv = COUNTS.replace("\t", ",")
    adata = ingest_local("toy", local_settings(tmp_path, counts=csv, name="counts.csv"))
    assert adata.shape == (4, 3)
    h5 = tmp_path / "input.h5ad"
    adata.write_h5ad(h5)
    again = ingest_local("toy", {**local_settings(tmp_path), "counts": str(h5)})
    assert np.array_equal(np.asarray(again.X), np.asarray(adata.X))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("gene\tS1\tS2\nSOD1\t1\t-2\n", "line 2, column 'S2': count is negative"),
        ("gene\tS1\tS2\nSOD1\t1\t2.5\n", "line 2, column 'S2': count is not an integer"),
        ("gene\tS1\tS2\nSOD1\t1\t2\nGAPDH\tNaN\t2\n", "line 3, column 'S1': count is NaN"),
        ("gene\tS1\tS2\nSOD1\t1\t\n", "line 2, column 'S2': count is missing"),
        ("gene\tS1\tS2\nSOD1\t1\tabc\n", "line 2, column 'S2': value 'abc' is not a number"),
        ("gene\tS1\tS1\nSOD1\t1\t2\n", "duplicate column names (sample ids): 'S1'"),
        ("gene,S1,S2\nSOD1,1,2\n", "looks comma-separated"),
        ("gene;S1;S2\nSOD1;1;2\n", "looks semicolon-separated. alsig reads a .csv file as comma"),
        ("", "is empty"),
    ],
)
def test_bad_count_matrices_name_file_row_and_column(tmp_path, body, message):
    path = write(tmp_path / "bad.tsv", body)
    with pytest.raises(AlsigError, match=None) as info:
        read_count_matrix(path)
    assert message in str(info.value)
    assert "bad.tsv" in str(info.value)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    path = write(tmp_path / "counts.tsv.gz", COUNTS * 200)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(AlsigError, match="not a complete gzip file"):
        read_count_matrix(path)


def test_integral_floats_are_accepted(tmp_path):
    path = write(tmp_path / "c.tsv", "gene\tS1\tS2\nSOD1\t1.0\t2\n")
    assert read_count_matrix(path).counts.tolist() == [[1, 2]]


def test_sample_sheet_mismatches(tmp_path):
    extra = SHEET + "S5\tALS\tD4\tM\n"
    with pytest.raises(
        AlsigError, match=r"1 sample\(s\) in the sample sheet .* not columns .*: 'S5'\. "
    ):
        ingest_local("toy", local_settings(tmp_path, sheet=extra))
    fewer = "\n".join(SHEET.splitlines()[:-1]) + "\n"
    with pytest.raises(
        AlsigError, match=r"count-matrix column\(s\) .* not in the sample sheet .*: 'S4'\. "
    ):
        ingest_local("toy", local_settings(tmp_path, sheet=fewer))


def test_a_sex_coded_1_2_stops_ingest_instead_of_becoming_unknown(tmp_path):
    coded = SHEET.replace("\tM\n", "\t1\n").replace("\tfemale\n", "\t2\n")
    with pytest.raises(AlsigError) as error:
        ingest_local("toy", local_settings(tmp_path, sheet=coded))
    message = str(error.value)
    assert "samples.tsv', column 'sex' (`sex`): 3 sample(s) have a sex alsig cannot read" in message
    assert "'1' x2, '2' x1 (S1 ('1'), S2 ('1'), S3 ('2'))" in message
    assert "PLINK" in message


def test_a_zero_width_space_neither_splits_a_donor_nor_unmatches_a_sample(tmp_path):
    sheet = SHEET.replace("S2\tALS\tD1", "S2\tALS\tD1\u200b")
    counts = COUNTS.replace("\tS3\t", "\tS3\u2060\t")
    adata = ingest_local("toy", local_settings(tmp_path, counts=counts, sheet=sheet))
    assert list(adata.obs["subject"]) == ["D1", "D1", "D2", "D3"]
    assert list(adata.obs_names) == ["S1", "S2", "S3", "S4"]


def test_duplicate_sample_ids_in_sheet(tmp_path):
    path = write(tmp_path / "s.tsv", "sample\tgroup\nS1\tALS\nS1\tALS\n")
    with pytest.raises(AlsigError, match=r"duplicate sample ids at .*line 3 \('S1'\)"):
        read_sample_sheet(path, "sample")


def unresolved_message(tmp_path, text: str) -> str:
    """The error of resolving ``text``'s groups with the one rule ``^ALS$``."""
    sheet = read_sample_sheet(write(tmp_path / "s.tsv", text), "sample")
    with pytest.raises(AlsigError) as info:
        resolve_conditions(
            sheet,
            sample_column="sample",
            condition_column="group",
            rules=[{"pattern": "^ALS$", "condition": "ALS"}],
            dataset="toy",
            source="s.tsv",
        )
    return str(info.value)


def test_unresolved_conditions_list_samples_and_config_key(tmp_path):
    message = unresolved_message(tmp_path, "sample\tgroup\nS1\tALS\nS2\tFTD\n")
    assert "S2 ('FTD')" in message
    assert "datasets.toy.condition.rules" in message


def test_a_sample_without_a_condition_value_is_told_to_fill_it_not_only_to_add_a_rule(tmp_path):
    message = unresolved_message(tmp_path, "sample\tgroup\nS1\tALS\nS2\t\nS3\tFTD\n")
    assert "S2 (empty), S3 ('FTD')" in message
    assert "1 of them have no 'group' value at all (S2): fill it in the sample sheet" in message


def test_duplicate_and_mangled_symbols_are_summed_and_reported():
    counts = np.array([[1, 2], [3, 4], [5, 6], [7, 8]], dtype=np.int32)
    summed, var, report = harmonise_genes(
        counts, ["SOD1", "4-Mar", "SOD1", "MARCHF4"], id_type="symbol"
    )
    assert list(var.index) == ["SOD1", "MARCHF4"]
    assert summed.tolist() == [[6, 8], [10, 12]]
    assert report["n_duplicate_rows_summed"] == 2
    assert report["excel_repaired"] == {"from": ["4-Mar"], "to": ["MARCHF4"]}
    assert var.loc["SOD1", "input_ids"] == "SOD1;SOD1"


def test_h5ad_with_fractional_counts_is_rejected(tmp_path):
    path = tmp_path / "x.h5ad"
    ad.AnnData(X=np.array([[1.5, 2.0]]), obs={"n": ["S1"]}).write_h5ad(path)
    with pytest.raises(AlsigError, match=r"count is not an integer \(value 1.5\)") as info:
        read_h5ad_count_matrix(path)
    assert "counts_rounding: round" in str(info.value) and "layer" in str(info.value)


def test_storage_is_sparse_only_when_smaller():
    mostly_zero = np.zeros((10, 100), dtype=np.int32)
    mostly_zero[0, :5] = 1
    assert sp.issparse(to_storage(mostly_zero))
    assert isinstance(to_storage(np.ones((10, 100), dtype=np.int32)), np.ndarray)


def test_h5ad_counts_are_read_through_the_shared_reader_without_layers(tmp_path):
    from alsig.stages.ingest.counts import read_h5ad_count_matrix

    path = tmp_path / "in.h5ad"
    counts = np.array([[1, 0, 3], [4, 5, 0]], dtype=np.int64)
    ad.AnnData(
        X=counts,
        obs={"n": ["S1", "S2"]},
        layers={"norm": counts / 2.0},
    ).write_h5ad(path)
    matrix = read_h5ad_count_matrix(path)
    assert matrix.sample_ids == ["0", "1"] and matrix.counts.dtype == np.int32
    assert matrix.counts.tolist() == counts.T.tolist()
    with pytest.raises(AlsigError, match="does not exist"):
        read_h5ad_count_matrix(tmp_path / "missing.h5ad")


def test_series_matrix_layout_finds_geo_spellings():
    from alsig.stages.ingest.geo import series_matrix_layout
    from alsig.stages.ingest.samples import SheetLayout

    settings = {
        "source": "geo",
        "accession": "GSE1",
        "condition": {"column": "sample group", "rules": [{"pattern": "x", "condition": "ALS"}]},
        "columns": {"subject": "subject id", "sex": "sex"},
    }
    layout = series_matrix_layout(settings, ["sample", "sample_group", "subject_id", "sex"])
    assert layout == SheetLayout(
        sample_column="sample",
        condition_column="sample_group",
        rules=[{"pattern": "x", "condition": "ALS"}],
        columns={"subject": "subject_id", "sex": "sex"},
    )
    assert SheetLayout.from_settings({}).condition_column == "condition"
