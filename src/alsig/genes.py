"""Offline gene-identifier harmonisation: Entrez / Ensembl / symbols -> one current HGNC symbol.

The map is ``resources/gene_id_map.tsv.gz`` (derived from Bioconductor org.Hs.eg.db 3.16.0; see
``resources/README.md``). Every stage that compares gene names (ingest, gene sets, signatures) goes
through :class:`GeneMap` so that the same gene has the same name everywhere.

Rules, in order, for a symbol:

1. a current symbol is kept;
2. an Excel-mangled name (``1-Mar``, ``Sep-02``, ``1-Dec``, ``4-sept``, ``7.Sep``, and the
   same dates read back by a date parser: ``2023-09-02``, ``9/3/2023``) is repaired when exactly
   one current gene answers to the names it can come from (``MARCH1``/``MARC1``...), otherwise
   kept and reported as ambiguous (``1-Mar`` is both MARCHF1 and MTARC1; ``9/3/2023`` is
   3 September or 9 March);
3. a retired symbol or alias (2018 refGene ``T`` -> ``TBXT``) is rescued when it names exactly one
   gene and that gene is not already present under its current symbol (which would merge two rows
   that the source kept apart);
4. anything else is kept as it is and counted as unmapped.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from alsig.resources import gene_map

DEFAULT_MAP = gene_map()

# Month abbreviations Excel turns gene names into, and the (pre-2019) gene-name stems each can come
# from, in tiers: a later tier is tried only when the earlier one names no gene. Stems within a
# tier are equally likely (1-Mar was MARCH1 or MARC1), so two answers there stay ambiguous.
_EXCEL_MONTH_STEMS = {
    "MAR": (("MARCH", "MARC"),),
    "SEP": (("SEPT",), ("SEP",)),
    "DEC": (("DEC",),),
    "OCT": (("OCT",),),
    "NOV": (("NOV",),),
    "APR": (("APR",),),
    "FEB": (("FEB",),),
}
# how a spreadsheet writes the date it made of a name: 2-Sep, 2.Sep, 4-sept, Sep-02, and, read
# back by a date parser, 2023-09-02 (00:00:00) or 9/2/2023 (US month first, or day first)
_EXCEL_DAY_MONTH = re.compile(r"^(\d{1,2})[-. ]([A-Za-z]{3}|[Ss][Ee][Pp][Tt])\.?$")
_EXCEL_MONTH_DAY = re.compile(r"^([A-Za-z]{3}|[Ss][Ee][Pp][Tt])[-. ](\d{1,2})$")
_EXCEL_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")
_EXCEL_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_ENSEMBL_VERSION = re.compile(r"^(ENSG\d+)(\.\d+)?$")


@dataclass
class GeneRecord:
    """The harmonised identity of one input identifier."""

    input_id: str
    symbol: str
    entrez_id: str | None = None
    ensembl_id: str | None = None
    biotype: str | None = None
    chromosome: str | None = None
    how: str = "unmapped"  # symbol | entrez | ensembl | alias | excel | unmapped | ambiguous_*


@dataclass
class HarmonisationReport:
    """Counts of how identifiers were resolved; goes into ``uns['provenance']``."""

    n_input: int = 0
    how: Counter = field(default_factory=Counter)
    excel_repaired: dict[str, str] = field(default_factory=dict)
    excel_ambiguous: dict[str, list[str]] = field(default_factory=dict)
    alias_rescued: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Return the report as plain values, for the provenance.

        Returns
        -------
        dict
            ``n_input``, ``resolved_by`` (how -> count), the Excel repairs and ambiguities, and
            the aliases rescued.
        """
        return {
            "n_input": self.n_input,
            "resolved_by": dict(self.how),
            "excel_repaired": dict(self.excel_repaired),
            "excel_ambiguous": {k: ";".join(v) for k, v in self.excel_ambiguous.items()},
            "n_alias_rescued": len(self.alias_rescued),
            "alias_rescued": dict(self.alias_rescued),
        }


def mapping_table(mapping: dict[str, str]) -> dict[str, list[str]]:
    """Store a name -> name mapping as two parallel lists.

    Gene names may contain '/', which HDF5 (h5ad ``uns``) would read as nested groups if they
    were dict keys.

    Parameters
    ----------
    mapping
        Name -> name.

    Returns
    -------
    dict of str to list of str
        ``from`` (the keys) and ``to`` (the values), in the mapping's order.
    """
    return {"from": list(mapping), "to": [str(v) for v in mapping.values()]}


class GeneMap:
    """Lookup tables over the offline map. Build with :meth:`load` (cached per path)."""

    def __init__(self, table: pl.DataFrame, source: str = "") -> None:
        self.source = source
        # columns as lists and the indexes built column-wise: a row-wise loop over the ~78k
        # rows cost ~0.25 s in every job that reads gene names
        self._symbols: list[str] = table["symbol"].to_list()
        self._entrez: list[str] = table["entrez_id"].to_list()
        self._ensembl: list[str | None] = table["ensembl_gene_ids"].to_list()
        self._types: list[str | None] = table["gene_type"].to_list()
        self._chromosomes: list[str | None] = table["chromosome"].to_list()
        rows = range(len(self._symbols))
        # the first row of a symbol (a reversed dict keeps the last assignment: the first row)
        self.by_symbol: dict[str, int] = dict(zip(self._symbols[::-1], rows[::-1], strict=True))
        self.by_entrez: dict[str, int] = dict(zip(self._entrez, rows, strict=True))
        self.by_ensembl: dict[str, list[int]] = _row_lists(table, pl.col("ensembl_gene_ids"))
        self.by_alias: dict[str, list[int]] = _row_lists(
            table, pl.col("aliases").str.to_uppercase()
        )
        self._upper_symbol = {sym.upper(): i for sym, i in self.by_symbol.items()}

    @classmethod
    def load(cls, path: str | Path | None = None) -> GeneMap:
        """Load a gene map (cached per path).

        Parameters
        ----------
        path
            A map in the format of ``resources/gene_id_map.tsv.gz`` (default: that one).

        Returns
        -------
        GeneMap
            The same object for the same path.
        """
        return _load_cached(str(path or DEFAULT_MAP))

    # -- single lookups -------------------------------------------------------------------
    def _record(self, input_id: str, row: int, how: str) -> GeneRecord:
        ensembl = (self._ensembl[row] or "").split(";")[0] or None
        return GeneRecord(
            input_id=input_id,
            symbol=self._symbols[row],
            entrez_id=self._entrez[row],
            ensembl_id=ensembl,
            biotype=self._types[row],
            chromosome=self._chromosomes[row],
            how=how,
        )

    def _unique_rows_for_name(self, name: str) -> set[int]:
        """Return the gene rows answering to ``name`` as a symbol or alias (case-insensitive)."""
        upper = name.upper()
        if upper in self._upper_symbol:
            return {self._upper_symbol[upper]}
        return set(self.by_alias.get(upper, ()))

    def _excel_candidates(self, name: str) -> set[int] | None:
        """Return the gene rows an Excel-made date can come from (None: not such a date).

        Every reading of the date counts (``9/3/2023``: 3 September or 9 March; a first of
        the month may hold the number in its year, ``SEPT8`` -> 2008-09-01): more than one gene
        over all readings is ambiguous.
        """
        readings = _excel_readings(name)
        if not readings:
            return None
        rows: set[int] = set()
        for number, month in readings:
            found: set[int] = set()
            for tier in _EXCEL_MONTH_STEMS.get(month, ()):
                for stem in tier:
                    found |= self._unique_rows_for_name(f"{stem}{number}")
                if found:
                    break
            rows |= found
        return rows or None

    # -- bulk harmonisation ---------------------------------------------------------------
    def harmonise(
        self, ids: list[str], id_type: str = "symbol"
    ) -> tuple[list[GeneRecord], HarmonisationReport]:
        """Resolve every identifier by the rules of the module docstring.

        Parameters
        ----------
        ids
            The identifiers (surrounding whitespace is ignored).
        id_type
            ``symbol``, ``entrez``, ``ensembl`` or ``auto`` (guessed per identifier).

        Returns
        -------
        records : list of GeneRecord
            One per identifier, in order; an unresolved one keeps its id as its symbol.
        report : HarmonisationReport
            How the identifiers were resolved.
        """
        report = HarmonisationReport(n_input=len(ids))
        records: list[GeneRecord | None] = [None] * len(ids)
        pending_alias: list[int] = []
        for i, raw in enumerate(ids):
            gene = str(raw).strip()
            kind = _guess_id_type(gene) if id_type == "auto" else id_type
            record: GeneRecord | None = None
            if kind == "entrez" and gene in self.by_entrez:
                record = self._record(gene, self.by_entrez[gene], "entrez")
            elif kind == "ensembl":
                stripped = _ENSEMBL_VERSION.sub(r"\1", gene)
                rows = self.by_ensembl.get(stripped, [])
                if len(rows) == 1:
                    record = self._record(gene, rows[0], "ensembl")
                else:
                    how = "ambiguous_ensembl" if rows else "unmapped"
                    record = GeneRecord(gene, gene, ensembl_id=stripped, how=how)
            elif kind == "symbol":
                if gene in self.by_symbol:
                    record = self._record(gene, self.by_symbol[gene], "symbol")
                else:
                    excel = self._excel_candidates(gene)
                    if excel is not None and len(excel) == 1:
                        record = self._record(gene, excel.pop(), "excel")
                        report.excel_repaired[gene] = record.symbol
                    elif excel:
                        names = sorted(self._symbols[r] for r in excel)
                        report.excel_ambiguous[gene] = names
                        record = GeneRecord(gene, gene, how="ambiguous_excel")
                    else:
                        pending_alias.append(i)
                        continue
            if record is None:
                record = GeneRecord(gene, gene, entrez_id=gene if kind == "entrez" else None)
            records[i] = record
        present = {r.symbol for r in records if r is not None}
        for i in pending_alias:
            gene = str(ids[i]).strip()
            named = self._unique_rows_for_name(gene)
            if len(named) == 1:
                candidate = self._record(gene, named.pop(), "alias")
                if candidate.symbol not in present:
                    records[i] = candidate
                    present.add(candidate.symbol)
                    report.alias_rescued[gene] = candidate.symbol
                    continue
            records[i] = GeneRecord(
                gene, gene, how="ambiguous_alias" if len(named) > 1 else "unmapped"
            )
        final = [r for r in records if r is not None]
        report.how.update(r.how for r in final)
        return final, report

    def rename_map(self, symbols: Iterable[str]) -> tuple[dict[str, str], int]:
        """Map each distinct symbol to its current HGNC symbol, each resolved on its own.

        An outdated symbol is renamed even when its current name is also in ``symbols``: gene
        sets and signatures then merge the two names.

        Parameters
        ----------
        symbols
            Gene symbols (repeats are resolved once).

        Returns
        -------
        mapping : dict of str to str
            Symbol -> current symbol (itself when unmapped).
        n_unmapped : int
            How many symbols map to no gene.
        """
        mapping: dict[str, str] = {}
        unmapped = 0
        for symbol in dict.fromkeys(symbols):
            if symbol in self.by_symbol:
                mapping[symbol] = symbol
                continue
            (current,), report = self.harmonise_symbols([symbol])
            mapping[symbol] = current
            unmapped += report["resolved_by"].get("unmapped", 0)
        return mapping, unmapped

    def harmonise_symbols(self, symbols: list[str]) -> tuple[list[str], dict]:
        """Harmonise gene symbols (``id_type`` ``symbol``).

        Parameters
        ----------
        symbols
            Gene symbols.

        Returns
        -------
        symbols : list of str
            The current symbol of each, in order.
        report : dict
            :meth:`HarmonisationReport.as_dict`.
        """
        records, report = self.harmonise(list(symbols), "symbol")
        return [r.symbol for r in records], report.as_dict()


def _excel_readings(name: str) -> list[tuple[int, str]]:
    """Return the (number, month abbreviation) pairs a date-like name can be read as.

    Parameters
    ----------
    name
        An id that is not a current symbol.

    Returns
    -------
    list of (int, str)
        Empty when ``name`` is not a date of a form in the comment above the patterns.
    """
    match = _EXCEL_DAY_MONTH.match(name)
    if match:
        return [(int(match.group(1)), match.group(2)[:3].upper())]
    match = _EXCEL_MONTH_DAY.match(name)
    if match:
        return [(int(match.group(2)), match.group(1)[:3].upper())]
    readings: list[tuple[int, int]] = []  # (number, month 1-12)
    match = _EXCEL_ISO_DATE.match(name)
    if match:
        year, month, day = (int(part) for part in match.groups())
        readings.append((day, month))
        if day == 1 and year % 100:
            readings.append((year % 100, month))
    match = _EXCEL_SLASH_DATE.match(name)
    if match:
        first, second = int(match.group(1)), int(match.group(2))
        readings += [(second, first), (first, second)]  # US month/day, then day/month
    return [(n, _MONTHS[m - 1]) for n, m in dict.fromkeys(readings) if 1 <= m <= 12 and n]


def _guess_id_type(gene: str) -> str:
    if gene.isdigit():
        return "entrez"
    if _ENSEMBL_VERSION.match(gene):
        return "ensembl"
    return "symbol"


def _row_lists(table: pl.DataFrame, names: pl.Expr) -> dict[str, list[int]]:
    """Return ``{name: rows}`` over the ';'-separated names of a column (rows ascending)."""
    exploded = (
        table.select(pl.int_range(pl.len()).alias("row"), names.str.split(";").alias("name"))
        .explode("name")
        .filter(pl.col("name").is_not_null() & (pl.col("name") != ""))
        .group_by("name", maintain_order=True)
        .agg("row")
    )
    return dict(zip(exploded["name"].to_list(), exploded["row"].to_list(), strict=True))


@functools.lru_cache(maxsize=4)
def _load_cached(path: str) -> GeneMap:
    table = pl.read_csv(path, separator="\t", infer_schema=False)
    return GeneMap(table, source=path)
