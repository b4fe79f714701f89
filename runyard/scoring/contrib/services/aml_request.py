"""``azureml.contrib.services.aml_request``: ``@rawhttp`` and the request it hands to run().

Example score.py::

    from azureml.contrib.services.aml_request import rawhttp
    from azureml.contrib.services.aml_response import AMLResponse

    @rawhttp
    def run(request):
        if request.method == "GET":
            return AMLResponse(request.args.get("name", "world"), 200)
        return AMLResponse(request.get_data(), 200, {"Content-Type": "image/jpeg"})
"""

from __future__ import annotations

import contextlib
import http.cookies
import io
import json
from collections.abc import Callable, Mapping
from typing import IO, Any, TypeVar
from urllib.parse import parse_qsl, quote

from runyard.scoring.forms import parse_form
from runyard.scoring.multidict import Headers, MultiDict

_F = TypeVar("_F", bound=Callable[..., Any])
_MISSING = object()

RAWHTTP_ATTRIBUTE = "__runyard_rawhttp__"
# v1's flag, set by any @rawhttp: the scoring server reads it (and the mark on run() itself)
_rawHttpRequested = False


def rawhttp(func: _F) -> _F:
    """Marks a scoring script's ``run()`` as taking the HTTP request itself.

    Args:
        func: the script's ``run(request)``.

    Returns:
        ``func``, unchanged but marked: the service then calls it with an
        :class:`AMLRequest` (for GET and POST /score) instead of the body as a str, and
        sends an :class:`~azureml.contrib.services.aml_response.AMLResponse` it returns as
        it is (any other value is sent as JSON).
    """
    global _rawHttpRequested
    _rawHttpRequested = True
    # a callable without a __dict__ stays unmarked: the module flag above still says it
    with contextlib.suppress(AttributeError, TypeError):
        setattr(func, RAWHTTP_ATTRIBUTE, True)
    return func


class RequestError(ValueError):
    """A request body that the script asked to read as JSON is not JSON (werkzeug's 400/415)."""


class AMLRequest:
    """The request that a ``@rawhttp`` ``run()`` receives, with the Flask (werkzeug) request
    attributes that v1 scoring scripts use: ``method``, ``headers``, ``args``, ``data``,
    ``get_data()``, ``get_json()``, ``json``, ``form``, ``files``, ``path``, ``full_path``,
    ``url``...

    Args:
        scope: the ASGI scope of the HTTP request.
        body: the whole request body.
    """

    def __init__(self, scope: Mapping[str, Any], body: bytes = b"") -> None:
        self.environ = scope  # werkzeug's name for what the server knows of the request
        self.method: str = scope.get("method", "GET")
        self.scheme: str = scope.get("scheme", "http")
        self.root_path: str = scope.get("root_path", "")
        self.path: str = scope.get("path", "/")
        self.query_string: bytes = scope.get("query_string", b"")
        self.headers = Headers.from_asgi(scope.get("headers", ()))
        self._body = body
        self._json: Any = _MISSING
        self._form: tuple[MultiDict, MultiDict] | None = None
        client = scope.get("client")
        self.remote_addr: str | None = client[0] if client else None

    def __repr__(self) -> str:
        return f"<AMLRequest {self.url!r} [{self.method}]>"

    # -- where
    @property
    def script_root(self) -> str:
        return self.root_path

    @property
    def host(self) -> str:
        return self.headers.get("Host") or "localhost"

    @property
    def host_url(self) -> str:
        return f"{self.scheme}://{self.host}/"

    @property
    def url_root(self) -> str:
        return f"{self.scheme}://{self.host}{self.root_path}/"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}{self.root_path}{quote(self.path)}"

    @property
    def full_path(self) -> str:
        # werkzeug keeps the "?" when there is no query: "/score?"
        return f"{self.root_path}{quote(self.path)}?{self.query_string.decode('latin-1')}"

    @property
    def url(self) -> str:
        query = self.query_string.decode("latin-1")
        return self.base_url + (f"?{query}" if query else "")

    @property
    def args(self) -> MultiDict:
        return MultiDict(parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True))

    # -- what
    @property
    def content_type(self) -> str:
        return str(self.headers.get("Content-Type", ""))

    @property
    def mimetype(self) -> str:
        return self.content_type.partition(";")[0].strip().lower()

    @property
    def mimetype_params(self) -> dict[str, str]:
        params = {}
        for item in self.content_type.split(";")[1:]:
            key, _, value = item.partition("=")
            if key.strip():
                params[key.strip().lower()] = value.strip().strip('"')
        return params

    @property
    def content_length(self) -> int | None:
        length = self.headers.get("Content-Length", type=int)
        return length if isinstance(length, int) else None

    @property
    def is_json(self) -> bool:
        mimetype = self.mimetype
        return mimetype == "application/json" or (
            mimetype.startswith("application/") and mimetype.endswith("+json")
        )

    @property
    def user_agent(self) -> str:
        return str(self.headers.get("User-Agent", ""))

    @property
    def cookies(self) -> dict[str, str]:
        jar = http.cookies.SimpleCookie()
        jar.load(self.headers.get("Cookie", ""))
        return {name: morsel.value for name, morsel in jar.items()}

    # -- the body
    def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> Any:
        """The body as bytes (as text with ``as_text=True``)."""
        return (
            self._body.decode(self.mimetype_params.get("charset", "utf-8"), "replace")
            if as_text
            else self._body
        )

    @property
    def data(self) -> bytes:
        return self._body

    @property
    def stream(self) -> IO[bytes]:
        return io.BytesIO(self._body)

    input_stream = stream

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """The body parsed as JSON.

        Args:
            force: parse it whatever the Content-Type says.
            silent: return None instead of raising when it is not JSON.
            cache: keep the parsed value for the next call.

        Returns:
            The decoded JSON value (None when ``silent`` and it is not JSON).

        Raises:
            RequestError: the Content-Type is not JSON (without ``force``), or the body does
                not parse.
        """
        if cache and self._json is not _MISSING:
            return self._json
        if not (force or self.is_json):
            if silent:
                return None
            raise RequestError(
                "Did not attempt to load JSON data because the request Content-Type was not "
                f"'application/json' (it is {self.content_type or 'missing'!r}); send that "
                "header, or call get_json(force=True)."
            )
        try:
            value = json.loads(self._body)
        except ValueError as exc:
            if silent:
                return None
            raise RequestError(f"Failed to decode JSON object: {exc}") from None
        if cache:
            self._json = value
        return value

    @property
    def json(self) -> Any:
        return self.get_json()

    def _forms(self) -> tuple[MultiDict, MultiDict]:
        if self._form is None:
            self._form = parse_form(self.mimetype, self.content_type, self._body)
        return self._form

    @property
    def form(self) -> MultiDict:
        return self._forms()[0]

    @property
    def files(self) -> MultiDict:
        return self._forms()[1]

    @property
    def values(self) -> MultiDict:
        combined = self.args.items(multi=True)
        if self.method != "GET":
            combined += self.form.items(multi=True)
        return MultiDict(combined)
