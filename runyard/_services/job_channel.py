"""The job channel: how a job's ``Run.get_context()`` reaches the workspace through its agent.

Writes that need no answer (metrics, tags, properties) go to the run's append-only spool,
which the supervisor ingests. Everything else a script may ask (child runs, the registry,
reads of runs, metrics and details) is a request to the agent over this channel: the job
never opens the metadata store, so it needs no SQLAlchemy and works the same in a uv-built
environment, and a remote node later reaches the workspace the same way.

The channel is the metadata store's interface, served by the agent: a request is one
``Store`` method call (name, args, kwargs), the answer its result or the exception it
raised. The service functions the SDK calls run in the job process over a Services whose
``store`` is a ``ChannelStore``; files still go straight to the artifact store, which is a
folder on this machine.

Transport: ``multiprocessing.connection`` over loopback TCP, authenticated by an HMAC
challenge with the workspace's channel key (``agent/channel.key``, 0600, kept across agent
restarts); only a key holder gets to send anything. The agent writes its address to
``agent/channel.json`` when it starts; a job whose agent was replaced reads it again and
resends the request. ``RUNYARD_CHANNEL`` (host:port) and ``RUNYARD_CHANNEL_KEY`` (hex)
override both files, for a job on another machine.

Import-light: jobs import this module; ``multiprocessing.connection`` loads on first use.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._config import WorkspaceLayout, private_opener
from runyard.exceptions import RunyardError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection, Listener

    from runyard._config import Settings
    from runyard._services import Services
    from runyard._store.base import Store

log = logging.getLogger(__name__)

ADDRESS_VARIABLE = "RUNYARD_CHANNEL"
KEY_VARIABLE = "RUNYARD_CHANNEL_KEY"
ADDRESS_FILE = "channel.json"
KEY_FILE = "channel.key"
RECONNECT_SECONDS = 120.0  # how long a job waits for an agent to (re)appear
_KEY_BYTES = 32


class ChannelUnavailable(RunyardError):
    """The job could not reach its workspace's agent."""


# ---- the key and the address ------------------------------------------------------------
def channel_key(layout: WorkspaceLayout) -> bytes:
    """The workspace's channel key, made once (0600) and kept across agents. It appears
    whole or not at all (written aside, then linked into place)."""
    path = layout.agent_dir / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return _parse_key(path, path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(_KEY_BYTES)
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}")
    with open(tmp, "w", opener=private_opener) as f:
        f.write(key.hex())
    try:
        os.link(tmp, path)
    except FileExistsError:  # another agent made it at the same moment
        return _parse_key(path, path.read_text())
    finally:
        tmp.unlink()
    return key


def _parse_key(path: Path, text: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != _KEY_BYTES:
        raise ChannelUnavailable(
            f"The job channel's key {path} is damaged (not {_KEY_BYTES} bytes in hex). Stop "
            "the agent (`runyard agent stop`), delete the file and start it again: a new key "
            "is made."
        )
    return key


def _write_address(layout: WorkspaceLayout, address: tuple[str, int]) -> None:
    path = layout.agent_dir / ADDRESS_FILE
    tmp = path.with_name(f".{ADDRESS_FILE}.{os.getpid()}")
    with open(tmp, "w", opener=private_opener) as f:
        json.dump({"host": address[0], "port": address[1], "pid": os.getpid()}, f)
    os.replace(tmp, path)


def _read_address(workspace_dir: Path, environ: Mapping[str, str]) -> tuple[str, int] | None:
    given = environ.get(ADDRESS_VARIABLE)
    if given:
        host, _, port = given.rpartition(":")
        return host, int(port)
    try:
        found = json.loads((workspace_dir / "agent" / ADDRESS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return str(found["host"]), int(found["port"])


def _read_key(workspace_dir: Path, environ: Mapping[str, str]) -> bytes:
    given = environ.get(KEY_VARIABLE)
    if given:
        return bytes.fromhex(given)
    path = workspace_dir / "agent" / KEY_FILE
    try:
        return _parse_key(path, path.read_text())
    except FileNotFoundError:
        raise ChannelUnavailable(
            f"The job cannot reach its workspace: {path} does not exist (no agent ever served "
            f"this workspace), and {KEY_VARIABLE} is not set."
        ) from None


# ---- the agent's side ---------------------------------------------------------------------
class ChannelServer:
    """Serves the workspace's store to its jobs: one thread per connected job process."""

    def __init__(self, services: Services, host: str = "127.0.0.1") -> None:
        self.services = services
        self._key = channel_key(services.layout)
        self._host = host
        self._listener: Listener | None = None
        self._thread: threading.Thread | None = None
        self._methods = _store_methods()

    @property
    def address(self) -> tuple[str, int]:
        assert self._listener is not None
        address: tuple[str, int] = self._listener.address
        return address

    def start(self) -> None:
        # late: job side imports this module; only the agent serves
        from multiprocessing.connection import Listener

        self._listener = Listener((self._host, 0), backlog=64)
        _write_address(self.services.layout, self.address)
        self._thread = threading.Thread(target=self._accept, name="job-channel", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.close()

    def _accept(self) -> None:
        while self._listener is not None:
            try:
                conn = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(
                target=self._serve, args=(conn,), name="job-channel-conn", daemon=True
            ).start()

    def _serve(self, conn: Connection) -> None:
        # late: as in start()
        from multiprocessing.connection import answer_challenge, deliver_challenge

        with contextlib.closing(conn):
            try:
                deliver_challenge(conn, self._key)
                answer_challenge(conn, self._key)
            except Exception as exc:  # a peer without the key, or one that went away
                log.warning("job channel: refused a connection: %s", exc)
                return
            while True:
                try:
                    request = conn.recv()
                except (EOFError, OSError):
                    return
                conn.send(self._answer(request))

    def _answer(self, request: Any) -> tuple[str, Any]:
        try:
            method, args, kwargs = request
            if method not in self._methods:
                raise ChannelUnavailable(f"The job channel has no method {method!r}.")
            return "ok", getattr(self.services.store, method)(*args, **kwargs)
        except Exception as exc:
            return "error", _portable(exc)


def _store_methods() -> frozenset[str]:
    # late: job side; the Store interface module is only needed where it is served
    from runyard._store.base import Store

    return frozenset(name for name in dir(Store) if not name.startswith("_") and name != "close")


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling, else a RunyardError with its type and message."""
    # late: job side imports this module; pickle is needed only to check an error
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RunyardError(f"{type(exc).__name__}: {exc}")


# ---- the job's side ----------------------------------------------------------------------
class ChannelStore:
    """The metadata store as a job sees it: every method call is a request to the agent."""

    def __init__(self, workspace_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self._workspace_dir = Path(workspace_dir)
        self._environ = dict(os.environ if environ is None else environ)
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._call(method, args, kwargs)

        call.__name__ = method
        return call

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self._lock:
            deadline = time.monotonic() + RECONNECT_SECONDS
            while True:
                try:
                    conn = self._connect()
                    conn.send((method, args, kwargs))
                    outcome, value = conn.recv()
                    break
                except (OSError, EOFError) as exc:
                    # The agent went away (killed, replaced): a new one writes its address.
                    self._drop()
                    if time.monotonic() > deadline:
                        raise ChannelUnavailable(
                            f"The job could not reach its workspace's agent for "
                            f"{RECONNECT_SECONDS:.0f} s ({exc}). Check it with `runyard agent "
                            "status`; the run's metrics are kept in its spool meanwhile."
                        ) from None
                    time.sleep(0.2)
        if outcome == "error":
            raise value
        return value

    def _connect(self) -> Connection:
        if self._conn is None:
            # late: job side; only a job that asks something pays for it
            from multiprocessing.connection import Client

            address = _read_address(self._workspace_dir, self._environ)
            if address is None:
                raise FileNotFoundError(self._workspace_dir / "agent" / ADDRESS_FILE)
            self._conn = Client(address, authkey=_read_key(self._workspace_dir, self._environ))
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()


def channel_services(layout: WorkspaceLayout, settings: Settings) -> Services:
    """A job's Services: the store through the channel, the artifact folder directly."""
    # late: job side; the artifact store and the Services bundle are needed only once a
    # script asks for something beyond logging
    from runyard._services import Services
    from runyard._store import open_artifact_store

    store: Store = ChannelStore(layout.root)  # type: ignore[assignment]
    return Services(
        layout=layout,
        settings=settings,
        store=store,
        artifacts=open_artifact_store(layout.artifacts_dir),
    )
