"""alsig.keys: the readers of the sample table's canonical columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsig.keys import SUBJECT, excluded_samples, sample_subjects


def test_a_sample_without_a_subject_is_its_own_subject():
    obs = pd.DataFrame(
        {SUBJECT: ["d1", "d1", None, "", "  ", np.nan]}, index=[f"s{i}" for i in range(6)]
    )
    subjects = sample_subjects(obs)
    assert subjects.to_dict() == {
        "s0": "d1",
        "s1": "d1",
        "s2": "s2",
        "s3": "s3",  # a blank never pools samples into one subject
        "s4": "s4",
        "s5": "s5",
    }
    # a subset, in the order asked for
    assert sample_subjects(obs, pd.Index(["s3", "s0"])).to_dict() == {"s3": "s3", "s0": "d1"}
    assert sample_subjects(obs.drop(columns=SUBJECT)).tolist() == list(obs.index)


def test_excluded_samples_reads_only_filled_reasons():
    obs = pd.DataFrame({"qc_exclusion": ["", None, "sex_mismatch"]}, index=["a", "b", "c"])
    assert excluded_samples(obs) == {"c": "sex_mismatch"}
    assert excluded_samples(obs.drop(columns="qc_exclusion")) == {}
