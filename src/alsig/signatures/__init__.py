"""The signature library.

Resistance signatures, cell-type and subtype markers and TE signatures as files (shipped and the
user's), read and checked, and the signatures a run scores.

Used by the score stage, ``alsig score`` (new samples), ``alsig signatures`` (the listing) and
``scripts/build_signatures.py``.
"""

from alsig.signatures.library import (
    configured_signatures,
    harmonise_signatures,
    signatures_of_run,
)
from alsig.signatures.listing import signature_listing
from alsig.signatures.model import Signature
from alsig.signatures.readers import read_signatures

__all__ = [
    "Signature",
    "configured_signatures",
    "harmonise_signatures",
    "read_signatures",
    "signature_listing",
    "signatures_of_run",
]
