"""alsig: ALS RNA-seq -> QC -> DE -> enrichment -> treatment-resistance signature scores per sample.

alsig measures biology associated with treatment resistance; it does not predict a patient's
response to any drug.
"""

from alsig.errors import AlsigError
from alsig.version import __version__

__all__ = ["AlsigError", "__version__", "read_scores"]


def __getattr__(name: str):
    # ``alsig.read_scores`` without importing polars for every ``import alsig``.
    if name == "read_scores":
        from alsig.tables import read_scores

        return read_scores
    raise AttributeError(f"module 'alsig' has no attribute {name!r}")
