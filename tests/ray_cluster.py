"""A real multi-node Ray cluster on this machine for tests and benchmarks (docs/ray.md): a head
and worker nodes started by `ray start`, inside a private network namespace that has only
`lo`, so every socket Ray opens is on a loopback that nothing outside the namespace shares.

Needs root and iproute2 (`ip netns`). Code of this process reaches the cluster inside
`cluster.inside()`: a socket belongs to the namespace that was current when it was made, and
so does a thread started there, so `ray.init()` and Jobs API clients made inside keep working
after the block ends, and sockets made outside it (PostgreSQL) keep reaching the machine.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
NO_RAY = "Ray is not installed: pip install 'ray[default]>=2.60' (the Jobs API needs [default])"
MiB = 1024 * 1024
CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
NAME_PREFIX = "runyard-ray-"
# Every port is free in a fresh namespace, so all are fixed rather than left to `ray start`,
# which picks free ones before the raylet binds them. On one host each node needs a dashboard
# agent port of its own: a clash leaves that agent without HTTP, and the Jobs API then fails on
# the jobs whose driver runs there. Node k (the head is 0) gets 11000 + 1000 k and up, below
# the ephemeral range (32768+) that outgoing connections draw from.
GCS_PORT, DASHBOARD_PORT, CLIENT_PORT = 6379, 8265, 10001
NODE_PORT_BASE, NODE_PORT_STRIDE, MAX_NODES = 11000, 1000, 21
NODE_PORT_FLAGS = ("node-manager", "object-manager", "metrics-export", "dashboard-agent-grpc")
NODE_PORT_FLAGS += ("dashboard-agent-listen", "runtime-env-agent")


class RayClusterError(RuntimeError):
    """The cluster could not be started, reached or stopped; the message says why."""


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    num_cpus: int = 1
    memory: int = 1024 * MiB  # Ray's logical `memory` resource, not a limit
    object_store_memory: int = 100 * MiB  # Ray's minimum is 75 MiB
    resources: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: WorkerSpec | Mapping[str, Any]) -> WorkerSpec:
        if isinstance(spec, WorkerSpec):
            return spec
        unknown = sorted(set(spec) - set(cls.__slots__))
        if unknown:
            raise TypeError(f"unknown worker keys {unknown}; known: {list(cls.__slots__)}")
        return cls(**spec)


@dataclass(slots=True)
class WorkerNode:
    index: int
    spec: WorkerSpec
    session: int  # session id shared by every process of the node (its `ray start` pid)
    node_id: str
    alive: bool = True

    @property
    def resource(self) -> str:
        """A custom resource only this node has (1 unit): pins a task or actor to it."""
        return f"worker_{self.index}"


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns(CLONE_NEWNET) failed (needs root)")


def _proc_ids() -> Iterator[int]:
    return (int(name) for name in os.listdir("/proc") if name.isdigit())


def running(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _kill(pids: Sequence[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_for(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Polls probe (with back-off) until it returns a value; no fixed sleeps."""
    deadline, pause = time.monotonic() + timeout, 0.02
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise RayClusterError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def _wait_gone(pids: Sequence[int], timeout: float, what: str) -> None:
    _wait_for(lambda: None if any(map(running, pids)) else True, timeout, what)


class NetworkNamespace:
    """A network namespace with only `lo` (up), made and removed with iproute2."""

    _counter = itertools.count()

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = NETNS_DIR / name

    @classmethod
    def create(cls) -> NetworkNamespace:
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise RayClusterError("a private network namespace needs root and iproute2 (`ip`)")
        ns = cls(f"{NAME_PREFIX}{os.getpid()}-{next(cls._counter)}")
        for argv in (
            ["ip", "netns", "add", ns.name],
            ns.command(["ip", "link", "set", "lo", "up"]),
        ):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                ns.delete()
                raise RayClusterError(f"`{' '.join(argv)}` failed: {done.stderr.strip()}")
        return ns

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Runs the block's new sockets and threads of the calling thread in the namespace."""
        with open("/proc/thread-self/ns/net") as home, open(self.path) as target:
            _setns(target.fileno())
            try:
                yield
            finally:
                _setns(home.fileno())

    def pids(self) -> list[int]:
        """Every process (but this one) whose network namespace is this one."""
        try:
            inode = self.path.stat().st_ino
        except FileNotFoundError:
            return []
        found = []
        for pid in _proc_ids():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
                if pid != os.getpid() and os.stat(f"/proc/{pid}/ns/net").st_ino == inode:
                    found.append(pid)
        return found

    def delete(self, *, grace: float = 2.0) -> None:
        """Ends every process inside (SIGTERM, then SIGKILL after grace), then the namespace."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            pids = [pid for pid in self.pids() if running(pid)]
            _kill(pids, sig)
            with contextlib.suppress(RayClusterError):
                _wait_gone(pids, wait, "")
        left = [pid for pid in self.pids() if running(pid)]
        if left:
            raise RayClusterError(f"processes {left} survived SIGKILL in namespace {self.name}")
        if self.path.exists():
            subprocess.run(["ip", "netns", "delete", self.name], check=True, capture_output=True)


def remove_stale_namespaces() -> list[str]:
    """Deletes the namespaces (and their processes) of test runs that died without cleaning up."""
    removed = []
    for path in sorted(NETNS_DIR.glob(f"{NAME_PREFIX}*")):
        owner = path.name.removeprefix(NAME_PREFIX).partition("-")[0]
        if owner.isdigit() and not running(int(owner)):
            NetworkNamespace(path.name).delete(grace=2.0)
            removed.append(path.name)
    return removed


class RayCluster:
    """A head and worker nodes, each its own `ray start`, in a private network namespace.

    Args:
        env: extra environment of every Ray process (e.g. RAY_health_check_period_ms).
        timeout: seconds any one step (a node start, a state change) may take.
    """

    def __init__(self, *, env: Mapping[str, str] | None = None, timeout: float = 120.0) -> None:
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **(env or {})}
        self.timeout = timeout
        self.address = f"127.0.0.1:{GCS_PORT}"
        self.dashboard_url = f"http://127.0.0.1:{DASHBOARD_PORT}"
        self.workers: list[WorkerNode] = []
        self.head_node_id = ""
        self.namespace: NetworkNamespace | None = None
        self.temp_dir: Path | None = None
        self._ray = Path(sys.executable).with_name("ray")
        self._logs: dict[int, Path] = {}  # `ray start` pid -> its output

    def start(
        self,
        *,
        head_num_cpus: int = 0,
        workers: Sequence[WorkerSpec | Mapping[str, Any]] = ({}, {}),
    ) -> str:
        """Starts the head, then each worker; returns the GCS address (127.0.0.1:6379)."""
        if self.namespace is not None:
            raise RayClusterError("this cluster is already started; stop() it first")
        if not self._ray.exists():
            raise RayClusterError(f"no `ray` next to {sys.executable}: pip install 'ray[default]'")
        specs = [WorkerSpec.of(spec) for spec in workers]
        remove_stale_namespaces()
        atexit.register(self.stop)
        try:
            self.namespace = NetworkNamespace.create()
            # Short: Ray's unix sockets live under it and a socket path holds 107 bytes.
            self.temp_dir = Path(tempfile.mkdtemp(prefix="ryray-", dir="/tmp"))
            head = self._ray_start(
                0, ["--head", f"--port={GCS_PORT}", f"--num-cpus={head_num_cpus}"]
            )
            head += [f"--object-store-memory={WorkerSpec().object_store_memory}"]
            head += ["--include-dashboard=true", "--dashboard-host=127.0.0.1"]
            head += [
                f"--dashboard-port={DASHBOARD_PORT}",
                f"--ray-client-server-port={CLIENT_PORT}",
            ]
            self._wait_started(self._popen(head), "the head node")
            self.head_node_id = self._wait_node(lambda n: n["is_head_node"], "the head node")
            # One after another, in one temp dir: `ray start`s side by side there race for
            # unix socket names (one raylet dies on bind), and with a temp dir per node the Jobs
            # API tails the wrong log (every node's dashboard agent, seeing several nodes on its
            # IP, connects to the head's and reads the head's log dir).
            for spec in specs:
                self.add_worker(spec)
        except BaseException:
            self.stop()
            raise
        return self.address

    def add_worker(self, spec: WorkerSpec | Mapping[str, Any] | None = None) -> WorkerNode:
        """Starts one more worker node and waits until the head lists it alive."""
        if self.namespace is None:
            raise RayClusterError("start() the cluster before adding workers")
        proc, node = self._launch_worker(len(self.workers), WorkerSpec.of(spec or {}))
        self._wait_started(proc, f"worker node {node.index}")
        return self._await_worker(node)

    def kill_worker(self, index: int) -> str:
        """SIGKILLs every process of worker node `index` (raylet, agents, workers, and what
        they started, jobs included) at once, as a lost machine; returns its Ray node id."""
        node = self.workers[index]
        family: list[int] = []
        found = sorted(pid for pid in _proc_ids() if _session_of(pid) == node.session)
        while found != family:  # freeze until no new descendant appears, then kill them all
            family = found
            _kill(family, signal.SIGSTOP)
            found = _with_descendants(family)
        _kill(family, signal.SIGKILL)
        _wait_gone(family, self.timeout, f"the processes of worker node {index} to end")
        node.alive = False
        return node.node_id

    def wait_node_dead(self, node_id: str) -> dict[str, Any]:
        """Waits until the head has marked the node DEAD (Ray's health check; ~14 s default)."""
        self._wait_node(
            lambda n: n["node_id"] == node_id and n["state"] == "DEAD", f"{node_id} DEAD"
        )
        return next(n for n in self.nodes() if n["node_id"] == node_id)

    def nodes(self) -> list[dict[str, Any]]:
        """Every node the head knows, dead ones too, from the state API (GET /api/v0/nodes)."""
        url = f"{self.dashboard_url}/api/v0/nodes?detail=1&limit=10000"
        with self.inside(), urllib.request.urlopen(url, timeout=10) as reply:
            body = json.load(reply)
        if not body.get("result"):
            raise RayClusterError(f"GET {url} answered {body.get('msg')!r}")
        return list(body["data"]["result"]["result"])

    def status(self) -> str:
        """`ray status --address ...`, run inside the namespace."""
        done = self.run([str(self._ray), "status", f"--address={self.address}"])
        if done.returncode != 0:
            raise RayClusterError(f"ray status exited {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout

    def run(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Runs a command inside the namespace (captured text output, self.timeout)."""
        if self.namespace is None:
            raise RayClusterError("the cluster is not started")
        kwargs = {"capture_output": True, "text": True, "timeout": self.timeout, **kwargs}
        return subprocess.run(self.namespace.command(argv), env=self.env, **kwargs)

    def inside(self) -> contextlib.AbstractContextManager[None]:
        """A block whose new sockets (and threads) of this thread are in the namespace."""
        if self.namespace is None:
            raise RayClusterError("the cluster is not started")
        return self.namespace.entered()

    def expose_outer_port(self, port: int) -> socket.socket:
        """Forwards 127.0.0.1:port inside the namespace to 127.0.0.1:port outside it (e.g.
        PostgreSQL for a job on a Ray node); close the returned listener to stop."""
        with self.inside():
            listener = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=_forward_accepted, args=(listener, port), daemon=True).start()
        return listener

    def stop(self) -> None:
        """Ends every process in the namespace, deletes it and the temp dir; idempotent.

        Not `ray stop`: that kills every Ray process of the machine, other clusters' too."""
        atexit.unregister(self.stop)
        if self.namespace is not None:
            self.namespace.delete()
            self.namespace = None
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir)
            self.temp_dir = None
        self.workers.clear()

    def _ray_start(self, node: int, extra: list[str]) -> list[str]:
        if node >= MAX_NODES:
            raise RayClusterError(f"at most {MAX_NODES} nodes fit the port plan of ray_cluster.py")
        base = NODE_PORT_BASE + NODE_PORT_STRIDE * node
        ports = [f"--{flag}-port={base + i}" for i, flag in enumerate(NODE_PORT_FLAGS)]
        return [
            *(str(self._ray), "start", "--node-ip-address=127.0.0.1", *extra, *ports),
            f"--min-worker-port={base + 100}",
            f"--max-worker-port={base + NODE_PORT_STRIDE - 1}",
            *(f"--temp-dir={self.temp_dir}", "--disable-usage-stats", "--num-gpus=0"),
        ]

    def _launch_worker(
        self, index: int, spec: WorkerSpec
    ) -> tuple[subprocess.Popen[bytes], WorkerNode]:
        resources = {**spec.resources, f"worker_{index}": 1}
        argv = self._ray_start(
            index + 1, [f"--address={self.address}", f"--num-cpus={spec.num_cpus}"]
        )
        argv += [f"--memory={spec.memory}", f"--object-store-memory={spec.object_store_memory}"]
        proc = self._popen([*argv, f"--resources={json.dumps(resources)}"])
        node = WorkerNode(index=index, spec=spec, session=proc.pid, node_id="")
        self.workers.append(node)
        return proc, node

    def _await_worker(self, node: WorkerNode) -> WorkerNode:
        def mine(n: dict[str, Any]) -> bool:
            return n["state"] == "ALIVE" and node.resource in n["resources_total"]

        node.node_id = self._wait_node(mine, f"worker node {node.index} to be ALIVE")
        return node

    def _popen(self, argv: list[str]) -> subprocess.Popen[bytes]:
        assert self.namespace is not None and self.temp_dir is not None
        path = self.temp_dir / f"ray-start-{len(self._logs)}.log"
        with open(path, "wb") as log:  # a session of its own: kill_worker finds the node by it
            proc = subprocess.Popen(
                self.namespace.command(argv),
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self._logs[proc.pid] = path
        return proc

    def _wait_started(self, proc: subprocess.Popen[bytes], what: str) -> None:
        try:
            code = proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
        if code != 0:
            tail = self._logs[proc.pid].read_text(errors="replace")[-3000:]
            took = f"took over {self.timeout:.0f} s" if code is None else f"exited {code}"
            raise RayClusterError(f"`ray start` of {what} {took}; its output ends:\n{tail}")

    def _wait_node(self, match: Callable[[dict[str, Any]], bool], what: str) -> str:
        def probe() -> str | None:
            try:
                return next((n["node_id"] for n in self.nodes() if match(n)), None)
            except (OSError, urllib.error.URLError, RayClusterError):
                return None  # the dashboard is still starting

        return _wait_for(probe, self.timeout, what)


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def _with_descendants(pids: Sequence[int]) -> list[int]:
    parents: dict[int, list[int]] = {}
    for pid in _proc_ids():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
            parents.setdefault(ppid, []).append(pid)
    family, todo = set(pids), list(pids)
    while todo:
        children = [c for c in parents.get(todo.pop(), []) if c not in family]
        family.update(children)
        todo.extend(children)
    return sorted(family)


def _forward_accepted(listener: socket.socket, port: int) -> None:
    with contextlib.suppress(OSError):  # the listener was closed: stop forwarding
        while True:
            inner, _ = listener.accept()
            threading.Thread(target=_bridge, args=(inner, port), daemon=True).start()


def _bridge(inner: socket.socket, port: int) -> None:
    with (
        inner,
        contextlib.suppress(OSError),
        socket.create_connection(("127.0.0.1", port)) as outer,
    ):
        back = threading.Thread(target=_pump, args=(outer, inner), daemon=True)
        back.start()
        _pump(inner, outer)
        back.join()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
