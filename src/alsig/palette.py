"""One fixed colour per level of the variables every figure shows, in every dataset.

A reader who has learnt that ALS is orange and controls are teal in one figure must not meet the
opposite in the next; colours therefore never follow the order in which levels happen to appear.
Levels not named here (a dataset's own regions, batches) get colours from :data:`OTHER` in sorted
order, so they too are the same wherever the same levels meet. Colour-blind safe (ColorBrewer
Dark2 and the Okabe-Ito set).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: ALS vs control (and the other groups some cohorts carry).
CONDITION: Mapping[str, str] = {
    "ALS": "#d95f02",
    "control": "#1b9e77",
    "other": "#7570b3",
}
#: Reported or inferred sex.
SEX: Mapping[str, str] = {
    "female": "#cc79a7",
    "male": "#0072b2",
}
#: Published subtypes (reference projection) and the label-free states of the subtype stage.
SUBTYPE: Mapping[str, str] = {
    "ALS-Ox": "#e6ab02",
    "ALS-Glia": "#66a61e",
    "ALS-TE": "#e7298a",
    "Ox-like": "#e6ab02",
    "Glia-like": "#66a61e",
    "TE-like": "#e7298a",
    "unassigned": "#bdbdbd",
    "out_of_reference": "#636363",
}
#: A QC decision or flag on a sample.
QC_FLAG: Mapping[str, str] = {
    "kept": "#f0f0f0",
    "flagged": "#fdae61",
    "excluded": "#d7191c",
}
#: Direction of an effect (up in the test level, down).
DIRECTION: Mapping[str, str] = {
    "up": "#b2182b",
    "down": "#2166ac",
    "none": "#969696",
}
#: Missing or unknown values, in every variable.
MISSING = "#d9d9d9"
#: Colours for levels no palette names, given in sorted level order.
OTHER = (
    # ColorBrewer Paired, reordered: the first ones differ from every named colour (ALS orange,
    # control teal, male blue, female pink, QC red), since a region or batch track often sits
    # next to the condition and sex tracks
    "#b15928",
    "#6a3d9a",
    "#a6cee3",
    "#b2df8a",
    "#fdbf6f",
    "#cab2d6",
    "#ffff99",
    "#fb9a99",
    "#33a02c",
    "#1f78b4",
    "#e31a1c",
    "#ff7f00",
)
#: The fixed palette of each variable the figures colour by.
PALETTES: Mapping[str, Mapping[str, str]] = {
    "condition": CONDITION,
    "sex": SEX,
    "sex_reported": SEX,
    "sex_inferred": SEX,
    "subtype": SUBTYPE,
    "call": SUBTYPE,
    "subtype_call": SUBTYPE,
    "qc": QC_FLAG,
    "qc_decision": QC_FLAG,
    "direction": DIRECTION,
}
_MISSING_LEVELS = frozenset({"", "nan", "none", "na", "missing", "unknown"})


def colours_for(variable: str, levels: Iterable[object]) -> dict[str, str]:
    """Return the colour of each level of ``variable``, the same in every figure and dataset.

    Parameters
    ----------
    variable
        A sample variable (``condition``, ``sex``, ``subtype_call``, ``region``, ...).
    levels
        The levels to colour (any order; repeated levels are fine).

    Returns
    -------
    dict
        Level (as text) -> hex colour. Named levels take their fixed colour, missing values
        :data:`MISSING`, and the rest :data:`OTHER` in sorted order.
    """
    fixed = PALETTES.get(variable, {})
    names = sorted({str(level) for level in levels})
    out: dict[str, str] = {}
    spare = iter(OTHER * (len(names) // len(OTHER) + 1))
    for name in names:
        if name in fixed:
            out[name] = fixed[name]
        elif name.lower() in _MISSING_LEVELS:
            out[name] = MISSING
        else:
            out[name] = next(spare)
    return out


def ordered_levels(variable: str, levels: Iterable[object]) -> list[str]:
    """Return the distinct levels in the fixed order of a legend, the same in every figure.

    Parameters
    ----------
    variable
        A sample variable (as for :func:`colours_for`).
    levels
        The levels present (any order; repeated levels are fine).

    Returns
    -------
    list of str
        Levels the palette names, in its order (ALS before control, female before male, kept
        before flagged), then the others in natural order (``b2`` before ``b10``), then missing
        values.
    """
    fixed = list(PALETTES.get(variable, {}))
    names = {str(level) for level in levels}
    missing = sorted(n for n in names if n.lower() in _MISSING_LEVELS and n not in fixed)
    named = [n for n in fixed if n in names]
    rest = sorted(names - set(named) - set(missing), key=_natural)
    return [*named, *rest, *missing]


def _natural(name: str) -> tuple:
    """Sort key ordering the numbers inside names by value."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name))
