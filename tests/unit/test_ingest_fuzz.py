"""Fuzzing the count-matrix and sample-sheet readers (fixed seed): every generated file is read
with exactly the generator's numbers and ids, or rejected with an AlsigError naming the file.
No other exception, and never silently different numbers."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alsig.errors import AlsigError
from alsig.stages.ingest import read_count_matrix, read_sample_sheet

FUZZ = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
GENES = ["SOD1", "GAPDH", "TARDBP", "FUS", "C9orf72", "GÉNE1"]  # one non-ASCII id
# how a count is written; None marks a cell that must make the reader fail
FORMATS = ["plain", "float", "exp", "plus", "thousands", "na"]


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
    return str(value), True


@st.composite
def count_tables(draw):
    n_genes = draw(st.integers(1, 6))
    n_samples = draw(st.integers(1, 4))
    genes = draw(st.permutations(GENES))[:n_genes]
    samples = [f"S{i + 1}" for i in range(n_samples)]
    values = draw(
        st.lists(
            st.lists(st.sampled_from([0, 7, 1000, 12345, 2**31, 4 * 10**9]), min_size=n_samples,
                     max_size=n_samples),
            min_size=n_genes, max_size=n_genes,
        )
    )  # fmt: skip
    formats = draw(
        st.lists(st.sampled_from(FORMATS[:4] * 6 + FORMATS[4:]), min_size=n_genes * n_samples,
                 max_size=n_genes * n_samples)
    )  # fmt: skip
    layout = {
        "sep": draw(st.sampled_from(["\t", ","])),
        "quote": draw(st.booleans()),
        "bom": draw(st.booleans()),
        "latin1": draw(st.booleans()),
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
    for r, (gene, row) in enumerate(zip(genes, values, strict=True)):
        texts = []
        for value in row:
            text, ok = cell(value, formats[k])
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
            matrix = read_count_matrix(path)
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
    return ids, pads, {
        "sep": sep,
        "quote": draw(st.booleans()),
        "bom": draw(st.booleans()),
        "eol": draw(st.sampled_from(["\n", "\r\n"])),
        "blank": draw(st.booleans()),
        "notes": draw(st.lists(st.sampled_from(["ALS", "contrôle", "", "a, b"]), min_size=n,
                               max_size=n)),
    }  # fmt: skip


@FUZZ
@given(sample_sheets())
def test_sheet_reader_strips_ids_and_keeps_values(sheet):
    ids, pads, layout = sheet
    sep = layout["sep"]

    def field(text: str) -> str:
        return f'"{text}"' if layout["quote"] or (sep == "," and "," in text) else text

    lines = [sep.join(field(t) for t in ["sample", "note"])]
    for sample, pad, note in zip(ids, pads, layout["notes"], strict=True):
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
    assert table.get_column("note").to_list() == [n or None for n in layout["notes"]]
