"""Count-matrix ingest: copied rows and columns, ids that are not one gene id, and values that are
not counts. Each case used to change a result without a word or with a misleading message."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from alsig.errors import AlsigError
from alsig.keys import TE_COUNTS
from alsig.stages.ingest import ingest_local
from alsig.stages.ingest.counts import read_count_matrix, read_h5ad_count_matrix
from alsig.stages.ingest.harmonise import harmonise_genes, share_text
from alsig.stages.ingest.te_counts import is_te_id, read_te_counts

GENES = ["SOD1", "GAPDH", "ACTB", "TARDBP", "FUS", "SNAP25", "GFAP", "AQP4", "MBP", "OLIG2"]
SAMPLES = ("S1", "S2", "S3", "S4")
SHEET = "sample\tgroup\nS1\tALS\nS2\tcontrol\nS3\tALS\nS4\tcontrol\n"
SETTINGS = {"source": "local", "sample_column": "sample", "condition": {"column": "group"}}


def rows(genes) -> list[str]:
    """One distinct, non-zero row per gene (no two rows or columns equal)."""
    return [
        gene + "\t" + "\t".join(str(10 * (i + 1) + j) for j in range(len(SAMPLES)))
        for i, gene in enumerate(genes)
    ]


def table(lines) -> str:
    return "\n".join(["gene\t" + "\t".join(SAMPLES), *lines]) + "\n"


def ingest(tmp_path, body, **extra):
    (tmp_path / "counts.tsv").write_text(body)
    (tmp_path / "samples.tsv").write_text(SHEET)
    settings = {
        **SETTINGS,
        "counts": str(tmp_path / "counts.tsv"),
        "samples": str(tmp_path / "samples.tsv"),
        **extra,
    }
    return ingest_local("toy", settings)


def column(adata, gene) -> list[int]:
    x = adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)
    return x[:, list(adata.var_names).index(gene)].tolist()


def warnings(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


# A11: one gene under two ids


def test_identical_rows_under_two_ids_of_one_gene_are_a_copy_kept_once(caplog):
    counts = np.array([[5, 6], [5, 6], [1, 2], [3, 0]])
    ids = ["A2M", "ENSG00000175899", "SOD1", "ENSG00000142168"]
    with caplog.at_level(logging.INFO):
        summed, var, report = harmonise_genes(counts, ids, id_type="auto")
    assert list(var.index) == ["A2M", "SOD1"]
    assert summed.tolist() == [[5, 6], [4, 2]]  # A2M not doubled; SOD1's two rows summed
    assert report["n_identical_rows_kept_once"] == 1
    assert report["identical_rows_kept_once"] == {"from": ["A2M"], "to": ["A2M;ENSG00000175899"]}
    assert "a copy, kept once (not summed): A2M (A2M = ENSG00000175899)" in warnings(caplog)
    assert "1 row(s) summed into a gene of the same symbol" in caplog.text
    assert "SOD1 (SOD1 + ENSG00000142168)" in caplog.text


# A10: ids differing only in letter case


def test_case_variant_copy_is_kept_once_and_different_case_variants_stay_apart(tmp_path, caplog):
    body = table(rows(GENES) + ["sod1\t10\t11\t12\t13", "gapdh\t1\t2\t3\t4"])
    with caplog.at_level(logging.INFO):
        adata = ingest(tmp_path, body, gene_id_type="symbol")
    assert "sod1" not in adata.var_names and column(adata, "SOD1") == [10, 11, 12, 13]
    assert "'sod1' (= 'SOD1')" in warnings(caplog)
    # different counts: two rows, as the log says; 'gapdh' is not GAPDH's current symbol
    assert column(adata, "GAPDH") == [20, 21, 22, 23] and column(adata, "gapdh") == [1, 2, 3, 4]
    assert "kept as separate rows (not summed" in warnings(caplog)
    assert "GAPDH / gapdh" in warnings(caplog)
    assert "summed as one symbol" not in caplog.text


def test_te_ids_differing_only_in_case_with_identical_counts_are_one_te(tmp_path):
    body = "te\tS1\tS2\nL1HS:L1:LINE\t5\t6\nl1hs:L1:LINE\t5\t6\nAluY:Alu:SINE\t1\t2\n"
    (tmp_path / "te.tsv").write_text(body)
    te = read_te_counts(tmp_path / "te.tsv", sample_ids=["S1", "S2"])
    assert list(te.columns) == ["L1HS:L1:LINE", "AluY:Alu:SINE"]
    assert te["L1HS:L1:LINE"].tolist() == [5, 6]


# A5: one library under two sample names


def test_two_identical_sample_columns_stop_ingest_naming_both(tmp_path):
    lines = [ln.split("\t") for ln in rows(GENES)]
    body = table("\t".join([g, a, b, c, a]) for g, a, b, c, _ in lines)
    with pytest.raises(AlsigError) as info:
        ingest(tmp_path, body)
    message = str(info.value)
    assert "counts.tsv" in message
    assert "sample columns hold identical counts in every gene: 'S1' = 'S4'" in message


# A14: unmapped ids named, a share short of all not shown as 100%, total rows dropped


def test_share_text_never_rounds_a_shortfall_to_all_or_none():
    assert share_text(5998, 6000) == "5,998 of 6,000 (99.9%)"  # not 100.0%
    assert share_text(99_999, 100_000) == "99,999 of 100,000 (99.9%)"
    assert share_text(1, 100_000) == "1 of 100,000 (0.001%)"
    assert share_text(10, 10) == "10 of 10 (100.0%)"


def test_unmapped_ids_are_named_and_total_rows_dropped(tmp_path, caplog):
    extra = ["ABCA1.1\t1\t2\t3\t5", "Total\t900\t900\t900\t901", "N_unmapped\t7\t7\t7\t8"]
    body = table(rows(GENES) + extra)
    with caplog.at_level(logging.INFO):
        adata = ingest(tmp_path, body, gene_id_type="symbol")
    assert "Total" not in adata.var_names and "N_unmapped" not in adata.var_names
    repairs = adata.uns["provenance"]["counts_repairs"]
    assert list(repairs["summary_rows_dropped"]) == ["Total", "N_unmapped"]
    assert "2 read-accounting or total row(s) dropped (not genes): 'Total', 'N_unmapped'" in (
        caplog.text
    )
    assert "10 of 11 (90.9%) map to a known human gene; 1 unmapped, kept under their ids: " in (
        caplog.text
    )
    assert "'ABCA1.1' (ABCA1)" in warnings(caplog)
    assert list(adata.uns["provenance"]["gene_harmonisation"]["unmapped_ids"]) == ["ABCA1.1"]


# A9: ids with two colons that are not TEs


@pytest.mark.parametrize(
    ("feature", "te"),
    [
        ("L1HS:L1:LINE", True),
        ("UCON10:UCON10:Unknown", True),
        ("MER130:MER130:Unknown?", True),
        ("7SK:RNA:RNA", True),
        ("2008-09-01 00:00:00", False),  # SEPT8 through a spreadsheet
        ("ENSG00000175899:A2M:protein-coding", False),
        ("ENSG00000207445:RNU6-1:snRNA", False),
        ("AARS:AARS:unknown", False),  # Entrez's gene type, not the class 'Unknown'
    ],
)
def test_te_ids_need_a_repeatmasker_class(feature, te):
    assert is_te_id(feature) is te


def test_a_date_time_gene_id_is_a_gene_not_a_te_row(tmp_path, caplog):
    body = table(rows(GENES) + ["2008-09-01 00:00:00\t3\t1\t4\t1"])
    with caplog.at_level(logging.INFO):
        adata = ingest(tmp_path, body, gene_id_type="symbol")
    assert TE_COUNTS not in adata.obsm
    assert "2008-09-01 00:00:00" in adata.var_names
    assert "TE row" not in caplog.text
    assert "2008-09-01 00:00:00 (SEPTIN1 or SEPTIN8)" in warnings(caplog)


def test_ids_joining_several_fields_are_named_with_the_fix(tmp_path):
    ensembl = ["ENSG00000142168", "ENSG00000111640", "ENSG00000075624", "ENSG00000120948"]
    joined = [f"{e}:{g}:protein-coding" for e, g in zip(ensembl, GENES, strict=False)]
    with pytest.raises(AlsigError) as info:
        ingest(tmp_path, table(rows(joined)))
    message = str(info.value)
    assert "only 0.0% of 4 gene ids map" in message
    assert "(100% like 'ENSG00000142168:SOD1:protein-coding')" in message
    assert "Give one gene id per row" in message


def test_a_te_table_given_as_the_gene_matrix_is_named(tmp_path):
    body = table(rows(["L1HS:L1:LINE", "AluY:Alu:SINE", "HERVK-int:ERVK:LTR"]))
    with pytest.raises(AlsigError, match="every row is a transposable-element id"):
        ingest(tmp_path, body)


# A8: log-scale values are not estimated counts


def _log_scale(n_genes=40):
    rng = np.random.default_rng(3)
    return np.log1p(rng.negative_binomial(2, 0.01, size=(len(SAMPLES), n_genes)))


@pytest.mark.parametrize("rounding", ["none", "round"])
def test_log_scale_h5ad_is_refused_not_rounded(tmp_path, rounding):
    x = _log_scale()
    obs = pd.DataFrame(index=pd.Index(list(SAMPLES), dtype=str))
    var = pd.DataFrame(index=pd.Index([f"G{i}" for i in range(x.shape[1])], dtype=str))
    ad.AnnData(X=x, obs=obs, var=var).write_h5ad(tmp_path / "c.h5ad")
    with pytest.raises(AlsigError) as info:
        read_h5ad_count_matrix(tmp_path / "c.h5ad", rounding=rounding)
    message = str(info.value)
    assert "The values look normalised, not counted (largest value" in message
    assert "log-scale values" in message
    assert "set `counts_rounding: round`" not in message


def test_log_scale_text_column_is_refused_and_estimated_counts_still_rounded(tmp_path):
    x = _log_scale(n_genes=150).T  # a column needs 100 values to tell
    body = table(f"G{i}\t" + "\t".join(f"{v:.4f}" for v in row) for i, row in enumerate(x))
    (tmp_path / "log.tsv").write_text(body)
    with pytest.raises(AlsigError, match="look normalised, not counted") as info:
        read_count_matrix(tmp_path / "log.tsv", rounding="round")
    assert "log.tsv" in str(info.value) and "column 'S1'" in str(info.value)
    estimated = np.expm1(x) * 3.1  # salmon's NumReads: fractions on a count scale
    body = table(f"G{i}\t" + "\t".join(f"{v:.3f}" for v in row) for i, row in enumerate(estimated))
    (tmp_path / "salmon.tsv").write_text(body)
    matrix = read_count_matrix(tmp_path / "salmon.tsv", rounding="round")
    assert matrix.report["n_rounded_counts"] > 100
