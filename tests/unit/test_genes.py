from alsig.genes import GeneMap


def test_current_symbols_are_kept():
    symbols, report = GeneMap.load().harmonise_symbols(["GAPDH", "SOD1", "TARDBP"])
    assert symbols == ["GAPDH", "SOD1", "TARDBP"]
    assert report["resolved_by"] == {"symbol": 3}


def test_excel_mangled_symbols_repaired_when_unambiguous():
    symbols, report = GeneMap.load().harmonise_symbols(
        ["4-Mar", "Sep-07", "15-Sep", "1-Mar", "1-Dec"]
    )
    assert symbols[:3] == ["MARCHF4", "SEPTIN7", "SELENOF"]
    # 1-Mar is MARCH1 or MARC1, 1-Dec is DEC1 (DELEC1) or BHLHE40's alias: kept and reported
    assert symbols[3:] == ["1-Mar", "1-Dec"]
    assert report["excel_repaired"]["4-Mar"] == "MARCHF4"
    assert set(report["excel_ambiguous"]["1-Mar"].split(";")) == {"MARCHF1", "MTARC1"}


def test_outdated_symbol_rescued_by_unique_alias_unless_target_present():
    gene_map = GeneMap.load()
    symbols, report = gene_map.harmonise_symbols(["T", "RFWD2"])
    assert symbols == ["TBXT", "COP1"]
    assert report["alias_rescued"] == {"T": "TBXT", "RFWD2": "COP1"}
    # the current symbol is already in the data: the alias row keeps its own name
    symbols, _ = gene_map.harmonise_symbols(["TBXT", "T"])
    assert symbols == ["TBXT", "T"]


def test_entrez_and_versioned_ensembl_ids():
    records, report = GeneMap.load().harmonise(["6647", "ENSG00000120948.17", "999999999"], "auto")
    assert [r.symbol for r in records] == ["SOD1", "TARDBP", "999999999"]
    assert records[0].ensembl_id == "ENSG00000142168"
    assert records[1].entrez_id == "23435"
    assert report.how["unmapped"] == 1


def test_dates_read_back_from_a_spreadsheet_are_excel_names_by_every_reading():
    symbols, report = GeneMap.load().harmonise_symbols(
        ["4-sept", "7.Sep", "2023-09-04", "9/3/2023", "2008-09-01 00:00:00", "2023-01-05"]
    )
    # 4-sept and 7.Sep are one gene; 2023-09-04 is 4 September (SEPTIN4)
    assert symbols[:3] == ["SEPTIN4", "SEPTIN7", "SEPTIN4"]
    # 3 September or 9 March; a first of the month may hold SEPT8 in its year
    assert set(report["excel_ambiguous"]["9/3/2023"].split(";")) == {"SEPTIN3", "MARCHF9"}
    assert set(report["excel_ambiguous"]["2008-09-01 00:00:00"].split(";")) == {
        "SEPTIN1",
        "SEPTIN8",
    }
    assert report["resolved_by"]["unmapped"] == 1  # January names no gene
