"""One toy cohort for tests, examples and benchmarks: negative-binomial counts with planted truth.

Every simulator of the test suite builds on :func:`toy_cohort` (as decoupler's ``dc.ds.toy``):
donors with one or more samples (regions), a per-gene donor effect whose size varies across
genes (so within-donor correlation varies by gene, as in postmortem tissue), a planted condition
effect on a known share of genes, an optional cell-type mix that shifts marker genes, optional
disease programmes (molecular states) and sex-chromosome genes that follow the reported sex.
The truth travels with the data: ``var["true_log2fc"]``, ``var["is_de"]``, ``var["donor_sd"]``,
``var["marker_of"]``, ``var["programme"]``, ``obs["true_state"]`` and ``obs["true_<cell type>"]``.

Examples
--------
>>> from alsig.toy import toy_cohort
>>> adata = toy_cohort(n_donors=(6, 6), regions=("frontal", "motor"), n_genes=300, seed=1)
>>> adata.shape
(24, 300)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd

#: genes of the sex check (XIST up in females; chrY genes in males)
SEX_GENES = ("XIST", "RPS4Y1", "DDX3Y", "KDM5D", "UTY", "EIF1AY", "USP9Y", "ZFY")


def toy_cohort(
    n_donors: tuple[int, int] = (8, 8),
    regions: Sequence[str] = ("cortex",),
    n_genes: int = 500,
    *,
    seed: int = 0,
    de_fraction: float = 0.0,
    de_log2fc: float = 1.0,
    planted_log2fc: Mapping[str, float] | None = None,
    donor_sd: float = 0.0,
    donor_sd_spread: float = 1.0,
    region_log2fc: float = 0.0,
    dispersion: tuple[float, float] = (0.05, 1.0),
    mean_log: tuple[float, float] = (4.0, 1.5),
    size_factor_range: tuple[float, float] = (0.7, 1.4),
    cell_types: Mapping[str, int] | None = None,
    cell_mix_sd: float = 0.0,
    cell_mix_condition_shift: Mapping[str, float] | None = None,
    programmes: Mapping[str, int] | None = None,
    programme_log2fc: float = 1.5,
    sex_genes: bool = False,
    batches: int = 1,
    gene_names: Sequence[str] | None = None,
) -> ad.AnnData:
    """Return a simulated cohort with its planted truth.

    Counts in ``X`` (int32, samples x genes).

    Parameters
    ----------
    n_donors
        Donors with the disease (condition ``ALS``) and controls (``control``).
    regions
        One sample per donor and region; several regions give repeated donors.
    n_genes
        Genes, including markers, programme genes and sex genes.
    seed
        Seed of :func:`numpy.random.default_rng`; the same arguments give the same cohort.
    de_fraction
        Share of genes with a planted ALS-vs-control effect (half up, half down).
    de_log2fc
        Size of that effect in log2 units.
    planted_log2fc
        ALS-vs-control log2 fold changes of named genes (``{"G00001": 1.5}``), on top of the
        random ones of ``de_fraction`` (a named gene drawn there takes the named value).
    donor_sd
        Mean standard deviation (natural-log scale) of a donor's random effect per gene; 0 makes
        the samples of a donor independent.
    donor_sd_spread
        Shape of the gamma distribution the per-gene donor SD is drawn from (mean ``donor_sd``):
        small values make a few genes highly donor-correlated and most nearly not.
    region_log2fc
        SD of the per-gene region effects (log2), so regions differ as tissue does.
    dispersion
        ``(asymptotic, extra-Poisson)``: a gene of mean ``m`` has NB dispersion ``a + b / m``.
    mean_log
        Mean and SD of the log of the genes' base means.
    size_factor_range
        Uniform range of the samples' size factors.
    cell_types
        Marker genes per cell type (``{"neurons": 20, ...}``), named ``<TYPE>_M<i>`` unless
        ``gene_names`` names them. A sample's relative abundance of each type is log-normal
        around 1 with SD ``cell_mix_sd``; its markers scale with it.
    cell_mix_sd
        SD (natural log) of the cell-type abundances across samples.
    cell_mix_condition_shift
        Log2 shift of a type's abundance in ALS samples (``{"neurons": -0.5}``): a composition
        difference that moves every marker of that type.
    programmes
        Genes per disease programme (``{"ALS-Ox": 30, ...}``); each ALS donor is assigned one
        programme (round robin) whose genes go up by ``programme_log2fc`` in all its samples.
    programme_log2fc
        Size of the programme effect in log2 units.
    sex_genes
        Add :data:`SEX_GENES` with counts that follow the donor's sex (``obs["sex"]``).
    batches
        Sequencing batches assigned to donors round robin (``obs["batch"]``), with no effect.
    gene_names
        Names of the first genes (markers come first, then programme genes, then the rest).

    Returns
    -------
    AnnData
        ``obs``: ``condition``, ``subject``, ``region``, ``sex``, ``batch``, ``true_state``,
        ``true_<type>``; ``var``: ``gene_id``, ``symbol``, ``chromosome``, ``expressed``,
        ``true_log2fc``, ``is_de``, ``donor_sd``, ``marker_of``, ``programme``.
    """
    rng = np.random.default_rng(seed)
    n_als, n_control = n_donors
    donors = [f"D{i:03d}" for i in range(n_als + n_control)]
    condition_of = dict(zip(donors, ["ALS"] * n_als + ["control"] * n_control, strict=True))
    sex_of = {d: ("female", "male")[i % 2] for i, d in enumerate(donors)}
    batch_of = {d: f"B{i % max(batches, 1)}" for i, d in enumerate(donors)}
    programme_names = list(programmes or {})
    state_of = {
        d: (programme_names[i % len(programme_names)] if programme_names else "none")
        for i, d in enumerate(donors[:n_als])
    }
    obs = pd.DataFrame(
        [
            {
                "condition": condition_of[d],
                "subject": d,
                "region": region,
                "sex": sex_of[d],
                "batch": batch_of[d],
                "true_state": state_of.get(d, "control"),
            }
            for d in donors
            for region in regions
        ],
        index=[f"{d}_{r}" for d in donors for r in regions],
    )
    n_samples = len(obs)

    labels, marker_of, programme_of = _gene_roles(n_genes, cell_types, programmes, sex_genes)
    names = list(gene_names or []) + labels[len(gene_names or []) :]
    means = np.exp(rng.normal(mean_log[0], mean_log[1], n_genes))
    log_mu = np.log(means)[None, :] + np.log(rng.uniform(*size_factor_range, n_samples))[:, None]

    true_lfc = np.zeros(n_genes)
    candidates = np.flatnonzero((marker_of == "") & (programme_of == "") & ~_is_sex(names))
    n_de = int(round(de_fraction * n_genes))
    de_genes = rng.choice(candidates, size=min(n_de, len(candidates)), replace=False)
    true_lfc[de_genes] = np.where(np.arange(len(de_genes)) % 2 == 0, de_log2fc, -de_log2fc)
    for gene, log2fc in (planted_log2fc or {}).items():
        true_lfc[names.index(gene)] = log2fc
    is_als = (obs["condition"] == "ALS").to_numpy()
    log_mu += np.outer(is_als, true_lfc * np.log(2))

    gene_donor_sd = np.zeros(n_genes)
    if donor_sd > 0:
        gene_donor_sd = rng.gamma(donor_sd_spread, donor_sd / donor_sd_spread, n_genes)
        donor_index = pd.Categorical(obs["subject"], categories=donors).codes
        effects = rng.normal(size=(len(donors), n_genes)) * gene_donor_sd[None, :]
        log_mu += effects[donor_index]
    if region_log2fc > 0 and len(regions) > 1:
        region_effect = rng.normal(0, region_log2fc * np.log(2), (len(regions), n_genes))
        log_mu += region_effect[pd.Categorical(obs["region"], categories=list(regions)).codes]

    for cell_type in cell_types or {}:
        shift = (cell_mix_condition_shift or {}).get(cell_type, 0.0) * np.log(2)
        abundance = rng.normal(0, cell_mix_sd, n_samples) + shift * is_als
        obs[f"true_{cell_type}"] = np.exp(abundance)
        log_mu[:, marker_of == cell_type] += abundance[:, None]
    for name in programme_names:
        in_state = (obs["true_state"] == name).to_numpy()
        log_mu[np.ix_(in_state, programme_of == name)] += programme_log2fc * np.log(2)

    mu = np.exp(log_mu)
    size = 1.0 / (dispersion[0] + dispersion[1] / means)
    counts = rng.negative_binomial(size[None, :], size[None, :] / (size[None, :] + mu))
    if sex_genes:
        counts[:, _is_sex(names)] = _sex_counts(rng, obs["sex"].to_numpy(), mu.mean(axis=1))

    var = pd.DataFrame(
        {
            "gene_id": [str(100000 + i) for i in range(n_genes)],
            "symbol": names,
            "chromosome": np.where(_is_sex(names), "Y", "1"),
            "expressed": True,
            "true_log2fc": true_lfc,
            "is_de": true_lfc != 0,
            "donor_sd": gene_donor_sd,
            "marker_of": marker_of,
            "programme": programme_of,
        },
        index=pd.Index(names, name=None),
    )
    var.loc[var.index == "XIST", "chromosome"] = "X"
    return ad.AnnData(X=counts.astype(np.int32), obs=obs, var=var)


def _gene_roles(
    n_genes: int,
    cell_types: Mapping[str, int] | None,
    programmes: Mapping[str, int] | None,
    sex_genes: bool,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    labels: list[str] = []
    marker_of: list[str] = []
    programme_of: list[str] = []
    for cell_type, n in (cell_types or {}).items():
        labels += [f"{cell_type.upper()}_M{i}" for i in range(n)]
        marker_of += [cell_type] * n
        programme_of += [""] * n
    for name, n in (programmes or {}).items():
        labels += [f"{name.upper().replace('-', '_')}_P{i}" for i in range(n)]
        marker_of += [""] * n
        programme_of += [name] * n
    n_sex = len(SEX_GENES) if sex_genes else 0
    n_plain = n_genes - len(labels) - n_sex
    if n_plain < 0:
        raise ValueError(f"n_genes={n_genes} is fewer than the marker, programme and sex genes")
    labels += [f"G{i:05d}" for i in range(n_plain)] + list(SEX_GENES[:n_sex])
    marker_of += [""] * (n_plain + n_sex)
    programme_of += [""] * (n_plain + n_sex)
    return labels, np.array(marker_of, dtype=object), np.array(programme_of, dtype=object)


def _is_sex(names: Sequence[str]) -> np.ndarray:
    return np.isin(np.asarray(names, dtype=object), SEX_GENES)


def _sex_counts(rng: np.random.Generator, sex: np.ndarray, depth: np.ndarray) -> np.ndarray:
    scale = depth / depth.mean()
    female = sex == "female"
    xist = np.where(female, rng.poisson(2000 * scale), rng.poisson(3 * scale))
    chr_y = np.where(
        female[:, None],
        rng.poisson(np.outer(scale, np.ones(len(SEX_GENES) - 1))),
        rng.poisson(np.outer(400 * scale, np.ones(len(SEX_GENES) - 1))),
    )
    return np.column_stack([xist, chr_y])
