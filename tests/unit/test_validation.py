"""The validation layer (alsig.validation) on its own: each rule, its message and its report."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse as sp

from alsig.errors import AlsigError, name_some
from alsig.validation import (
    as_missing,
    canonical_plan,
    case_variants,
    check_distinct_libraries,
    check_input_file,
    check_libraries,
    check_mapped_share,
    check_matrix_size,
    choose_kind,
    clean_names,
    clean_sheet,
    detect_id_type,
    did_you_mean,
    integer_counts,
    is_missing_id,
    is_missing_value,
    is_spreadsheet_error,
    read_numbers,
    read_sex,
    repair_entrez_floats,
    subject_conflicts,
    to_utf8,
)
from alsig.validation.counts import FLOAT_EXACT, normalised_evidence

EXCEL_ERRORS = ["#N/A", "#NAME?", "#REF!", "#VALUE!", "#DIV/0!", "#NUM!", "#NULL!", "Err:502"]


@pytest.mark.parametrize(
    "token",
    [
        *EXCEL_ERRORS,
        "NA",
        "n/a",
        "NaN",
        "NULL",
        "",
        " ",
        "Inf",
        "-inf",
        "None",
        "-",
        None,
        float("nan"),
    ],
)
def test_missing_ids_include_spreadsheet_errors_and_non_finite_words(token):
    assert is_missing_id(token)
    assert is_missing_value(token)


@pytest.mark.parametrize("gene", ["NAA10", "INF2", "NANOG", "NULLP", "T", "1-Mar", "7157"])
def test_real_ids_are_not_missing(gene):
    assert not is_missing_id(gene)


def test_sheet_values_have_more_missing_spellings_than_ids():
    for value in ["Unknown", "unknown", "not available", "Not applicable", "?", "missing"]:
        assert is_missing_value(value) and not is_missing_id(value)
    assert all(is_spreadsheet_error(e) for e in EXCEL_ERRORS)
    assert not is_spreadsheet_error("#1 batch")


def test_messages_name_at_most_ten_values_then_say_how_many_more():
    assert name_some(["a", "b"]) == "a, b"
    assert name_some(f"S{i}" for i in range(1, 13)) == (
        "S1, S2, S3, S4, S5, S6, S7, S8, S9, S10 and 2 more"
    )
    assert name_some(["x\u200b", "y"], limit=1, sep="; ", show=repr) == "'x\\u200b' and 1 more"
    assert name_some(range(2000), limit=1) == "0 and 1,999 more"


def test_names_are_nfc_and_stripped_and_the_change_is_reported():
    decomposed = unicodedata.normalize("NFD", "Sé1")
    cleaned = clean_names([decomposed, " S2 ", "S3", None])
    assert cleaned.names == ["Sé1", "S2", "S3", None]
    assert cleaned.normalised == [decomposed] and cleaned.stripped == [" S2 "]
    notes = cleaned.notes("sample id(s)")
    assert "whitespace around 1 sample id(s) removed: ' S2 '" in notes[0]
    assert "normalised to Unicode NFC" in notes[1]


@pytest.mark.parametrize("mark", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_invisible_characters_are_removed_from_ids_and_named_escaped(mark):
    cleaned = clean_names([f"JR9{mark}", f"J{mark}R1", "JR2"])
    assert cleaned.names == ["JR9", "JR1", "JR2"]
    assert cleaned.invisible == [f"JR9{mark}", f"J{mark}R1"]
    note = cleaned.notes("sample id(s)")[0]
    assert f"removed from 2 sample id(s): {f'JR9{mark}'!r}, {f'J{mark}R1'!r}" in note
    assert "\\u" in note  # the character is shown escaped, not as an invisible one


def test_clean_sheet_removes_invisible_characters_and_names_the_cells():
    report: dict = {}
    sheet = pl.DataFrame(
        {
            "sample": ["S1", "S2\ufeff", "S3"],
            "donor": ["JR9", "JR9\u200b", "JR10"],
            "region": ["motor cortex", "motor\u2060 cortex", "motor cortex"],
        }
    )
    out = clean_sheet(sheet, sample_column="sample", location="f", report=report)
    assert out["sample"].to_list() == ["S1", "S2", "S3"]
    assert out["donor"].to_list() == ["JR9", "JR9", "JR10"]
    assert out["region"].unique().to_list() == ["motor cortex"]
    assert report["invisible_cells"] == [
        "donor 'JR9\\u200b' (S2)",
        "region 'motor\\u2060 cortex' (S2)",
    ]
    assert any("removed from 1 sample id(s): 'S2\\ufeff'" in n for n in report["notes"])
    assert "n_cells_cleaned" not in report  # said once, in the invisible-character note


def test_case_variants_group_names_differing_in_case_or_spaces():
    assert case_variants(["Bulbar", "bulbar", "Limb", "Motor  Cortex", "motor cortex"]) == [
        ["Bulbar", "bulbar"],
        ["Motor  Cortex", "motor cortex"],
    ]
    assert case_variants(["1", "1", "2"]) == []


def _where(row, column):
    return f"file 'x.h5ad', sample {row}, gene {column}"


@pytest.mark.parametrize(
    ("value", "dtype", "message"),
    [
        (1e20, np.float64, "count is too large"),
        (FLOAT_EXACT, np.float64, "count is too large"),
        (np.nan, np.float32, "count is NaN"),
        (np.inf, np.float64, "count is infinite"),
        (-1.0, np.float64, "count is negative"),
        (2.5, np.float64, "count is not an integer"),
        (-3, np.int32, "count is negative"),
        (2**63 + 5, np.uint64, "count is too large"),
    ],
)
@pytest.mark.parametrize("sparse", [False, True])
def test_count_rules_name_the_cell_for_dense_and_sparse(value, dtype, message, sparse):
    matrix = np.array([[1, 2, 0], [4, 0, 6]], dtype=dtype)
    matrix[1, 2] = value
    given = sp.csc_matrix(matrix) if sparse else matrix
    with pytest.raises(AlsigError) as info:
        integer_counts(given, rounding="none", source="file 'x.h5ad', X", locate=_where)
    assert f"file 'x.h5ad', sample 1, gene 2: {message}" in str(info.value)
    assert "raw integer read counts" in str(info.value)


def test_counts_exact_below_2_53_and_rounding_counts_cells():
    big = np.array([[2.0**53 - 1, 3.0]])
    counts, n = integer_counts(big, rounding="none", source="x", locate=_where)
    assert counts.dtype == np.int64 and counts[0, 0] == 2**53 - 1 and n == 0
    counts, n = integer_counts(
        np.array([[2.5, 3.5, 1.2]]), rounding="round", source="x", locate=_where
    )
    assert counts.tolist() == [[2, 4, 1]] and n == 3  # half to even, as the text reader


def test_boolean_or_text_matrices_are_not_counts():
    with pytest.raises(AlsigError, match="holds bool values, not numbers"):
        integer_counts(np.ones((2, 2), dtype=bool), rounding="none", source="X", locate=_where)


def test_sizes_and_empty_libraries_are_named_by_id():
    with pytest.raises(AlsigError, match="no gene rows"):
        check_matrix_size(0, 3, "file 'c.tsv'")
    counts = np.array([[1, 0, 5], [2, 0, 0]])
    with pytest.raises(AlsigError, match=r"1 sample\(s\) have no counts in any gene .*: 'S2'"):
        check_libraries(counts, ["S1", "S2", "S3"], "file 'c.tsv'")


def test_identical_libraries_are_named_in_pairs_and_empty_ones_left_to_their_rule():
    counts = np.array([[1, 0, 1, 7, 0], [5, 0, 5, 2, 0], [0, 0, 0, 3, 0]])
    with pytest.raises(AlsigError) as info:
        check_distinct_libraries(counts, ["S1", "S2", "S3", "S4", "S5"], "file 'c.tsv'")
    message = str(info.value)
    assert (
        "file 'c.tsv': 1 group(s) of sample columns hold identical counts in every gene" in message
    )
    assert "'S1' = 'S3'." in message and "'S2'" not in message  # S2 = S5 are empty libraries
    assert "remove the copy from the count matrix and the sample sheet" in message
    check_distinct_libraries(counts[:, :2], ["S1", "S2"], "file 'c.tsv'")  # distinct: passes


def test_log_scale_and_per_million_values_are_told_from_estimated_counts():
    rng = np.random.default_rng(0)
    counts = rng.negative_binomial(2, 0.01, size=(4, 300)).astype(float)
    assert "log-scale values" in normalised_evidence(np.log1p(counts))
    tpm = counts / counts.sum(axis=1, keepdims=True) * 1e6
    assert "TPM or CPM" in normalised_evidence(tpm, tpm.sum(axis=1))
    estimated = counts + rng.uniform(0, 1, size=counts.shape)  # salmon's NumReads
    assert normalised_evidence(estimated, estimated.sum(axis=1)) == ""
    assert normalised_evidence(np.log1p(counts[:1, :50])) == ""  # too few values to tell


def test_log_scale_x_is_refused_under_either_rounding():
    x = np.log1p(np.random.default_rng(1).negative_binomial(2, 0.01, size=(4, 300)))
    for rounding in ("none", "round"):
        with pytest.raises(AlsigError) as info:
            integer_counts(x, rounding=rounding, source="X", locate=_where)
        assert "The values look normalised, not counted (largest value" in str(info.value)
        assert "does not turn normalised values back into counts" in str(info.value)


def test_a_directory_is_named_as_a_directory(tmp_path):
    (tmp_path / "counts.tsv").write_text("gene\tS1\nA\t1\n")
    with pytest.raises(AlsigError, match=r"is a directory, not a file \(it holds 'counts.tsv'\)"):
        check_input_file(tmp_path)
    with pytest.raises(AlsigError, match="does not exist"):
        check_input_file(tmp_path / "nope.tsv")


def test_encoding_report_names_the_first_non_utf8_line():
    raw = "sample\tnote\nS1\tok\nS2\tpatiént\nS3\tâge\n".encode("cp1252")
    decoded = to_utf8(raw, "s.tsv")
    assert decoded.data.decode("utf-8").splitlines()[2] == "S2\tpatiént"
    assert decoded.report == {"encoding": "cp1252", "first_non_utf8_line": 3, "n_non_utf8_lines": 2}
    assert "the first at line 3 (byte 0xE9" in decoded.notes[0]
    assert to_utf8("é\n".encode(), "x").report == {"encoding": "utf-8"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"PK\x03\x04rest", "zip archive"),
        (b"\x1f\x8b\x08\x00", "gzip-compressed"),
        (b"\x89HDF\r\n\x1a\nxx", "HDF5"),
        ("gene\tS1\n".encode("utf-16-le"), "UTF-16"),
        ("gene\tS1\n".encode("utf-16"), "UTF-16"),
    ],
)
def test_binary_and_utf16_files_are_named(raw, message):
    with pytest.raises(AlsigError, match=message):
        to_utf8(raw, "c.tsv")


@pytest.mark.parametrize(
    ("ids", "kind"),
    [
        (["TP53", "GAPDH", "ENSG00000141510"], "symbol"),
        (["ENSG00000141510.17", "ENSG00000111640"], "ensembl"),
        (["7157", "2597.0"], "entrez"),
        (["7157.0", "2597.0", "TP53"], "entrez_as_float"),
        (["ENSMUSG00000059552", "ENSMUSG00000057666"], "ensembl_non_human"),
        (["ENST00000269305", "ENST00000229239"], "ensembl_transcript"),
        (["ENSG00000175899:A2M:protein-coding", "ENSG00000141510|TP53"], "joined"),
    ],
)
def test_detect_id_type(ids, kind):
    assert detect_id_type(ids).kind == kind


def test_entrez_written_as_numbers_are_repaired_only_when_read_as_entrez():
    ids, repaired = repair_entrez_floats(["7157.0", "TP53", "2597.00"], "auto")
    assert ids == ["7157", "TP53", "2597"] and repaired == ["7157.0", "2597.00"]
    assert repair_entrez_floats(["7157.0"], "symbol") == (["7157.0"], [])


def test_mapped_share_below_threshold_names_detected_type_and_key():
    guess = detect_id_type(["ENSG00000141510", "ENSG00000111640"])
    with pytest.raises(AlsigError) as info:
        check_mapped_share(
            {"unmapped": 2},
            guess,
            id_type="symbol",
            threshold=0.5,
            location="file 'c.tsv'",
            id_type_key="datasets.x.gene_id_type",
            threshold_key="datasets.x.min_mapped_gene_fraction",
        )
    message = str(info.value)
    assert "only 0.0% of 2 gene ids map" in message
    assert "look like Ensembl gene ids" in message
    assert "set `datasets.x.gene_id_type: ensembl`" in message
    assert "datasets.x.min_mapped_gene_fraction" in message
    share = check_mapped_share(
        {"symbol": 9, "unmapped": 1},
        guess,
        id_type="symbol",
        threshold=0.5,
        location="f",
        id_type_key="k",
        threshold_key=None,
    )
    assert share == pytest.approx(0.9)


def test_joined_ids_are_named_with_how_to_give_one_id_and_no_ids_is_no_share():
    guess = detect_id_type(["ENSG00000175899:A2M:protein-coding", "ENSG00000094914:AAAS:unknown"])
    kwargs = {"threshold": 0.5, "location": "f", "id_type_key": "k", "threshold_key": None}
    with pytest.raises(AlsigError) as info:
        check_mapped_share({"unmapped": 2}, guess, id_type="auto", **kwargs)
    message = str(info.value)
    assert "only 0.0% of 2 gene ids map" in message
    assert "several fields joined by ':' or '|' in one id (100% like " in message
    assert "Give one gene id per row" in message
    with pytest.raises(AlsigError, match="no gene rows are left to map"):
        check_mapped_share({}, detect_id_type([]), id_type="auto", **kwargs)


def test_missing_spellings_in_a_covariate_are_missing_and_said():
    values = pd.Series(["81", "Unknown", "67", "NA", "#N/A"], index=[f"S{i}" for i in range(5)])
    out, notes = as_missing(values, "age")
    assert out.tolist() == ["81", None, "67", None, None]
    assert "design variable 'age': 'Unknown' for 1 sample(s) (S1) read as missing" in notes
    assert any("spreadsheet error '#N/A'" in n for n in notes)


def test_integer_codes_mostly_numeric_and_case_variants_are_reported():
    codes = choose_kind(pd.Series(["1", "2", "3", "1"]), "batch")
    assert codes.kind == "numeric" and "de.categorical: [batch]" in codes.notes[0]
    forced = choose_kind(pd.Series(["1", "2", "3", "1"]), "batch", categorical={"batch"})
    assert forced.kind == "categorical" and not forced.notes
    age = choose_kind(pd.Series(["81", "67", "90+", "70"], index=list("abcd")), "age")
    assert age.kind == "categorical"
    assert "is mostly numbers (3 of 4) but '90+' (c) are not" in age.notes[0]
    onset = choose_kind(pd.Series(["Bulbar", "bulbar", "Limb"]), "onset")
    assert "'Bulbar' / 'bulbar'" in onset.notes[0]
    measured = choose_kind(pd.Series(["81.5", "67", "70", "55", "60", "61", "62"]), "age")
    assert measured.kind == "numeric" and not measured.notes


def test_sex_spellings_are_read_and_missing_tokens_are_missing():
    values = ["F", " male ", "WOMAN", "Men", "XX", "x y", "NA", "Unknown", None, "#N/A"]
    samples = [f"S{i}" for i in range(len(values))]
    labels = read_sex(values, samples, column="sex", location="file 's.tsv'")
    assert labels == ["female", "male", "female", "male", "female", "male", *[None] * 4]


@pytest.mark.parametrize("codes", [["1", "2", "2"], ["F", "Mal", "M"], ["0", "M", "F"]])
def test_a_sex_alsig_cannot_read_stops_with_the_column_values_and_samples(codes):
    samples = ["S1", "S2", "S3"]
    unread = [(s, v) for s, v in zip(samples, codes, strict=True) if v not in ("F", "M")]
    with pytest.raises(AlsigError) as error:
        read_sex(codes, samples, column="gender", location="file 's.tsv'")
    message = str(error.value)
    assert "file 's.tsv', column 'gender' (`sex`)" in message
    assert f"{len(unread)} sample(s) have a sex alsig cannot read" in message
    for sample, value in unread:
        assert f"{sample} ({value!r})" in message
    assert "Write female or male" in message and "empty (or NA)" in message


def test_read_numbers_names_the_text_cells_of_a_mostly_numeric_column():
    values = pd.Series(["81", " 67 ", "90+", "NA", "4,5", "70"], index=list("abcdef"))
    reading = read_numbers(values)
    assert reading.numbers.tolist()[:2] == [81.0, 67.0] and reading.numbers.isna().sum() == 3
    assert reading.text.to_dict() == {"c": "90+", "e": "4,5"}
    assert reading.mostly_numeric and reading.n_numbers == 3
    assert reading.text_cells() == "'90+' (c), '4,5' (e) ('4,5' has a decimal comma: write '4.5')"
    assert not read_numbers(pd.Series(["Bulbar", "Limb", "3"])).mostly_numeric


def test_clean_sheet_stops_on_missing_or_repeated_ids_and_reports_cells():
    sheet = pl.DataFrame({"sample": ["S1", "#N/A"], "age": ["1", "2"]})
    with pytest.raises(AlsigError, match=r"line 3, column 'sample': sample id is spreadsheet"):
        clean_sheet(sheet, sample_column="sample", location="file 's.tsv'", lines=[2, 3])
    nfd = unicodedata.normalize("NFD", "é")
    report: dict = {}
    sheet = pl.DataFrame(
        {"sample": ["S1", "s1", "S2"], "region": [f"cort{nfd}x ", "cortéx", "Unknown"]}
    )
    out = clean_sheet(sheet, sample_column="sample", location="f", report=report)
    assert out["region"].to_list() == ["cortéx", "cortéx", "Unknown"]
    assert report["n_cells_cleaned"] == 1 and report["case_variant_ids"] == ["S1 / s1"]
    assert report["missing_values"] == ["region: 'Unknown' x1 (S2)"]


def test_canonical_plan_uses_an_unmapped_column_and_keeps_a_shadowed_one():
    plan = canonical_plan(
        ["sample", "group", "Subject", "batch", "tissue", "region"],
        {"region": "tissue"},
        sample_column="sample",
        condition_column="group",
        dataset="d",
        location="s.tsv",
    )
    assert plan.columns == {"region": "tissue", "subject": "Subject", "batch": "batch"}
    assert plan.keep_as == {"region": "region_sheet"}
    assert any("'Subject' used as `subject`" in n for n in plan.notes)
    with pytest.raises(AlsigError, match=r"2 columns that could be `batch`.*columns.batch"):
        canonical_plan(
            ["sample", "Batch", "batch"],
            {},
            sample_column="sample",
            condition_column="g",
            dataset="d",
            location="s",
        )
    with pytest.raises(AlsigError, match="Did you mean 'subject_id'"):
        canonical_plan(
            ["sample", "subject_id"],
            {"subject": "subjectid"},
            sample_column="sample",
            condition_column="g",
            dataset="d",
            location="s",
        )


def test_subject_conflicts_name_the_subject():
    obs = pd.DataFrame(
        {"subject": ["A", "A", "B"], "condition": ["ALS", "control", "ALS"]},
        index=["S1", "S2", "S3"],
    )
    assert subject_conflicts(obs) == [
        "subject 'A' has libraries with condition S1: ALS, S2: control"
    ]


def test_did_you_mean():
    assert did_you_mean("desing", ["design", "contrasts"]) == " Did you mean 'design'?"
    assert did_you_mean("Group", ["group", "sample"]) == " Did you mean 'group'?"
    assert did_you_mean("zzz", ["design"]) == ""


def test_a_yaml_key_given_twice_is_named_with_its_lines():
    from alsig.validation.yaml_keys import repeated_keys

    text = (
        "datasets:\n  demo:\n    qc: {min_count: 5}\n    qc: {min_count: 9}\n"
        "de:\n  design: '~ sex'\n"
        "base: &base {alpha: 0.1}\n"
        "enrich:\n  <<: *base\n  <<: *base\n"
        "de:\n  alpha: 0.1\n"
    )
    assert repeated_keys(text) == [
        "key datasets.demo.qc (lines 3 and 4)",
        "key de (lines 5 and 11)",
    ]
    assert repeated_keys("a: 1\nb: [{x: 1, x: 2}]\n") == ["key b[0].x (lines 2 and 2)"]
    assert repeated_keys("not: [valid") == []  # the loader reports parse errors


def test_repeated_key_problems_read_the_file(tmp_path):
    from alsig.validation.yaml_keys import repeated_key_problems

    path = tmp_path / "c.yaml"
    path.write_text("de: {}\nde: {}\n")
    assert repeated_key_problems(path) == [
        f"config file '{path}': key de (lines 1 and 2) is given twice: YAML keeps the last one "
        "and drops the first without a word; merge the two into one."
    ]
    assert repeated_key_problems(tmp_path / "missing.yaml") == []


def test_a_configured_label_no_sample_has(caplog):
    from alsig.validation import check_label

    check_label("control", ["ALS", "control", None], "score.control_label", consequence="x")
    with pytest.raises(AlsigError) as error:
        check_label("Control", ["ALS", "control"], "subtypes.control_label", consequence="x")
    assert str(error.value) == (
        "config key subtypes.control_label: 'Control' matches no sample, but 'control' does "
        "(letter case or spaces differ); write it as the samples have it. Values: ALS, control."
    )
    with caplog.at_level("WARNING"):
        check_label("healthy", ["ALS", "control"], "score.control_label", consequence="no z")
    assert (
        "config key score.control_label: 'healthy' matches no sample (values: ALS, control): no z"
        in caplog.text
        and "'healthy' matches no sample" in caplog.text
    )
