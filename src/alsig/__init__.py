"""alsig: ALS RNA-seq -> QC -> DE -> enrichment -> treatment-resistance signature scores per sample.

alsig measures biology associated with treatment resistance; it does not predict a patient's
response to any drug.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("alsig")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from alsig.errors import AlsigError  # noqa: E402

__all__ = ["AlsigError", "__version__", "read_scores"]


def __getattr__(name: str):
    # ``alsig.read_scores`` without importing polars for every ``import alsig``.
    if name == "read_scores":
        from alsig.tables import read_scores

        return read_scores
    raise AttributeError(f"module 'alsig' has no attribute {name!r}")
