"""The user's entry script: imported under a name of its own, ``init()`` once, and each
request turned into a ``run()`` call the way v1's server makes it."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

from runyard.scoring import replies
from runyard.scoring.contrib.services import aml_request
from runyard.scoring.contrib.services.aml_request import AMLRequest
from runyard.scoring.contrib.services.aml_response import AMLResponse
from runyard.scoring.replies import Reply
from runyard.scoring.runner import RunStopped

logger = logging.getLogger(__name__)

RAW, TEXT, SCHEMA = "rawhttp", "text", "input_schema"
_RUN_FAILED = (b"x-ms-run-function-failed", b"True")


class ScriptError(Exception):
    """The entry script cannot be served: it does not import, or lacks init() or run()."""


class BadInput(Exception):
    """A request that run() cannot be called with (400, or 415 for a wrong Content-Type)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def module_name(path: str) -> str:
    """A name no other module has: the script's stem and a hash of its path."""
    stem = re.sub(r"\W", "_", Path(path).stem)
    return f"runyard_entry_{stem}_{hashlib.sha1(path.encode()).hexdigest()[:10]}"


def schema_util() -> ModuleType | None:
    """inference_schema's schema_util, if the script imported inference_schema."""
    if "inference_schema" not in sys.modules:
        return None
    try:
        return importlib.import_module("inference_schema.schema_util")
    except ImportError:
        return None


class EntryScript:
    """One scoring script; ``load`` and ``init`` run on the script thread, then ``score``."""

    def __init__(self, path: str, source_directory: str | None) -> None:
        self.path = path
        self.source_directory = source_directory
        self.module: ModuleType | None = None
        self.run: Callable[..., Any] = _not_loaded
        self.mode = TEXT
        self._first = ""  # run()'s input parameter (TEXT, RAW)
        self._parameters: list[inspect.Parameter] = []  # run()'s inputs (SCHEMA)
        self._headers = False  # run() takes request_headers

    def load(self) -> None:
        """Imports the script and reads how run() wants its input.

        Raises:
            ScriptError: it does not import, or has no init() or run().
        """
        if self.source_directory and self.source_directory not in sys.path[:1]:
            sys.path.insert(0, self.source_directory)
        name = module_name(self.path)
        spec = importlib.util.spec_from_file_location(name, self.path)
        if spec is None or spec.loader is None:
            raise ScriptError(
                f"The entry script {self.path} (AZUREML_ENTRY_SCRIPT) cannot be imported: "
                "give the absolute path of a .py file."
            )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except FileNotFoundError as exc:
            raise ScriptError(
                f"The entry script {self.path} (AZUREML_ENTRY_SCRIPT) does not exist."
            ) from exc
        for function in ("init", "run"):
            if not callable(getattr(module, function, None)):
                raise ScriptError(
                    f"The entry script {self.path} has no {function}() function: a scoring "
                    "script defines init() (called once at start) and run(raw_data) (called "
                    "for each request)."
                )
        self.module = module
        self.run = module.run
        self._read_run()

    def _read_run(self) -> None:
        try:
            parameters = list(inspect.signature(self.run).parameters.values())
        except (TypeError, ValueError):
            parameters = []
        self._headers = any(p.name == "request_headers" for p in parameters)
        inputs = [p for p in parameters if p.name != "request_headers"]
        if not inputs:
            raise ScriptError(
                f"run() of {self.path} takes no argument: it needs one for the input data, "
                "as in run(raw_data)."
            )
        raw = getattr(self.run, aml_request.RAWHTTP_ATTRIBUTE, False)
        raw = raw or aml_request._rawHttpRequested
        util = schema_util()
        schema = util is not None and util.is_schema_decorated(self.run)
        if raw and schema:
            raise ScriptError("run() cannot be decorated with both @rawhttp and @input_schema.")
        self.mode = RAW if raw else SCHEMA if schema else TEXT
        self._first = inputs[0].name
        self._parameters = inputs
        logger.info("run() takes %s", _MODE_LINES[self.mode](self))

    def init(self) -> float:
        """Calls the script's init(); returns how long it took, in seconds."""
        assert self.module is not None
        started = time.perf_counter()
        self.module.init()
        return time.perf_counter() - started

    def score(self, scope: Mapping[str, Any], body: bytes) -> Reply:
        """One request through run(), on the script thread; never raises but RunStopped."""
        try:
            args, kwargs = self._inputs(scope, body)
        except BadInput as exc:
            return replies.message(exc.status, str(exc))
        try:
            value = self.run(*args, **kwargs)
        except RunStopped:
            raise
        except BaseException as exc:  # anything the user's code raises is a 500
            logger.error("run() raised %s", type(exc).__name__, exc_info=exc)
            text = f"run() raised {type(exc).__name__}: {exc}"
            return replies.message(500, text, _RUN_FAILED)
        return self._reply(value)

    def _inputs(
        self, scope: Mapping[str, Any], body: bytes
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        if self._headers:
            kwargs["request_headers"] = dict(AMLRequest(scope).headers)
        if self.mode == RAW:
            return (AMLRequest(scope, body),), kwargs
        get = scope["method"] == "GET"
        if self.mode == TEXT:
            if get:
                return (json.dumps(_query_values(scope["query_string"])),), kwargs
            try:
                return (body.decode("utf-8"),), kwargs
            except UnicodeDecodeError as exc:
                raise BadInput(400, f"Input cannot be decoded as UTF-8: {exc}") from None
        values = _query_values(scope["query_string"]) if get else _json_object(scope, body)
        for parameter in self._parameters:
            value = values.get(parameter.name, parameter.default)
            if value is inspect.Parameter.empty:
                raise BadInput(
                    400, f"A value is not provided for the {parameter.name!r} parameter."
                )
            kwargs[parameter.name] = value
        return (), kwargs

    def _reply(self, value: Any) -> Reply:
        if isinstance(value, AMLResponse):
            try:
                return Reply(value.status_code, value.asgi_headers(), value.data)
            except UnicodeEncodeError as exc:
                logger.error("run()'s AMLResponse has a header that is not latin-1: %s", exc)
                return replies.message(
                    500, f"run() returned an AMLResponse whose header cannot be sent: {exc}"
                )
        try:
            body = json.dumps(value).encode("utf-8")
        except (TypeError, ValueError) as exc:
            kind = type(value).__name__
            logger.error("run() returned a %s, which is not JSON-serializable: %s", kind, exc)
            return replies.message(
                500,
                f"run() returned a {kind}, which is not JSON-serializable ({exc}); return "
                "lists, dicts, str and numbers (for a numpy array, array.tolist()), or an "
                "AMLResponse.",
                _RUN_FAILED,
            )
        return Reply(200, replies.headers_for(body), body)


def _not_loaded(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the entry script is not loaded yet")


_MODE_LINES: dict[str, Callable[[EntryScript], str]] = {
    RAW: lambda s: f"the request itself (@rawhttp) as {s._first!r}",
    SCHEMA: lambda s: (
        "the JSON body's fields (@input_schema): " + ", ".join(p.name for p in s._parameters)
    ),
    TEXT: lambda s: f"the body as a str, as {s._first!r}",
}


def _query_values(query_string: bytes) -> dict[str, Any]:
    """v1's reading of GET /score?a=1&b=[1,2]&c=x&c=y: {"a": 1, "b": [1, 2], "c": ["x", "y"]}."""
    found: dict[str, list[Any]] = {}
    for key, text in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        found.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in found.items()}


def _json_object(scope: Mapping[str, Any], body: bytes) -> dict[str, Any]:
    content_type = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
    mimetype = content_type.partition(b";")[0].strip().lower()
    if mimetype != b"application/json" and not (
        mimetype.startswith(b"application/") and mimetype.endswith(b"+json")
    ):
        raise BadInput(415, "Expects Content-Type to be application/json")
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        if body:
            raise BadInput(400, f"POST body could not be decoded as JSON: {exc}") from None
        raise BadInput(400, "POST body is empty. Expecting a JSON dictionary.") from None
    if not isinstance(parsed, dict):
        raise BadInput(400, "POST body should be a JSON dictionary.")
    return parsed
