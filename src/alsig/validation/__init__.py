"""One validation layer for every input path.

Text count matrices, ``.h5ad`` files, GEO downloads, TE counts, sample sheets and the
``alsig score`` inputs all use these rules and messages, so a value is accepted, repaired or
rejected the same way whatever file it came in.

====================  =================================================================
module                rule
====================  =================================================================
``tokens``            the spellings of "no value" (``NA``, ``NaN``, ``Inf``, spreadsheet
                      errors such as ``#N/A`` / ``#NAME?``; ``Unknown`` for sheet values)
``names``             ids and names in Unicode NFC without invisible characters (zero-width
                      space, byte-order mark ...) or surrounding whitespace
``duplicates``        repeated names; names differing only in letter case or spaces
``counts``            read counts: integer, >= 0, exact in int64 (``counts_rounding``)
``sizes``             a matrix has genes and samples; no empty (all-zero) library; no two
                      identical libraries
``files``             an input path is a readable, non-empty file (not a directory)
``encoding``          UTF-8 in; a report when a file is not UTF-8; binary files named
``gene_ids``          the id type a matrix has, and the share that maps to human genes
``sheet``             sample-sheet ids, "not known" cells, canonical columns
``sex``               reported sex: the spellings of female / male; anything else refused
``covariates``        design covariates: missing values, numeric or categorical
``suggest``           "did you mean" for names that are not allowed
``yaml_keys``         a key given twice in one mapping of a YAML config
``advice``            the remedies the messages name, worded for the workflow or
                      ``alsig score``
====================  =================================================================

Every repair is returned as a note for the job log and the provenance; nothing here changes a
value without saying so. This package sits below the stages (it imports only ``alsig.errors``).

``counts``, ``covariates`` and ``sheet`` load scipy, pandas and polars: their names are imported
on first use (PEP 562), so the config checks every Snakemake parse and every job runs
(:mod:`alsig.settings`) do not pay ~0.5 s for them.
"""

from typing import TYPE_CHECKING

from alsig.lazy import lazy_exports
from alsig.validation.duplicates import case_variants, check_unique, repeated
from alsig.validation.encoding import Decoded, to_utf8
from alsig.validation.files import check_input_file, path_problem
from alsig.validation.gene_ids import (
    IdTypeGuess,
    check_mapped_share,
    detect_id_type,
    mapped_fraction,
    repair_entrez_floats,
)
from alsig.validation.names import (
    INVISIBLE_CHARACTERS,
    CleanedNames,
    clean_name,
    clean_names,
    invisible_note,
    nfc,
    without_invisible,
)
from alsig.validation.sex import HOW_TO_WRITE_SEX, SEX_SPELLINGS, read_sex, sex_label
from alsig.validation.sizes import (
    check_distinct_libraries,
    check_libraries,
    check_matrix_size,
    level_shortfalls,
)
from alsig.validation.suggest import check_label, did_you_mean
from alsig.validation.tokens import (
    MISSING_ID_TOKENS,
    MISSING_VALUE_TOKENS,
    SPREADSHEET_ERRORS,
    is_missing_id,
    is_missing_value,
    is_spreadsheet_error,
    missing_kind,
)

if TYPE_CHECKING:
    from alsig.validation.counts import count_message, integer_counts
    from alsig.validation.covariates import NumericReading, as_missing, choose_kind, read_numbers
    from alsig.validation.sheet import (
        CanonicalPlan,
        canonical_plan,
        clean_sheet,
        subject_conflicts,
    )

#: name -> the submodule it is imported from on first use
_LAZY = {
    "count_message": "counts",
    "integer_counts": "counts",
    "as_missing": "covariates",
    "choose_kind": "covariates",
    "NumericReading": "covariates",
    "read_numbers": "covariates",
    "CanonicalPlan": "sheet",
    "canonical_plan": "sheet",
    "clean_sheet": "sheet",
    "subject_conflicts": "sheet",
}


__getattr__ = lazy_exports(
    __name__, {name: f"alsig.validation.{module}" for name, module in _LAZY.items()}
)


__all__ = [
    "HOW_TO_WRITE_SEX",
    "INVISIBLE_CHARACTERS",
    "MISSING_ID_TOKENS",
    "MISSING_VALUE_TOKENS",
    "SEX_SPELLINGS",
    "SPREADSHEET_ERRORS",
    "CanonicalPlan",
    "CleanedNames",
    "Decoded",
    "IdTypeGuess",
    "NumericReading",
    "as_missing",
    "canonical_plan",
    "case_variants",
    "check_distinct_libraries",
    "check_input_file",
    "check_label",
    "check_libraries",
    "check_mapped_share",
    "check_matrix_size",
    "check_unique",
    "choose_kind",
    "clean_name",
    "clean_names",
    "clean_sheet",
    "count_message",
    "detect_id_type",
    "did_you_mean",
    "integer_counts",
    "invisible_note",
    "is_missing_id",
    "is_missing_value",
    "is_spreadsheet_error",
    "level_shortfalls",
    "mapped_fraction",
    "missing_kind",
    "nfc",
    "path_problem",
    "read_numbers",
    "read_sex",
    "repair_entrez_floats",
    "repeated",
    "sex_label",
    "subject_conflicts",
    "to_utf8",
    "without_invisible",
]
