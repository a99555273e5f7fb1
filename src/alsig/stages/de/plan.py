"""Which contrasts and tests of a dataset share one fit.

A fit is one design on one set of samples: contrasts and likelihood-ratio tests with the same
design formula and the same sample subset share it (``de.samples: all``, the default). The
Wald test of every such contrast is read from the fit, the LRT fits only its reduced design with
the fit's dispersions, so adding a contrast costs a test, not a model. With
``de.samples: contrast`` each contrast is fitted on its own two levels (contrasts comparing the
same two levels of a factor still share a fit); tests always fit all samples of their subset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alsig.settings import Contrast, DeSettings, DeTest
from alsig.settings.stages import Subset


@dataclass(frozen=True)
class FitGroup:
    """The contrasts and tests of one fit.

    Attributes
    ----------
    design : str
        The design formula.
    subset : tuple
        The sample subset (``((column, (value, ...)), ...)``; empty: every sample).
    levels : tuple or None
        ``de.samples: contrast``: the factor and the two levels whose samples are fitted.
    contrasts : tuple of Contrast
        Contrasts read from the fit.
    tests : tuple of DeTest
        Likelihood-ratio (or moderated F) tests of the fit.
    """

    design: str
    subset: Subset
    levels: tuple[str, frozenset[str]] | None
    contrasts: tuple[Contrast, ...]
    tests: tuple[DeTest, ...]

    @property
    def label(self) -> str:
        """Return how logs and summaries name the fit: design, subset and level selection."""
        parts = [f"design '{self.design}'"]
        if self.subset:
            parts.append("subset " + subset_text(self.subset))
        if self.levels is not None:
            factor, levels = self.levels
            parts.append(f"samples of {factor} {' / '.join(sorted(levels))}")
        return ", ".join(parts)

    @property
    def names(self) -> list[str]:
        """Return the names of the contrasts and tests, in that order."""
        return [c.name for c in self.contrasts] + [t.name for t in self.tests]


def subset_text(subset: Subset) -> str:
    """Return a subset as text (``region in [Frontal Cortex]``), or ``""`` for none.

    Parameters
    ----------
    subset
        ``((column, (value, ...)), ...)``.

    Returns
    -------
    str
        ``"; "``-joined conditions.
    """
    return "; ".join(f"{column} in [{', '.join(values)}]" for column, values in subset)


def fit_groups(
    settings: DeSettings,
    contrasts: Sequence[Contrast] | None = None,
    tests: Sequence[DeTest] | None = None,
) -> list[FitGroup]:
    """Group contrasts and tests into fits, in config order of each group's first member.

    Parameters
    ----------
    settings
        The dataset's ``de:`` settings (design, samples).
    contrasts, tests
        What to fit (default: all of ``settings``).

    Returns
    -------
    list of FitGroup
        One per distinct (design, subset, level selection).
    """
    contrasts = settings.contrasts if contrasts is None else contrasts
    tests = settings.tests if tests is None else tests
    members: dict[tuple, tuple[list[Contrast], list[DeTest]]] = {}
    for contrast in contrasts:
        levels = None
        if settings.samples == "contrast":
            levels = (contrast.factor, frozenset((contrast.test, contrast.reference)))
        key = (settings.design_of(contrast), contrast.subset, levels)
        members.setdefault(key, ([], []))[0].append(contrast)
    for test in tests:
        key = (settings.design_of(test), test.subset, None)
        members.setdefault(key, ([], []))[1].append(test)
    return [
        FitGroup(design, subset, levels, tuple(group_contrasts), tuple(group_tests))
        for (design, subset, levels), (group_contrasts, group_tests) in members.items()
    ]


def reference_levels(contrasts: Sequence[Contrast]) -> dict[str, str]:
    """Return each factor's reference level: that of its first contrast.

    Parameters
    ----------
    contrasts
        The dataset's contrasts.

    Returns
    -------
    dict
        ``{factor: reference level}``; a fit without a contrast of that factor uses it, so a
        coefficient has one name across the dataset's fits (``condition[T.ALS]``).
    """
    references: dict[str, str] = {}
    for contrast in contrasts:
        references.setdefault(contrast.factor, contrast.reference)
    return references
