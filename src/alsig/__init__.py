"""alsig: ALS RNA-seq -> QC -> DE -> enrichment -> treatment-resistance signature scores per sample.

alsig measures biology associated with treatment resistance; it does not predict a patient's
response to any drug.
"""

from alsig.errors import AlsigError
from alsig.version import __version__

__all__ = ["AlsigError", "__version__", "read_scores", "read_tsv", "tables"]


def __getattr__(name: str):
    # ``alsig.read_scores`` / ``alsig.read_tsv`` / ``alsig.tables`` without importing polars for
    # every ``import alsig``.
    if name == "read_scores":
        from alsig.tables import read_scores

        return read_scores
    if name == "read_tsv":
        from alsig.tables import read_tsv

        return read_tsv
    if name == "tables":
        import alsig.tables

        return alsig.tables
    raise AttributeError(f"module 'alsig' has no attribute {name!r}")
