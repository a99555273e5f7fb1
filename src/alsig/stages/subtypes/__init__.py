"""Per-sample molecular states of ALS (Ox-, Glia-, TE-like, after Tam et al. 2019) and the
cohort's own consensus-NMF clusters."""

from alsig.stages.subtypes.figures import plot_consensus, plot_states
from alsig.stages.subtypes.job import run
from alsig.stages.subtypes.nmf import Discovery, choose_rank, discover, name_clusters, nmf_features
from alsig.stages.subtypes.states import (
    LABELS,
    STATES,
    UNASSIGNED,
    StateCalls,
    call_states,
    member_z,
    subject_view,
)
from alsig.stages.subtypes.table import SubtypeResult, shares, subtype_table

__all__ = [
    "LABELS",
    "STATES",
    "UNASSIGNED",
    "Discovery",
    "StateCalls",
    "SubtypeResult",
    "call_states",
    "choose_rank",
    "discover",
    "member_z",
    "name_clusters",
    "nmf_features",
    "plot_consensus",
    "plot_states",
    "run",
    "shares",
    "subject_view",
    "subtype_table",
]
