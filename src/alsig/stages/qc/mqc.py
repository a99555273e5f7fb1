"""MultiQC custom content of the QC stage: a General Statistics table and a PCA scatter.

``multiqc results/`` finds any ``*_mqc.tsv`` file; the YAML in the ``#`` comment header tells
it what to draw (https://docs.seqera.io/multiqc/custom_content). Sample names are the sample ids,
so one MultiQC report per dataset keeps them unique.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd
import yaml

from alsig.io import write_text

#: How a flag that marks a problem is written: MultiQC's global rules would badge "yes" green
#: (its "pass" class) and "no" red in every column, the opposite of what a problem flag means.
#: The column's own rule puts "yes" in MultiQC's "fail" class (red; the last matching class
#: colours the badge, and "fail" follows "pass") and the no-problem value is "none" (green).
PROBLEM_YES, PROBLEM_NO = "yes", "none"
_PROBLEM_BADGES = {"fail": [{"s_eq": PROBLEM_YES}], "pass": [{"s_eq": PROBLEM_NO}]}
#: Flags that mark a problem (a red badge when set).
PROBLEM_FLAGS = ("sex_mismatch", "qc_outlier")

# Column -> MultiQC header. Text columns get ``scale: False``: MultiQC cannot colour-scale them.
GENERAL_STATS_HEADERS: dict[str, dict] = {
    "total_counts": {
        "title": "Library size",
        "description": "Total counts (millions)",
        "suffix": " M",
        "format": "{:,.2f}",
        "scale": "Blues",
    },
    "n_genes_detected": {
        "title": "Detected genes",
        "description": "Genes with count > 0",
        "format": "{:,.0f}",
        "scale": "Greens",
    },
    "pct_mito": {
        "title": "% Mito",
        "description": "Percent mitochondrial counts",
        "suffix": "%",
        "max": 100,
        "min": 0,
        "scale": "OrRd",
    },
    "sex_inferred": {
        "title": "Inferred sex",
        "description": "Sex from XIST / chrY genes",
        "scale": False,
    },
    "sex_mismatch": {
        "title": "Sex mismatch",
        "description": "Inferred sex != reported sex (yes: red)",
        "scale": False,
        "cond_formatting_rules": _PROBLEM_BADGES,
    },
    "qc_outlier": {
        "title": "QC outlier",
        "description": "Flagged by a metric or PCA isolation (yes: red)",
        "scale": False,
        "cond_formatting_rules": _PROBLEM_BADGES,
    },
    "qc_kept": {
        "title": "QC kept",
        "description": "Sample kept for DE and scoring",
        "scale": False,
    },
}


def _with_header(config: dict, frame: pd.DataFrame) -> str:
    header = "".join(f"# {line}\n" for line in yaml.safe_dump(config, sort_keys=False).splitlines())
    return header + frame.to_csv(sep="\t", index=False, lineterminator="\n")


def general_stats_text(table: pd.DataFrame, dataset: str) -> str:
    """Return the ``*_mqc.tsv`` text of the General Statistics columns.

    Parameters
    ----------
    table
        The QC sample table (``sample`` column or index as sample id), one row per sample.
    dataset
        Dataset id (the MultiQC namespace).

    Returns
    -------
    str
        YAML header and TSV. Sex mismatch and QC outlier read ``yes`` (a red badge) or
        ``none`` (green); QC kept ``yes`` (green) or ``no`` (red).
    """
    frame = table.reset_index() if "sample" not in table else table
    columns = [c for c in GENERAL_STATS_HEADERS if c in frame]
    out = frame[["sample", *columns]].copy()
    # rounded: the files are read by people too, and float noise is no information
    out["total_counts"] = (out["total_counts"].astype(float) / 1e6).round(4)
    if "pct_mito" in out:
        out["pct_mito"] = out["pct_mito"].astype(float).round(3)
    for column in out.columns[1:]:
        if column in PROBLEM_FLAGS:
            out[column] = out[column].map(
                lambda v: "" if pd.isna(v) else PROBLEM_YES if bool(v) else PROBLEM_NO
            )
        elif out[column].dtype == bool:
            # MultiQC would read True/False as text anyway; yes/no reads better in the table
            out[column] = out[column].map({True: "yes", False: "no"})
    config = {
        "id": "alsig_general_stats",
        "plot_type": "generalstats",
        "namespace": f"alsig {dataset}",
        "pconfig": [{c: GENERAL_STATS_HEADERS[c]} for c in columns],
    }
    return _with_header(config, out.rename(columns={"sample": "Sample"}))


def pca_text(table: pd.DataFrame, variance_ratio: Sequence[float], dataset: str) -> str:
    """Return the ``*_mqc.tsv`` text of the QC PCA scatter (PC1 vs PC2 of the VST)."""
    frame = table.reset_index() if "sample" not in table else table
    ratio = [*variance_ratio, float("nan"), float("nan")]
    config = {
        "id": "alsig_qc_pca",
        "section_name": f"alsig QC PCA ({dataset})",
        "description": "PC1 vs PC2 of the VST of the most variable expressed genes, all samples "
        "before outlier removal.",
        "plot_type": "scatter",
        "pconfig": {
            "id": "alsig_qc_pca_plot",
            "title": f"alsig: QC PCA of {dataset}",
            "xlab": f"PC1 ({100 * ratio[0]:.1f}% variance)",
            "ylab": f"PC2 ({100 * ratio[1]:.1f}% variance)",
        },
    }
    points = frame[["sample", "PC1", "PC2"]].round({"PC1": 4, "PC2": 4})
    return _with_header(config, points.rename(columns={"sample": "Sample"}))


def write_multiqc(
    table: pd.DataFrame,
    variance_ratio: Sequence[float],
    dataset: str,
    general_stats: str | os.PathLike[str],
    pca: str | os.PathLike[str],
) -> None:
    """Write both custom-content files atomically."""
    write_text(general_stats_text(table, dataset), general_stats)
    write_text(pca_text(table, variance_ratio, dataset), pca)
