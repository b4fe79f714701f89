"""The werkzeug-shaped containers that v1 scoring scripts use on requests and responses:
``Headers`` (case-insensitive, repeatable names) and ``MultiDict`` (query args, form fields).

Flask is not in a Runyard model environment, and ``azureml.contrib.services`` must import
with the standard library alone (scripts are tried out in notebooks too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

_MISSING = object()


def _converted(value: Any, type: Callable[[Any], Any] | None, default: Any) -> Any:
    if type is None:
        return value
    try:
        return type(value)
    except (ValueError, TypeError):
        return default


class Headers:
    """Ordered ``(name, value)`` pairs; names compare case-insensitively. Iterating yields the
    pairs, so ``dict(headers)`` works as with werkzeug."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = list(items) if items is not None else []

    @classmethod
    def from_asgi(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        # ASGI names are lower case; werkzeug shows them as Content-Type, X-Request-Id...
        return cls((name.decode("latin-1").title(), value.decode("latin-1")) for name, value in raw)

    def get(self, key: str, default: Any = None, type: Callable[[Any], Any] | None = None) -> Any:
        wanted = key.lower()
        for name, value in self._items:
            if name.lower() == wanted:
                return _converted(value, type, default)
        return default

    def getlist(self, key: str, type: Callable[[Any], Any] | None = None) -> list[Any]:
        wanted = key.lower()
        found = [value for name, value in self._items if name.lower() == wanted]
        return found if type is None else [_converted(v, type, None) for v in found]

    get_all = getlist

    def __getitem__(self, key: str) -> str:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return str(value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and other._items == self._items

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"

    def keys(self) -> list[str]:
        return [name for name, _ in self._items]

    def values(self) -> list[str]:
        return [value for _, value in self._items]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def to_wsgi_list(self) -> list[tuple[str, str]]:
        return list(self._items)

    def copy(self) -> Headers:
        return type(self)(self._items)

    def add(self, key: str, value: Any) -> None:
        self._items.append((key, _header_value(value)))

    add_header = add

    def set(self, key: str, value: Any) -> None:
        """Replaces every value of ``key`` with ``value`` (where the first one was)."""
        wanted, text = key.lower(), _header_value(value)
        for index, (name, _) in enumerate(self._items):
            if name.lower() == wanted:
                self._items[index] = (key, text)
                self._items[index + 1 :] = [
                    pair for pair in self._items[index + 1 :] if pair[0].lower() != wanted
                ]
                return
        self._items.append((key, text))

    __setitem__ = set

    def remove(self, key: str) -> None:
        wanted = key.lower()
        self._items = [pair for pair in self._items if pair[0].lower() != wanted]

    def __delitem__(self, key: str) -> None:
        self.remove(key)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        self.remove(key)
        return value

    def setdefault(self, key: str, default: Any) -> str:
        if key not in self:
            self.add(key, default)
        return self[key]


def _header_value(value: Any) -> str:
    text = str(value)  # werkzeug: True -> "True", 3 -> "3"
    if "\n" in text or "\r" in text:
        raise ValueError(f"Header values must not contain a newline: {text!r}.")
    return text


class MultiDict:
    """Keys with one or more values, as werkzeug's: ``d[key]`` and ``d.get(key)`` give the
    first value, ``d.getlist(key)`` all of them."""

    __slots__ = ("_lists",)

    def __init__(self, pairs: Iterable[tuple[str, Any]] = ()) -> None:
        self._lists: dict[str, list[Any]] = {}
        for key, value in pairs:
            self._lists.setdefault(key, []).append(value)

    def get(self, key: str, default: Any = None, type: Callable[[Any], Any] | None = None) -> Any:
        values = self._lists.get(key)
        return default if not values else _converted(values[0], type, default)

    def getlist(self, key: str, type: Callable[[Any], Any] | None = None) -> list[Any]:
        values = list(self._lists.get(key, ()))
        return values if type is None else [_converted(v, type, None) for v in values]

    def __getitem__(self, key: str) -> Any:
        values = self._lists.get(key)
        if not values:
            raise KeyError(key)
        return values[0]

    def __contains__(self, key: object) -> bool:
        return key in self._lists

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __len__(self) -> int:
        return len(self._lists)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultiDict) and other._lists == self._lists

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.items(multi=True))!r})"

    def keys(self) -> list[str]:
        return list(self._lists)

    def values(self) -> list[Any]:
        return [values[0] for values in self._lists.values()]

    def items(self, multi: bool = False) -> list[tuple[str, Any]]:
        if multi:
            return [(key, value) for key, values in self._lists.items() for value in values]
        return [(key, values[0]) for key, values in self._lists.items()]

    def lists(self) -> list[tuple[str, list[Any]]]:
        return [(key, list(values)) for key, values in self._lists.items()]

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        if flat:
            return {key: values[0] for key, values in self._lists.items()}
        return {key: list(values) for key, values in self._lists.items()}
