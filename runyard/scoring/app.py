"""The worker's HTTP side: a FastAPI app with ``POST|GET /score``, ``GET /`` (liveness)
and ``GET /swagger.json``.

FastAPI routes each path to a plain ASGI endpoint of ``ScoringApp``: a scoring request goes
through one function (no request model, validation or dependency injection per request) to
the script thread and back. FastAPI's own docs and OpenAPI routes are off: the service's
swagger.json is v1's, shaped by the script's inference_schema decorators.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runyard.scoring import replies
from runyard.scoring.auth import ServiceKeys
from runyard.scoring.replies import Reply
from runyard.scoring.runner import RunTimedOut, ScriptThread
from runyard.scoring.script import EntryScript
from runyard.scoring.settings import WorkerSettings
from runyard.scoring.swagger import SwaggerDocuments

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_HEALTHY = Reply(200, replies.headers_for(b"Healthy", replies.TEXT), b"Healthy")
_STARTING = replies.message(
    503,
    "The service is starting: its init() is still running. Retry in a few seconds.",
    (b"retry-after", b"1"),
)
_NOT_FOUND = replies.message(
    404, "Not found: this service answers GET /, GET /swagger.json and POST /score."
)
_CLOSE = (b"connection", b"close")
_SCORE_METHODS = (b"allow", b"GET, POST, OPTIONS")
_OPTIONS = Reply(200, [*replies.headers_for(b""), _SCORE_METHODS], b"")


def _not_allowed(allow: bytes) -> Reply:
    text = f"Method not allowed: this path takes {allow.decode()}."
    return replies.message(405, text, (b"allow", allow))


_NOT_ALLOWED_SCORE = _not_allowed(b"GET, POST, OPTIONS")
_NOT_ALLOWED_GET = _not_allowed(b"GET")


class _ClientGone(Exception):
    """The client closed the connection before its body was in."""


async def _send(send: Send, reply: Reply, *, close: bool = False) -> None:
    headers = [*reply.headers, _CLOSE] if close else reply.headers
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


class ScoringApp:
    """Serves one entry script once :meth:`mark_ready` says its init() has returned."""

    def __init__(self, settings: WorkerSettings, script: EntryScript, thread: ScriptThread):
        self._settings = settings
        self._keys = ServiceKeys(settings.auth_file)
        self._limit = settings.max_body_bytes
        self._timeout_ms = settings.timeout_ms
        self._script = script
        self._thread = thread
        self._swagger: SwaggerDocuments | None = None
        self._too_large = replies.message(
            413,
            f"Payload too large: this service takes request bodies of at most {self._limit} "
            "bytes (RUNYARD_SERVICE_MAX_BODY_BYTES).",
            _CLOSE,
        )
        self._timed_out = replies.message(
            504,
            f"run() did not finish within {self._timeout_ms} ms (the service's scoring "
            "timeout), so it was stopped.",
        )
        self.ready = False
        # Set when the worker drains (its generation is replaced, or it stops): every reply
        # then says "Connection: close", so a keep-alive client moves to another worker
        # after its answer instead of racing a close of its idle connection.
        self.draining = False

    async def _send(self, send: Send, reply: Reply) -> None:
        await _send(send, reply, close=self.draining)

    def mark_ready(self) -> None:
        """init() has returned: serve /score and /swagger.json (from any thread)."""
        self._swagger = SwaggerDocuments(
            self._settings.service_name, self._script.run, self._settings.source_directory
        )
        self.ready = True

    def fastapi(self) -> FastAPI:
        """The FastAPI app uvicorn serves: one route per path, each an ASGI endpoint here
        (every method reaches it; each answers 405 itself, with v1's Allow header)."""
        app = FastAPI(
            title=self._settings.service_name, docs_url=None, redoc_url=None, openapi_url=None
        )
        app.router.routes.extend(
            [
                Route("/score", _Endpoint(self._score)),
                Route("/", _Endpoint(self._liveness)),
                Route("/swagger.json", _Endpoint(self._swagger_endpoint)),
            ]
        )
        app.add_exception_handler(404, _not_found)
        return app

    async def _liveness(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await self._send(send, _NOT_ALLOWED_GET)
        else:
            await self._send(send, _HEALTHY if self.ready else _STARTING)

    async def _swagger_endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._send(send, self._swagger_reply(scope))

    async def _score(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method != "POST" and method != "GET":
            await self._send(send, _OPTIONS if method == "OPTIONS" else _NOT_ALLOWED_SCORE)
            return
        if not self.ready:
            await self._send(send, _STARTING)
            return
        authorization = length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                length = value
        refusal = self._keys.refusal(authorization)
        if refusal is not None:
            await self._send(send, replies.message(401, refusal, (b"www-authenticate", b"Bearer")))
            return
        if length is not None and (not length.isdigit() or int(length) > self._limit):
            bad = replies.message(400, "Invalid Content-Length header.", _CLOSE)
            await self._send(send, self._too_large if length.isdigit() else bad)
            return
        try:
            body = await self._body(receive)
        except _ClientGone:
            return  # nobody waits for the answer: run() is not called
        if body is None:
            await self._send(send, self._too_large)
            return
        try:
            reply = await self._thread.call(self._timeout_ms, self._script.score, scope, body)
        except RunTimedOut:
            logger.error("run() did not finish within %d ms: stopped it (504)", self._timeout_ms)
            reply = self._timed_out
        await self._send(send, reply)

    async def _body(self, receive: Receive) -> bytes | None:
        """The whole body; None past the limit (a chunked body is counted as it comes)."""
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        body = message.get("body", b"")
        if not message.get("more_body", False):
            return body if len(body) <= self._limit else None
        chunks, size = [body], len(body)
        while message.get("more_body", False):
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _swagger_reply(self, scope: Scope) -> Reply:
        if scope["method"] not in ("GET", "HEAD"):
            return _NOT_ALLOWED_GET
        if self._swagger is None:
            return _STARTING
        version = parse_qs(scope["query_string"].decode("latin-1")).get("version", [None])[0]
        document, why = self._swagger.get(version)
        if document is None:
            return replies.message(404, why)
        return Reply(200, replies.headers_for(document), document)


class _Endpoint:
    """An ASGI callable object: Starlette's Route passes such an endpoint scope, receive and
    send as they are (a function would be wrapped into a Request/Response handler)."""

    def __init__(self, handler: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._handler(scope, receive, send)


async def _not_found(request: Request, exc: Exception) -> Response:
    return Response(_NOT_FOUND.body, 404, media_type="application/json")
