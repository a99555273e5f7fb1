"""``alsig score``.

New patient samples scored against a dataset alsig has already run, without rerunning the cohort.

The new samples are put on the dataset's scale (the genes both have; size factors
against its own gene geometric means, DESeq2's ``geoMeans``; its fitted VST), scored with the
shipped signatures (singscore) and placed against the dataset's stored control distribution: z
against the controls of the chosen reference stratum and percentiles among those controls and
among the disease samples. The result describes biology associated with treatment resistance in
the new sample relative to the cohort; it predicts nothing about the patient's response to a
drug.
"""

from alsig.newsamples.output import write_placement
from alsig.newsamples.overlap import MAX_MISSING_SHARE
from alsig.newsamples.placement import read_new_counts, read_new_samples, score_new_samples

__all__ = [
    "MAX_MISSING_SHARE",
    "read_new_counts",
    "read_new_samples",
    "score_new_samples",
    "write_placement",
]
