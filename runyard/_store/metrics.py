"""How metric values are laid out in ``metric_points`` columns, and read back fast.

Each point stores a value type code plus one of three columns. NaN goes in as NULL in
the float column (SQLite turns NaN into NULL anyway, so we make that the encoding on
every backend); +/-inf are stored as such, both SQLite and PostgreSQL keep them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from runyard._entities import MetricPoint

VTYPE_MIXED = -1
VTYPE_FLOAT = 0
VTYPE_INT = 1
VTYPE_BOOL = 2
VTYPE_STR = 3
VTYPE_JSON = 4  # table rows (dicts), and ints too wide for a 64-bit column

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NAN = math.nan

# The column each value type is stored in.
COLUMNS = {
    VTYPE_FLOAT: "num",
    VTYPE_INT: "ival",
    VTYPE_BOOL: "ival",
    VTYPE_STR: "txt",
    VTYPE_JSON: "txt",
}
# Parameters per INSERT: SQLite's smallest SQLITE_MAX_VARIABLE_NUMBER, fine everywhere.
_MAX_PARAMS = 999


def encode(value: Any) -> tuple[int, Any]:
    """(vtype, what goes in that type's column) for one value."""
    # bool first: it is an int subclass.
    if isinstance(value, bool):
        return VTYPE_BOOL, int(value)
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return VTYPE_INT, value
        return VTYPE_JSON, json.dumps(value)
    if isinstance(value, float):
        return VTYPE_FLOAT, (None if value != value else value)
    if isinstance(value, str):
        return VTYPE_STR, value
    # json writes NaN/Infinity tokens and reads them back, so rows keep them too.
    return VTYPE_JSON, json.dumps(value)


class PointRows:
    """A batch's points as flat INSERT parameters, grouped by statement shape.

    Each shape (vtype, has a step) is one multi-row ``INSERT ... VALUES`` naming only the
    columns it fills: ~2.5x faster than executemany of one row at a time, and no per-row
    objects beyond the parameters themselves. ``series`` maps a name to
    [series id, next seq, set of vtypes seen]; seq and vtypes are updated in place."""

    def __init__(self, series: dict[str, list[Any]]) -> None:
        self.series = series
        self.groups: dict[tuple[int, bool], list[Any]] = {}

    def add(self, points: Sequence[MetricPoint]) -> None:
        groups, series = self.groups, self.series
        name: str | None = None
        state: list[Any] = []
        for point in points:
            if point.name != name:
                name, state = point.name, series[point.name]
            value = point.value
            if type(value) is float:  # nearly every point: skip encode's checks
                vtype, stored = VTYPE_FLOAT, (None if value != value else value)
            else:
                vtype, stored = encode(value)
            step = point.step
            key = (vtype, step is not None)
            params = groups.get(key)
            if params is None:
                params = groups[key] = []
            state[2].add(vtype)
            seq = state[1]
            state[1] = seq + 1
            if step is None:
                params += (state[0], seq, stored, point.time)
            else:
                params += (state[0], seq, stored, point.time, int(step))

    def statements(self, placeholder: str) -> Iterator[tuple[str, list[Any]]]:
        """(SQL, parameters) pairs that insert every added point."""
        for (vtype, has_step), params in self.groups.items():
            width = 5 if has_step else 4
            # series_id, seq, the vtype literal, then value, time (and step).
            row = (
                f"({placeholder}, {placeholder}, {vtype}, "
                + ", ".join([placeholder] * (width - 2))
                + ")"
            )
            columns = f"series_id, seq, vtype, {COLUMNS[vtype]}, time" + (
                ", step" if has_step else ""
            )
            per = (_MAX_PARAMS // width) * width
            for start in range(0, len(params), per):
                chunk = params[start : start + per]
                values = ", ".join([row] * (len(chunk) // width))
                yield f"INSERT INTO metric_points ({columns}) VALUES {values}", chunk


def merge_vtype(series_vtype: int | None, point_vtype: int) -> int:
    if series_vtype is None or series_vtype == point_vtype:
        return point_vtype
    return VTYPE_MIXED


def decode_one(vtype: int, num: float | None, ival: int | None, txt: str | None) -> Any:
    if vtype == VTYPE_FLOAT:
        return _NAN if num is None else num
    if vtype == VTYPE_INT:
        return ival
    if vtype == VTYPE_BOOL:
        return bool(ival)
    if vtype == VTYPE_STR:
        return txt
    return json.loads(txt or "null")


# For a series whose points all share one type: the single column to read, and how to
# turn the fetched 1-tuples into values. One comprehension each keeps 1M points fast.
_FAST: dict[int, tuple[str, Callable[[Sequence[tuple[Any, ...]]], list[Any]]]] = {
    VTYPE_FLOAT: ("num", lambda rows: [_NAN if v is None else v for (v,) in rows]),
    VTYPE_INT: ("ival", lambda rows: [v for (v,) in rows]),
    VTYPE_BOOL: ("ival", lambda rows: [bool(v) for (v,) in rows]),
    VTYPE_STR: ("txt", lambda rows: [v for (v,) in rows]),
    VTYPE_JSON: ("txt", lambda rows: [json.loads(v) for (v,) in rows]),
}


def read_values(cursor: Any, placeholder: str, series_id: int, vtype: int | None) -> list[Any]:
    """All values of one series in logging order, through a raw DB-API cursor.

    ``vtype`` is the series' shared type; None (no point yet) reads each point's own type."""
    where = f"FROM metric_points WHERE series_id = {placeholder} ORDER BY seq"
    fast = None if vtype is None else _FAST.get(vtype)
    if fast is not None:
        column, convert = fast
        cursor.execute(f"SELECT {column} {where}", (series_id,))
        return convert(cursor.fetchall())
    cursor.execute(f"SELECT vtype, num, ival, txt {where}", (series_id,))
    return [decode_one(t, n, i, s) for t, n, i, s in cursor.fetchall()]
