"""``alsig score``'s parts on data in memory: the gene overlap and its limit, the reference
stratum (refused without controls), the z and percentiles, the output format by suffix."""

from __future__ import annotations

import io
import logging

import numpy as np
import pandas as pd
import polars as pl
import pytest

from alsig.errors import AlsigError
from alsig.io import read_table_metadata
from alsig.newsamples.depth import low_library_flags, outlier_nmads, reference_library_sizes
from alsig.newsamples.output import output_format, write_placement
from alsig.newsamples.overlap import MAX_MISSING_SHARE, check_overlap, gene_overlap
from alsig.newsamples.placement import (
    Reference,
    _qc_flags,
    choose_reference,
    place,
    read_new_samples,
)
from alsig.newsamples.subtypes import region_of_stratum
from alsig.stages.qc.outliers import mad_outliers


def test_overlap_keeps_the_dataset_order_and_flags_a_partial_placement():
    overlap = gene_overlap(["A", "B", "C", "D"], ["D", "B", "X"])
    assert overlap.shared == ("B", "D") and overlap.missing == ("A", "C")
    assert overlap.share_missing == 0.5
    assert overlap.flag().startswith("genes_missing(2 of 4 dataset genes absent")
    assert gene_overlap(["A"], ["A"]).flag() is None


def test_the_6000_vs_27961_gene_case_is_refused_naming_counts_dataset_and_flag():
    reference = [f"G{i}" for i in range(27_961)]
    overlap = gene_overlap(reference, reference[:6_000])
    with pytest.raises(AlsigError) as caught:
        check_overlap(overlap, "results/GSE124439", MAX_MISSING_SHARE, "panel.tsv")
    message = str(caught.value)
    assert "21,961 of the 27,961 genes of dataset results/GSE124439 (79%" in message
    assert "absent from panel.tsv" in message and "--max-missing-share" in message
    check_overlap(overlap, "results/GSE124439", 0.8)  # raised on purpose: accepted
    with pytest.raises(AlsigError, match="between 0 and 1"):
        check_overlap(overlap, "x", 1.5)


def _table(strata: dict[str, str], conditions: dict[str, str]) -> pl.DataFrame:
    samples = list(strata)
    return pl.DataFrame(
        {
            "sample": samples,
            "method": ["singscore"] * len(samples),
            "reference_stratum": [strata[s] for s in samples],
            "condition": [conditions[s] for s in samples],
        }
    )


def test_a_stratum_without_enough_controls_is_refused():
    strata = {f"c{i}": "region=A" for i in range(3)} | {"c9": "region=B", "d1": "region=B"}
    conditions = {s: "control" for s in strata} | {"d1": "ALS"}
    table = _table(strata, conditions)
    obs = pd.DataFrame({"qc_exclusion": [None, "sex_mismatch", None, None, None]}, index=strata)
    with pytest.raises(AlsigError, match="choose the new samples' reference with --stratum"):
        choose_reference(table, obs, None, dataset="results/x")
    with pytest.raises(AlsigError) as caught:
        choose_reference(table, obs, "region=B", dataset="results/x")
    assert "'region=B' has 1 usable control(s)" in str(caught.value)
    # QC-excluded controls do not count: region=A keeps 2 of its 3
    with pytest.raises(AlsigError, match=r"2 usable control\(s\) \(QC-excluded: \['c1'\]\)"):
        choose_reference(table, obs, "region=A", dataset="results/x")
    with pytest.raises(AlsigError, match="--stratum 'region=C' is not a reference stratum"):
        choose_reference(table, obs, "region=C", dataset="results/x")
    chosen = choose_reference(table, obs.assign(qc_exclusion=None), "region=A", dataset="x")
    assert chosen == Reference("region=A", ["c0", "c1", "c2"], [])


def test_place_gives_the_z_and_percentiles_of_the_stratum():
    controls = [1.0, 2.0, 3.0, 4.0]
    reference = pl.DataFrame(
        {
            "sample": ["c1", "c2", "c3", "c4", "d1", "d2", "other"],
            "signature": ["s"] * 7,
            "score": [*controls, 5.0, 7.0, 100.0],
        }
    )
    new = pl.DataFrame({"sample": ["n"], "signature": ["s"], "score": [5.0]})
    placed = place(new, reference, Reference("all", ["c1", "c2", "c3", "c4"], ["d1", "d2"]))
    row = placed.row(0, named=True)
    assert row["z_vs_control"] == pytest.approx((5.0 - 2.5) / np.std(controls, ddof=1))
    assert row["control_percentile"] == 100.0 and row["disease_percentile"] == 50.0
    assert row["n_controls"] == 4


def test_output_format_follows_the_suffix_and_dash_is_stdout(tmp_path):
    assert output_format("x.parquet") == "parquet" and output_format("x.TSV") == "tsv"
    assert output_format("-") == "tsv"
    with pytest.raises(AlsigError, match="--output x.csv: write a .parquet or a .tsv"):
        output_format("x.csv")
    table = pl.DataFrame({"sample": ["a"], "score": [None]}, schema_overrides={"score": pl.Float64})
    buffer = io.StringIO()
    write_placement(table, "-", stdout=buffer)
    assert buffer.getvalue() == "sample\tscore\na\t\n"
    write_placement(table, str(tmp_path / "x.parquet"))
    assert pl.read_parquet(tmp_path / "x.parquet").equals(table)


def test_the_region_comes_from_a_region_stratum():
    assert region_of_stratum("region=Frontal Cortex") == "frontal cortex"
    assert region_of_stratum("sex=male; region=Motor Cortex (Lateral)") == "motor cortex"
    assert region_of_stratum("all samples") is None


GENES = ["SOD1", "GAPDH", "ACTB", "TARDBP", "FUS", "SNAP25", "GFAP", "AQP4", "MBP", "OLIG2"]


def _new_counts(tmp_path, samples=("N1", "N2", "N3"), name="n.tsv", zero=None, value=None):
    rows = ["gene\t" + "\t".join(samples)]
    for i, gene in enumerate(GENES):
        cells = [
            # each sample its own counts (identical columns are refused as a copy)
            "0" if s == zero else (f"{float(value) + j:g}" if value else str(10 * (i + 1) + j))
            for j, s in enumerate(samples)
        ]
        rows.append(gene + "\t" + "\t".join(cells))
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


def test_an_all_zero_te_library_of_a_new_sample_is_refused_naming_the_files(tmp_path):
    """N3's zeroed TE column took p_ox 1.6e-8 -> 0.998 and p_te 0.017 -> 1.7e-18, no flag."""
    te = tmp_path / "te.tsv"
    te.write_text("te\tN1\tN2\tN3\nL1HS:L1:LINE\t5\t6\t0\nAluY:Alu:SINE\t3\t2\t0\n")
    with pytest.raises(AlsigError) as info:
        read_new_samples(_new_counts(tmp_path), te_path=te)
    message = str(info.value)
    assert "te.tsv': 1 sample(s) have no counts in any TE (an empty library): 'N3'." in message
    assert "remove the sample's column from 'n.tsv' and 'te.tsv'" in message
    assert "--te-counts" in message and "sample sheet" not in message


def test_a_new_library_far_below_the_datasets_is_flagged_by_qcs_rule(tmp_path, caplog):
    """N1 at 16,615 reads instead of ~16 M: hallmark_ros z +1.54 -> -29.3 with no flag."""
    obs = pd.DataFrame(
        {
            "total_counts": [2 * 9.0e6, 2 * 17.0e6, 2 * 27.0e6, 16.0e6, 20.0e6],
            "n_collapsed": [2, 2, 2, 1, 1],
        }
    )
    sizes = reference_library_sizes(obs)  # one per library: replicate sums are divided
    assert sorted(sizes) == [9.0e6, 9.0e6, 16.0e6, 17.0e6, 17.0e6, 20.0e6, 27.0e6, 27.0e6]
    (tmp_path / "qc").mkdir()
    (tmp_path / "qc" / "summary.json").write_text('{"settings": {"outlier_nmads": 3.0}}')
    nmads = outlier_nmads(tmp_path)
    with caplog.at_level(logging.WARNING):
        flags = low_library_flags(
            {"N1": 16_615, "N2": 5.0e6, "N3": 3.0e6}, sizes, nmads, dataset="results/demo"
        )
    _, limit = mad_outliers(np.log10(sizes), nmads, "lower")  # QC's rule, QC's scale
    assert 10**limit == pytest.approx(4.23e6, rel=0.01)
    assert flags == {"N1": "low_library_size", "N3": "low_library_size"}
    assert "new sample N1: library size 16,615 reads, below the 4,233,204" in caplog.text
    assert "its libraries hold 9,000,000 to 27,000,000 reads" in caplog.text
    assert "N2" not in caplog.text


def test_qc_flag_joins_the_every_row_flag_and_the_samples_own():
    flags = _qc_flags(pl.Series(["N1", "N2", "N1"]), None, {"N1": "low_library_size"})
    assert flags.to_list() == ["low_library_size", None, "low_library_size"]
    flags = _qc_flags(pl.Series(["N1", "N2"]), "genes_missing(x)", {"N2": "low_library_size"})
    assert flags.to_list() == ["genes_missing(x)", "genes_missing(x);low_library_size"]


def test_alsig_scores_messages_name_its_own_options_and_files(tmp_path):
    """It advised `counts_rounding: round` and the sample sheet, which alsig score has not."""
    fractions = _new_counts(tmp_path, name="tpm.tsv", value="216.275")
    with pytest.raises(AlsigError) as info:
        read_new_samples(fractions)
    message = str(info.value)
    assert "tpm.tsv', line 2, column 'N1': count is not an integer" in message
    assert "run alsig score with `--counts-rounding round`" in message
    assert "counts_rounding: round" not in message
    rounded = read_new_samples(fractions, rounding="round").counts
    assert sorted(set(rounded.to_numpy().ravel().tolist())) == [216, 217, 218]
    with pytest.raises(AlsigError) as info:
        read_new_samples(_new_counts(tmp_path, name="zero.tsv", zero="N2"))
    message = str(info.value)
    assert "have no counts in any gene (an empty library): 'N2'." in message
    assert "remove the sample's column from 'zero.tsv'" in message
    assert "sample sheet" not in message
    with pytest.raises(
        AlsigError, match=r"gene id column 'symbol' not found; .* Set --gene-column\."
    ):
        read_new_samples(fractions, gene_column="symbol")
    text = tmp_path / "text.tsv"
    text.write_text("gene\tN1\tchrom\nSOD1\t5\tchr21\n")
    with pytest.raises(AlsigError, match="annotation columns \\(delete them from 'text.tsv'"):
        read_new_samples(text)


def test_the_new_sample_schema_describes_the_table_alsig_score_writes(tmp_path):
    from alsig.newsamples.placement import PLACEMENT_COLUMNS
    from alsig.newsamples.subtypes import SUBTYPE_COLUMNS
    from alsig.tables.schemas import polars_schema
    from alsig.tables.tsv import column_types

    written = {**polars_schema("signature_scores"), **PLACEMENT_COLUMNS, **SUBTYPE_COLUMNS}
    assert column_types("new_sample_scores") == written
    write_placement(pl.DataFrame(schema=written), str(tmp_path / "new.parquet"))
    assert read_table_metadata(tmp_path / "new.parquet")["alsig.schema"] == "new_sample_scores"
