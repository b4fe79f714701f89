"""``azureml.contrib.services.aml_response``: a scoring script's own HTTP response."""

from __future__ import annotations

import http
import json
from collections.abc import Iterable, Mapping
from typing import Any

from runyard.scoring.multidict import Headers

_DEFAULT_CONTENT_TYPE = "text/html; charset=utf-8"  # werkzeug's, hence v1's
_JSON = "application/json"


class AMLResponse:
    """What ``run()`` returns to choose the HTTP status, headers and body itself.

    Args:
        message: the body: str (sent as UTF-8), bytes, or an iterable of them; with
            ``json_str=True`` any JSON-serializable value, sent as JSON. None sends ``{}``.
        status_code: the HTTP status.
        response_headers: headers to add; a value holding commas is sent as one header per
            comma-separated part (v1's rule). A ``Content-Type`` here replaces the default
            (``text/html; charset=utf-8``, or ``application/json`` for JSON).
        json_str: send ``message`` JSON-encoded, as ``application/json``.
        run_function_failed: v1's ``x-ms-run-function-failed`` header value.

    Raises:
        TypeError: ``message`` is neither str, bytes nor an iterable of them (without
            ``json_str``), or is not JSON-serializable (with it).
    """

    def __init__(
        self,
        message: Any,
        status_code: int = 200,
        response_headers: Mapping[str, str] | None = None,
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        response_headers = response_headers or {}
        self.status_code = int(status_code)
        self.headers = Headers()
        if message is None:
            self._body, content_type = b"{}", _JSON
        elif json_str:
            self._body, content_type = json.dumps(message).encode("utf-8"), _JSON
        else:
            self._body, content_type = _body_bytes(message), _DEFAULT_CONTENT_TYPE
        if json_str or message is None or not _has(response_headers, "Content-Type"):
            self.headers.set("Content-Type", content_type)
        self.headers.set("x-ms-run-function-failed", run_function_failed)
        for header, value in response_headers.items():
            for part in str(value).split(","):
                self.headers.add(header, part.strip())

    def __repr__(self) -> str:
        return f"<AMLResponse {len(self._body)} bytes [{self.status}]>"

    @property
    def status(self) -> str:
        try:
            return f"{self.status_code} {http.HTTPStatus(self.status_code).phrase}"
        except ValueError:
            return f"{self.status_code} UNKNOWN"

    @property
    def content_type(self) -> str:
        return str(self.headers.get("Content-Type", ""))

    @property
    def mimetype(self) -> str:
        return self.content_type.partition(";")[0].strip().lower()

    def get_data(self, as_text: bool = False) -> Any:
        return self._body.decode("utf-8", "replace") if as_text else self._body

    def set_data(self, value: str | bytes) -> None:
        self._body = _body_bytes(value)

    @property
    def data(self) -> bytes:
        return self._body

    @data.setter
    def data(self, value: str | bytes) -> None:
        self.set_data(value)

    def asgi_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers to send, Content-Length set to the body's."""
        pairs = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.headers.items()
            if name.lower() != "content-length"
        ]
        pairs.append((b"content-length", str(len(self._body)).encode("ascii")))
        return pairs


def _has(headers: Mapping[str, str], name: str) -> bool:
    return any(key.lower() == name.lower() for key in headers)


def _body_bytes(message: Any) -> bytes:
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message)
    if isinstance(message, Iterable):
        return b"".join(_body_bytes(part) for part in message)
    raise TypeError(
        f"AMLResponse's message is a {type(message).__name__}: give str, bytes or an iterable "
        "of them, or pass json_str=True to send it as JSON."
    )
