"""``python -m runyard.scoring.worker``: one scoring worker of a deployed web service.

    python -m runyard.scoring.worker [--fd N | --host H --port P] [--ready-fd M]
                                     [--accept-while-starting]

``--fd N``: serve on the listening TCP socket inherited as file descriptor N (several workers
share one; the host process owns it). ``--host/--port``: bind one itself (tests, debugging).
``--ready-fd M``: write ``ready`` to this pipe once init() has returned, or ``failed`` if the
script or its init() raised (the worker then exits with code 3). Without
``--accept-while-starting`` no connection is accepted before init() has returned (other,
ready workers serve the shared backlog meanwhile); with it, the worker serves at once and
answers 503 on / and /score until then.

Environment: AZUREML_ENTRY_SCRIPT, AZUREML_SOURCE_DIRECTORY, RUNYARD_SERVICE_NAME,
RUNYARD_SERVICE_AUTH, RUNYARD_SERVICE_MAX_BODY_BYTES, RUNYARD_SERVICE_TIMEOUT_MS
(see runyard.scoring.settings); AZUREML_MODEL_DIR and AML_APP_ROOT are the script's.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Sequence

import uvicorn

from runyard import _jobenv
from runyard.scoring.app import ScoringApp
from runyard.scoring.runner import ScriptThread
from runyard.scoring.script import EntryScript
from runyard.scoring.settings import SERVICE_NAME, SettingsError, WorkerSettings

logger = logging.getLogger("runyard.scoring")

DRAIN_SECONDS = 10.0  # a stopping worker's wait for its clients to close their connections
# Longer than the idle expiry of common clients (httpx: 5 s), so an idle keep-alive
# connection is closed by the client, not under a request the client is sending.
KEEP_ALIVE_SECONDS = 15
EXIT_FAILED = 3  # the script did not import, or its init() raised (v1's workers exit 3 too)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m runyard.scoring.worker", description="One scoring worker."
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--fd", type=int, help="an inherited, listening TCP socket")
    where.add_argument("--port", type=int, help="bind this port (with --host)")
    parser.add_argument("--host", default="127.0.0.1", help="with --port (default 127.0.0.1)")
    parser.add_argument("--ready-fd", type=int, help="a pipe to write ready / failed to")
    parser.add_argument(
        "--accept-while-starting",
        action="store_true",
        help="serve at once, 503 until init() has returned",
    )
    parser.add_argument("--http", choices=("auto", "httptools", "h11"), default="auto")
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    return parser.parse_args(argv)


class ReadyPipe:
    """The ``--ready-fd`` pipe: one word written, then closed (from any thread)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def say(self, word: bytes) -> None:
        with self._lock:
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
            try:
                os.write(fd, word)
            except OSError as exc:
                logger.warning("Could not write %r to the ready pipe: %s", word, exc)
            finally:
                os.close(fd)


def _configure_logging(service: str) -> None:
    # The host writes the worker's stdout and stderr to the service's log: lines, not blocks.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s [{service} worker %(process)d] %(name)s: %(message)s",
    )


def _pick(choice: str, fast: str, fallback: str) -> str:
    if choice != "auto":
        return choice
    return fast if importlib.util.find_spec(fast) is not None else fallback


class _Server(uvicorn.Server):
    """uvicorn's server, with a drain before its shutdown: on SIGTERM it stops accepting
    (the connections still queued go to the other workers sharing the socket), answers what
    its open connections still send with "Connection: close", and waits up to
    ``DRAIN_SECONDS`` for the clients to close them. Only then does uvicorn's own shutdown
    close what is left: closing an idle keep-alive connection at once resets a request the
    client may be sending on it at that moment."""

    def __init__(
        self, config: uvicorn.Config, app: ScoringApp, on_started: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self._scoring, self._on_started = app, on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        self._scoring.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_SECONDS
        while self.server_state.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await super().shutdown(sockets=sockets)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ready = ReadyPipe(args.ready_fd)
    _configure_logging(os.environ.get(SERVICE_NAME) or "service")
    try:
        settings = WorkerSettings.from_environ(os.environ)
    except SettingsError as exc:
        logger.error("Cannot start: %s", exc)
        ready.say(b"failed\n")
        return EXIT_FAILED
    http, loop = _pick(args.http, "httptools", "h11"), _pick(args.loop, "uvloop", "asyncio")
    where = f"fd {args.fd}" if args.fd is not None else f"{args.host}:{args.port}"
    logger.info(
        "Starting the scoring worker of service %r (pid %d, Python %s): entry script %s, on %s, "
        "http=%s loop=%s, %s, auth %s, body limit %d bytes, timeout %d ms",
        settings.service_name,
        os.getpid(),
        sys.version.split()[0],
        settings.entry_script,
        where,
        http,
        loop,
        "serving while init() runs" if args.accept_while_starting else "serving after init()",
        f"from {settings.auth_file}" if settings.auth_file else "off",
        settings.max_body_bytes,
        settings.timeout_ms,
    )
    # `import azureml...` in the script is Runyard (azureml.contrib.services, azureml.core)
    if _jobenv.alias_pythonpath() not in sys.path:
        sys.path.insert(0, _jobenv.alias_pythonpath())

    thread = ScriptThread()
    script = EntryScript(settings.entry_script, settings.source_directory)
    app = ScoringApp(settings, script, thread)
    config = uvicorn.Config(
        app.fastapi(),
        host=args.host,
        port=args.port or 0,
        http=http,
        loop=loop,
        lifespan="off",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,  # one line per request costs more than a small run()
        log_config=None,
        timeout_graceful_shutdown=settings.timeout_ms // 1000 + 1,
    )
    accepting = args.accept_while_starting
    server = _Server(config, app, on_started=lambda: None if accepting else ready.say(b"ready\n"))
    done = threading.Event()
    failed = False

    def start() -> None:
        nonlocal failed
        try:
            script.load()
            seconds = script.init()
            app.mark_ready()
        except BaseException:  # whatever the user's code raised: it cannot serve
            failed = True
            logger.exception("The entry script failed to start (its import or init() raised)")
            ready.say(b"failed\n")
            server.should_exit = True
        else:
            logger.info("init() done in %.3f s", seconds)
            if accepting:
                ready.say(b"ready\n")
        finally:
            done.set()

    thread.submit(start)
    if not accepting:
        done.wait()
        if failed:
            return EXIT_FAILED
    sockets = None if args.fd is None else [socket.socket(fileno=args.fd)]
    server.run(sockets=sockets)
    return EXIT_FAILED if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
