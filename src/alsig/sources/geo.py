"""GEO series matrix files -> one row per sample (the sample sheet of a ``source: geo`` dataset).

A series matrix (``GSEnnn_series_matrix.txt[.gz]``) holds ``!Series_*`` lines, then one
``!Sample_<field>`` line per sample attribute with one tab-separated, double-quoted cell per
sample, then the data table between ``!series_matrix_table_begin`` and ``_end`` (not read here).

:func:`read_series_matrix` returns a polars DataFrame of strings with the columns

- ``sample``: the GSM accession (``!Sample_geo_accession``),
- ``title`` (``!Sample_title``) and ``source_name`` (``!Sample_source_name_ch1``),
- one column per ``!Sample_characteristics_ch1`` key: a cell ``"disease state: ALS"`` gives
  column ``disease_state`` value ``ALS``.

Rules for characteristics, applied per sample in file order so the result never depends on how
GEO happened to align keys into rows:

- keys are normalised with :func:`normalise_key` (lower case, runs of other characters -> ``_``);
  a key that collides with ``sample``/``title``/``source_name`` gets the prefix ``characteristic_``;
- the key is what comes before the first ``:`` and the value everything after it, stripped,
  with or without a space after the ``:`` (``"a: b: c"`` -> key ``a``, value ``b: c``;
  ``"time: 10:30"`` -> ``time``, ``10:30``; ``"sex:F"`` -> ``sex``, ``F``, noted, since GEO
  writes ``"key: value"`` and a submitter who left the space out would otherwise lose the value
  to a ``characteristics_<n>`` column);
- what comes before the first ``:`` is a key only when it holds a letter and the ``:`` does not
  start ``://`` (``"10:30"``, ``"3:1"``, ``"http://..."`` are not ``key: value``);
- a key repeated for the same sample gets ``_2``, ``_3``, ... in order of appearance;
- a non-empty cell that is not ``key: value`` goes to column ``characteristics_<n>`` where ``n``
  is the 1-based index of its characteristics line;
- empty cells and samples without a key are missing (null).

Text that is not UTF-8 is read as Windows-1252 line by line, and the number of such lines and
the first one are reported (log and ``report``), never replaced silently.

Only human samples are kept: NCBI computes its counts on GRCh38 for the human samples only, so
the samples of other organisms in a mixed series (``!Sample_taxid_ch1`` other than 9606, or
``!Sample_organism_ch1`` other than *Homo sapiens*) can never match a count column. They are
left out with a WARNING naming them and their organism (and a note in ``report``).
:func:`sample_facts` gives each sample's organism, taxid, platform and library strategy.
"""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from pathlib import Path

import polars as pl

from alsig.errors import AlsigError, name_some, where

log = logging.getLogger(__name__)

BASE_COLUMNS = {
    "!Sample_geo_accession": "sample",
    "!Sample_title": "title",
    "!Sample_source_name_ch1": "source_name",
}
CHARACTERISTICS = "!Sample_characteristics_ch1"
#: what a sample is (not a characteristic): series-matrix line -> column of :func:`sample_facts`
SAMPLE_FACTS = {
    "!Sample_organism_ch1": "organism",
    "!Sample_taxid_ch1": "taxid",
    "!Sample_platform_id": "platform",
    "!Sample_library_strategy": "library_strategy",
}
HUMAN_TAXID = "9606"
HUMAN = "Homo sapiens"
TABLE_BEGIN = "!series_matrix_table_begin"
_GSM = re.compile(r"^GSM\d+$")


def normalise_key(key: str) -> str:
    """Turn a characteristic's name into a column name.

    Parameters
    ----------
    key
        The name as GEO writes it (``"Disease State"``, ``"age (years)"``).

    Returns
    -------
    str
        Lower case, runs of other characters as ``_`` (``disease_state``, ``age_years``);
        ``c_`` before a leading digit, ``characteristic`` for an empty name.
    """
    text = re.sub(r"[^0-9a-z]+", "_", key.strip().lower()).strip("_")
    if not text:
        return "characteristic"
    if text[0].isdigit():
        text = f"c_{text}"
    return text


def _unquote(cell: str) -> str:
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == '"' and cell[-1] == '"':
        cell = cell[1:-1]
    return cell.strip()


def _decode(raw: bytes, number: int, legacy: list[int]) -> str:
    """Decode one line: UTF-8, else Windows-1252 (Latin-1 for its undefined bytes).

    The line number of a line that is not UTF-8 is added to ``legacy``.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        legacy.append(number)
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def _lines(path: Path, legacy: list[int]):
    """Yield ``(number, text)`` of each line of a plain or gzipped file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            yield number, _decode(raw, number, legacy)


def _sample_lines(path: Path, legacy: list[int]) -> list[tuple[int, str, list[str]]]:
    """``(line number, field, cells)`` for every ``!Sample_*`` line before the data table."""
    rows: list[tuple[int, str, list[str]]] = []
    saw_series = False
    try:
        if path.is_dir():
            raise AlsigError(f"{where(path)} is a directory, not a series matrix file.")
        for number, line in _lines(path, legacy):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if line.startswith(TABLE_BEGIN):
                break
            if not saw_series and not line.startswith("!"):
                raise AlsigError(
                    f"{where(path, row=number)}: not a GEO series matrix (expected lines "
                    f"starting with '!Series_' / '!Sample_', found {line[:60]!r}). "
                    "Download the series matrix (GSEnnn_series_matrix.txt.gz) again."
                )
            if line.startswith("!Series_"):
                saw_series = True
            elif line.startswith("!Sample_"):
                field, _, rest = line.partition("\t")
                rows.append((number, field, [_unquote(c) for c in rest.split("\t")]))
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise AlsigError(f"{where(path)} does not exist.") from exc
        raise AlsigError(
            f"{where(path)} is not a complete gzip file ({exc}); it is probably truncated. "
            "Delete it (and its .json sidecar) and download it again."
        ) from exc
    if not saw_series and not rows:
        raise AlsigError(
            f"{where(path)}: not a GEO series matrix (no '!Series_' or '!Sample_' lines); "
            "the file may be empty or an error page."
        )
    return rows


def read_series_matrix(path: str | Path, *, report: dict | None = None) -> pl.DataFrame:
    """Sample sheet of a GEO series matrix (``.txt`` or ``.txt.gz``); see the module docstring.

    Parameters
    ----------
    path
        The series matrix.
    report
        Filled in place with the encoding report (``encoding``, ``n_non_utf8_lines``,
        ``first_non_utf8_line``, ``notes``) for the provenance.

    Returns
    -------
    polars.DataFrame
        One row per sample, every column a string: ``sample``, ``title``, ``source_name`` and
        one column per characteristic.

    Raises
    ------
    AlsigError
        Naming the file and line, for a file that is not a complete series matrix.
    """
    path = Path(path)
    report = {} if report is None else report
    legacy: list[int] = []
    rows = _sample_lines(path, legacy)
    report["encoding"] = "cp1252" if legacy else "utf-8"
    if legacy:
        report["n_non_utf8_lines"] = len(legacy)
        report["first_non_utf8_line"] = legacy[0]
        note = (
            f"not UTF-8: {len(legacy)} line(s) read as Windows-1252, the first at line "
            f"{legacy[0]}; check the names there"
        )
        report.setdefault("notes", []).append(note)
        log.warning("%s: %s", path.name, note)
    samples = _sample_accessions(rows, path)
    n = len(samples)
    columns: dict[str, list[str | None]] = {"sample": list(samples)}
    for field, name in BASE_COLUMNS.items():
        if name == "sample":
            continue
        line = next((r for r in rows if r[1] == field), None)
        columns[name] = [c or None for c in line[2]] if line else [None] * n
    characteristics = _characteristics(rows, n, samples, path, report)
    columns.update(characteristics)
    frame = pl.DataFrame(columns, schema={c: pl.String for c in columns})
    frame = _human_only(frame, _facts(rows, samples), path, report)
    log.info(
        "%s: %d samples, characteristics %s",
        path.name,
        frame.height,
        ", ".join(characteristics) or "(none)",
    )
    return frame


def sample_facts(path: str | Path) -> pl.DataFrame:
    """Return what each sample of a series matrix is: organism, taxid, platform, strategy.

    Parameters
    ----------
    path
        The series matrix.

    Returns
    -------
    polars.DataFrame
        ``sample`` and the columns of :data:`SAMPLE_FACTS` (strings; null where the file has
        no such line or an empty cell), every sample of the file.

    Raises
    ------
    AlsigError
        As :func:`read_series_matrix`, for a file that is not a complete series matrix.
    """
    path = Path(path)
    rows = _sample_lines(path, [])
    return _facts(rows, _sample_accessions(rows, path))


def is_human(facts: pl.DataFrame) -> pl.Series:
    """Return which samples of :func:`sample_facts` are human.

    By taxid where the file gives one, else by organism name; a sample the file says neither
    of counts as human (older files).

    Parameters
    ----------
    facts
        :func:`sample_facts`.

    Returns
    -------
    polars.Series
        Boolean, one per row.
    """
    taxid = facts.get_column("taxid").str.strip_chars()
    organism = facts.get_column("organism").str.strip_chars().str.to_lowercase()
    return (
        pl.DataFrame({"taxid": taxid, "organism": organism})
        .select(
            pl.when(pl.col("taxid").is_not_null())
            .then(pl.col("taxid") == HUMAN_TAXID)
            .when(pl.col("organism").is_not_null())
            .then(pl.col("organism") == HUMAN.lower())
            .otherwise(True)
        )
        .to_series()
    )


def organisms(facts: pl.DataFrame) -> list[str]:
    """Return the organisms :func:`sample_facts` names, sorted, each once (none given: empty)."""
    return sorted({o for o in facts.get_column("organism").to_list() if o})


def no_human_sample(facts: pl.DataFrame) -> str:
    """Why a series matrix none of whose samples is human cannot be analysed (no advice).

    Parameters
    ----------
    facts
        :func:`sample_facts` of a file without a human sample.

    Returns
    -------
    str
        ``none of its 18 samples is human (GSM1 (Mus musculus), ...); NCBI computes its counts
        for human samples only``.
    """
    return (
        f"none of its {facts.height} samples is human ({name_some(_with_organism(facts))}); NCBI "
        "computes its counts for human samples only"
    )


def _with_organism(facts: pl.DataFrame) -> list[str]:
    """``GSM1 (Mus musculus)`` per sample (the taxid when the organism is not given)."""
    return [
        f"{row['sample']} ({row['organism'] or 'taxid ' + str(row['taxid'])})"
        for row in facts.iter_rows(named=True)
    ]


def _facts(rows: list[tuple[int, str, list[str]]], samples: list[str]) -> pl.DataFrame:
    columns: dict[str, list[str | None]] = {"sample": list(samples)}
    for field, name in SAMPLE_FACTS.items():
        line = next((r for r in rows if r[1] == field), None)
        columns[name] = [c or None for c in line[2]] if line else [None] * len(samples)
    return pl.DataFrame(columns, schema={c: pl.String for c in columns})


def _human_only(frame: pl.DataFrame, facts: pl.DataFrame, path: Path, report: dict) -> pl.DataFrame:
    """Leave out the samples of other organisms (WARNING and note); refuse a file with none."""
    human = is_human(facts)
    if human.all():
        return frame
    if not human.any():
        raise AlsigError(
            f"{where(path)}: {no_human_sample(facts)}, so the series cannot be analysed. "
            "Leave it out (alsig reprocess: reprocess.exclude; a config: remove the dataset)."
        )
    others = facts.filter(~human)
    note = (
        f"left out {others.height} sample(s) of other organisms than {HUMAN} (NCBI's counts "
        f"hold the human samples only), kept {int(human.sum())}: "
        f"{name_some(_with_organism(others))}"
    )
    report.setdefault("notes", []).append(note)
    report["non_human_samples"] = others.get_column("sample").to_list()
    log.warning("%s: %s", path.name, note)
    return frame.filter(human)


def _sample_accessions(rows: list[tuple[int, str, list[str]]], path: Path) -> list[str]:
    """Return the GSM accessions, after checking every line has one cell per sample."""
    accession = [r for r in rows if r[1] == "!Sample_geo_accession"]
    if not accession:
        raise AlsigError(
            f"{where(path)}: no '!Sample_geo_accession' line, so the samples cannot be named. "
            "Is this a series matrix (not a platform or SOFT file)? Download it again."
        )
    acc_line, _, samples = accession[0]
    n = len(samples)
    for number, field, cells in rows:
        if len(cells) != n:
            raise AlsigError(
                f"{where(path, row=number)}: '{field}' has {len(cells)} cells but "
                f"'!Sample_geo_accession' (line {acc_line}) has {n}; every !Sample_ line needs one "
                "tab-separated cell per sample. The file is damaged: download it again."
            )
    seen: dict[str, int] = {}
    for i, gsm in enumerate(samples):
        if not gsm:
            raise AlsigError(f"{where(path, row=acc_line)}: sample {i + 1} has an empty accession.")
        if gsm in seen:
            raise AlsigError(
                f"{where(path, row=acc_line)}: sample accession '{gsm}' appears twice "
                f"(cells {seen[gsm] + 1} and {i + 1})."
            )
        seen[gsm] = i
    if not all(_GSM.match(s) for s in samples):
        log.warning("%s: some sample accessions do not look like GSMnnn", path)
    return samples


def split_characteristic(cell: str) -> tuple[str, str, bool] | None:
    """Split a characteristics cell into key and value (rules in the module docstring).

    Parameters
    ----------
    cell
        One cell, unquoted (``"disease state: ALS"``).

    Returns
    -------
    tuple or None
        ``(key, value, spaced)``, ``spaced`` False when no space followed the ``:``
        (``"sex:F"``); None for a cell that is not ``key: value`` (``"Male"``, ``"10:30"``).
    """
    key, sep, value = cell.partition(":")
    if not sep or not any(c.isalpha() for c in key) or value.startswith("//"):
        return None
    return key, value.strip(), value[:1].isspace() or not value.strip()


def _characteristics(
    rows: list[tuple[int, str, list[str]]],
    n: int,
    samples: list[str],
    path: Path,
    report: dict,
) -> dict[str, list[str | None]]:
    """Map each characteristic column to its value per sample (None where missing).

    Columns come in order of appearance; the rules are in the module docstring. Cells written
    ``key:value`` (no space) are noted in ``report["notes"]`` and the log.
    """
    per_sample: list[dict[str, str]] = [{} for _ in range(n)]
    order: list[str] = []
    unspaced: list[str] = []
    char_rows = [r for r in rows if r[1] == CHARACTERISTICS]
    for index, (_, _, cells) in enumerate(char_rows, start=1):
        for s, cell in enumerate(cells):
            if not cell:
                continue
            split = split_characteristic(cell)
            if split is not None:
                key, value, spaced = split
                column = normalise_key(key)
                if column in BASE_COLUMNS.values() or column.startswith("characteristics_"):
                    column = f"characteristic_{column}"
                if not spaced:
                    unspaced.append(f"{cell!r} ({samples[s]})")
            else:
                column, value = f"characteristics_{index}", cell
            base, k = column, 1
            while column in per_sample[s]:
                k += 1
                column = f"{base}_{k}"
            per_sample[s][column] = value
            if column not in order:
                order.append(column)
    if unspaced:
        shown = name_some(unspaced)
        note = (
            f"{len(unspaced)} characteristics cell(s) written 'key:value' without a space after "
            f"the ':' were read as key and value like 'key: value': {shown}"
        )
        report.setdefault("notes", []).append(note)
        log.warning("%s: %s", path.name, note)
    return {column: [sample.get(column) for sample in per_sample] for column in order}
