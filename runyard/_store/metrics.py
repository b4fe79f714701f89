"""How metric values are laid out in ``metric_points`` columns, and read back fast.

Each point stores a value type code plus one of three columns. NaN goes in as NULL in
the float column (SQLite turns NaN into NULL anyway, so we make that the encoding on
every backend); +/-inf are stored as such, both SQLite and PostgreSQL keep them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

VTYPE_MIXED = -1
VTYPE_FLOAT = 0
VTYPE_INT = 1
VTYPE_BOOL = 2
VTYPE_STR = 3
VTYPE_JSON = 4  # table rows (dicts), and ints too wide for a 64-bit column

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_NAN = math.nan

Encoded = tuple[int, float | None, int | None, str | None]


def encode(value: Any) -> Encoded:
    """(vtype, num, ival, txt) for one value."""
    # bool first: it is an int subclass.
    if isinstance(value, bool):
        return VTYPE_BOOL, None, int(value), None
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return VTYPE_INT, None, value, None
        return VTYPE_JSON, None, None, json.dumps(value)
    if isinstance(value, float):
        return VTYPE_FLOAT, (None if value != value else value), None, None
    if isinstance(value, str):
        return VTYPE_STR, None, None, value
    # json writes NaN/Infinity tokens and reads them back, so rows keep them too.
    return VTYPE_JSON, None, None, json.dumps(value)


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
