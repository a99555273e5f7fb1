"""Dataset registry: transitions, atomic versioned TSV storage."""

from __future__ import annotations

import pytest

from alsig.errors import AlsigError
from alsig.ops.registry import SCHEMA_VERSION, Registry
from alsig.sources.eutils import SeriesSummary


def series(acc: str, n: int = 4, title: str = "t") -> SeriesSummary:
    samples = [{"accession": f"GSM{acc[3:]}{i}"} for i in range(n)]
    return SeriesSummary.from_esummary(
        "200" + acc[3:], {"accession": acc, "title": title, "n_samples": n, "samples": samples}
    )


def test_observe_new_unchanged_changed(tmp_path):
    reg = Registry()
    obs = reg.observe([series("GSE1"), series("GSE2")], now="T1")
    assert obs.new == ["GSE1", "GSE2"] and not obs.changed
    assert reg.entries["GSE1"].status == "new" and reg.entries["GSE1"].first_seen == "T1"
    reg.mark_processed("GSE1", data_sha256="abc", now="T2")
    obs = reg.observe([series("GSE1"), series("GSE2")], now="T3")
    assert obs.unchanged == ["GSE1", "GSE2"] and not obs.new
    assert reg.entries["GSE1"].status == "processed"
    obs = reg.observe([series("GSE1", n=5), series("GSE2")], now="T4")
    entry = reg.entries["GSE1"]
    assert obs.changed == ["GSE1"]
    assert (entry.status, entry.reason) == ("new", "changed on GEO since it was processed")
    assert entry.stale_cache and entry.first_seen == "T1" and entry.last_checked == "T4"
    assert entry.n_samples == 5


def test_exclusion_and_release():
    reg = Registry()
    reg.observe([series("GSE1")], exclude={"GSE1": "cell lines, not tissue"})
    assert (reg.entries["GSE1"].status, reg.entries["GSE1"].reason) == (
        "excluded",
        "cell lines, not tissue",
    )
    obs = reg.observe([series("GSE1")])
    assert obs.released == ["GSE1"] and reg.entries["GSE1"].status == "new"


def test_roundtrip_is_versioned_and_atomic(tmp_path):
    path = tmp_path / "state" / "registry.tsv"
    reg = Registry(path=path)
    reg.observe([series("GSE10"), series("GSE9")], dataset_ids={"GSE9": "tam2019"})
    reg.set("GSE10", "needs_curation", "no rule matches 'iPSC'")
    reg.save()
    lines = path.read_text().splitlines()
    assert lines[0].split("\t")[:4] == ["schema_version", "accession", "dataset", "status"]
    assert lines[1].startswith(f"{SCHEMA_VERSION}\tGSE9\ttam2019\tnew")
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    again = Registry.load(path)
    assert again.entries == reg.entries
    assert again.counts()["needs_curation"] == 1


def test_newer_schema_and_bad_status_are_refused(tmp_path):
    path = tmp_path / "registry.tsv"
    reg = Registry(path=path)
    reg.observe([series("GSE1")])
    reg.save()
    text = path.read_text()
    path.write_text(text.replace(f"\n{SCHEMA_VERSION}\t", "\n99\t"))
    with pytest.raises(AlsigError, match="line 2, column 'schema_version'.*newer"):
        Registry.load(path)
    path.write_text(text.replace("\tnew\t", "\tdone\t"))
    with pytest.raises(AlsigError, match="unknown status 'done'"):
        Registry.load(path)


def test_missing_file_is_empty(tmp_path):
    assert Registry.load(tmp_path / "none.tsv").entries == {}


def test_hand_edited_rows_are_refused_with_the_line_and_the_fix(tmp_path):
    path = tmp_path / "registry.tsv"
    reg = Registry(path=path)
    reg.observe([series("GSE1"), series("GSE2")])
    reg.set("GSE2", "needs_curation", "no rule matches 'iPSC'")
    reg.save()
    text = path.read_text()
    path.write_text(text.replace("needs_curation", "needs-curation"))
    with pytest.raises(AlsigError) as info:
        Registry.load(path)
    message = str(info.value)
    assert "line 3, column 'status': unknown status 'needs-curation'" in message
    assert "Did you mean 'needs_curation'?" in message and "Correct that row" in message
    path.write_text(text.replace("\t4\t", "\tfour\t", 1))
    with pytest.raises(AlsigError, match="line 2, column 'n_samples': 'four' is not a whole"):
        Registry.load(path)
    path.write_text(text.replace("\tGSE2\tGSE2\t", "\tGSE1\tGSE2\t"))
    with pytest.raises(AlsigError, match="line 3, column 'accession': GSE1 is also on line 2"):
        Registry.load(path)


def with_samples(acc: str, gsms: list[str], gpl: str = "16791") -> SeriesSummary:
    return SeriesSummary.from_esummary(
        "200" + acc[3:],
        {
            "accession": acc,
            "gpl": gpl,
            "n_samples": len(gsms),
            "samples": [{"accession": g} for g in gsms],
        },
    )


SUB_A = [f"GSM1{i:02d}" for i in range(10)]
SUB_B = [f"GSM2{i:02d}" for i in range(10)]


def test_a_superseries_of_tracked_subseries_is_held_for_curation():
    reg = Registry()
    found = [
        with_samples("GSE20", SUB_A + SUB_B),  # SuperSeries listing both SubSeries' samples
        with_samples("GSE21", SUB_B),
        with_samples("GSE1", SUB_A),
        with_samples("GSE30", ["GSM301", "GSM302"]),
    ]
    obs = reg.observe(found, now="T1")
    assert list(obs.shared) == ["GSE20"]
    entry = reg.entries["GSE20"]
    assert entry.status == "needs_curation" and entry.reason == obs.shared["GSE20"]
    assert entry.reason.startswith(
        "shares samples with a series that is kept: 10 with GSE1 (new) and 10 with GSE21 (new) "
        "of its 20 samples"
    )
    assert "To process GSE20 instead, add GSE1, GSE21 to reprocess.exclude" in entry.reason
    assert "add GSE20 to reprocess.allow_shared_samples" in entry.reason
    assert {a: e.status for a, e in reg.entries.items() if a != "GSE20"} == dict.fromkeys(
        ["GSE1", "GSE21", "GSE30"], "new"
    )
    assert reg.entries["GSE21"].platforms == "GPL16791"
    assert reg.entries["GSE1"].sample_set() == set(SUB_A)


def test_the_series_processed_first_is_kept_and_an_exclusion_releases_the_other(tmp_path):
    reg = Registry(path=tmp_path / "registry.tsv")
    reg.observe([with_samples("GSE20", SUB_A + SUB_B)], now="T1")
    reg.mark_processed("GSE20", now="T2")  # the SuperSeries came first and was processed
    obs = reg.observe([with_samples("GSE20", SUB_A + SUB_B), with_samples("GSE1", SUB_A)])
    assert list(obs.shared) == ["GSE1"] and reg.entries["GSE20"].status == "processed"
    assert "10 with GSE20 (processed) of its 10 samples" in obs.shared["GSE1"]
    reg.save()
    assert Registry.load(reg.path).entries["GSE1"].samples == ";".join(SUB_A)
    # the user keeps the SubSeries: excludes the SuperSeries
    obs = reg.observe(
        [with_samples("GSE20", SUB_A + SUB_B), with_samples("GSE1", SUB_A)],
        exclude={"GSE20": "SuperSeries of GSE1"},
    )
    assert obs.shared == {} and reg.entries["GSE20"].status == "excluded"
    # or processes both, warned
    obs = reg.observe(
        [with_samples("GSE20", SUB_A + SUB_B), with_samples("GSE1", SUB_A)],
        allow_shared=["GSE1"],
    )
    assert obs.shared == {}
    assert obs.shared_allowed == [
        "GSE1 shares samples (10 with GSE20) and is processed anyway "
        "(reprocess.allow_shared_samples): the catalog and the cross-cohort meta-analysis "
        "count those samples more than once."
    ]


def test_a_series_waiting_for_curation_holds_no_new_one_and_a_held_one_says_what_it_waits_for():
    reg = Registry()
    found = [with_samples("GSE1", SUB_A), with_samples("GSE20", SUB_A + SUB_B)]
    reg.observe(found, now="T1")  # the SubSeries GSE1 is kept, the SuperSeries GSE20 held
    assert reg.entries["GSE20"].status == "needs_curation"
    reg.set("GSE1", "needs_curation", "conditions not resolved")  # curation, the same run
    # both wait now: GSE1 is still kept over GSE20, and GSE20's reason says it waits for it
    obs = reg.observe(found, now="T2")
    assert list(obs.shared) == ["GSE20"]
    assert obs.shared["GSE20"].startswith(
        "shares samples with a series kept over it but not processed itself: 10 with GSE1 "
        "(needs_curation) of its 20 samples (a SuperSeries and its SubSeries, or the same "
        "samples in two series); processing it too would put those samples into the catalog "
        "and the cross-cohort meta-analysis twice. It waits until GSE1 is processed (see its "
        "own reason: curated, or retried once failed). By default a series processed or to be "
        "processed is kept over one waiting for curation or failed, "
    )
    assert obs.shared["GSE20"].endswith(
        "To process GSE20 instead, add GSE1 to reprocess.exclude; to process both anyway, add "
        "GSE20 to reprocess.allow_shared_samples."
    )
    # a new series is never held by one waiting for curation or failed
    reg.set("GSE20", "new", "no longer excluded")
    reg.set("GSE1", "failed", "series matrix: HTTP 500")
    obs = reg.observe(found, now="T3")
    assert list(obs.shared) == ["GSE1"] and reg.entries["GSE20"].status == "new"
    assert obs.shared["GSE1"].startswith(
        "shares samples with a series that is kept: 10 with GSE20 (new) of its 10 samples"
    )
