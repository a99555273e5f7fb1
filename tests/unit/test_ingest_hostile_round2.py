"""Hostile inputs, round 2 (issue 29): every input path through one validation layer, and no
result changed without a word. Each test is a case that passes only because it is handled: the
value that used to flow on silently (an int64 wrap, a rescued ``NA`` gene, a fake ``#N/A`` gene,
a shadowed ``subject`` column, ...) is asserted to be rejected, dropped and counted, or used with
a note."""

from __future__ import annotations

import logging
import unicodedata

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from alsig.errors import AlsigError
from alsig.settings import complete
from alsig.stages.ingest import ingest_local
from alsig.stages.ingest.counts import read_count_matrix, read_h5ad_count_matrix
from alsig.stages.ingest.samples import read_sample_sheet
from alsig.stages.ingest.te_counts import read_te_counts
from alsig.stages.qc import run_qc
from alsig.stages.qc.replicates import collapse_replicates, replicate_advice

GENES = ["SOD1", "GAPDH", "ACTB", "TARDBP", "FUS", "SNAP25", "GFAP", "AQP4", "MBP", "OLIG2"]
SHEET = "sample\tgroup\nS1\tALS\nS2\tcontrol\nS3\tALS\nS4\tcontrol\n"
SETTINGS = {"source": "local", "sample_column": "sample", "condition": {"column": "group"}}


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def table(genes=GENES, samples=("S1", "S2", "S3", "S4"), offset=1) -> str:
    rows = ["gene\t" + "\t".join(samples)]
    for i, gene in enumerate(genes):
        rows.append(
            gene + "\t" + "\t".join(str(10 * (i + offset) + j) for j in range(len(samples)))
        )
    return "\n".join(rows) + "\n"


def ingest(tmp_path, counts, sheet=SHEET, name="counts.tsv", **extra):
    counts_path = counts if not isinstance(counts, str) else write(tmp_path, name, counts)
    settings = {
        **SETTINGS,
        "counts": str(counts_path),
        "samples": str(write(tmp_path, "samples.tsv", sheet)),
        **extra,
    }
    return ingest_local("toy", settings)


def h5ad(tmp_path, x, genes=GENES[:4], samples=("S1", "S2", "S3", "S4"), name="c.h5ad"):
    path = tmp_path / name
    obs = pd.DataFrame(index=pd.Index(list(samples), dtype=str))
    var = pd.DataFrame(index=pd.Index(list(genes), dtype=str))
    ad.AnnData(X=x, obs=obs, var=var).write_h5ad(path)
    return path


def dense(adata):
    return adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)


# 1. the h5ad path runs the text path's checks


def test_h5ad_float_1e20_is_rejected_like_the_text_table_not_wrapped(tmp_path):
    x = np.arange(16, dtype=np.float64).reshape(4, 4) + 1
    x[1, 2] = 1e20  # was stored as -9223372036854775808 and flowed through QC and DE
    with pytest.raises(AlsigError) as info:
        read_h5ad_count_matrix(h5ad(tmp_path, x))
    assert "X sample 'S2', gene 'ACTB': count is too large (value 1e+20)" in str(info.value)
    lines = table(GENES[:4]).splitlines()
    lines[3] = "ACTB\t30\t31\t1e20\t33"
    with pytest.raises(AlsigError, match="count is too large"):
        read_count_matrix(write(tmp_path, "c.tsv", "\n".join(lines) + "\n"))


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.full((4, 4), 2**63 + 1, dtype=np.uint64), "count is too large"),
        (sp.csr_matrix(np.diag([1.0, -2.0, 3.0, 4.0])), "sample 'S2', gene 'GAPDH': count is neg"),
        (np.ones((4, 4), dtype=bool), "holds bool values"),
        (np.full((4, 4), np.nan, dtype=np.float32), "count is NaN"),
    ],
    ids=["uint64_beyond_int64", "sparse_negative", "boolean", "nan"],
)
def test_h5ad_values_break_the_same_rules_with_sample_and_gene(tmp_path, x, message):
    with pytest.raises(AlsigError, match=message):
        read_h5ad_count_matrix(h5ad(tmp_path, x))


def test_h5ad_nan_inf_na_gene_names_are_missing_ids_not_rescued_aliases(tmp_path, caplog):
    genes = [*GENES, "NaN", "Inf", "NA", "#N/A"]
    x = np.arange(4 * len(genes)).reshape(4, len(genes)) + 1
    with caplog.at_level(logging.INFO):
        adata = ingest(tmp_path, h5ad(tmp_path, x, genes=genes), max_missing_gene_ids_fraction=0.5)
    assert adata.n_vars == len(GENES)
    inputs = ";".join(adata.var["input_ids"].astype(str))
    assert not {"NaN", "Inf", "NA", "#N/A"} & set(inputs.split(";"))
    repairs = adata.uns["provenance"]["counts_repairs"]
    assert repairs["n_missing_gene_ids_dropped"] == 4
    assert list(repairs["spreadsheet_error_ids"]) == ["#N/A"]
    assert "4 row(s) without a gene id dropped (first at var position 11)" in caplog.text


def test_h5ad_sample_ids_are_cleaned_like_a_sheet(tmp_path):
    nfd = unicodedata.normalize("NFD", "Sé1")
    x = np.arange(16).reshape(4, 4) + 1
    path = h5ad(tmp_path, x, samples=[f" {nfd}", "S2", "S3", "S4"])
    sheet = "sample\tgroup\nSé1\tALS\nS2\tcontrol\nS3\tALS\nS4\tcontrol\n"
    adata = ingest(tmp_path, path, sheet=sheet, gene_id_type="symbol")
    assert list(adata.obs_names) == ["Sé1", "S2", "S3", "S4"]
    duplicated = h5ad(tmp_path, x, samples=["S1", "S1 ", "S3", "S4"], name="d.h5ad")
    with pytest.raises(AlsigError, match=r"duplicate sample ids \(obs_names\): 'S1'"):
        read_h5ad_count_matrix(duplicated)


def test_h5ad_rounding_follows_counts_rounding(tmp_path):
    x = np.arange(16, dtype=np.float64).reshape(4, 4) + 1.4
    path = h5ad(tmp_path, x)
    with pytest.raises(AlsigError, match=r"count is not an integer.*counts_rounding: round"):
        read_h5ad_count_matrix(path)
    matrix = read_h5ad_count_matrix(path, rounding="round")
    assert matrix.report["n_rounded_counts"] == 16 and matrix.counts[0, 0] == 1


# 2. missing-id values, spreadsheet errors and the fake gene they made


def test_spreadsheet_error_gene_ids_are_dropped_and_counted_not_summed(tmp_path, caplog):
    body = table(GENES) + "#N/A\t5\t5\t5\t5\n#NAME?\t7\t7\t7\t7\n#N/A\t9\t1\t9\t1\n"
    with caplog.at_level(logging.WARNING):
        adata = ingest(tmp_path, body, max_missing_gene_ids_fraction=0.3)
    assert not any(name.startswith("#") for name in adata.var_names)
    assert adata.n_vars == len(GENES)
    repairs = adata.uns["provenance"]["counts_repairs"]
    assert repairs["n_spreadsheet_error_ids"] == 3
    assert list(repairs["spreadsheet_error_ids"]) == ["#N/A", "#NAME?"]
    assert "spreadsheet error value as gene id (#N/A, #NAME?)" in caplog.text


def test_spreadsheet_error_as_a_count_names_the_cell(tmp_path):
    body = table(GENES[:3]).replace("\t31\t", "\t#VALUE!\t", 1)
    with pytest.raises(AlsigError) as info:
        read_count_matrix(write(tmp_path, "c.tsv", body))
    assert "line 4, column 'S2': count is a spreadsheet error value (value '#VALUE!')" in str(
        info.value
    )


def test_nfd_and_nfc_spellings_of_one_gene_are_one_id(tmp_path):
    nfd = unicodedata.normalize("NFD", "GÉNE1")
    body = f"gene\tS1\tS2\nGÉNE1\t1\t2\n{nfd}\t1\t2\nSOD1\t3\t4\n"
    matrix = read_count_matrix(write(tmp_path, "c.tsv", body))
    assert matrix.gene_ids == ["GÉNE1", "SOD1"]  # the NFD row was a copy: kept once
    assert matrix.report["n_gene_ids_nfc"] == 1


# 3. sizes, paths, formats


def test_header_only_matrix_stops_at_ingest_not_in_qc(tmp_path):
    with pytest.raises(AlsigError, match="no gene rows"):
        read_count_matrix(write(tmp_path, "c.tsv", "gene\tS1\tS2\tS3\tS4\n"))


def test_a_directory_given_as_the_count_matrix_is_named(tmp_path):
    folder = tmp_path / "counts"
    folder.mkdir()
    (folder / "GSE1_counts.tsv.gz").write_bytes(b"")
    with pytest.raises(AlsigError, match=r"is a directory, not a file \(it holds 'GSE1_"):
        ingest(tmp_path, folder)


def test_an_all_zero_library_is_named_by_its_id(tmp_path):
    lines = table().splitlines()
    body = "\n".join(
        [lines[0]] + ["\t".join([*ln.split("\t")[:3], "0", ln.split("\t")[4]]) for ln in lines[1:]]
    )
    with pytest.raises(AlsigError) as info:
        ingest(tmp_path, body + "\n")
    assert "1 sample(s) have no counts in any gene (an empty library): 'S3'" in str(info.value)


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"PK\x03\x04\x14\x00", "counts.tsv", r"zip archive \(an Excel .xlsx workbook\?\)"),
        (b"gene\tS1\nSOD1\t1\n", "counts.tsv.gz", "not gzip-compressed"),
    ],
)
def test_workbooks_and_misnamed_files_are_named(tmp_path, content, name, message):
    with pytest.raises(AlsigError, match=message):
        read_count_matrix(write(tmp_path, name, content))


# 4. gene identifiers: the id type and the mapped share


def test_ensembl_ids_read_as_symbols_stop_naming_the_type_and_key(tmp_path):
    ensembl = ["ENSG00000142168", "ENSG00000111640", "ENSG00000075624", "ENSG00000120948"]
    with pytest.raises(AlsigError) as info:
        ingest(tmp_path, table(ensembl), gene_id_type="symbol")
    message = str(info.value)
    assert "only 0.0% of 4 gene ids map to a known human gene" in message
    assert "look like Ensembl gene ids" in message
    assert "`datasets.toy.gene_id_type: ensembl`" in message
    assert "datasets.toy.min_mapped_gene_fraction" in message
    adata = ingest(tmp_path, table(ensembl), gene_id_type="ensembl")
    assert "SOD1" in adata.var_names


def test_entrez_ids_written_as_numbers_are_read_under_auto(tmp_path):
    entrez = ["6647.0", "2597.0", "60.0", "23435.0"]
    adata = ingest(tmp_path, table(entrez))
    assert {"SOD1", "GAPDH", "ACTB", "TARDBP"} <= set(adata.var_names)
    assert adata.uns["provenance"]["counts_repairs"]["n_entrez_ids_written_as_numbers"] == 4
    harmonisation = adata.uns["provenance"]["gene_harmonisation"]
    assert harmonisation["detected_id_type"] == "entrez"
    assert harmonisation["mapped_fraction"] == 1.0
    with pytest.raises(AlsigError, match=r"Entrez gene ids written as numbers \('7157.0'\)"):
        ingest(tmp_path, table(entrez), gene_id_type="symbol")


def test_the_mapped_share_threshold_is_a_dataset_key(tmp_path):
    genes = [*GENES[:4], "NOTAGENE1", "NOTAGENE2", "NOTAGENE3"]
    adata = ingest(tmp_path, table(genes), gene_id_type="symbol")  # 4/7 = 57% >= 50%
    assert adata.uns["provenance"]["gene_harmonisation"]["mapped_fraction"] == pytest.approx(
        4 / 7, abs=1e-4
    )
    with pytest.raises(AlsigError, match="below `datasets.toy.min_mapped_gene_fraction` \\(0.8\\)"):
        ingest(tmp_path, table(genes), gene_id_type="symbol", min_mapped_gene_fraction=0.8)


# 5. the sample sheet: canonical columns, "not known" cells, encodings


def test_an_unmapped_subject_column_is_used_with_a_note_so_collapse_collapses(tmp_path, caplog):
    sheet = "sample\tgroup\tsubject\nS1\tALS\tD1\nS2\tALS\tD1\nS3\tcontrol\tD2\nS4\tcontrol\tD2\n"
    with caplog.at_level(logging.WARNING):
        adata = ingest(tmp_path, table(), sheet=sheet)
    assert adata.obs["subject"].tolist() == ["D1", "D1", "D2", "D2"]  # was S1..S4: no collapse
    assert "sample-sheet column 'subject' used as `subject`" in caplog.text
    assert collapse_replicates(adata, "subject").n_obs == 2


def test_a_filled_batch_column_is_used_not_reported_missing(tmp_path):
    sheet = "sample\tgroup\tBatch\nS1\tALS\tb1\nS2\tcontrol\tb1\nS3\tALS\tb2\nS4\tcontrol\tb2\n"
    rng = np.random.default_rng(1)
    counts = "gene\tS1\tS2\tS3\tS4\n" + "".join(
        gene + "\t" + "\t".join(map(str, rng.negative_binomial(5, 0.01, 4))) + "\n"
        for gene in GENES
    )
    adata = ingest(tmp_path, counts, sheet=sheet)
    assert adata.obs["batch"].tolist() == ["b1", "b1", "b2", "b2"]
    notes = list(adata.uns["provenance"]["sample_sheet"]["notes"])
    assert any("'Batch' used as `batch`" in n for n in notes)
    _, sample_qc, _ = run_qc(adata, complete("qc", {"sex_check": False}), n_cpus=1)
    assert sample_qc["batch"].tolist() == ["b1", "b1", "b2", "b2"]  # was empty: "missing"


def test_a_mapped_canonical_column_never_hides_the_sheets_own(tmp_path):
    sheet = (
        "sample\tgroup\tsubject\tdonor\tcondition\n"
        "S1\tALS\tx\tD1\tsALS\nS2\tcontrol\ty\tD1\tctrl\nS3\tALS\tz\tD2\tsALS\nS4\tcontrol\tw\tD2\tctrl\n"
    )
    adata = ingest(tmp_path, table(), sheet=sheet, columns={"subject": "donor"})
    assert adata.obs["subject"].tolist() == ["D1", "D1", "D2", "D2"]
    assert adata.obs["subject_sheet"].tolist() == ["x", "y", "z", "w"]
    assert adata.obs["condition"].tolist() == ["ALS", "control", "ALS", "control"]
    assert adata.obs["condition_sheet"].tolist() == ["sALS", "ctrl", "sALS", "ctrl"]


def test_two_candidate_columns_stop_naming_the_key(tmp_path):
    sheet = "sample\tgroup\tBatch\tbatch\nS1\tALS\t1\t1\nS2\tcontrol\t1\t1\nS3\tALS\t2\t2\nS4\tcontrol\t2\t2\n"
    with pytest.raises(AlsigError, match=r"could be `batch`.*`datasets.toy.columns.batch`"):
        ingest(tmp_path, table(), sheet=sheet)


def test_not_known_canonical_values_are_missing_and_a_subjectless_sample_is_its_own(tmp_path):
    sheet = (
        "sample\tgroup\tdonor\ttissue\tsex\n"
        "S1\tALS\tD1\tcortex\tF\nS2\tcontrol\tNA\tUnknown\tUnknown\n"
        "S3\tALS\tD1\tcortex\tM\nS4\tcontrol\t#N/A\tN/A\tmale\n"
    )
    columns = {"subject": "donor", "region": "tissue", "sex": "sex"}
    adata = ingest(tmp_path, table(), sheet=sheet, columns=columns)
    assert adata.obs["subject"].tolist() == ["D1", "S2", "D1", "S4"]  # never pooled as 'NA'
    assert adata.obs["region"].isna().tolist() == [False, True, False, True]
    missing = list(adata.uns["provenance"]["sample_sheet"]["missing_values"])
    assert "tissue: 'Unknown' x1 (S2), 'N/A' x1 (S4)" in missing


def test_a_condition_value_that_says_not_known_has_no_condition(tmp_path):
    sheet = "sample\tgroup\nS1\tALS\nS2\tNA\nS3\tALS\nS4\tcontrol\n"
    with pytest.raises(AlsigError, match=r"1 sample\(s\) have no condition.*S2 \('NA'\)"):
        ingest(tmp_path, table(), sheet=sheet)


def test_sheet_encoding_report_is_kept_in_the_provenance(tmp_path):
    sheet = "sample\tgroup\tnote\nS1\tALS\tpatiënt\nS2\tcontrol\tok\nS3\tALS\tok\nS4\tcontrol\tok\n"
    adata = ingest(tmp_path, table(), sheet=sheet.encode("cp1252"))
    report = adata.uns["provenance"]["sample_sheet"]
    assert report["encoding"] == "cp1252" and report["first_non_utf8_line"] == 2
    assert adata.obs.loc["S1", "note"] == "patiënt"


def test_sample_ids_missing_in_the_sheet_stop_with_the_line(tmp_path):
    path = write(tmp_path, "s.tsv", "sample\tgroup\nS1\tALS\n#REF!\tcontrol\n")
    with pytest.raises(AlsigError, match=r"line 3, column 'sample': sample id is spreadsheet"):
        read_sample_sheet(path, "sample")
    path = write(tmp_path, "s.tsv", "sampel\tgroup\nS1\tALS\n")
    with pytest.raises(AlsigError, match="Did you mean 'sampel'"):
        read_sample_sheet(path, "sample")


# 6. TE counts


def test_te_rows_without_a_class_are_parsed_and_malformed_rows_counted(tmp_path, caplog):
    body = (
        "te\tS1\tS2\n"
        "L1HS:L1:LINE\t5\t6\n"
        "AluY:Alu\t7\t8\n"  # class left out: the family's class from the row above / the map
        "HERVK-int:ERVK\t1\t2\n"
        "GAPDH\t100\t200\n"  # TEcount's combined layout: a gene row
        "odd:a:b:c\t1\t1\n"  # not a TE id
        ":L1:LINE\t1\t1\n"
    )
    report: dict = {}
    with caplog.at_level(logging.INFO):
        te = read_te_counts(write(tmp_path, "te.tsv", body), sample_ids=["S1", "S2"], report=report)
    assert list(te.columns) == ["L1HS:L1:LINE", "AluY:Alu:SINE", "HERVK-int:ERVK:LTR"]
    assert te.loc["S2", "AluY:Alu:SINE"] == 8
    assert report["n_te_class_added"] == 2 and report["n_gene_rows"] == 1
    assert report["n_not_te_ids"] == 2 and report["not_te_ids"] == ["odd:a:b:c", ":L1:LINE"]
    assert "2 row(s) are not 'subfamily:family:class' TE ids and are left out" in caplog.text


def test_te_columns_that_are_no_sample_are_named_when_left_out(tmp_path, caplog):
    te = "te\tS1\tS2\textra\tS3\tS4\nL1HS:L1:LINE\t5\t6\t9\t7\t8\n"
    with caplog.at_level(logging.INFO):
        adata = ingest(tmp_path, table(), te_counts=str(write(tmp_path, "te.tsv", te)))
    assert "1 TE column(s) are not samples of the count matrix and are left out: 'extra'" in (
        caplog.text
    )
    assert adata.uns["provenance"]["te_counts_repairs"]["te_columns_left_out"] == ["extra"]
    lower = "te\ts1\ts2\ts3\ts4\nL1HS:L1:LINE\t5\t6\t7\t8\n"
    with pytest.raises(AlsigError, match=r"4 sample\(s\) .* For 'S1': Did you mean 's1'\?"):
        ingest(tmp_path, table(), te_counts=str(write(tmp_path, "te.tsv", lower)))


def test_an_all_zero_te_library_is_refused_like_an_empty_gene_library(tmp_path):
    """A zeroed control's TE column moved every sample's retrotransposon z (JR33 -5.72 -> -0.78)."""
    te = "te\tS1\tS2\tS3\tS4\nL1HS:L1:LINE\t5\t0\t7\t8\nAluY:Alu:SINE\t3\t0\t1\t2\n"
    with pytest.raises(AlsigError) as info:
        ingest(tmp_path, table(), te_counts=str(write(tmp_path, "te.tsv", te)))
    message = str(info.value)
    assert "te.tsv': 1 sample(s) have no counts in any TE (an empty library): 'S2'." in message
    assert "remove the sample from the sample sheet and from the count and TE tables" in message
    # TEcount's combined layout: the TE rows of the count matrix itself
    combined = table() + "L1HS:L1:LINE\t5\t6\t0\t8\n"
    with pytest.raises(
        AlsigError, match=r"counts.tsv': 1 sample\(s\) have no counts in any TE .*'S3'"
    ):
        ingest(tmp_path, combined)


# 7. replicate collapse


def _replicates(condition, region=None, sex=None):
    n = len(condition)
    obs = pd.DataFrame(
        {
            "subject": ["D1", "D1", "D2", "D2"][:n],
            "condition": condition,
            "region": region or ["motor"] * n,
            "sex": sex or ["male"] * n,
        },
        index=[f"S{i + 1}" for i in range(n)],
    )
    return ad.AnnData(X=np.arange(n * 3).reshape(n, 3) + 1, obs=obs)


def test_libraries_of_one_subject_in_two_conditions_are_a_sheet_error():
    adata = _replicates(["ALS", "control", "ALS", "ALS"])
    with pytest.raises(AlsigError) as info:
        collapse_replicates(adata, "subject")
    message = str(info.value)
    assert "subject 'D1' has libraries with condition S1: ALS, S2: control" in message
    assert "ALS;control" not in message


def test_regions_of_one_donor_are_summed_per_region_never_across():
    adata = _replicates(["ALS"] * 4, region=["motor", "frontal", "motor", "motor"])
    out = collapse_replicates(adata, "subject")
    assert list(out.obs_names) == ["D1_motor", "D1_frontal", "D2"]
    assert out.obs["region"].tolist() == ["motor", "frontal", "motor"]
    assert out.obs["subject"].tolist() == ["D1", "D1", "D2"]
    assert (
        np.asarray(out.X)[2].tolist() == (np.asarray(adata.X)[2] + np.asarray(adata.X)[3]).tolist()
    )
    assert out.uns["replicate_collapse"]["split_by_region"] == ["D1"]


def test_the_collapse_advice_is_for_technical_replicates_only():
    regions = _replicates(["ALS"] * 4, region=["motor", "frontal", "motor", "frontal"]).obs
    advice = replicate_advice(regions)
    assert len(advice) == 1 and "Set qc.collapse_by" not in advice[0]
    assert "2 subject(s) have samples from several regions" in advice[0]
    technical = _replicates(["ALS", "ALS", "control", "control"]).obs
    (advice,) = replicate_advice(technical)
    assert "4 samples are technical replicates" in advice and "Set qc.collapse_by" in advice


# 8. alsig score reads new samples by the same rules


def test_alsig_score_inputs_go_through_the_same_layer(tmp_path):
    from alsig.newsamples.placement import read_new_counts

    x = np.arange(16, dtype=np.float64).reshape(4, 4) + 1
    x[1, 2] = 1e20
    with pytest.raises(AlsigError, match="X sample 'S2', gene 'ACTB': count is too large"):
        read_new_counts(h5ad(tmp_path, x))
    lines = [ln.split("\t") for ln in table().splitlines()]
    body = (
        "\n".join("\t".join(f[:2] + (["0"] if i else [f[2]]) + f[3:]) for i, f in enumerate(lines))
        + "\n"
    )
    with pytest.raises(AlsigError, match=r"an empty library\): 'S2'"):
        read_new_counts(write(tmp_path, "new.tsv", body))
    ensembl = ["ENSG00000142168", "ENSG00000111640", "ENSG00000075624", "ENSG00000120948"]
    with pytest.raises(AlsigError, match=r"set `--gene-id-type ensembl`"):
        read_new_counts(write(tmp_path, "new.tsv", table(ensembl)), id_type="symbol")
    counts = read_new_counts(write(tmp_path, "new.tsv", table(ensembl)), id_type="ensembl")
    assert {"SOD1", "GAPDH", "ACTB", "TARDBP"} == set(counts.columns)


def transposed_table(samples=("S1", "S2", "S3"), genes=GENES[:6], empty_gene=None) -> str:
    """Samples as rows, genes as columns (``empty_gene``'s column all zeros)."""
    rows = ["sample\t" + "\t".join(genes)]
    for i, sample in enumerate(samples):
        counts = ["0" if g == empty_gene else str(10 * i + j + 1) for j, g in enumerate(genes)]
        rows.append(sample + "\t" + "\t".join(counts))
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("empty_gene", [None, "FUS"], ids=["unmapped_rows", "empty_column"])
def test_a_transposed_table_without_a_sheet_is_named_transposed(tmp_path, empty_gene):
    """``alsig score`` has no sample sheet to find samples as rows. A samples x genes table
    was scored as samples named after genes (``S1``-``S3`` are gene aliases: they mapped), or
    stopped on a gene column read as an empty library."""
    from alsig.newsamples.placement import read_new_counts

    new = write(tmp_path, "new.tsv", transposed_table(empty_gene=empty_gene))
    with pytest.raises(AlsigError) as error:
        read_new_counts(new)
    assert str(error.value) == (
        f"file '{new}': the count matrix looks transposed: 6 of 6 column names are human gene "
        "ids (e.g. 'SOD1', 'GAPDH', 'ACTB') and 0 of 3 row ids are (e.g. 'S1', 'S2', 'S3'). "
        "alsig needs genes as rows and samples as columns; transpose the table."
    )


def test_a_genes_x_samples_table_keeps_its_own_message(tmp_path):
    """Numbered samples are not Entrez ids, and too few columns are no evidence: the check that
    failed says what it found."""
    from alsig.newsamples.placement import read_new_counts

    genes = ["NOTAGENE1", "NOTAGENE2", "NOTAGENE3", "SOD1"]
    numbered = write(tmp_path, "new.tsv", table(genes, samples=("1", "2", "3", "4", "5", "6")))
    with pytest.raises(AlsigError, match=r"only 25.0% of 4 gene ids map to a known human gene"):
        read_new_counts(numbered, id_type="symbol")
    few = write(
        tmp_path, "few.tsv", transposed_table(("donor_a", "donor_b", "donor_c"), genes=GENES[:4])
    )
    with pytest.raises(AlsigError, match=r"only 0.0% of 3 gene ids map"):
        read_new_counts(few)
