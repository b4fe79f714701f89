"""The arguments of v1's dataset transforms (skip, take, take_sample, random_split,
keep_columns, drop_columns), checked, as the definition's ``transforms`` entries that
``runyard._services.dataset_transforms`` applies when the data is read."""

from __future__ import annotations

import math
import random
from typing import Any

from runyard.exceptions import UserErrorException


def count_transform(op: str, count: Any) -> dict[str, Any]:
    """``{"op": "skip" | "take", "count": n}``."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise UserErrorException(
            f"{op}(count={count!r}): count must be a whole number of records >= 0, e.g. {op}(100)."
        )
    return {"op": op, "count": count}


def share_argument(op: str, name: str, value: Any) -> float:
    """A probability or percentage: a number from 0.0 to 1.0."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or math.isnan(value) or not 0.0 <= value <= 1.0:
        raise UserErrorException(
            f"{op}({name}={value!r}): {name} must be a number from 0.0 to 1.0 (the share of "
            f"records to keep), e.g. {op}(0.8)."
        )
    return float(value)


def seed_argument(op: str, seed: Any) -> int:
    """The seed to store: the user's, or one drawn now, so the dataset means the same
    records wherever it is read (v1: 'Optional seed to use for the random generator')."""
    if seed is None:
        return random.SystemRandom().randrange(2**32)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UserErrorException(
            f"{op}(seed={seed!r}): seed must be a whole number (or None for a random one), "
            f"e.g. {op}(0.8, seed=42)."
        )
    return seed


def sample_transform(probability: Any, seed: Any) -> dict[str, Any]:
    return {
        "op": "take_sample",
        "probability": share_argument("take_sample", "probability", probability),
        "seed": seed_argument("take_sample", seed),
    }


def split_transforms(percentage: Any, seed: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two parts of ``random_split``: the same draws, complementary records."""
    share = share_argument("random_split", "percentage", percentage)
    drawn = seed_argument("random_split", seed)
    first = {"op": "random_split", "percentage": share, "seed": drawn, "part": 0}
    return first, {**first, "part": 1}


def columns_transform(op: str, columns: Any) -> dict[str, Any]:
    """``{"op": "keep_columns" | "drop_columns", "columns": [...]}``."""
    names = [columns] if isinstance(columns, str) else columns
    if (
        not isinstance(names, list | tuple)
        or not names
        or not all(isinstance(c, str) and c for c in names)
    ):
        raise UserErrorException(
            f"{op}(columns={columns!r}): pass a column name or a non-empty list of names, "
            f"e.g. {op}(['age', 'fare'])."
        )
    return {"op": op, "columns": list(dict.fromkeys(names))}
