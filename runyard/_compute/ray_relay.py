"""The job channel across a Ray cluster: a job on a Ray node reaches its workspace's agent
(store requests and artifact files, ``_services/job_channel.py``) the way a local job does,
whatever machine the node is on, and no agent port is opened beyond loopback.

- ``ChannelRelay``: one detached actor per workspace, pinned to the agent's Ray node; it sends
  each request to the agent over the workspace's loopback channel (address and key read from
  the workspace's ``agent/`` folder, so it follows a replaced agent).
- ``NodeChannel``: in each node actor, a loopback listener with a key of its own for the job's
  processes; it hands every request to the relay through Ray and sends back the answer. The
  job gets its address and key as ``RUNYARD_CHANNEL`` / ``RUNYARD_CHANNEL_KEY`` and
  ``RUNYARD_ARTIFACTS=channel``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard import _jobenv
from runyard._channel_wire import (
    ADDRESS_VARIABLE,
    KEY_BYTES,
    KEY_VARIABLE,
    ChannelClient,
    ChannelUnavailable,
    ServedListener,
)

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

RELAY_PREFIX = "runyard-channel-"
RELAY_CALL_TIMEOUT = 600.0  # s for one request through the relay (a large file, a busy agent)
RELAY_IDLE_SECONDS = 600.0  # an unused relay ends; the next request makes it again
NAMESPACE = "runyard"  # the Ray namespace of Runyard's actors


def relay_spec(workspace_dir: str, agent_node: str) -> dict[str, str]:
    """What a node needs to find (or make again) its workspace's relay."""
    name = RELAY_PREFIX + hashlib.sha1(workspace_dir.encode()).hexdigest()[:16]
    return {"name": name, "node": agent_node, "workspace": workspace_dir}


def ensure_relay(ray: Any, spec: Mapping[str, str]) -> Any:
    """The relay's handle: the running one, or a new one on the agent's Ray node."""
    # late: part of Ray, loaded by the caller
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return (
        ray.remote(ChannelRelay)
        .options(
            name=spec["name"],
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            num_cpus=0,
            max_concurrency=16,
            scheduling_strategy=NodeAffinitySchedulingStrategy(spec["node"], soft=False),
        )
        .remote(spec["workspace"])
    )


class ChannelRelay:
    """The actor on the agent's machine; one client per calling thread. It ends itself
    after RELAY_IDLE_SECONDS without a request (a node makes it again when it needs it)."""

    def __init__(self, workspace_dir: str) -> None:
        self.workspace_dir = Path(workspace_dir)
        self._local = threading.local()
        self._last = time.monotonic()
        threading.Thread(target=self._end_when_idle, daemon=True).start()

    def call(self, request: tuple[str, tuple[Any, ...], dict[str, Any]]) -> tuple[str, Any]:
        self._last = time.monotonic()
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = ChannelClient(self.workspace_dir, {})
        try:
            return client.exchange(request)
        except ChannelUnavailable as exc:
            return "error", exc
        finally:
            self._last = time.monotonic()

    def _end_when_idle(self) -> None:
        while time.monotonic() - self._last < RELAY_IDLE_SECONDS:
            time.sleep(min(30.0, RELAY_IDLE_SECONDS / 10))
        os._exit(0)  # Ray sees the actor gone and frees its name


class NodeChannel(ServedListener):
    """The job's end on its node: serves ``RUNYARD_CHANNEL`` on loopback, answers through
    the relay ``relay`` (a Ray actor handle)."""

    def __init__(self, ray: Any, relay: Mapping[str, str]) -> None:
        # late: only a node actor serves; multiprocessing.connection loads here
        from multiprocessing.connection import Listener

        super().__init__()
        self._ray, self._spec = ray, dict(relay)
        self._relay: Any = None
        self._relay_lock = threading.Lock()
        self.key = secrets.token_bytes(KEY_BYTES)
        self._listener = Listener(("127.0.0.1", 0), authkey=self.key)
        self._start_accepting("node-channel")

    def environment(self) -> dict[str, str]:
        """What the job's processes need to reach their workspace through this node."""
        assert self._listener is not None
        host, port = self._listener.address
        return {
            ADDRESS_VARIABLE: f"{host}:{port}",
            KEY_VARIABLE: self.key.hex(),
            _jobenv.ARTIFACTS_VARIABLE: _jobenv.ARTIFACTS_CHANNEL,
        }

    def _serve(self, conn: Connection) -> None:
        with contextlib.closing(conn):
            while True:
                try:
                    request = conn.recv()
                except (EOFError, OSError):
                    return
                conn.send(self._forward(request))

    def _handle(self, *, again: bool = False) -> Any:
        with self._relay_lock:
            if self._relay is None or again:
                self._relay = ensure_relay(self._ray, self._spec)
            return self._relay

    def _forward(self, request: Any) -> tuple[str, Any]:
        try:
            try:
                relay = self._handle()
                answer: tuple[str, Any] = self._ray.get(
                    relay.call.remote(request), timeout=RELAY_CALL_TIMEOUT
                )
            except self._ray.exceptions.RayActorError:  # it ended (idle): make it again
                relay = self._handle(again=True)
                answer = self._ray.get(relay.call.remote(request), timeout=RELAY_CALL_TIMEOUT)
            return answer
        except Exception as exc:  # noqa: BLE001 - Ray's errors: the job sees why
            return "error", ChannelUnavailable(
                f"The job's request could not reach the agent's machine through Ray "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:300]})."
            )
