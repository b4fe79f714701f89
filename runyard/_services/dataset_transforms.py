"""A dataset definition's ``transforms``: what ``skip``, ``take``, ``take_sample`` and
``random_split`` keep of its files or rows, and ``keep_columns`` / ``drop_columns``.

Each transform is a dict, applied in order: ``{"op": "skip" | "take", "count": n}``,
``{"op": "take_sample", "probability": p, "seed": s}``,
``{"op": "random_split", "percentage": p, "seed": s, "part": 0 | 1}`` and
``{"op": "keep_columns" | "drop_columns", "columns": [...]}``. The SDK always stores a
seed (drawn when the user gives none), so a dataset means the same records in every
process, and the two parts of a split are disjoint and together hold every record.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from runyard.exceptions import UserErrorException

T = TypeVar("T")

RECORD_OPS = ("skip", "take", "take_sample", "random_split")
COLUMN_OPS = ("keep_columns", "drop_columns")


def kept_positions(count: int, transform: Mapping[str, Any]) -> Sequence[int]:
    """The positions among ``count`` records that one record transform keeps, in order."""
    op = transform.get("op")
    if op == "skip":
        return range(min(int(transform["count"]), count), count)
    if op == "take":
        return range(min(int(transform["count"]), count))
    if op in ("take_sample", "random_split"):
        # One draw per record, in order, from the stored seed: u < p is in the sample (or
        # the first part of a split), the rest is the second part.
        rng = random.Random(int(transform["seed"]))
        share = float(transform["probability" if op == "take_sample" else "percentage"])
        first = op == "take_sample" or int(transform.get("part", 0)) == 0
        return [i for i in range(count) if (rng.random() < share) is first]
    raise UserErrorException(
        f"Dataset transform {dict(transform)!r} is not one Runyard knows "
        f"({', '.join(RECORD_OPS + COLUMN_OPS)}); the definition was written by a newer "
        "Runyard or edited by hand: build the dataset again with this version."
    )


def select_records(items: Sequence[T], transforms: Sequence[Mapping[str, Any]]) -> list[T]:
    """``items`` (files of a FileDataset) after the record transforms, in order."""
    kept = list(items)
    for transform in transforms:
        if transform.get("op") in COLUMN_OPS:
            raise UserErrorException(
                f"{transform['op']} applies to a TabularDataset's columns, not to files."
            )
        kept = [kept[i] for i in kept_positions(len(kept), transform)]
    return kept
