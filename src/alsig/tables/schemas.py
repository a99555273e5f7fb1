"""The shipped output schemas (``workflow/schemas/*.schema.yaml``) as polars schemas and checks.

Every table alsig writes has a JSON schema describing one row: column order is the order of
``properties``, a column is nullable when its ``type`` admits ``null``, and ``x-polars-dtype``
names the exact polars dtype where the JSON type is not enough (``Int32`` vs ``Int64``). A float
column holds no NaN or infinity (JSON numbers have neither; a missing value is null) unless its
property says ``x-non-finite: true``. Writers call :func:`validate` before writing, so a table that
drifts from its documented schema fails in the job that made it instead of in a downstream tool.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from alsig.errors import AlsigError, name_some
from alsig.resources import load_schema

_JSON_TO_POLARS: dict[str, pl.DataType] = {
    "string": pl.String(),
    "number": pl.Float64(),
    "integer": pl.Int64(),
    "boolean": pl.Boolean(),
}


def load(name: str) -> dict[str, Any]:
    """Return the row schema ``workflow/schemas/<name>.schema.yaml``, parsed."""
    return load_schema(name)


def _types(prop: Mapping[str, Any]) -> list[str]:
    kind = prop.get("type")
    if kind is None and "enum" in prop:
        return sorted({_json_type(v) for v in prop["enum"]})
    return [kind] if isinstance(kind, str) else list(kind or [])


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "string" if isinstance(value, str) else "number"


def dtype(prop: Mapping[str, Any]) -> pl.DataType:
    """Return the polars dtype of one schema column."""
    if "x-polars-dtype" in prop:
        return _named_dtype(prop["x-polars-dtype"])
    kinds = [t for t in _types(prop) if t != "null"]
    if kinds == ["array"]:
        return pl.List(dtype(prop.get("items") or {"type": "string"}))
    if len(kinds) != 1 or kinds[0] not in _JSON_TO_POLARS:
        raise ValueError(f"schema column {prop!r}: give it one JSON type or an x-polars-dtype")
    return _JSON_TO_POLARS[kinds[0]]


def _named_dtype(name: str) -> pl.DataType:
    if name.startswith("List(") and name.endswith(")"):
        return pl.List(_named_dtype(name[5:-1]))
    return getattr(pl, name)()


def polars_schema(name: str) -> dict[str, pl.DataType]:
    """``{column: polars dtype}`` in the schema's column order."""
    return {column: dtype(prop) for column, prop in load(name)["properties"].items()}


def nullable(name: str) -> set[str]:
    """Columns whose type admits ``null``."""
    return {c for c, prop in load(name)["properties"].items() if "null" in _types(prop)}


def empty(name: str) -> pl.DataFrame:
    """Return a table with the schema's columns and no rows."""
    return pl.DataFrame(schema=polars_schema(name))


def conform(table: pl.DataFrame, name: str) -> pl.DataFrame:
    """``table`` with the schema's columns in order, cast to their dtypes.

    Nullable columns the table lacks are added as nulls.
    """
    schema = polars_schema(name)
    missing = [c for c in schema if c not in table.columns and c not in nullable(name)]
    if missing:
        raise AlsigError(f"table for schema '{name}' lacks required column(s) {missing}.")
    return table.select(
        [
            pl.col(c).cast(t) if c in table.columns else pl.lit(None, dtype=t).alias(c)
            for c, t in schema.items()
        ]
    )


def validate(table: pl.DataFrame, name: str, source: object = "table") -> pl.DataFrame:
    """Check ``table`` against the row schema ``name``.

    Exact columns and order, dtypes, no null in a non-nullable column, and the value rules of
    each column (:func:`check_rules`).

    Raises
    ------
    AlsigError
        Naming ``source``, the column and what is wrong. Returns ``table`` unchanged otherwise.
    """
    schema = polars_schema(name)
    if table.columns != list(schema):
        raise AlsigError(
            f"{source}: columns {table.columns} differ from schema '{name}' ({list(schema)})."
        )
    for column, expected in schema.items():
        if table.schema[column] != expected:
            raise AlsigError(
                f"{source}: column '{column}' is {table.schema[column]}, schema '{name}' says "
                f"{expected}."
            )
    properties = load(name)["properties"]
    nullable_columns = nullable(name)
    for column, prop in properties.items():
        values = table[column]
        if column not in nullable_columns and values.null_count():
            raise AlsigError(f"{source}: column '{column}' has null values (not allowed).")
        check_rules(values.drop_nulls(), prop, f"{source}: column '{column}'")
    return table


#: a value breaks the bound ``rule`` of a column when ``BOUNDS[rule](value, bound)``
BOUNDS: dict[str, Callable[[Any, Any], Any]] = {
    "minimum": operator.lt,
    "maximum": operator.gt,
    "exclusiveMinimum": operator.le,
    "exclusiveMaximum": operator.ge,
}


def check_rules(values: pl.Series, prop: Mapping[str, Any], where: str) -> None:
    """Apply the value rules of one column's schema to its non-null ``values``.

    ``enum``/``const``, ``minLength``, ``pattern`` (searched, as JSON schema does: anchor it with
    ``^...$``), the :data:`BOUNDS`, and no NaN or infinity in a float column unless the column
    says ``x-non-finite: true`` (JSON numbers have neither; a missing value is null, which
    polars' ``is_null`` and pandas' ``isna`` both see). A list column's ``items`` rules apply to
    its elements.

    Parameters
    ----------
    values
        The column's values, nulls dropped.
    prop
        The column's property in the row schema.
    where
        The file and column, for the message.

    Raises
    ------
    AlsigError
        Naming ``where``, the rule and at most three of the values breaking it.
    """
    if values.is_empty():
        return
    if isinstance(values.dtype, pl.List):
        if "items" in prop:
            check_rules(values.explode().drop_nulls(), prop["items"], f"{where} (list items)")
        return
    allowed = prop.get("enum", [prop["const"]] if "const" in prop else None)
    if allowed is not None:
        bad = values.filter(~values.is_in([v for v in allowed if v is not None]))
        if bad.len():
            raise AlsigError(f"{where}: value '{bad[0]}' is not one of {allowed}.")
    if values.dtype == pl.String:
        if "minLength" in prop:
            too_short = values.str.len_chars() < prop["minLength"]
            _refuse(values.filter(too_short), where, f"minLength {prop['minLength']}")
        if "pattern" in prop:
            unmatched = ~values.str.contains(prop["pattern"])
            _refuse(values.filter(unmatched), where, f"pattern '{prop['pattern']}'")
    if not values.dtype.is_numeric():
        return
    if values.dtype.is_float():
        if not prop.get("x-non-finite", False):
            rule = "type number (no NaN or infinity; a missing value is null)"
            _refuse(values.filter(~values.is_finite()), where, rule)
        values = values.filter(values.is_finite())
    for rule, breaks in BOUNDS.items():
        if rule in prop:
            _refuse(values.filter(breaks(values, prop[rule])), where, f"{rule} {prop[rule]}")


def _refuse(bad: pl.Series, where: str, rule: str) -> None:
    """Raise naming the schema ``rule`` and a few of the values ``bad`` that break it.

    Nothing happens when ``bad`` is empty.
    """
    if bad.is_empty():
        return
    named = name_some(bad.unique(maintain_order=True).to_list(), limit=3, show=repr)
    count = "1 value breaks" if bad.len() == 1 else f"{bad.len():,} values break"
    raise AlsigError(f"{where}: {count} the schema's {rule}: {named}.")
