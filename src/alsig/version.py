"""The installed alsig's version, in a leaf module.

``alsig.io`` writes it into every Parquet file; importing it from the package's ``__init__``
would tie ``alsig.io`` to ``alsig.tables`` (which ``alsig.read_scores`` loads) in a circle.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("alsig")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
