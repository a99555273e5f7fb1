"""Which of a finished dataset's genes the new counts have, and when that is too few.

singscore ranks a sample's genes among themselves, so a score depends on the gene universe it is
computed in. New counts that lack some of the dataset's genes are scored within the genes both
have, and the dataset's samples are rescored within the same genes before the new samples are
placed against them (:mod:`alsig.newsamples.placement`): like is compared with like, and every
row of such a placement is flagged. Above :data:`MAX_MISSING_SHARE` absent genes the counts are
taken to be another assay (a targeted panel, another annotation or species) and ``alsig score``
refuses, unless the user raises ``--max-missing-share``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from alsig.errors import AlsigError

#: Default limit on the share of the dataset's genes absent from the new counts. 0.5: a 6,000-gene
#: panel against a 27,961-gene cohort (78 % absent) is refused; two whole-transcriptome matrices
#: of different annotation releases (a few % absent) are scored within their shared genes.
MAX_MISSING_SHARE = 0.5
#: The flag (``qc_flag`` of every row) of a placement within the shared genes.
MISSING_FLAG = "genes_missing"


@dataclass(frozen=True)
class GeneOverlap:
    """The dataset's genes split into those the new counts have and those they lack."""

    shared: tuple[str, ...]  # in the dataset's gene order
    missing: tuple[str, ...]

    @property
    def n_reference(self) -> int:
        """Genes of the dataset."""
        return len(self.shared) + len(self.missing)

    @property
    def share_missing(self) -> float:
        """Share of the dataset's genes absent from the new counts."""
        return len(self.missing) / self.n_reference if self.n_reference else 0.0

    def flag(self) -> str | None:
        """Return the ``qc_flag`` of every row placed within the shared genes (None if complete)."""
        if not self.missing:
            return None
        return (
            f"{MISSING_FLAG}({len(self.missing)} of {self.n_reference} dataset genes absent; "
            f"scored and referenced within the {len(self.shared)} shared genes)"
        )


def gene_overlap(reference_genes: Sequence[str], new_genes: Iterable[str]) -> GeneOverlap:
    """Split the dataset's genes into shared and missing.

    Parameters
    ----------
    reference_genes
        The dataset's genes (``var_names`` of its ``qc/filtered.h5ad``).
    new_genes
        The new counts' genes (harmonised symbols).

    Returns
    -------
    GeneOverlap
        Shared and missing genes, each in the dataset's order.
    """
    present = set(map(str, new_genes))
    reference = [str(g) for g in reference_genes]
    return GeneOverlap(
        shared=tuple(g for g in reference if g in present),
        missing=tuple(g for g in reference if g not in present),
    )


def check_overlap(
    overlap: GeneOverlap, dataset: str, max_missing_share: float, source: str = "the new counts"
) -> None:
    """Refuse new counts that lack more than ``max_missing_share`` of the dataset's genes.

    Parameters
    ----------
    overlap
        :func:`gene_overlap` of the dataset and the new counts.
    dataset
        The dataset's folder, for the message.
    max_missing_share
        The limit (``--max-missing-share``), in [0, 1].
    source
        The new counts (their file), for the message.

    Raises
    ------
    AlsigError
        Naming how many genes are absent, the dataset, the limit and the flag that sets it.
    """
    if not 0 <= max_missing_share <= 1:
        raise AlsigError(f"--max-missing-share {max_missing_share:g} must be between 0 and 1.")
    if overlap.share_missing <= max_missing_share:
        return
    examples = ", ".join(overlap.missing[:5])
    raise AlsigError(
        f"{len(overlap.missing):,} of the {overlap.n_reference:,} genes of dataset {dataset} "
        f"({overlap.share_missing:.0%}; e.g. {examples}) are absent from {source}, above "
        f"the limit of {max_missing_share:.0%} (--max-missing-share). Counts that lack so many of "
        "the dataset's genes are probably another assay (a gene panel, another annotation or "
        "species), and their scores would not be comparable with the dataset's. To score within "
        f"the {len(overlap.shared):,} shared genes anyway (every row is then flagged "
        f"'{MISSING_FLAG}'), raise --max-missing-share."
    )
