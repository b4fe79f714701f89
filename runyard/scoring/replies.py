"""HTTP replies as the worker sends them: status, ASGI headers, body bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass

JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def headers_for(body: bytes, content_type: bytes = JSON) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]


def message(status: int, text: str, *extra: tuple[bytes, bytes]) -> Reply:
    """v1's error body: ``{"message": text}``."""
    body = json.dumps({"message": text}).encode("utf-8")
    return Reply(status, [*headers_for(body), *extra], body)
