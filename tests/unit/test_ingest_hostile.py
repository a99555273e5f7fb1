"""Hostile count matrices and sample sheets (issue 20): each input is read correctly, repaired
and reported, or rejected with an AlsigError naming the file, line and column and the fix."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import scipy.sparse as sp

from alsig.errors import AlsigError
from alsig.io import read_h5ad_counts, write_h5ad
from alsig.stages.ingest import ingest_local
from alsig.stages.ingest.assemble import to_storage
from alsig.stages.ingest.counts import read_count_matrix
from alsig.stages.ingest.samples import read_sample_sheet

SHEET = "sample\tgroup\nS1\tALS\nS2\tcontrol\n"
SETTINGS = {"source": "local", "sample_column": "sample", "condition": {"column": "group"}}


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def ingest(tmp_path, counts, sheet=SHEET, name="counts.tsv", **extra):
    settings = {
        **SETTINGS,
        "counts": str(write(tmp_path, name, counts)),
        "samples": str(write(tmp_path, "samples.tsv", sheet)),
        **extra,
    }
    return ingest_local("toy", settings)


def dense(adata):
    return adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)


def column(adata, gene):
    return dense(adata)[:, list(adata.var_names).index(gene)].tolist()


def error_of(tmp_path, body, name="bad.tsv", **kwargs) -> str:
    with pytest.raises(AlsigError) as info:
        read_count_matrix(write(tmp_path, name, body), **kwargs)
    assert name in str(info.value)
    return str(info.value)


# 1. no int32 wrap


def test_counts_beyond_int32_stay_exact_as_int64_through_h5ad(tmp_path):
    body = "gene\tS1\tS2\nSOD1\t4294967301\t2147483648\nGAPDH\t1\t2\n"
    adata = ingest(tmp_path, body)
    assert dense(adata).dtype == np.int64
    assert column(adata, "SOD1") == [4294967301, 2147483648]
    assert adata.uns["provenance"]["counts_repairs"]["dtype"] == "int64"
    write_h5ad(adata, tmp_path / "out.h5ad")
    again = read_h5ad_counts(tmp_path / "out.h5ad")
    assert column(again, "SOD1") == [4294967301, 2147483648]


def test_small_counts_stay_int32_and_sparse_storage_keeps_int64():
    assert to_storage(np.ones((2, 3), dtype=np.int64)).dtype == np.int32
    big = np.zeros((4, 50), dtype=np.int64)
    big[0, 0] = 2**40
    stored = to_storage(big)
    assert sp.issparse(stored) and stored.dtype == np.int64 and stored[0, 0] == 2**40


def test_replicate_collapse_sums_beyond_int32_without_error():
    import anndata as ad
    import pandas as pd

    from alsig.stages.qc.replicates import collapse_replicates

    obs = pd.DataFrame({"subject": ["A", "A"]}, index=["S1", "S2"])
    adata = ad.AnnData(X=np.array([[2**31 - 1, 1], [2**31 - 1, 2]], dtype=np.int32), obs=obs)
    out = collapse_replicates(adata, "subject")
    assert np.asarray(out.X).dtype == np.int64
    assert np.asarray(out.X).tolist() == [[2**32 - 2, 3]]


# 2. no polars tracebacks


def test_utf8_bom_is_accepted(tmp_path):
    matrix = read_count_matrix(write(tmp_path, "c.tsv", b"\xef\xbb\xbfgene\tS1\tS2\nSOD1\t1\t2\n"))
    assert matrix.sample_ids == ["S1", "S2"] and matrix.gene_ids == ["SOD1"]
    assert matrix.counts.tolist() == [[1, 2]]
    assert "UTF-8 byte-order mark removed" in matrix.report["notes"]


@pytest.mark.parametrize("value", ["1e20", "99999999999999999999"])
def test_counts_too_big_for_int64_name_file_line_column_and_fix(tmp_path, value):
    message = error_of(tmp_path, f"gene\tS1\tS2\nSOD1\t1\t2\nGAPDH\t3\t{value}\n")
    assert f"line 3, column 'S2': count is too large (value '{value}')" in message
    assert "non_sample_columns" in message


def test_integer_valued_floats_are_integers(tmp_path):
    matrix = read_count_matrix(write(tmp_path, "c.tsv", "gene\tS1\tS2\tS3\nSOD1\t12.0\t1e3\t+7\n"))
    assert matrix.counts.tolist() == [[12, 1000, 7]]


def test_estimated_counts_are_rejected_naming_counts_rounding(tmp_path):
    message = error_of(tmp_path, "gene\tS1\tS2\nSOD1\t1\t2\nGAPDH\t3.7\t4\n")
    assert "line 3, column 'S1': count is not an integer (value '3.7')" in message
    assert "counts_rounding: round" in message


def test_counts_rounding_round_rounds_and_reports(tmp_path, caplog):
    body = "gene\tS1\tS2\nSOD1\t10.4\t2\nGAPDH\t3.6\t4.0\n"
    with caplog.at_level(logging.INFO):
        adata = ingest(tmp_path, body, counts_rounding="round")
    assert column(adata, "SOD1") == [10, 2] and column(adata, "GAPDH") == [4, 4]
    assert adata.uns["provenance"]["counts_repairs"]["n_rounded_counts"] == 2
    assert "2 non-integer count(s) rounded" in caplog.text


def test_unknown_rounding_mode_names_the_key(tmp_path):
    with pytest.raises(AlsigError, match="config key counts_rounding: 'floor'"):
        read_count_matrix(write(tmp_path, "c.tsv", "gene\tS1\nA\t1\n"), rounding="floor")


# 3. missing gene ids


def test_missing_gene_ids_are_dropped_and_counted(tmp_path, caplog):
    genes = "".join(f"G{i}\t{i}\t{i}\n" for i in range(40))
    body = f"gene\tS1\tS2\nNA\t1\t1\n{genes}-\t2\t2\n"
    with caplog.at_level(logging.INFO):
        matrix = read_count_matrix(write(tmp_path, "c.tsv", body))
    assert matrix.gene_ids == [f"G{i}" for i in range(40)]
    assert matrix.report["n_missing_gene_ids_dropped"] == 2
    assert "2 row(s) without a gene id dropped (first at line 2)" in caplog.text


@pytest.mark.parametrize("token", ["NA", "N/A", "NaN", "null", "-", ""])
def test_too_many_missing_gene_ids_fail(tmp_path, token):
    message = error_of(tmp_path, f"gene\tS1\nSOD1\t1\n{token}\t2\nGAPDH\t3\n")
    assert "line 3: 1 of 3 rows (33.3%) have no gene id" in message
    assert "max_missing_gene_ids_fraction" in message


def test_missing_gene_id_threshold_is_a_dataset_key(tmp_path):
    body = "gene\tS1\tS2\nSOD1\t1\t2\nNA\t2\t2\nGAPDH\t3\t3\n"
    adata = ingest(tmp_path, body, max_missing_gene_ids_fraction=0.5)
    assert adata.uns["provenance"]["counts_repairs"]["n_missing_gene_ids_dropped"] == 1


# 4. near-duplicates and mouse symbols


def test_padded_id_copy_is_kept_once_with_a_warning(tmp_path, caplog):
    body = "gene\tS1\tS2\nACTB\t5\t6\nACTB \t5\t6\nSOD1\t1\t1\n SOD1\t2\t3\n"
    with caplog.at_level(logging.INFO):
        adata = ingest(tmp_path, body)
    assert column(adata, "ACTB") == [5, 6]  # not doubled
    assert column(adata, "SOD1") == [3, 4]  # different counts: summed
    repairs = adata.uns["provenance"]["counts_repairs"]
    assert repairs["n_gene_ids_stripped"] == 2
    assert repairs["n_identical_duplicate_rows"] == 1
    assert list(repairs["identical_duplicates"]) == ["ACTB"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("identical counts in every sample" in r.getMessage() for r in warnings)


def test_case_variants_are_reported(tmp_path):
    body = "gene\tS1\tS2\nGAPDH\t5\t6\ngapdh\t1\t1\nGapdh\t2\t2\nSOD1\t1\t1\n"
    adata = ingest(tmp_path, body, gene_id_type="symbol")
    assert list(adata.uns["provenance"]["counts_repairs"]["case_variant_ids"]) == [
        "GAPDH / Gapdh / gapdh"
    ]


def test_mouse_symbols_stop_with_a_species_error(tmp_path):
    body = "gene\tS1\tS2\nGapdh\t5\t6\nActb\t1\t1\nSnap25\t2\t2\nSOD1\t1\t1\n"
    with pytest.raises(AlsigError, match=r"3 of 4 gene symbols are written like mouse") as info:
        ingest(tmp_path, body, gene_id_type="symbol")
    assert "counts.tsv" in str(info.value) and "human" in str(info.value)


# 5. whitespace in sample ids


def test_sample_id_whitespace_is_stripped_in_matrix_and_sheet(tmp_path, caplog):
    body = "gene\tS1 \t S2\nSOD1\t1\t2\n"
    with caplog.at_level(logging.INFO):
        adata = ingest(tmp_path, body, sheet="sample\tgroup\n S1\tALS\nS2  \tcontrol\n")
    assert list(adata.obs_names) == ["S1", "S2"]
    assert "whitespace around 2 sample id(s) removed: 'S1 ', ' S2'" in caplog.text
    assert "whitespace around 2 sample id(s) removed: ' S1', 'S2  '" in caplog.text


def test_ids_in_messages_are_repr_quoted(tmp_path):
    message = error_of(tmp_path, "gene\tS1\tS1 \nSOD1\t1\t2\n")
    assert "duplicate column names (sample ids): 'S1'" in message
    sheet = write(tmp_path, "s.tsv", "sample\tgroup\nS1\tALS\nS1 \tALS\n")
    with pytest.raises(AlsigError, match=r"duplicate sample ids at line 2 \('S1'\), line 3"):
        read_sample_sheet(sheet, "sample")


# 6. real formats


def test_featurecounts_output_is_read_by_name(tmp_path):
    body = (
        '# Program:featureCounts v2.0.6; Command:"featureCounts" "-a" "genes.gtf"\n'
        "Geneid\tChr\tStart\tEnd\tStrand\tLength\tS1\tS2\n"
        "SOD1\tchr21\t31659622\t31668931\t+\t981\t10\t20\n"
        "GAPDH\tchr12\t6534512\t6538374\t+\t1875\t100\t200\n"
    )
    adata = ingest(tmp_path, body)
    assert column(adata, "SOD1") == [10, 20]
    repairs = adata.uns["provenance"]["counts_repairs"]
    assert list(repairs["featurecounts_columns_dropped"]) == [
        "Chr",
        "Start",
        "End",
        "Strand",
        "Length",
    ]


def test_htseq_summary_rows_are_dropped_and_reported(tmp_path):
    special = ["__no_feature", "__ambiguous", "__too_low_aQual", "__not_aligned"]
    special.append("__alignment_not_unique")
    body = "gene\tS1\tS2\nSOD1\t1\t2\n" + "".join(f"{s}\t9\t9\n" for s in special)
    matrix = read_count_matrix(write(tmp_path, "c.tsv", body))
    assert matrix.gene_ids == ["SOD1"]
    assert matrix.report["htseq_rows_dropped"] == special


def test_a_transposed_matrix_is_named_as_such(tmp_path):
    body = "sample\tSOD1\tGAPDH\nS1\t1\t2\nS2\t3\t4\n"
    with pytest.raises(AlsigError, match="looks transposed") as info:
        ingest(tmp_path, body)
    assert "counts.tsv" in str(info.value) and "'S1'" in str(info.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("gene\tS1\tS2\t\nSOD1\t1\t2\t\n\nGAPDH\t3\t4\t\n", [[1, 2], [3, 4]]),  # trailing tabs
        ("gene\tS1\tS2\r\nSOD1\t1\t2\r\n\r\nGAPDH\t3\t4\r\n", [[1, 2], [3, 4]]),  # CRLF
        ('"gene"\t"S1"\t"S2"\n"SOD1"\t"1"\t"2"\n', [[1, 2]]),  # quoted
    ],
)
def test_layout_variants_read_the_same_numbers(tmp_path, body, expected):
    assert read_count_matrix(write(tmp_path, "c.tsv", body)).counts.tolist() == expected


def test_a_value_beyond_the_header_is_an_error(tmp_path):
    message = error_of(tmp_path, "gene,S1,S2\nSOD1,1,234,5\n", name="bad.csv")
    assert "line 2: more fields than the header's 3" in message


def test_latin1_sheet_and_r_row_names(tmp_path):
    sheet = read_sample_sheet(write(tmp_path, "s.tsv", b"sample\tnote\nS1\tpati\xe9nt\n"), "sample")
    assert sheet.get_column("note").to_list() == ["patiént"]
    matrix = read_count_matrix(write(tmp_path, "c.csv", '"","S1"\n"SOD1",4\n'))
    assert matrix.gene_ids == ["SOD1"] and matrix.counts.tolist() == [[4]]
