"""Per-sample signature scores of a dataset: singscore, ssGSEA, axis composites, z vs controls."""

from alsig.stages.score.composites import (
    AXIS_PREFIX,
    MIN_CONTROLS,
    AxisComposites,
    ControlReference,
    axis_composites,
    composition_residuals,
    control_reference,
    z_vs_control,
)
from alsig.stages.score.coverage import signature_coverage
from alsig.stages.score.h5ad import write_scores_h5ad
from alsig.stages.score.job import run, run_axis_tests, run_figures, signatures_from_settings
from alsig.stages.score.scoring import (
    METHODS,
    MethodScores,
    ScoredSignatures,
    ScoreResult,
    check_methods,
    expression_matrix,
    score_anndata,
)
from alsig.stages.score.sets import gene_set_matrix, signature_parts
from alsig.stages.score.signatures import Signature, configured_signatures, harmonise_signatures
from alsig.stages.score.singscore import MAD_CONSTANT, singscore, singscore_sets
from alsig.stages.score.ssgsea import ssgsea, ssgsea_es, ssgsea_nes

__all__ = [
    "AXIS_PREFIX",
    "MAD_CONSTANT",
    "METHODS",
    "MIN_CONTROLS",
    "AxisComposites",
    "ControlReference",
    "MethodScores",
    "ScoreResult",
    "ScoredSignatures",
    "Signature",
    "axis_composites",
    "check_methods",
    "composition_residuals",
    "configured_signatures",
    "control_reference",
    "expression_matrix",
    "gene_set_matrix",
    "harmonise_signatures",
    "run",
    "run_axis_tests",
    "run_figures",
    "score_anndata",
    "signature_coverage",
    "signature_parts",
    "signatures_from_settings",
    "singscore",
    "singscore_sets",
    "ssgsea",
    "ssgsea_es",
    "ssgsea_nes",
    "write_scores_h5ad",
    "z_vs_control",
]
