"""The job channel's wire, shared by the job's client (``_services/job_channel.py``) and the
Ray relay that carries a remote node's requests to the agent's machine
(``_compute/ray_relay.py``): where the agent's address and key are, and a client that sends
one request and returns the answer, reconnecting to a replaced agent.

A request is ``(method, args, kwargs)``; the answer ``("ok", value)`` or ``("error", exc)``.
Transport: ``multiprocessing.connection`` over TCP, HMAC-authenticated with the workspace's
channel key (loaded on first use: jobs import this module).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard.exceptions import RunyardError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection, Listener

ADDRESS_VARIABLE = "RUNYARD_CHANNEL"  # host:port, overrides the address file
KEY_VARIABLE = "RUNYARD_CHANNEL_KEY"  # hex, overrides the key file
ADDRESS_FILE = "channel.json"
KEY_FILE = "channel.key"
KEY_BYTES = 32
RECONNECT_SECONDS = 120.0  # how long a job waits for an agent to (re)appear


class ChannelUnavailable(RunyardError):
    """The job could not reach its workspace's agent."""


def parse_key(path: Path, text: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise ChannelUnavailable(
            f"The job channel's key {path} is damaged (not {KEY_BYTES} bytes in hex). Stop "
            "the agent (`runyard agent stop`), delete the file and start it again: a new key "
            "is made."
        )
    return key


def read_address(workspace_dir: Path, environ: Mapping[str, str]) -> tuple[str, int] | None:
    given = environ.get(ADDRESS_VARIABLE)
    if given:
        host, _, port = given.rpartition(":")
        return host, int(port)
    try:
        found = json.loads((workspace_dir / "agent" / ADDRESS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return str(found["host"]), int(found["port"])


def read_key(workspace_dir: Path, environ: Mapping[str, str]) -> bytes:
    given = environ.get(KEY_VARIABLE)
    if given:
        return bytes.fromhex(given)
    path = workspace_dir / "agent" / KEY_FILE
    try:
        return parse_key(path, path.read_text())
    except FileNotFoundError:
        raise ChannelUnavailable(
            f"The job cannot reach its workspace: {path} does not exist (no agent ever served "
            f"this workspace), and {KEY_VARIABLE} is not set."
        ) from None


class ChannelClient:
    """One connection to the agent's channel (not thread-safe: callers hold a lock)."""

    def __init__(self, workspace_dir: Path, environ: Mapping[str, str]) -> None:
        self._workspace_dir = Path(workspace_dir)
        self._environ = dict(environ)
        self._conn: Connection | None = None

    def exchange(self, request: tuple[str, tuple[Any, ...], dict[str, Any]]) -> tuple[str, Any]:
        """The answer to one request; waits up to RECONNECT_SECONDS for an agent.

        Raises:
            ChannelUnavailable: no agent answered in that time.
        """
        deadline = time.monotonic() + RECONNECT_SECONDS
        while True:
            try:
                conn = self._connect()
                conn.send(request)
                answer: tuple[str, Any] = conn.recv()
                return answer
            except (OSError, EOFError) as exc:
                # The agent went away (killed, replaced): a new one writes its address.
                self.close()
                if time.monotonic() > deadline:
                    raise ChannelUnavailable(
                        f"The job could not reach its workspace's agent for "
                        f"{RECONNECT_SECONDS:.0f} s ({exc}). Check it with `runyard agent "
                        "status`; the run's metrics are kept in its spool meanwhile."
                    ) from None
                time.sleep(0.2)

    def _connect(self) -> Connection:
        if self._conn is None:
            # late: job side; only a job that asks something pays for it
            from multiprocessing.connection import Client

            address = read_address(self._workspace_dir, self._environ)
            if address is None:
                raise FileNotFoundError(self._workspace_dir / "agent" / ADDRESS_FILE)
            self._conn = Client(address, authkey=read_key(self._workspace_dir, self._environ))
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()


class ServedListener:
    """A listener whose connections are each served on a thread of their own (the agent's
    channel server, a Ray node's channel): subclasses set ``_listener`` and ``_serve``."""

    def __init__(self) -> None:
        self._listener: Listener | None = None

    def _serve(self, conn: Connection) -> None:
        raise NotImplementedError

    def _start_accepting(self, name: str) -> None:
        threading.Thread(target=self._accept, args=(name,), name=name, daemon=True).start()

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.close()

    def _accept(self, name: str) -> None:
        while self._listener is not None:
            try:
                conn = self._listener.accept()
            except OSError:
                return  # closed
            except Exception:  # noqa: BLE001 - a peer without the key (authkey listeners)
                continue
            threading.Thread(
                target=self._serve, args=(conn,), name=f"{name}-conn", daemon=True
            ).start()
