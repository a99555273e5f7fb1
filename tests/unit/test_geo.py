"""alsig.sources.geo.read_series_matrix on the fixtures, the real series matrices and broken files."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from alsig.errors import AlsigError
from alsig.sources.geo import normalise_key, read_series_matrix
from tests.conftest import SHARED_DATA
from tests.stub_server import DATA


def write(path: Path, lines: list[str], gz: bool = True) -> Path:
    text = "\n".join(lines) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


HEADER = ['!Series_title\t"x"', '!Series_geo_accession\t"GSE1"', ""]


def test_fixture_gse900001():
    sheet = read_series_matrix(DATA / "GSE900001" / "GSE900001_series_matrix.txt.gz")
    assert sheet.columns == [
        "sample",
        "title",
        "source_name",
        "tissue",
        "disease_state",
        "sex",
        "subject_id",
    ]
    assert sheet.height == 10
    assert sheet["sample"].to_list()[:2] == ["GSM9001001", "GSM9001002"]
    assert Counter(sheet["disease_state"]) == {"ALS": 6, "Control": 4}
    assert Counter(sheet["sex"]) == {"Female": 5, "Male": 5}
    assert set(sheet["tissue"]) == {"Frontal Cortex"}
    assert sheet["title"][0] == "CGND-HRA-00013"


def test_fixture_gse900002_uneven_characteristics_are_assigned_per_sample():
    """GEO shifts cells left when a sample lacks a key; values must follow their keys."""
    sheet = read_series_matrix(DATA / "GSE900002" / "GSE900002_series_matrix.txt.gz")
    assert sheet.height == 10
    last = sheet.row(9, named=True)
    assert last["sex"] == "Male"  # found on the c9orf72 line for this sample
    assert last["c9orf72_repeat_expansion"] is None
    assert last["sample_group"] == "Other Neurological Disorders"
    assert sheet["sex"].null_count() == 0
    assert Counter(sheet["sample_group"]) == {
        "ALS Spectrum MND": 5,
        "Non-Neurological Control": 4,
        "Other Neurological Disorders": 1,
    }


def test_plain_text_and_edge_cases(tmp_path):
    path = write(
        tmp_path / "GSE1_series_matrix.txt",
        [
            *HEADER,
            '!Sample_title\t"a"\t"b"\t"c"',
            '!Sample_geo_accession\t"GSM1"\t"GSM2"\t"GSM3"',
            '!Sample_characteristics_ch1\t"Disease State: ALS"\t"disease state: control"\t""',
            '!Sample_characteristics_ch1\t"batch: 1"\t"batch: 2"\t"free text"',
            '!Sample_characteristics_ch1\t"batch: 1b"\t"note: a: b"\t"Title: t3"',
            "!series_matrix_table_begin",
            '"ID_REF"\t"GSM1"\t"GSM2"\t"GSM3"',
            "!series_matrix_table_end",
        ],
        gz=False,
    )
    sheet = read_series_matrix(path)
    assert sheet.columns == [
        "sample",
        "title",
        "source_name",
        "disease_state",
        "batch",
        "characteristics_2",
        "batch_2",
        "note",
        "characteristic_title",
    ]
    rows = sheet.rows(named=True)
    assert rows[0]["disease_state"] == "ALS" and rows[0]["batch"] == "1"
    assert rows[0]["batch_2"] == "1b"  # repeated key -> suffix, in order of appearance
    assert rows[1]["note"] == "a: b"  # split at the first ": " only
    assert rows[2]["disease_state"] is None  # empty cell -> missing
    assert rows[2]["characteristics_2"] == "free text"  # no "key: value" -> by line index
    assert rows[2]["characteristic_title"] == "t3"  # would collide with the title column
    assert rows[2]["source_name"] is None  # no !Sample_source_name_ch1 line


def test_key_colon_value_without_a_space_is_split_and_noted(tmp_path):
    path = write(
        tmp_path / "GSE2_series_matrix.txt",
        [
            *HEADER,
            '!Sample_geo_accession\t"GSM1"\t"GSM2"\t"GSM3"',
            '!Sample_characteristics_ch1\t"disease status:Neurologically normal control"'
            '\t"disease status: SOD1 mutant individual"\t"Sex :F"',
            '!Sample_characteristics_ch1\t"time: 10:30"\t"time:10:30"\t"10:30"',
            '!Sample_characteristics_ch1\t"url: http://x.org/a"\t"http://x.org/b"\t"3:1"',
            "!series_matrix_table_begin",
            "!series_matrix_table_end",
        ],
        gz=False,
    )
    report: dict = {}
    sheet = read_series_matrix(path, report=report)
    rows = sheet.rows(named=True)
    assert [r["disease_status"] for r in rows] == [
        "Neurologically normal control",
        "SOD1 mutant individual",
        None,
    ]
    assert rows[2]["sex"] == "F"
    assert [r["time"] for r in rows] == ["10:30", "10:30", None]  # split at the first ':'
    assert rows[2]["characteristics_2"] == "10:30"  # a time alone is not key: value
    assert rows[0]["url"] == "http://x.org/a"
    assert (
        rows[1]["characteristics_3"] == "http://x.org/b" and rows[2]["characteristics_3"] == "3:1"
    )
    (note,) = report["notes"]
    assert note.startswith("3 characteristics cell(s) written 'key:value' without a space")
    assert "'disease status:Neurologically normal control' (GSM1)" in note
    assert "'time:10:30' (GSM2)" in note and "'Sex :F' (GSM3)" in note


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("disease state", "disease_state"),
        ("Sex", "sex"),
        ("age (years)", "age_years"),
        ("  RIN  ", "rin"),
        ("5' bias", "c_5_bias"),
        ("%%", "characteristic"),
    ],
)
def test_normalise_key(key, expected):
    assert normalise_key(key) == expected


def test_not_a_series_matrix(tmp_path):
    path = write(tmp_path / "counts.tsv.gz", ["GeneID\tGSM1", "1\t5"])
    with pytest.raises(AlsigError, match=r"counts.tsv.gz', line 1: not a GEO series matrix"):
        read_series_matrix(path)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(AlsigError, match="not a GEO series matrix"):
        read_series_matrix(empty)


def test_missing_accession_line(tmp_path):
    path = write(tmp_path / "m.txt.gz", [*HEADER, '!Sample_title\t"a"\t"b"'])
    with pytest.raises(AlsigError, match="no '!Sample_geo_accession' line") as error:
        read_series_matrix(path)
    assert "m.txt.gz" in str(error.value)


def test_row_length_mismatch_names_the_line(tmp_path):
    path = write(
        tmp_path / "m.txt.gz",
        [
            *HEADER,
            '!Sample_title\t"a"\t"b"',
            '!Sample_geo_accession\t"GSM1"\t"GSM2"',
            '!Sample_characteristics_ch1\t"sex: F"',
        ],
    )
    with pytest.raises(AlsigError, match=r"m.txt.gz', line 6: '!Sample_characteristics_ch1' has 1"):
        read_series_matrix(path)


def test_duplicate_accession(tmp_path):
    path = write(tmp_path / "m.txt.gz", [*HEADER, '!Sample_geo_accession\t"GSM1"\t"GSM1"'])
    with pytest.raises(AlsigError, match="'GSM1' appears twice"):
        read_series_matrix(path)


def test_truncated_gzip(tmp_path):
    good = (DATA / "GSE900001" / "GSE900001_series_matrix.txt.gz").read_bytes()
    path = tmp_path / "m.txt.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(AlsigError, match="not a complete gzip file"):
        read_series_matrix(path)


def test_missing_file(tmp_path):
    with pytest.raises(AlsigError, match="does not exist"):
        read_series_matrix(tmp_path / "nope.txt.gz")


REAL = [
    (
        "GSE124439",
        176,
        ["tissue_type", "cns_subregion", "subject_id", "sample_group"],
        "sample_group",
        {
            "ALS Spectrum MND": 145,
            "Non-Neurological Control": 17,
            "Other Neurological Disorders": 14,
        },
    ),
    (
        "GSE122649",
        38,
        ["tissue", "subject_id", "diagnosis"],
        "diagnosis",
        {"sALS": 22, "sALS/FTD": 4, "Non-neurological control": 12},
    ),
    (
        "GSE67196",
        53,
        ["tissue", "genotype"],
        "genotype",
        {"c9ALS": 16, "sALS": 20, "Healthy": 17},
    ),
]


@pytest.mark.skipif(
    not (SHARED_DATA / "PROVENANCE.md").exists(), reason=f"real cohorts not found at {SHARED_DATA}"
)
@pytest.mark.parametrize(("acc", "n", "characteristics", "column", "counts"), REAL)
def test_real_series_matrices(acc, n, characteristics, column, counts):
    sheet = read_series_matrix(SHARED_DATA / acc / f"{acc}_series_matrix.txt.gz")
    assert sheet.height == n
    assert sheet.columns == ["sample", "title", "source_name", *characteristics]
    assert dict(Counter(sheet[column])) == counts
    assert sheet["sample"].n_unique() == n
    assert all(s.startswith("GSM") for s in sheet["sample"])


@pytest.mark.skipif(
    not (SHARED_DATA / "PROVENANCE.md").exists(), reason=f"real cohorts not found at {SHARED_DATA}"
)
def test_real_values_spot_check():
    gse124439 = read_series_matrix(SHARED_DATA / "GSE124439" / "GSE124439_series_matrix.txt.gz")
    first = gse124439.row(0, named=True)
    assert first["sample"] == "GSM3533230"
    assert first["title"] == "CGND-HRA-00013"
    assert first["cns_subregion"] == "Frontal Cortex"
    assert first["subject_id"] == "NEUEL133AK6"
    assert gse124439["subject_id"].n_unique() == 95
    gse67196 = read_series_matrix(SHARED_DATA / "GSE67196" / "GSE67196_series_matrix.txt.gz")
    assert dict(Counter(gse67196["tissue"])) == {"Cerebellum": 26, "Frontal Cortex": 27}
    assert gse67196.row(0, named=True)["title"] == "1_cereb"


def mixed_organisms(tmp_path: Path, mouse: list[int]) -> Path:
    """GSE900001's series matrix with the samples at ``mouse`` (0-based) made SOD1 mice."""
    lines = gzip.decompress(
        (DATA / "GSE900001" / "GSE900001_series_matrix.txt.gz").read_bytes()
    ).decode()
    out = []
    for line in lines.splitlines():
        field, _, rest = line.partition("\t")
        cells = rest.split("\t")
        if field in ("!Sample_organism_ch1", "!Sample_taxid_ch1"):
            other = '"Mus musculus"' if field == "!Sample_organism_ch1" else '"10090"'
            cells = [other if i in mouse else c for i, c in enumerate(cells)]
            line = field + "\t" + "\t".join(cells)
        out.append(line)
    return write(tmp_path / "GSE900001_series_matrix.txt.gz", out)


def test_samples_of_other_organisms_are_left_out_and_named(tmp_path, caplog):
    from alsig.sources.geo import sample_facts

    path = mixed_organisms(tmp_path, mouse=[6, 7, 8, 9])
    facts = sample_facts(path)
    assert facts.columns == ["sample", "organism", "taxid", "platform", "library_strategy"]
    assert Counter(facts["taxid"]) == {"9606": 6, "10090": 4}
    report: dict = {}
    sheet = read_series_matrix(path, report=report)
    assert sheet["sample"].to_list() == [f"GSM900100{i}" for i in range(1, 7)]
    note = (
        "left out 4 sample(s) of other organisms than Homo sapiens (NCBI's counts hold the human "
        "samples only), kept 6: GSM9001007 (Mus musculus), GSM9001008 (Mus musculus), "
        "GSM9001009 (Mus musculus), GSM9001010 (Mus musculus)"
    )
    assert report["notes"] == [note]
    assert report["non_human_samples"] == ["GSM9001007", "GSM9001008", "GSM9001009", "GSM9001010"]
    assert f"GSE900001_series_matrix.txt.gz: {note}" in caplog.text

    with pytest.raises(AlsigError) as refused:
        read_series_matrix(mixed_organisms(tmp_path, mouse=list(range(10))))
    message = str(refused.value)
    assert "none of its 10 samples is human (GSM9001001 (Mus musculus)" in message
    assert "reprocess.exclude" in message


def test_a_geo_dataset_of_mixed_organisms_ingests_its_human_samples(tmp_path):
    """NCBI's counts hold the human samples only; the mouse ones no longer stop ingest."""
    from alsig.stages.ingest.geo import ingest_geo

    counts = (DATA / "GSE900001" / "GSE900001_raw_counts_GRCh38.p13_NCBI.tsv.gz").read_bytes()
    rows = [line.split("\t")[:7] for line in gzip.decompress(counts).decode().splitlines()]
    human_counts = write(
        tmp_path / "counts.tsv.gz", ["\t".join(cells) for cells in rows]
    )  # GeneID + the 6 human samples
    adata = ingest_geo(
        "GSE900001",
        {
            "source": "geo",
            "accession": "GSE900001",
            "condition": {
                "column": "disease state",
                "rules": [
                    {"pattern": "ALS", "condition": "ALS"},
                    {"pattern": "Control", "condition": "control"},
                ],
            },
        },
        counts_path=human_counts,
        annotation_path=DATA / "Human.GRCh38.p13.annot.tsv.gz",
        series_matrix_path=mixed_organisms(tmp_path, mouse=[6, 7, 8, 9]),
    )
    assert adata.obs_names.to_list() == [f"GSM900100{i}" for i in range(1, 7)]
    notes = adata.uns["provenance"]["sample_sheet"]["notes"]
    assert any("left out 4 sample(s) of other organisms" in note for note in notes)
