"""Published subtype labels: how often the published clustering reproduces each of them.

The Tam et al. (2019) subtypes of GSE124439 (ALS-Ox / ALS-Glia / ALS-TE, Table S1A) came from one
unsupervised clustering (NMF through the SAKE tool) of the same 148 ALS samples the subtype model
is trained and scored on. A sample near a cluster boundary carries a label that the published
method itself would not give it again. This bench measures that, and nothing in the shipped model
changes:

1. **Reproduction.** The clustering procedure re-implemented as closely as the sources allow
   (:data:`PROCEDURE`; the report says what was found and what was assumed), run once on all 148
   samples; its clusters named by best overlap with the published labels (Hungarian assignment).
2. **Label stability.** ``--reruns`` perturbed reruns of the same procedure, each on the samples of
   a random 80 % of the donors and with its own NMF seeds, each named by overlap with the published
   labels of its own samples. A sample's *label stability* is the share of the reruns that include
   it in which it lands in its published subtype; each rerun's balanced accuracy (BA) against the
   published labels is how well the published method reproduces its own labels.
3. **The classifier beside it.** The outer-fold results of the shipped classifier
   (``bench/results/subtypes_per_sample.tsv`` and ``resources/subtypes/cv_predictions.tsv``, both
   read, never written): its errors with their label stability, the Spearman correlation between
   stability and the outer-fold probability of the label, its BA among stable and unstable labels,
   and the donors whose samples carry different published subtypes.

Usage (one core, about 20 minutes; ``--report`` re-renders the markdown from the two TSVs)::

    OPENBLAS_NUM_THREADS=1 nice -n 10 python bench/subtype_label_stability.py [--reruns 100]
    python bench/subtype_label_stability.py --report
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import sklearn
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import squareform
from scipy.stats import spearmanr
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from alsig.stages.qc.normalise import size_factors, vst
from alsig.stages.subtypes.features import log2_cpm
from alsig.stages.subtypes.reference_model import CLASSES, PROBABILITY_COLUMNS
from alsig.subtype_model.cross_validation import donor_bootstrap
from alsig.subtype_model.reference_data import reference_files

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALSIG_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "bench" / "results"
OUT = RESULTS / "subtype_label_stability.md"
PER_SAMPLE = RESULTS / "subtype_label_stability_per_sample.tsv"
RUNS = RESULTS / "subtype_label_stability_runs.tsv"
CLASSIFIER_PER_SAMPLE = RESULTS / "subtypes_per_sample.tsv"
CV_PREDICTIONS = ROOT / "resources" / "subtypes" / "cv_predictions.tsv"
CLASSIFIER_MODELS = ("genes_te", "genes")
SHORT = {"ALS-Ox": "Ox", "ALS-Glia": "Glia", "ALS-TE": "TE"}

#: SAKE's default NMF seed (``myNMF(seed=123211)`` in naikai/sake R/nmf_utils.R); start i uses
#: seed + i, so the full run is one fixed, documented draw
SAKE_SEED = 123211
#: seed of the reruns' donor draws and NMF starts (independent of the full run's)
RERUN_SEED = 20191029
#: a label is called stable when its sample lands in its published subtype this often
STABLE_SHARE = 0.9
#: donor bootstrap draws for the intervals of the stable / unstable BAs
N_BOOT = 1000


@dataclass(frozen=True)
class Procedure:
    """One version of the published clustering procedure.

    Attributes
    ----------
    layer
        ``counts``, ``rpm``, ``log2cpm`` or ``vst`` (:func:`expression_layer`).
    n_features
        Features kept: the most variable by median absolute deviation (SAKE's ranking).
    with_te
        Genes and TE subfamilies together (TEtranscripts counts both), or genes only.
    k
        NMF rank, the number of subtypes.
    starts
        Random NMF starts whose co-clustering forms the consensus.
    """

    layer: str
    n_features: int
    with_te: bool = True
    k: int = 3
    starts: int = 50

    def describe(self) -> str:
        """Return a one-line description for the report."""
        features = "genes + TE subfamilies" if self.with_te else "genes"
        return (
            f"{self.layer}, top {self.n_features} {features} by MAD, KL-NMF k={self.k}, "
            f"consensus of {self.starts} starts"
        )


#: the reproduction used for the full run and the reruns (the report says why this variant)
PROCEDURE = Procedure(layer="log2cpm", n_features=5000)
#: starts per perturbed rerun: fewer than the full run's, for the time box (one core)
RERUN_STARTS = 5
#: variants run once each on all samples (starts=10), to show how much the reproduction depends
#: on what Tam et al. did not state in the sources found
VARIANTS = (
    Procedure("counts", 3000, starts=10),
    Procedure("rpm", 3000, starts=10),
    Procedure("vst", 1500, starts=10),
    Procedure("vst", 3000, starts=10),
    Procedure("vst", 5000, starts=10),
    Procedure("log2cpm", 1500, starts=10),
    Procedure("log2cpm", 3000, starts=10),
    Procedure("log2cpm", 5000, starts=10),
    Procedure("log2cpm", 5000, with_te=False, starts=10),
)


# --------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True)
class Cohort:
    """The 148 labelled ALS samples of GSE124439.

    Attributes
    ----------
    counts
        Samples x features raw counts (refGene genes, then TE subfamilies ``name:family:class``),
        features with no count in any of these samples dropped.
    is_te
        Per feature: a TE subfamily.
    meta
        Per sample: ``label`` (published subtype), ``subject``, ``region``, ``batch``.
    """

    counts: pd.DataFrame
    is_te: np.ndarray
    meta: pd.DataFrame


def load_cohort(data_dir: Path) -> Cohort:
    """Read the gene and TE counts and the published labels of the 148 ALS samples.

    The project's reader (:func:`alsig.subtype_model.reference_data.load_reference`) maps genes
    to Entrez ids for the model; the published clustering saw the TEcount rows as they are
    (refGene symbols), so this reads the same files without that mapping.

    Parameters
    ----------
    data_dir
        The shared ``data`` folder (the one with PROVENANCE.md).

    Returns
    -------
    Cohort
        Samples in GSM order.
    """
    paths = reference_files(data_dir)
    labels = pd.read_csv(paths["labels"], sep="\t", dtype=str).set_index("sample_id")
    samples = sorted(labels.index[labels["subtype"].isin(CLASSES)])
    sheet = pd.read_csv(paths["samples"], sep="\t", dtype=str).set_index("sample_id")
    genes = pd.read_csv(paths["gene_counts"], sep="\t", index_col=0)[samples]
    tes = pd.read_csv(paths["te_counts"], sep="\t", index_col=0)[samples]
    counts = pd.concat([genes, tes]).T.astype(np.int64)
    counts = counts.loc[:, counts.sum(axis=0) > 0]
    is_te = np.array([":" in str(name) for name in counts.columns])
    meta = pd.DataFrame(
        {
            "label": labels.loc[samples, "subtype"],
            "subject": sheet.loc[samples, "subject_id"],
            "region": sheet.loc[samples, "cns_subregion"],
            "batch": sheet.loc[samples, "seq_batch"],
        },
        index=pd.Index(samples, name="sample"),
    )
    return Cohort(counts, is_te, meta)


def expression_layer(counts: np.ndarray, layer: str) -> np.ndarray:
    """Return the non-negative expression values NMF factorises (samples x features).

    Parameters
    ----------
    counts
        Samples x features raw counts.
    layer
        ``counts``: raw counts (SAKE's default: no normalisation, no transformation). ``rpm``:
        reads per million, not logged. ``log2cpm``: log2(CPM + 1); libraries = all assigned
        reads (genes and TEs) in both. ``vst``: the
        project's DESeq2-style blind VST (median-of-ratios size factors, parametric trend fitted
        on 1,000 features); its values are log2-scale and positive for these counts.

    Returns
    -------
    numpy.ndarray
        Samples x features.
    """
    if layer == "counts":
        return np.asarray(counts, dtype=float)
    if layer == "rpm":
        return counts / counts.sum(axis=1, keepdims=True) * 1e6
    if layer == "log2cpm":
        return log2_cpm(counts, counts.sum(axis=1))
    if layer == "vst":
        factors, _ = size_factors(counts)
        values, _ = vst(counts, factors, n_genes=1000, n_cpus=1)
        # NMF needs non-negative input; VST values are positive here, the clip is a guard only
        return np.clip(values, 0.0, None)
    raise ValueError(f"unknown layer {layer!r}")


def most_variable(values: np.ndarray, n_features: int) -> np.ndarray:
    """Return the columns of the ``n_features`` largest median absolute deviations (sorted)."""
    deviation = np.median(np.abs(values - np.median(values, axis=0)), axis=0)
    return np.sort(np.argsort(deviation, kind="stable")[::-1][:n_features])


# --------------------------------------------------------------------------------------------
# the clustering procedure


def consensus_clusters(values: np.ndarray, k: int, starts: int, first_seed: int) -> np.ndarray:
    """Cluster the rows of ``values`` by consensus NMF, as the R NMF package behind SAKE does.

    Each start factorises with Brunet et al.'s multiplicative updates on the Kullback-Leibler
    divergence (the NMF package's default ``brunet`` algorithm, SAKE's default) and puts each
    sample in its strongest factor. The consensus matrix is the share of starts that put two
    samples together; the samples are cut into ``k`` clusters by average-linkage hierarchical
    clustering of 1 - consensus (the NMF package's ``predict(what = "consensus")``).

    Parameters
    ----------
    values
        Non-negative samples x features.
    k
        Number of clusters.
    starts
        Random starts (seeds ``first_seed``, ``first_seed + 1``, ...).
    first_seed
        Seed of the first start.

    Returns
    -------
    numpy.ndarray
        Cluster of each sample, 0 .. k - 1.
    """
    n_samples = values.shape[0]
    together = np.zeros((n_samples, n_samples))
    for start in range(starts):
        model = NMF(
            n_components=k,
            init="random",
            solver="mu",
            beta_loss="kullback-leibler",
            max_iter=1000,
            tol=1e-4,
            random_state=first_seed + start,
        )
        with warnings.catch_warnings():
            # a start stopped at max_iter still assigns its samples; the consensus absorbs it
            warnings.simplefilter("ignore", ConvergenceWarning)
            loadings = model.fit_transform(values)
        strongest = loadings.argmax(axis=1)
        together += strongest[:, None] == strongest[None, :]
    distance = 1.0 - together / starts
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    return fcluster(tree, t=k, criterion="maxclust") - 1


def run_procedure(
    cohort: Cohort, rows: np.ndarray, procedure: Procedure, first_seed: int
) -> np.ndarray:
    """Run the whole procedure on the samples ``rows``: layer, feature choice, consensus NMF.

    Feature choice is redone on the samples given, as a fresh clustering of them would.

    Returns
    -------
    numpy.ndarray
        Cluster of each sample of ``rows``.
    """
    columns = np.arange(cohort.counts.shape[1])
    if not procedure.with_te:
        columns = columns[~cohort.is_te]
    counts = cohort.counts.to_numpy()[np.ix_(rows, columns)]
    counts = counts[:, counts.sum(axis=0) > 0]
    values = expression_layer(counts, procedure.layer)
    chosen = values[:, most_variable(values, procedure.n_features)]
    return consensus_clusters(chosen, procedure.k, procedure.starts, first_seed)


def name_by_overlap(clusters: np.ndarray, published: np.ndarray) -> np.ndarray:
    """Name each cluster by the published subtype it overlaps most, one subtype per cluster.

    The names maximise the total overlap (Hungarian assignment on the clusters x subtypes
    table), so two clusters never take the same name.

    Returns
    -------
    numpy.ndarray
        The subtype name of each sample's cluster.
    """
    n_clusters = int(clusters.max()) + 1
    overlap = np.array(
        [[np.sum((clusters == c) & (published == s)) for s in CLASSES] for c in range(n_clusters)]
    )
    cluster_of, subtype_of = linear_sum_assignment(-overlap)
    names = dict(zip(cluster_of.tolist(), [CLASSES[j] for j in subtype_of], strict=True))
    return np.array([names.get(int(c), "unnamed") for c in clusters], dtype=object)


def balanced_accuracy(published: np.ndarray, calls: np.ndarray) -> float:
    """Mean over the published subtypes present of the share called that subtype.

    Any other call (another subtype, ``unassigned``, ``out_of_reference``) counts as an error,
    as in the project's BA.
    """
    published = np.asarray(published, dtype=object)
    calls = np.asarray(calls, dtype=object)
    present = [s for s in CLASSES if (published == s).any()]
    return float(np.mean([np.mean(calls[published == s] == s) for s in present]))


def donor_subsample(subjects: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Return the rows (sorted) of a random ``share`` of the donors, all samples of each."""
    donors = np.array(sorted(set(subjects.tolist())), dtype=object)
    kept = rng.permutation(donors)[: round(share * len(donors))]
    return np.flatnonzero(np.isin(subjects, kept))


# --------------------------------------------------------------------------------------------
# computing


def compute(data_dir: Path, reruns: int, donor_share: float) -> None:
    """Run the variants, the full reproduction and the reruns; write the TSVs and the report."""
    started = time.time()
    cohort = load_cohort(data_dir)
    published = cohort.meta["label"].to_numpy(dtype=object)
    every_row = np.arange(len(published))
    print(f"{len(published)} samples, {cohort.counts.shape[1]} features", flush=True)

    variant_rows = []
    for variant in VARIANTS:
        tic = time.time()
        calls = name_by_overlap(run_procedure(cohort, every_row, variant, SAKE_SEED), published)
        variant_rows.append(
            {
                "run": "variant",
                "procedure": variant.describe(),
                "ba": balanced_accuracy(published, calls),
                "n_samples": len(calls),
                "n_donors": cohort.meta["subject"].nunique(),
                "sizes": "/".join(str(int((calls == s).sum())) for s in CLASSES),
                "seconds": time.time() - tic,
            }
        )
        print(f"variant {variant.describe()}: BA {variant_rows[-1]['ba']:.3f}", flush=True)

    tic = time.time()
    full_calls = name_by_overlap(run_procedure(cohort, every_row, PROCEDURE, SAKE_SEED), published)
    full_row = {
        "run": "full",
        "procedure": PROCEDURE.describe(),
        "ba": balanced_accuracy(published, full_calls),
        "n_samples": len(full_calls),
        "n_donors": cohort.meta["subject"].nunique(),
        "sizes": "/".join(str(int((full_calls == s).sum())) for s in CLASSES),
        "seconds": time.time() - tic,
    }
    print(f"full run: BA {full_row['ba']:.3f} ({full_row['seconds']:.0f} s)", flush=True)

    rerun_procedure = Procedure(
        PROCEDURE.layer, PROCEDURE.n_features, PROCEDURE.with_te, PROCEDURE.k, RERUN_STARTS
    )
    subjects = cohort.meta["subject"].to_numpy(dtype=object)
    rerun_calls = np.full((reruns, len(published)), None, dtype=object)
    rerun_rows = []
    for run in range(reruns):
        tic = time.time()
        rng = np.random.default_rng([RERUN_SEED, run])
        rows = donor_subsample(subjects, donor_share, rng)
        clusters = run_procedure(cohort, rows, rerun_procedure, RERUN_SEED + 1000 * (run + 1))
        calls = name_by_overlap(clusters, published[rows])
        rerun_calls[run, rows] = calls
        rerun_rows.append(
            {
                "run": f"rerun_{run}",
                "procedure": rerun_procedure.describe(),
                "ba": balanced_accuracy(published[rows], calls),
                "n_samples": len(rows),
                "n_donors": len(set(subjects[rows].tolist())),
                "sizes": "/".join(str(int((calls == s).sum())) for s in CLASSES),
                "seconds": time.time() - tic,
            }
        )
        if run % 10 == 9:
            print(f"rerun {run + 1}/{reruns}: {time.time() - started:.0f} s", flush=True)

    per_sample = stability_table(cohort.meta, published, full_calls, rerun_calls)
    per_sample = join_classifier(per_sample)
    per_sample.to_csv(PER_SAMPLE, sep="\t", float_format="%.3f")
    total_row = {"run": "total", "seconds": time.time() - started}
    runs = pd.DataFrame([*variant_rows, full_row, *rerun_rows, total_row])
    runs.to_csv(RUNS, sep="\t", index=False, float_format="%.4f")
    report(per_sample, runs, donor_share=donor_share)


def stability_table(
    meta: pd.DataFrame, published: np.ndarray, full_calls: np.ndarray, rerun_calls: np.ndarray
) -> pd.DataFrame:
    """Per sample: the full run's call and where the reruns that include it put it.

    Returns
    -------
    pandas.DataFrame
        Indexed by sample: meta, ``full_run_call``, ``n_reruns_including``,
        ``label_stability`` (share of those reruns in the published subtype), the share in each
        subtype and the reruns' most frequent call.
    """
    table = meta.rename(columns={"label": "published_subtype"}).copy()
    table["full_run_call"] = full_calls
    included = pd.notna(rerun_calls)  # None where a rerun left the sample out
    n_including = included.sum(axis=0)
    table["n_reruns_including"] = n_including
    for subtype in CLASSES:
        hits = (rerun_calls == subtype).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):  # never included: NaN, not 0
            table[f"rerun_share_{SHORT[subtype].lower()}"] = np.where(
                n_including > 0, hits / n_including, np.nan
            )
    share_columns = [f"rerun_share_{SHORT[s].lower()}" for s in CLASSES]
    table["label_stability"] = [
        table.iloc[i][f"rerun_share_{SHORT[label].lower()}"] for i, label in enumerate(published)
    ]
    table["rerun_majority_call"] = [
        CLASSES[j] for j in table[share_columns].to_numpy(dtype=float).argmax(axis=1)
    ]
    donor_sizes = table.groupby("subject")["published_subtype"].transform("size")
    donor_labels = table.groupby("subject")["published_subtype"].transform(
        lambda s: "/".join(SHORT[x] for x in sorted(set(s), key=CLASSES.index))
    )
    table["donor_n_samples"] = donor_sizes
    table["donor_published_subtypes"] = donor_labels
    return table


def join_classifier(per_sample: pd.DataFrame) -> pd.DataFrame:
    """Add the shipped classifier's outer-fold results (read only) to the per-sample table.

    From ``subtypes_per_sample.tsv``: the repeat-0 call (abstentions included), the share of the
    5 repeats called right and the mean outer-fold probability of the published label. From
    ``cv_predictions.tsv`` (nested, repeat 0): the call of highest probability (no abstention).
    """
    classifier = pd.read_csv(CLASSIFIER_PER_SAMPLE, sep="\t").set_index("sample")
    predictions = pd.read_csv(CV_PREDICTIONS, sep="\t")
    repeat0 = predictions[(predictions["scheme"] == "nested") & (predictions["repeat"] == 0)]
    out = per_sample.copy()
    for model in CLASSIFIER_MODELS:
        for column in ("call_repeat0", "right_share_5_repeats", "p_label_mean"):
            out[f"{model}_{column}"] = classifier.loc[out.index, f"{model}_{column}"]
        rows = repeat0[repeat0["subtype_model"] == model].set_index("sample").loc[out.index]
        best = rows[list(PROBABILITY_COLUMNS)].to_numpy(dtype=float).argmax(axis=1)
        out[f"{model}_argmax_call_repeat0"] = np.asarray(CLASSES, dtype=object)[best]
    return out


# --------------------------------------------------------------------------------------------
# report


def markdown_table(frame: pd.DataFrame) -> list[str]:
    """Return ``frame`` (index dropped) as markdown table lines."""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |"]
    lines.append("|" + "---|" * len(frame.columns))
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(map(str, row)) + " |")
    return lines


def confusion_lines(published: pd.Series, calls: pd.Series) -> list[str]:
    """Return the published subtype x call counts as markdown lines."""
    table = pd.crosstab(
        pd.Categorical(published, CLASSES), pd.Categorical(calls, CLASSES), dropna=False
    )
    frame = table.reset_index()
    frame.columns = ["published \\ call", *CLASSES]
    return markdown_table(frame)


def classifier_ba_by_stability(per_sample: pd.DataFrame) -> pd.DataFrame:
    """Tabulate the classifier's BA among stable and unstable labels (donor-bootstrap CIs)."""
    groups = {
        f"stable (>= {STABLE_SHARE:.1f})": per_sample["label_stability"] >= STABLE_SHARE,
        f"unstable (< {STABLE_SHARE:.1f})": per_sample["label_stability"] < STABLE_SHARE,
        "all": per_sample["label_stability"].notna(),
    }
    rows = []
    for name, mask in groups.items():
        part = per_sample[mask]
        counts = "/".join(str(int((part["published_subtype"] == s).sum())) for s in CLASSES)
        row = {
            "labels": name,
            "samples (Ox/Glia/TE)": f"{len(part)} ({counts})",
            "donors": part["subject"].nunique(),
        }
        for model in CLASSIFIER_MODELS:
            for kind, column in (
                ("as shipped", f"{model}_call_repeat0"),
                ("no abstention", f"{model}_argmax_call_repeat0"),
            ):
                row[f"{model} BA, repeat 0, {kind}"] = interval_text(part, column)
            row[f"{model} mean right share, 5 repeats"] = (
                f"{part[f'{model}_right_share_5_repeats'].mean():.2f}"
            )
        rows.append(row)
    return pd.DataFrame(rows)


def interval_text(part: pd.DataFrame, call_column: str) -> str:
    """BA of ``call_column`` in ``part`` with a 95 % donor-bootstrap interval, as text."""
    frame = part.reset_index()

    def statistic(sample: pd.DataFrame) -> dict[str, float]:
        return {"ba": balanced_accuracy(sample["published_subtype"], sample[call_column])}

    table = donor_bootstrap(frame, statistic, n_boot=N_BOOT, seed=0)
    estimate, low, high = table.loc["ba", ["estimate", "low", "high"]]
    return f"{estimate:.2f} ({low:.2f}-{high:.2f})"


def errors_table(per_sample: pd.DataFrame) -> pd.DataFrame:
    """Every sample either classifier gets wrong in repeat 0 (abstentions included)."""
    wrong = np.zeros(len(per_sample), dtype=bool)
    for model in CLASSIFIER_MODELS:
        wrong |= (per_sample[f"{model}_call_repeat0"] != per_sample["published_subtype"]).to_numpy()
    part = per_sample[wrong].sort_values("label_stability")
    return pd.DataFrame(
        {
            "sample": part.index,
            "donor": part["subject"].to_numpy(),
            "region": part["region"].str.replace("Motor Cortex ", "Motor ").to_numpy(),
            "published": part["published_subtype"].map(SHORT).to_numpy(),
            "label stability": part["label_stability"].map("{:.2f}".format).to_numpy(),
            "reruns' majority": [
                f"{SHORT[c]} {part.iloc[i][f'rerun_share_{SHORT[c].lower()}']:.2f}"
                for i, c in enumerate(part["rerun_majority_call"])
            ],
            "full run": part["full_run_call"].map(SHORT).to_numpy(),
            **{
                f"{model} call r0 (argmax)": [
                    f"{SHORT.get(c, c)} ({SHORT[a]})"
                    for c, a in zip(
                        part[f"{model}_call_repeat0"],
                        part[f"{model}_argmax_call_repeat0"],
                        strict=True,
                    )
                ]
                for model in CLASSIFIER_MODELS
            },
            **{
                f"{model} right / 5, p(label)": [
                    f"{r * 5:.0f}, {p:.2f}"
                    for r, p in zip(
                        part[f"{model}_right_share_5_repeats"],
                        part[f"{model}_p_label_mean"],
                        strict=True,
                    )
                ]
                for model in CLASSIFIER_MODELS
            },
        }
    )


def discordant_donors_table(per_sample: pd.DataFrame) -> pd.DataFrame:
    """Donors whose samples carry different published subtypes, with each sample's stability.

    A donor's minority samples are those whose published subtype is not the donor's most
    frequent one; on a tie every sample counts as minority (no subtype is the donor's).
    """
    rows = []
    for donor, part in per_sample.groupby("subject", sort=True):
        if part["published_subtype"].nunique() < 2:
            continue
        frequency = part["published_subtype"].value_counts()
        tie = (frequency == frequency.max()).sum() > 1
        majority = None if tie else frequency.idxmax()
        minority = part[part["published_subtype"] != majority] if majority else part
        rows.append(
            {
                "donor": donor,
                "samples: region, published, stability, genes_te call r0": "; ".join(
                    f"{r['region'].replace('Motor Cortex ', 'Motor ').replace('Frontal Cortex', 'Frontal')}"
                    f" {SHORT[r['published_subtype']]} {r['label_stability']:.2f}"
                    f" {SHORT.get(r['genes_te_call_repeat0'], r['genes_te_call_repeat0'])}"
                    for _, r in part.iterrows()
                ),
                "minority samples": len(minority),
                "minority stability (min)": f"{minority['label_stability'].min():.2f}",
                "minority all < 0.9": bool((minority["label_stability"] < STABLE_SHARE).all()),
                "any sample < 0.9": bool((part["label_stability"] < STABLE_SHARE).any()),
                "majority stability (min)": (
                    "-"
                    if majority is None
                    else f"{part.loc[part['published_subtype'] == majority, 'label_stability'].min():.2f}"
                ),
            }
        )
    return pd.DataFrame(rows)


def report(
    per_sample: pd.DataFrame,
    runs: pd.DataFrame,
    *,
    donor_share: float,
) -> None:
    """Write :data:`OUT` from the per-sample table and the runs table."""
    reruns = int(runs["run"].str.startswith("rerun_").sum())
    total_seconds = float(runs.loc[runs["run"] == "total", "seconds"].iloc[0])
    published = per_sample["published_subtype"]
    stability = per_sample["label_stability"]
    full = runs[runs["run"] == "full"].iloc[0]
    rerun_ba = runs[runs["run"].str.startswith("rerun_")]["ba"]
    variants = runs[runs["run"] == "variant"]
    n_unstable = int((stability < STABLE_SHARE).sum())
    lines = [
        "# Published subtype labels: how well the published clustering reproduces them",
        "",
        "Generated by `OPENBLAS_NUM_THREADS=1 python bench/subtype_label_stability.py "
        f"--reruns {reruns}` (one core"
        + f", {total_seconds / 60:.1f} min"
        + f"; Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"SciPy {scipy.__version__}). Inputs: the 148 ALS samples of GSE124439 with the published "
        "Tam et al. 2019 labels (Table S1A, `GSE124439_tam2019_subtypes.tsv.gz`), their TEcount gene "
        "and TE counts, and the shipped classifier's outer-fold results "
        "(`bench/results/subtypes_per_sample.tsv`, `resources/subtypes/cv_predictions.tsv`; read "
        "only). Per sample: `bench/results/subtype_label_stability_per_sample.tsv`; per run: "
        "`bench/results/subtype_label_stability_runs.tsv`. Nothing shipped was changed or refitted. "
        "Molecular subtypes associated with resistance biology; nothing here predicts any "
        "patient's drug response.",
        "",
        "## 1. What Tam et al. 2019 did: found and assumed",
        "",
        "Found (sources read for this bench):",
        "",
        "- The paper's summary (Cell Reports 29:1164, 2019; abstract on cell.com, PubMed and "
        "eScholarship): 148 ALS postmortem cortex transcriptomes were stratified by machine "
        "learning into three subtypes, 61 % / 19 % / 20 % (Ox / Glia / TE). Table S1A gives one "
        "subtype per sample (the labels used here; shares 91 / 28 / 29).",
        "- The SAKE tool (github.com/naikai/sake; Single-cell RNA-Seq Analysis and Klustering "
        "Evaluation, Hammell lab): features ranked by median absolute deviation (MAD; its "
        "vignette suggests the top 1,500-3,000 for bulk RNA-seq, its app's default is 3,000); "
        "normalisation (RPM, DESeq size factors, upper quartile, none) and transformation (VST, "
        "log, none) are options, both `none` by default; NMF through the R NMF package with the "
        "`brunet` algorithm (Kullback-Leibler multiplicative updates) by default, rank 3 by "
        "default, 50-100 runs recommended, seed 123211, maxIter 5000 (`R/nmf_utils.R`); samples "
        'assigned either from the consensus matrix (`predict(what = "consensus")`, the default '
        "of `nmf_extract_group`) or by each sample's largest loading.",
        "- Eshima et al. 2023 (Nat Commun 14:95) thank Tam and Hammell for correspondence on the "
        "clustering and thank SAKE's author for help with SAKE: consistent with SAKE being the "
        "tool, no further parameters.",
        "",
        "Not found (the STAR Methods text was not in the sources available here), hence "
        "**assumed**: which features (here genes and TE subfamilies together, as TEtranscripts "
        "counts them and as one subtype is defined by TE expression), the normalisation and "
        "transformation, how many MAD-ranked features, the number of NMF runs, and whether "
        "samples were assigned by consensus or by largest loading (here: consensus). The "
        "reproduction used below (`" + PROCEDURE.describe() + "`) is the genes + TE variant of "
        "the small grid in table 2a that agrees best with the published labels (genes only "
        "agrees about as well). It is therefore fitted to the labels once: an upper-end reading "
        "of how well *a* SAKE-style clustering reproduces them, not the published code. An "
        "exploration before this run (not repeated by the script) tried more features (8,000) "
        "with similar agreement; 5,000 was kept for the time box.",
        "",
        "## 2. Reproduction on all 148 samples",
        "",
        "Clusters named by best overlap with the published labels (Hungarian assignment on the "
        "clusters x subtypes table). BA = mean over subtypes of the share of its samples that "
        "land in it.",
        "",
        "### 2a. Variants (one run each, 10 NMF starts, seeds 123211 + i)",
        "",
    ]
    variant_frame = pd.DataFrame(
        {
            "procedure": variants["procedure"],
            "BA vs published": variants["ba"].map("{:.3f}".format),
            "cluster sizes as Ox/Glia/TE (published 91/28/29)": variants["sizes"],
            "seconds": variants["seconds"].map("{:.0f}".format),
        }
    )
    lines += markdown_table(variant_frame)
    lines += [
        "",
        f"### 2b. The reproduction used below ({full['procedure']}; seeds 123211 + i)",
        "",
        f"BA {full['ba']:.3f}; cluster sizes as Ox/Glia/TE {full['sizes']} (published "
        f"91/28/29); {int((per_sample['full_run_call'] == published).sum())} of "
        f"{len(published)} samples land in their published subtype.",
        "",
    ]
    lines += confusion_lines(published, per_sample["full_run_call"])
    lines += [
        "",
        "## 3. Label stability under perturbed reruns",
        "",
        f"{reruns} reruns, each on all samples of a random {donor_share:.0%} of the 77 donors "
        f"(seeded draw), with {RERUN_STARTS} fresh NMF starts (feature choice redone on its "
        "samples), each named by overlap with the published labels of its own samples. A "
        "sample's label stability = share of the reruns that include it in which it lands in "
        f"its published subtype (each sample is in {int(per_sample['n_reruns_including'].min())}"
        f"-{int(per_sample['n_reruns_including'].max())} reruns).",
        "",
        f"**BA of the reruns against the published labels** (how well the published method "
        f"reproduces its own labels): median {rerun_ba.median():.3f}, 2.5-97.5 % "
        f"{rerun_ba.quantile(0.025):.3f}-{rerun_ba.quantile(0.975):.3f}, range "
        f"{rerun_ba.min():.3f}-{rerun_ba.max():.3f}.",
        "",
    ]
    bands = [(0.9, 1.01, ">= 0.9"), (0.5, 0.9, "0.5-0.9"), (0.0, 0.5, "< 0.5")]
    band_rows = []
    for low, high, name in bands:
        mask = (stability >= low) & (stability < high)
        band_rows.append(
            {
                "label stability": name,
                "samples": int(mask.sum()),
                **{SHORT[s]: int((mask & (published == s)).sum()) for s in CLASSES},
            }
        )
    lines += markdown_table(pd.DataFrame(band_rows))
    lines += [
        "",
        f"{n_unstable} of {len(stability)} labels are unstable (< {STABLE_SHARE}); median "
        f"stability {stability.median():.2f}. Median stability by published subtype: "
        + ", ".join(f"{SHORT[s]} {stability[published == s].median():.2f}" for s in CLASSES)
        + ".",
        "",
        "## 4. The classifier's outer-fold results beside label stability",
        "",
        "### 4a. Spearman correlation with label stability (148 samples)",
        "",
    ]
    rho_rows = []
    for model in CLASSIFIER_MODELS:
        for column, name in (
            (f"{model}_p_label_mean", "mean outer-fold probability of the label (5 repeats)"),
            (f"{model}_right_share_5_repeats", "share of 5 repeats called right"),
        ):
            result = spearmanr(stability, per_sample[column])
            rho_rows.append(
                {
                    "model": model,
                    "classifier value": name,
                    "Spearman rho": f"{result.statistic:.2f}",
                    "p": f"{result.pvalue:.1g}",
                }
            )
    lines += markdown_table(pd.DataFrame(rho_rows))
    lines += [
        "",
        "### 4b. The classifier's BA among stable and unstable labels",
        "",
        "Repeat 0 of the nested CV, abstentions (`unassigned`, `out_of_reference`) counted as "
        "errors (`as shipped`) or replaced by the class of highest outer-fold probability "
        "(`no abstention`); 95 % donor-bootstrap intervals (1,000 draws).",
        "",
    ]
    lines += markdown_table(classifier_ba_by_stability(per_sample))
    errors = errors_table(per_sample)
    lines += [
        "",
        f"### 4c. Every sample either model gets wrong in repeat 0 ({len(errors)}), by label "
        "stability",
        "",
        "`call r0 (argmax)`: the repeat-0 call as shipped, and in brackets the class of highest "
        "probability; `right / 5`: repeats called right; `p(label)`: mean outer-fold "
        "probability of the published label.",
        "",
    ]
    lines += markdown_table(errors)
    donors = discordant_donors_table(per_sample)
    multi = per_sample.groupby("subject").size()
    lines += [
        "",
        "## 5. Donors whose samples carry different published subtypes",
        "",
        f"{int((multi > 1).sum())} donors have several samples; {len(donors)} of them carry "
        "different published subtypes. Minority samples: those not in the donor's most frequent "
        "subtype (a tie: all samples). Per sample: region, published subtype, label stability, "
        "genes_te repeat-0 call.",
        "",
    ]
    lines += markdown_table(donors)
    in_mixed = per_sample["subject"].isin(donors["donor"])
    lines += [
        "",
        f"In {int(donors['minority all < 0.9'].sum())} of {len(donors)} such donors every "
        f"minority sample has an unstable label; in {int(donors['any sample < 0.9'].sum())} at "
        "least one of the donor's samples (minority or majority) has. Median label stability: "
        f"{stability[in_mixed].median():.2f} in the {int(in_mixed.sum())} samples of these "
        f"donors, {stability[~in_mixed].median():.2f} in the other {int((~in_mixed).sum())}.",
        "",
        "## 6. Reading",
        "",
        *reading_lines(per_sample, runs),
        "",
    ]
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}", flush=True)


def reading_lines(per_sample: pd.DataFrame, runs: pd.DataFrame) -> list[str]:
    """Return the report's reading, its numbers taken from the two tables."""
    published = per_sample["published_subtype"]
    stability = per_sample["label_stability"]
    stable = stability >= STABLE_SHARE
    full = runs[runs["run"] == "full"].iloc[0]
    rerun_ba = runs[runs["run"].str.startswith("rerun_")]["ba"]
    wrong = np.zeros(len(per_sample), dtype=bool)
    for model in CLASSIFIER_MODELS:
        wrong |= (per_sample[f"{model}_call_repeat0"] != published).to_numpy()
    errors = per_sample[wrong]
    low = errors[errors["label_stability"] < 0.5]
    agrees = low["genes_te_argmax_call_repeat0"] == low["rerun_majority_call"]
    stable_errors = errors[errors["label_stability"] >= STABLE_SHARE]
    ox_in_te = int(((published == "ALS-Ox") & (per_sample["full_run_call"] == "ALS-TE")).sum())
    rho = spearmanr(stability, per_sample["genes_te_p_label_mean"]).statistic
    donors = discordant_donors_table(per_sample)
    in_mixed = per_sample["subject"].isin(donors["donor"])
    majority_unstable = int(
        pd.to_numeric(donors["majority stability (min)"], errors="coerce").lt(STABLE_SHARE).sum()
    )
    medians = {s: stability[published == s].median() for s in CLASSES}
    most, least = max(medians, key=medians.__getitem__), min(medians, key=medians.__getitem__)
    n_including = per_sample["n_reruns_including"]
    noise = float(np.sqrt(0.25 / n_including.min()))
    return [
        "What this shows:",
        "",
        f"- **The published labels are not all reproducible by the method that made them, as "
        f"far as it can be re-implemented here.** One full run agrees with them at BA "
        f"{full['ba']:.2f}; reruns on 80 % of the donors at a median BA {rerun_ba.median():.2f} "
        f"(2.5-97.5 % {rerun_ba.quantile(0.025):.2f}-{rerun_ba.quantile(0.975):.2f}). Only "
        f"{int(stable.sum())} of {len(stability)} labels are stable (>= {STABLE_SHARE}). "
        f"{SHORT[most]} labels are the most reproducible (median stability "
        f"{medians[most]:.2f}), {SHORT[least]} the least ({medians[least]:.2f}).",
        f"- **The classifier's disagreements with the labels sit mostly where the labels "
        f"themselves are unstable.** Its outer-fold probability of the label rises with label "
        f"stability (Spearman {rho:.2f}, genes_te); its repeat-0 BA is "
        f"{balanced_accuracy(published[stable], per_sample.loc[stable, 'genes_te_call_repeat0']):.2f}"
        f" on the {int(stable.sum())} stable labels and "
        f"{balanced_accuracy(published[~stable], per_sample.loc[~stable, 'genes_te_call_repeat0']):.2f}"
        f" on the {int((~stable).sum())} unstable ones (genes_te, abstentions as errors). Of "
        f"its {len(errors)} repeat-0 errors (either model), {len(low)} have a label stability "
        f"below 0.5, and for {int(agrees.sum())} of those the genes_te model's most probable "
        "class is the subtype the reruns put the sample in most often: there the classifier "
        "and the re-run clustering agree with each other against the published label.",
        f"- **Some errors are the classifier's own.** {len(stable_errors)} of the "
        f"{len(errors)} errors have a stable label ("
        + ", ".join(
            f"{i}: {SHORT[r['published_subtype']]} {r['label_stability']:.2f}"
            for i, r in stable_errors.iterrows()
        )
        + "); label noise does not explain them.",
        f"- **Donors with mixed published subtypes** are not simply boundary cases: in "
        f"{int(donors['any sample < 0.9'].sum())} of {len(donors)} some sample is unstable, but "
        f"every minority sample is unstable in only {int(donors['minority all < 0.9'].sum())}, "
        f"while a majority-subtype sample is unstable in {majority_unstable} (table 5); their "
        f"samples' median stability is {stability[in_mixed].median():.2f} against "
        f"{stability[~in_mixed].median():.2f} for the other donors. Samples of one donor from "
        "different regions can simply differ in subtype.",
        "",
        "What this does not show:",
        "",
        "- **It is not the published code.** The STAR Methods parameters were not found; the "
        "reproduction was picked as the grid variant closest to the labels. Its clusters are "
        f"not the published ones: it puts {ox_in_te} published Ox samples in its TE cluster "
        "(table 2b), so a low stability of an Ox label partly measures this approximation, "
        "not the published clustering. Stability here is a ranking of how reproducible each "
        "label is under an approximation of the method, not a verdict on any sample.",
        "- **It does not say the classifier is right where it disagrees**, nor does it give a "
        "corrected BA: no label was changed and the project does not re-score or re-tune the "
        "model on these folds. The rerun BA is unsupervised clustering against the labels and "
        "is no ceiling for a supervised classifier trained on them (which scores higher).",
        "- **Reruns are noisier than the full run** (5 NMF starts instead of 50, 80 % of the "
        "donors), so some instability is the rerun's own; a per-sample value from "
        f"{int(n_including.min())}-{int(n_including.max())} reruns has a binomial standard "
        f"error of up to {noise:.2f}.",
        "- Nothing here concerns drug response: the subtypes are molecular subtypes associated "
        "with resistance biology.",
    ]


def main() -> None:
    """Parse the command line and run the bench or re-render its report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder")
    parser.add_argument("--reruns", type=int, default=100, help="perturbed reruns")
    parser.add_argument("--donor-share", type=float, default=0.8, help="donors per rerun")
    parser.add_argument(
        "--report", action="store_true", help="re-render the markdown from the two TSVs"
    )
    args = parser.parse_args()
    if args.report:
        per_sample = pd.read_csv(PER_SAMPLE, sep="\t", index_col=0)
        report(per_sample, pd.read_csv(RUNS, sep="\t"), donor_share=args.donor_share)
        return
    with threadpool_limits(1):
        compute(args.data, args.reruns, args.donor_share)


if __name__ == "__main__":
    main()
