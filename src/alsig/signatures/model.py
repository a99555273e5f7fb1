"""A resistance signature: a named gene list with an axis and a direction per gene.

A signature's *axis* is the resistance mechanism it measures; ``up`` genes rise and ``down``
genes fall when the mechanism is active. Signature and axis names end up in column names (wide
TSV, obsm, HDF5), so they stay plain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Columns of a signature table (the shipped ``alsig_signatures.tsv`` and user TSVs).
TABLE_COLUMNS = ("signature", "axis", "gene", "direction", "source")
#: The two directions of a signature's genes.
DIRECTIONS = ("up", "down")
#: The axis of the cell-type marker signatures (composition, not resistance biology).
CELL_TYPE_AXIS = "cell_type"
#: What a signature or axis name may look like.
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
#: GMT set-name suffixes of a signature's up and down halves (MSigDB's; written this way).
UP_SUFFIX, DN_SUFFIX = "_UP", "_DN"
#: Also read as the down half of a user GMT (any case): ``X_DOWN`` is ``X_DN``.
DOWN_SUFFIX = "_DOWN"


@dataclass
class Signature:
    """One signature: up and/or down gene lists (order kept), its axis and per-gene sources."""

    name: str
    axis: str
    up: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)
    sources: dict[tuple[str, str], str] = field(default_factory=dict)  # (gene, direction) -> source
    origin: str = ""  # file it came from

    @property
    def genes(self) -> list[str]:
        """Every gene of the signature, up genes first, each once."""
        return list(dict.fromkeys([*self.up, *self.down]))

    @property
    def is_cell_type(self) -> bool:
        """Whether this is a cell-type marker signature (:data:`CELL_TYPE_AXIS`)."""
        return self.axis == CELL_TYPE_AXIS
