"""Fuzzing the count-matrix (text and .h5ad) and sample-sheet readers (fixed seed): every
generated file is read with exactly the generator's numbers and ids, or rejected with an
AlsigError naming the file. No other exception, and never silently different numbers.

The generators include what round 2 of the hostile-input review found (issue 29): spreadsheet
error values as counts and as gene ids, ``NA`` / ``NaN`` / ``Inf`` gene ids (dropped, never
genes), ids in Unicode NFD (read as NFC), and for the .h5ad reader every numeric X dtype, dense
or sparse, with NaN, Inf, negative, fractional and beyond-2^53 values."""

from __future__ import annotations

import tempfile
import unicodedata
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alsig.errors import AlsigError
from alsig.stages.ingest.counts import read_count_matrix, read_h5ad_count_matrix
from alsig.stages.ingest.samples import read_sample_sheet

FUZZ = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
GENES = ["SOD1", "GAPDH", "TARDBP", "FUS", "C9orf72", "GÉNE1"]  # one non-ASCII id
# how a count is written; None marks a cell that must make the reader fail
FORMATS = ["plain", "float", "exp", "plus", "thousands", "na", "excel"]
# rows whose id names nothing: dropped and counted, never a gene
MISSING_IDS = ["NA", "NaN", "Inf", "#N/A", "#NAME?", ""]


def cell(value: int, how: str) -> tuple[str, bool]:
    """(text, is_valid) for one count."""
    if how == "float":
        return f"{value}.0", True
    if how == "exp" and value % 1000 == 0:
        return f"{value // 1000}e3", True
    if how == "plus":
        return f"+{value}", True
    if how == "thousands" and value >= 1000:
        return f"{value:,}", False
    if how == "na":
        return "NA", False
    if how == "excel":
        return "#VALUE!", False
    return str(value), True


@st.composite
def count_tables(draw):
    n_genes = draw(st.integers(1, 6))
    n_samples = draw(st.integers(1, 4))
    genes = draw(st.permutations(GENES))[:n_genes]
    samples = [f"S{i + 1}" for i in range(n_samples)]
    values = draw(
        st.lists(
            st.lists(
                st.sampled_from([0, 7, 1000, 12345, 2**31, 4 * 10**9]),
                min_size=n_samples,
                max_size=n_samples,
            ),
            min_size=n_genes,
            max_size=n_genes,
        )
    )
    formats = draw(
        st.lists(
            st.sampled_from(FORMATS[:4] * 6 + FORMATS[4:]),
            min_size=n_genes * n_samples,
            max_size=n_genes * n_samples,
        )
    )
    latin1 = draw(st.booleans())
    layout = {
        "sep": draw(st.sampled_from(["\t", ","])),
        "quote": draw(st.booleans()),
        "bom": draw(st.booleans()),
        "latin1": latin1,
        "nfd": not latin1 and draw(st.booleans()),  # Latin-1 cannot hold a combining accent
        "missing_rows": draw(st.lists(st.sampled_from(MISSING_IDS), max_size=2)),
        "eol": draw(st.sampled_from(["\n", "\r\n"])),
        "blank_after": draw(st.sets(st.integers(0, n_genes))),
        "trailing": draw(st.sampled_from(["none", "all", "data"])),
        "pad_samples": draw(st.booleans()),
    }
    return genes, samples, values, formats, layout


def render(genes, samples, values, formats, layout) -> tuple[bytes, bool]:
    """The file's bytes and whether every cell is a valid count."""
    sep, quote = layout["sep"], layout["quote"]

    def field(text: str) -> str:
        # a comma inside a CSV field must be quoted to stay one field
        return f'"{text}"' if quote or (sep == "," and "," in text) else text

    header_names = [f" {s} " if layout["pad_samples"] else s for s in samples]
    header = sep.join(field(t) for t in ["gene", *header_names])
    if layout["trailing"] == "all":
        header += sep
    lines = [header]
    valid = True
    k = 0
    rows = list(zip(genes, values, strict=True))
    rows += [(gene, [1] * len(samples)) for gene in layout.get("missing_rows", [])]
    for r, (gene, row) in enumerate(rows):
        if layout.get("nfd"):
            gene = unicodedata.normalize("NFD", gene)
        texts = []
        for value in row:
            text, ok = cell(value, formats[k]) if k < len(formats) else (str(value), True)
            k += 1
            valid &= ok
            texts.append(field(text))
        line = sep.join([field(gene), *texts])
        if layout["trailing"] != "none":
            line += sep
        lines.append(line)
        if r + 1 in layout["blank_after"]:
            lines.append("")
    text = layout["eol"].join(lines) + layout["eol"]
    data = text.encode("latin-1" if layout["latin1"] else "utf-8")
    return (b"\xef\xbb\xbf" + data if layout["bom"] else data), valid


@FUZZ
@given(count_tables())
def test_count_reader_reads_exactly_or_names_the_file(table):
    genes, samples, values, formats, layout = table
    data, valid = render(*table)
    name = "counts.csv" if layout["sep"] == "," else "counts.tsv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            matrix = read_count_matrix(path, max_missing_gene_ids_fraction=1.0)
        except AlsigError as error:
            assert not valid, f"valid table rejected: {error}\n{data!r}"
            assert name in str(error)
            return
    assert valid, f"invalid cell accepted:\n{data!r}"
    assert matrix.gene_ids == genes
    assert matrix.sample_ids == samples
    assert matrix.counts.tolist() == values


@st.composite
def sample_sheets(draw):
    n = draw(st.integers(1, 5))
    ids = [f"GSM{100 + i}" for i in range(n)]
    pads = draw(st.lists(st.sampled_from(["", " ", "  ", "\t"]), min_size=n, max_size=n))
    sep = draw(st.sampled_from(["\t", ","]))
    pads = [p if not (sep == "\t" and "\t" in p) else " " for p in pads]
    return (
        ids,
        pads,
        {
            "nfd": draw(st.booleans()),
            "sep": sep,
            "quote": draw(st.booleans()),
            "bom": draw(st.booleans()),
            "eol": draw(st.sampled_from(["\n", "\r\n"])),
            "blank": draw(st.booleans()),
            "notes": draw(
                st.lists(st.sampled_from(["ALS", "contrôle", "", "a, b"]), min_size=n, max_size=n)
            ),
        },
    )


@FUZZ
@given(sample_sheets())
def test_sheet_reader_strips_ids_and_keeps_values(sheet):
    ids, pads, layout = sheet
    sep = layout["sep"]

    def field(text: str) -> str:
        return f'"{text}"' if layout["quote"] or (sep == "," and "," in text) else text

    lines = [sep.join(field(t) for t in ["sample", "note"])]
    for sample, pad, note in zip(ids, pads, layout["notes"], strict=True):
        note = unicodedata.normalize("NFD", note) if layout["nfd"] else note
        lines.append(sep.join([field(pad + sample + pad), field(note)]))
        if layout["blank"]:
            lines.append("")
    data = (layout["eol"].join(lines) + layout["eol"]).encode()
    if layout["bom"]:
        data = b"\xef\xbb\xbf" + data
    name = "samples.csv" if sep == "," else "samples.tsv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        table = read_sample_sheet(path, "sample")
    assert table.get_column("sample").to_list() == ids
    # cells come back NFC whatever form the file used
    assert table.get_column("note").to_list() == [n or None for n in layout["notes"]]


BAD_VALUES = [float("nan"), float("inf"), -1.0, 2.5, 1e20, 2.0**53]
GOOD_VALUES = [0, 7, 1000, 2**31, 4 * 10**9]


@st.composite
def h5ad_matrices(draw):
    n_samples = draw(st.integers(1, 4))
    n_genes = draw(st.integers(1, 6))
    genes = list(draw(st.permutations(GENES))[:n_genes])
    missing = draw(st.lists(st.sampled_from(["NA", "NaN", "Inf", "#N/A", "nan"]), max_size=2))
    names = genes + missing
    values = np.array(
        draw(
            st.lists(
                st.sampled_from(GOOD_VALUES),
                min_size=n_samples * len(names),
                max_size=n_samples * len(names),
            )
        ),
        dtype=np.float64,
    ).reshape(n_samples, len(names))
    bad = draw(st.one_of(st.none(), st.sampled_from(BAD_VALUES)))
    if bad is not None:
        values[draw(st.integers(0, n_samples - 1)), draw(st.integers(0, len(names) - 1))] = bad
    dtypes = (
        ["float64", "float32"]
        if bad is not None
        else ["int64", "int32", "uint64", "float64", "float32"]
    )
    dtype = draw(st.sampled_from(dtypes))
    if dtype == "int32" and values.max() > np.iinfo(np.int32).max:
        dtype = "int64"
    layout = {
        "dtype": dtype,
        "sparse": draw(st.sampled_from([None, "csr", "csc"])),
        "pad": draw(st.booleans()),
        "nfd": draw(st.booleans()),
    }
    return genes, names, values, bad, layout


@pytest.mark.filterwarnings("ignore:Variable names are not unique")  # two 'NA' var names
@FUZZ
@given(h5ad_matrices())
def test_h5ad_reader_reads_exactly_or_names_the_file(generated):
    genes, names, values, bad, layout = generated
    x = values.astype(layout["dtype"])
    if layout["sparse"]:
        x = sp.csr_matrix(x) if layout["sparse"] == "csr" else sp.csc_matrix(x)
    samples = [f"S{i + 1}" for i in range(values.shape[0])]
    stored_samples = [f" {s}" if layout["pad"] else s for s in samples]
    stored_genes = [unicodedata.normalize("NFD", g) if layout["nfd"] else g for g in names]
    # a value the file itself cannot hold exactly is not the generator's number any more
    exact = bad is not None or np.array_equal(
        np.asarray(x.todense() if sp.issparse(x) else x, dtype=np.float64), values
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "counts.h5ad"
        ad.AnnData(
            X=x,
            obs=pd.DataFrame(index=pd.Index(stored_samples, dtype=str)),
            var=pd.DataFrame(index=pd.Index(stored_genes, dtype=str)),
        ).write_h5ad(path)
        try:
            matrix = read_h5ad_count_matrix(path, max_missing_gene_ids_fraction=1.0)
        except AlsigError as error:
            assert bad is not None, f"valid X rejected: {error}"
            assert "counts.h5ad" in str(error)
            return
    assert bad is None, f"bad value {bad!r} accepted as {matrix.counts.tolist()}"
    assert exact
    assert matrix.sample_ids == samples
    assert matrix.gene_ids == genes  # missing ids dropped, NFD read as NFC
    assert matrix.counts.tolist() == values[:, : len(genes)].T.astype(np.int64).tolist()
    if set(names) - set(genes):
        assert matrix.report["n_missing_gene_ids_dropped"] == len(names) - len(genes)
