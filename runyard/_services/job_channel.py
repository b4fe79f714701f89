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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard._channel_wire import ADDRESS_FILE as ADDRESS_FILE
from runyard._channel_wire import ADDRESS_VARIABLE as ADDRESS_VARIABLE
from runyard._channel_wire import KEY_BYTES, ChannelClient, ServedListener, parse_key
from runyard._channel_wire import KEY_FILE as KEY_FILE
from runyard._channel_wire import KEY_VARIABLE as KEY_VARIABLE
from runyard._channel_wire import ChannelUnavailable as ChannelUnavailable
from runyard._config import WorkspaceLayout, private_opener
from runyard._jobenv import ARTIFACTS_CHANNEL, ARTIFACTS_VARIABLE
from runyard._store.artifacts import ArtifactStore
from runyard.exceptions import RunyardError

# Requests for the artifact store: "artifacts.<method>" (files as bytes).
ARTIFACTS_PREFIX = "artifacts."
ARTIFACT_METHODS = frozenset({"put_bytes", "read_bytes", "exists", "list", "copy", "delete_prefix"})

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from runyard._config import Settings
    from runyard._services import Services
    from runyard._store.base import Store

log = logging.getLogger(__name__)


# ---- the key and the address ------------------------------------------------------------
def channel_key(layout: WorkspaceLayout) -> bytes:
    """The workspace's channel key, made once (0600) and kept across agents. It appears
    whole or not at all (written aside, then linked into place)."""
    path = layout.agent_dir / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return parse_key(path, path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}")
    with open(tmp, "w", opener=private_opener) as f:
        f.write(key.hex())
    try:
        os.link(tmp, path)
    except FileExistsError:  # another agent made it at the same moment
        return parse_key(path, path.read_text())
    finally:
        tmp.unlink()
    return key


def _write_address(layout: WorkspaceLayout, address: tuple[str, int]) -> None:
    path = layout.agent_dir / ADDRESS_FILE
    tmp = path.with_name(f".{ADDRESS_FILE}.{os.getpid()}")
    with open(tmp, "w", opener=private_opener) as f:
        json.dump({"host": address[0], "port": address[1], "pid": os.getpid()}, f)
    os.replace(tmp, path)


# ---- the agent's side ---------------------------------------------------------------------
class ChannelServer(ServedListener):
    """Serves the workspace's store to its jobs: one thread per connected job process."""

    def __init__(self, services: Services, host: str = "127.0.0.1") -> None:
        super().__init__()
        self.services = services
        self._key = channel_key(services.layout)
        self._host = host
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
        self._start_accepting("job-channel")

    def stop(self) -> None:
        self.close()

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
            if method.startswith(ARTIFACTS_PREFIX):
                name = method[len(ARTIFACTS_PREFIX) :]
                if name not in ARTIFACT_METHODS:
                    raise ChannelUnavailable(f"The job channel has no method {method!r}.")
                return "ok", getattr(self.services.artifacts, name)(*args, **kwargs)
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
        self._client = ChannelClient(workspace_dir, os.environ if environ is None else environ)
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
            self._client.close()

    def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self._lock:
            outcome, value = self._client.exchange((method, args, kwargs))
        if outcome == "error":
            raise value
        return value


class ChannelArtifactStore(ArtifactStore):
    """The artifact store as a job on another machine sees it (``RUNYARD_ARTIFACTS=channel``,
    a Ray node): every call is a request to the agent, files travel as bytes."""

    def __init__(self, store: ChannelStore) -> None:
        self._store = store

    def _ask(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._store._call(f"{ARTIFACTS_PREFIX}{method}", args, kwargs)

    def put_file(self, key: str, src: Path, *, overwrite: bool = True) -> None:
        self.put_bytes(key, Path(src).read_bytes(), overwrite=overwrite)

    def put_bytes(self, key: str, data: bytes, *, overwrite: bool = True) -> None:
        self._ask("put_bytes", key, data, overwrite=overwrite)

    def get_file(self, key: str, dest: Path) -> None:
        data = self.read_bytes(key)
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(data)

    def read_bytes(self, key: str) -> bytes:
        data: bytes = self._ask("read_bytes", key)
        return data

    def exists(self, key: str) -> bool:
        return bool(self._ask("exists", key))

    def list(self, prefix: str) -> list[str]:
        return list(self._ask("list", prefix))

    def copy(self, src_key: str, dst_key: str) -> None:
        self._ask("copy", src_key, dst_key)

    def delete_prefix(self, prefix: str) -> None:
        self._ask("delete_prefix", prefix)

    def local_path(self, key: str) -> Path | None:
        return None  # not on this machine


def job_artifact_store(layout: WorkspaceLayout, environ: Mapping[str, str] | None = None) -> Any:
    """The artifact store a job uses: the workspace's folder, or the channel on a node of
    another machine (``RUNYARD_ARTIFACTS=channel``)."""
    # late: job side; the artifact store is needed only once a script asks for files
    from runyard._store import open_artifact_store

    env = os.environ if environ is None else environ
    if env.get(ARTIFACTS_VARIABLE) == ARTIFACTS_CHANNEL:
        return ChannelArtifactStore(ChannelStore(layout.root, env))
    return open_artifact_store(layout.artifacts_dir)


def channel_services(layout: WorkspaceLayout, settings: Settings) -> Services:
    """A job's Services: the store through the channel, the artifact folder directly."""
    # late: job side; the artifact store and the Services bundle are needed only once a
    # script asks for something beyond logging
    from runyard._services import Services

    store: Store = ChannelStore(layout.root)  # type: ignore[assignment]
    return Services(
        layout=layout, settings=settings, store=store, artifacts=job_artifact_store(layout)
    )
