"""What a message about an input tells the user to do, by the tool that reads the input.

The readers and checks are shared by the workflow's ingest and ``alsig score``, but their users
fix things in different places: the workflow's user has a sample sheet and dataset keys in the
config, ``alsig score``'s user a counts file and command-line options. The advice is therefore a
parameter of the readers: :data:`WORKFLOW` by default, and the one ``alsig score`` builds
(:func:`alsig.newsamples.placement.score_advice`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputAdvice:
    """The remedies a reader's messages name, worded for one tool."""

    #: how to have estimated counts rounded; completes "For estimated counts ... <this> to round
    #: them to integers."
    rounding: str
    #: why a sample whose gene counts are all zero is refused and what to do (sentences)
    empty_library: str
    #: the same for a sample whose TE counts are all zero
    empty_te_library: str
    #: the rounding setting as the tool spells it, e.g. in "N count(s) rounded (<this>)"
    rounding_setting: str = "counts_rounding: round"
    #: where the gene id column is named: completes "Set <this>." and "(<this>)"
    gene_column: str = "`counts_gene_column` in the dataset config"
    #: what to do with annotation columns read as samples: completes "annotation columns (<this>)"
    annotation_columns: str = "list them under `non_sample_columns`"


#: the workflow's wording: dataset keys, the sample sheet, the count matrix, ``te_counts``
WORKFLOW = InputAdvice(
    rounding="set `counts_rounding: round` for the dataset",
    empty_library=(
        "An empty library cannot be normalised: remove it from the sample sheet and the count "
        "matrix, or check that the column holds this sample's counts."
    ),
    empty_te_library=(
        "An empty TE library is no measurement (its retrotransposon values fall far below every "
        "other sample's; a control's move every sample's TE z): remove the sample from the "
        "sample sheet and from the count and TE tables, or give the TE counts of these runs "
        "(`te_counts`; check that the column holds this sample's TE counts)."
    ),
)
