"""One typed, frozen settings object per stage, built from the resolved config section.

The config schema (``workflow/schemas/config.schema.yaml``) is the one source of every key and
default; :mod:`alsig.settings.schema` merges a dataset's section over the top-level one and fills
in the defaults. :func:`from_mapping` turns that resolved mapping into the stage's dataclass, so
code below a job reads ``settings.permutations``, never ``settings["permutations"]``, and never
restates a default. Every key is documented in ``config/README.md``; ``tests/unit/test_settings.py``
holds each dataclass's fields equal to its schema section's keys.

Everything here is standard library: the workflow's planning builds these objects at parse time.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from alsig.errors import AlsigError

#: a sample subset: ``((column, (value, ...)), ...)`` (hashable, in config order)
Subset = tuple[tuple[str, tuple[str, ...]], ...]


def _subset(value: Mapping[str, Any] | None) -> Subset:
    return tuple((str(k), tuple(str(v) for v in values)) for k, values in (value or {}).items())


@dataclass(frozen=True)
class Contrast:
    """One DE contrast: ``factor``'s ``test`` level against its ``reference`` level.

    Attributes
    ----------
    name : str
        The contrast's name (a key of ``de.contrasts``; file names use it).
    factor : str
        The sample column compared (``condition``).
    test, reference : str
        The two levels (``ALS`` vs ``control``).
    design : str or None
        The contrast's own design formula (None: ``de.design``).
    subset : tuple
        ``((column, (value, ...)), ...)``: only samples whose column holds one of the values
        are fitted (empty: every sample).
    """

    name: str
    factor: str
    test: str
    reference: str
    design: str | None = None
    subset: Subset = ()

    @property
    def spec(self) -> tuple[str, str, str]:
        """``(factor, test, reference)``, pydeseq2's contrast."""
        return (self.factor, self.test, self.reference)

    @classmethod
    def from_config(cls, name: str, value: Any) -> Contrast:
        """Return the contrast of one ``de.contrasts`` entry.

        Parameters
        ----------
        name
            The entry's key.
        value
            ``[factor, test, reference]`` or ``{contrast: [...], design: ..., subset: {...}}``.

        Returns
        -------
        Contrast
        """
        if isinstance(value, Mapping):
            factor, test, reference = (str(v) for v in value["contrast"])
            design = value.get("design")
            return cls(
                str(name),
                factor,
                test,
                reference,
                None if design is None else str(design),
                _subset(value.get("subset")),
            )
        factor, test, reference = (str(v) for v in value)
        return cls(str(name), factor, test, reference)

    def as_config(self) -> list[str] | dict[str, Any]:
        """Return the ``de.contrasts`` entry of this contrast (the list form when it can).

        Returns
        -------
        list or dict
            ``[factor, test, reference]``, or ``{contrast, design, subset}``.
        """
        if self.design is None and not self.subset:
            return list(self.spec)
        out: dict[str, Any] = {"contrast": list(self.spec)}
        if self.design is not None:
            out["design"] = self.design
        if self.subset:
            out["subset"] = {column: list(values) for column, values in self.subset}
        return out


@dataclass(frozen=True)
class DeTest:
    """A likelihood-ratio test of a reduced design (``de.tests`` entry).

    With repeated donors (``de.repeated_subjects``) the same entry is the mixed model's moderated
    F test of the coefficients the reduced design drops.

    Attributes
    ----------
    name : str
        The test's name (a key of ``de.tests``; file names use it).
    test : str
        ``lrt``.
    reduced : str
        The reduced design formula, nested in the full one.
    design : str or None
        The full design (None: ``de.design``).
    coefficient : str or None
        Full-design column whose log2 fold change (MLE) the table reports (None: none).
    subset : tuple
        As :attr:`Contrast.subset`.
    """

    name: str
    test: str
    reduced: str
    design: str | None = None
    coefficient: str | None = None
    subset: Subset = ()

    @classmethod
    def from_config(cls, name: str, value: Mapping[str, Any]) -> DeTest:
        """Return the test of one ``de.tests`` entry.

        Parameters
        ----------
        name
            The entry's key.
        value
            ``{test: lrt, reduced: ..., design: ..., coefficient: ..., subset: {...}}``.

        Returns
        -------
        DeTest
        """
        design, coefficient = value.get("design"), value.get("coefficient")
        return cls(
            str(name),
            str(value["test"]),
            str(value["reduced"]),
            None if design is None else str(design),
            None if coefficient is None else str(coefficient),
            _subset(value.get("subset")),
        )

    def as_config(self) -> dict[str, Any]:
        """Return the ``de.tests`` entry of this test.

        Returns
        -------
        dict
            ``{test, reduced}`` and the optional keys that are set.
        """
        out: dict[str, Any] = {"test": self.test, "reduced": self.reduced}
        if self.design is not None:
            out["design"] = self.design
        if self.coefficient is not None:
            out["coefficient"] = self.coefficient
        if self.subset:
            out["subset"] = {column: list(values) for column, values in self.subset}
        return out


@dataclass(frozen=True)
class ExtraGmt:
    """A user's gene-set collection (``enrich.extra_gmt`` item).

    Attributes
    ----------
    id : str
        The collection id (file names use it).
    path : str
        The GMT file, relative to the working directory.
    """

    id: str
    path: str


@dataclass(frozen=True)
class QcSettings:
    """Sample and gene QC (``qc:``).

    Attributes
    ----------
    group_column : str
        Sample column whose smallest group sets ``filterByExpr``'s sample count.
    min_count, min_total_count : float
        ``filterByExpr``'s count thresholds.
    large_n : int
        Group size above which ``min_prop`` applies.
    min_prop : float
        Share of a large group that must reach ``min_count``.
    outlier_nmads : float
        Scaled MADs beyond which a metric or the PCA isolation flags a sample.
    mito_min_pct : float
        % mitochondrial reads below which a sample is never flagged for them.
    pca_n_genes : int
        Most variable genes of the QC PCA.
    pca_components : int
        PCs of the isolation distance.
    exclude_outliers : bool
        Remove flagged outliers (else only flag them).
    sex_mismatch : str
        ``exclude``, ``use_inferred`` or ``keep``: what a sex-label mismatch does.
    pca_exclude_sex_chromosomes : bool
        Leave chrX/chrY genes out of the QC PCA.
    sex_check : bool
        Infer sex from XIST and the Y genes.
    collapse_by : str or None
        Sample column whose samples are summed into one (technical replicates).
    vst_n_genes : int
        Genes of the VST's dispersion fit (0: all).
    pca_colour_by : tuple of str
        Sample columns the PCA figure colours by.
    """

    group_column: str
    min_count: float
    min_total_count: float
    large_n: int
    min_prop: float
    outlier_nmads: float
    mito_min_pct: float
    pca_n_genes: int
    pca_components: int
    exclude_outliers: bool
    sex_mismatch: str
    pca_exclude_sex_chromosomes: bool
    sex_check: bool
    collapse_by: str | None
    vst_n_genes: int
    pca_colour_by: tuple[str, ...]


@dataclass(frozen=True)
class DeSettings:
    """Differential expression (``de:``): the DESeq2 model, or voom + a donor random effect.

    Attributes
    ----------
    design : str
        The design formula (``~ sex + condition``).
    contrasts : tuple of Contrast
        The contrasts (one DE job per dataset writes them all).
    tests : tuple of DeTest
        Likelihood-ratio tests of reduced designs (moderated F tests with repeated donors).
    engine : str
        ``alsig`` (the gene-batched engine) or ``pydeseq2``: the implementation of the DESeq2
        model.
    repeated_subjects : str
        ``auto``, ``dream``, ``dupcor`` or ``ignore``: the model when a subject has several
        fitted samples (``dupcor`` is refused at the config check; see config/README.md).
    adjust_cell_mix : bool
        Add cell-mix covariates (BRETIGEA marker indices) to every design.
    alpha : float
        Significance level of the summary and of independent filtering.
    lfc_shrink, cooks_filter, independent_filter, refit_cooks : bool
        DESeq2's steps of the same names.
    min_samples_per_level : int
        Fewest samples a contrast level needs.
    missing_covariates : str
        ``error`` or ``drop``: samples with a missing design covariate.
    categorical : tuple of str
        Design variables always read as categorical (integer batch codes, numeric-looking
        levels), whatever their values look like.
    samples : str
        ``all`` samples in the fit, or only the ``contrast``'s two levels.
    genes : str
        ``expressed`` genes (QC's filter) or ``all``.
    null_permutations : int or str
        Label permutations between whole donors per contrast factor (the summary's ``null_*``
        columns): a count (0: none), or ``auto`` (:mod:`alsig.stages.de.null` decides from the
        fit's size).
    seed : int
        Seed of those permutations.
    """

    design: str
    contrasts: tuple[Contrast, ...]
    tests: tuple[DeTest, ...]
    engine: str
    repeated_subjects: str
    adjust_cell_mix: bool
    alpha: float
    lfc_shrink: bool
    cooks_filter: bool
    independent_filter: bool
    refit_cooks: bool
    min_samples_per_level: int
    missing_covariates: str
    categorical: tuple[str, ...]
    samples: str
    genes: str
    null_permutations: int | str
    seed: int

    def contrast(self, name: str) -> Contrast:
        """Return the contrast called ``name``.

        Parameters
        ----------
        name
            A contrast name (the rule's ``contrast`` wildcard).

        Returns
        -------
        Contrast
            Its factor and levels.

        Raises
        ------
        AlsigError
            When ``de.contrasts`` has no such contrast.
        """
        for contrast in self.contrasts:
            if contrast.name == name:
                return contrast
        names = sorted(c.name for c in self.contrasts)
        raise AlsigError(f"contrast '{name}' is not in de.contrasts ({names}).")

    def design_of(self, item: Contrast | DeTest) -> str:
        """Return the design a contrast or test is fitted with (its own, else ``de.design``).

        Parameters
        ----------
        item
            A contrast or test of these settings.

        Returns
        -------
        str
            The formula.
        """
        return item.design or self.design


@dataclass(frozen=True)
class EnrichSettings:
    """Pathway enrichment per contrast (``enrich:``).

    Attributes
    ----------
    collections : tuple of str
        Shipped collection ids (``resources/genesets/manifest.tsv``).
    extra_gmt : tuple of ExtraGmt
        The user's own collections.
    engine : str
        GSEA prerank engine: ``alsig`` (positions-based) or ``gseapy`` (the reference).
    permutations : int
        Random sets per gene set.
    multilevel : bool
        Multilevel p-values for the sets beyond every permutation.
    multilevel_eps : float
        Smallest p-value the multilevel estimate goes to.
    seed : int
        Seed of the permutations.
    min_size, max_size : int
        Set-size range among the tested genes.
    ora_padj : float
        padj below which a gene is up or down for over-representation.
    ora_min_abs_lfc : float
        |log2 fold change| a gene must exceed for over-representation.
    dotplot_top_n : int
        Terms per collection in the dot plot.
    """

    collections: tuple[str, ...]
    extra_gmt: tuple[ExtraGmt, ...]
    engine: str
    permutations: int
    multilevel: bool
    multilevel_eps: float
    seed: int
    min_size: int
    max_size: int
    ora_padj: float
    ora_min_abs_lfc: float
    dotplot_top_n: int


@dataclass(frozen=True)
class ScoreSettings:
    """Per-sample signature scores (``score:``).

    Attributes
    ----------
    methods : tuple of str
        ``singscore``, ``ssgsea``, ``singscore_adjusted`` (each once, in order).
    layer : str
        The AnnData layer scored (``vst``; ``X`` for the matrix itself).
    min_coverage : float
        Share of a signature's genes that must be measured for it to be scored.
    control_label, control_column : str
        Controls are the samples whose ``control_column`` is ``control_label``.
    extra_signatures : tuple of str
        The user's signature files (TSV or GMT).
    replace_signatures : bool
        Score only ``extra_signatures``.
    harmonise_symbols : bool
        Rename outdated signature symbols to current HGNC symbols.
    ssgsea_weight : float
        ssGSEA's weight exponent.
    chunk_size : int
        Samples ranked at a time.
    reference_by : tuple of str or None
        Sample columns whose strata get their own control reference (None: region when it has
        several levels).
    """

    methods: tuple[str, ...]
    layer: str
    min_coverage: float
    control_label: str
    control_column: str
    extra_signatures: tuple[str, ...]
    replace_signatures: bool
    harmonise_symbols: bool
    ssgsea_weight: float
    chunk_size: int
    reference_by: tuple[str, ...] | None


@dataclass(frozen=True)
class SubtypesSettings:
    """Subtype projection, molecular states and consensus NMF (``subtypes:``).

    Attributes
    ----------
    disease_label, control_label : str
        The condition labels of the disease samples and of the controls.
    model : str
        Reference model: ``auto`` (genes+TE when the TE counts cover it), ``genes``,
        ``genes_te``.
    reference_regions : tuple of str
        Regions the projection calls; a sample of another known region is
        ``out_of_reference``.
    min_probability : float or None
        Largest probability below which a sample is ``unassigned`` (None: the model's).
    enrich_collections : tuple of str
        Collections tested for each called subtype against the controls.
    discovery : bool
        Run the cohort's own consensus NMF.
    margin : float
        Lead (in control SDs) a state needs over the second to be called.
    min_score : float or None
        Score a called state must also reach (None: no such floor).
    nmf_min_samples : int
        Fewest disease samples for the NMF discovery view.
    nmf_features : int
        Most variable features the NMF uses.
    nmf_k_min, nmf_k_max : int
        Range of NMF ranks tried.
    nmf_restarts : int
        Seeded starts per rank.
    seed : int
        Seed of the NMF starts.
    """

    disease_label: str
    control_label: str
    model: str
    reference_regions: tuple[str, ...]
    min_probability: float | None
    enrich_collections: tuple[str, ...]
    discovery: bool
    margin: float
    min_score: float | None
    nmf_min_samples: int
    nmf_features: int
    nmf_k_min: int
    nmf_k_max: int
    nmf_restarts: int
    seed: int


#: Settings class of each stage section of the config.
STAGE_SETTINGS: dict[str, type] = {
    "qc": QcSettings,
    "de": DeSettings,
    "enrich": EnrichSettings,
    "score": ScoreSettings,
    "subtypes": SubtypesSettings,
}


def stage_of(settings_type: type) -> str:
    """Return the config section a settings class holds (``DeSettings`` -> ``de``).

    Parameters
    ----------
    settings_type
        One of :data:`STAGE_SETTINGS`.

    Returns
    -------
    str
        The stage.
    """
    return next(stage for stage, cls in STAGE_SETTINGS.items() if cls is settings_type)


#: The ``de:`` keys the axis tests read (design, contrasts and their covariate handling): their
#: rules pass only these, so a changed ``de.alpha`` or ``de.engine`` reruns the DE, not them.
AXIS_TEST_DE_KEYS = ("design", "contrasts", "categorical", "missing_covariates")

#: The ``de:`` keys only the DE job's permutation null reads: the rules that refit or reuse the
#: DE design without a null (the subtypes' DE, camera's residuals) pass the others, so a changed
#: ``de.null_permutations`` or ``de.seed`` reruns the DE job alone.
DE_NULL_KEYS = ("null_permutations", "seed")

StageSettings = TypeVar("StageSettings")


def from_mapping(cls: type[StageSettings], resolved: Mapping[str, Any]) -> StageSettings:
    """Build a stage's settings object from its resolved (merged, defaults filled) section.

    Parameters
    ----------
    cls
        One of :data:`STAGE_SETTINGS`.
    resolved
        What :func:`alsig.settings.schema.resolve_mapping` returns for the stage: every key of
        the schema section, checked.

    Returns
    -------
    StageSettings
        The frozen object; numbers, flags and lists take the field's type.

    Raises
    ------
    AlsigError
        A key the class does not know or a key it needs that is missing (a mapping that did not
        come from the schema).
    """
    assert dataclasses.is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(resolved) - set(names))
    missing = [name for name in names if name not in resolved]
    if unknown or missing:
        raise AlsigError(
            f"{cls.__name__}: settings keys not known {unknown}, missing {missing}; "
            "build settings with alsig.settings.resolve or alsig.settings.complete."
        )
    values = {name: _convert(name, resolved[name], hints[name]) for name in names}
    return cls(**values)


def de_settings_without_null(resolved: Mapping[str, Any]) -> DeSettings:
    """Return the ``de:`` settings of a job that runs no permutation null.

    Parameters
    ----------
    resolved
        The resolved ``de:`` mapping, with or without :data:`DE_NULL_KEYS`
        (:meth:`alsig.settings.RunSettings.de_params_without_null`).

    Returns
    -------
    DeSettings
        The settings with the null off (``null_permutations`` 0; ``seed`` 0, read by nothing
        then).
    """
    return from_mapping(DeSettings, {**resolved, "null_permutations": 0, "seed": 0})


def as_mapping(settings: Any) -> dict[str, Any]:
    """Return a settings object as plain JSON-ready values (for run records and summaries).

    Parameters
    ----------
    settings
        A settings object of :data:`STAGE_SETTINGS`.

    Returns
    -------
    dict
        Field name -> value; tuples become lists, a contrast its ``[factor, test, reference]``
        under its name, a user collection its ``{id, path}``.
    """
    out: dict[str, Any] = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if field.name in ("contrasts", "tests"):
            value = {c.name: c.as_config() for c in value}
        elif isinstance(value, tuple):
            value = [
                dataclasses.asdict(v)
                if dataclasses.is_dataclass(v) and not isinstance(v, type)
                else v
                for v in value
            ]
        out[field.name] = value
    return out


def _convert(name: str, value: Any, hint: Any) -> Any:
    """``value`` as the field's declared type (the schema already checked it)."""
    if name == "contrasts":
        return tuple(Contrast.from_config(k, spec) for k, spec in value.items())
    if name == "tests":
        return tuple(DeTest.from_config(k, spec) for k, spec in value.items())
    if name == "null_permutations":  # ``auto`` or a count (the schema checked which)
        return value if value == "auto" else int(value)
    if name == "extra_gmt":
        return tuple(ExtraGmt(str(item["id"]), str(item["path"])) for item in value)
    if name == "extra_signatures":  # a path, or {path: ...}
        return tuple(str(item["path"] if isinstance(item, Mapping) else item) for item in value)
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) and type(None) in args:
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
    if typing.get_origin(hint) is tuple:
        return tuple(str(v) for v in ([value] if isinstance(value, str) else value))
    return hint(value)
