"""Differential expression with pydeseq2: multi-factor designs checked before fitting, one
contrast per job, DESeq2 defaults, Wald test and LFC shrinkage."""

from alsig.stages.de.design import design_matrix, design_variables, prepare_metadata
from alsig.stages.de.figures import ma_plot, volcano
from alsig.stages.de.fit import LABEL_COLUMNS, RESULT, contrast_coefficient, run_de
from alsig.stages.de.job import run

__all__ = [
    "LABEL_COLUMNS",
    "RESULT",
    "contrast_coefficient",
    "design_matrix",
    "design_variables",
    "ma_plot",
    "prepare_metadata",
    "run",
    "run_de",
    "volcano",
]
