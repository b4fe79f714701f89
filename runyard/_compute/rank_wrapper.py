"""The job wrapper's side of a distributed job: one node's ranks, started and watched by it.

``job_wrapper`` hands a request with ``ranks`` here. Each rank runs the job's argv as a
child of the wrapper, with its own variables (``ranks.plan``) and its stdout and stderr in
its own log (v1's ``70_driver_log_<rank>.txt``); rank 0's output is also copied to the
wrapper's stdout, the job's driver log, which show_output streams. As torchrun does, the
first rank that fails ends the node's others (SIGTERM, then SIGKILL after ``STOP_GRACE``)
and the node's status names it. A SIGTERM (a cancel) goes to every rank.

MPI: MPICH's PMI-1 client (the PyPI ``mpich`` wheel, under mpi4py) joins a world through
PMI_PORT / PMI_ID. The wrapper of the run's first node serves that world (``Pmi``: the
key-value space, barriers, the process mapping) on the master address, so every node's
wrapper starts its own ranks, on this machine or on a Ray node alike, and no ``mpiexec``
process tree sits between the wrapper and its ranks. Started this way a 2-rank allreduce
takes the same ~0.25 s here as under the wheel's ``mpiexec -n 2``.

Standard library only: it runs in the wrapper's interpreter (see ``job_wrapper``).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

STOP_GRACE = 5.0  # s between SIGTERM and SIGKILL of the ranks left when one failed
PMI_WAIT = 120.0  # s a later node waits for the first node's PMI server to listen


class Pmi:
    """A PMI-1 server (MPICH's "simple" wire protocol: ``cmd=... key=value`` lines) for one
    MPI world: every rank connects, says who it is (initack), puts its business card in
    the key-value space, and waits at barriers until all ``size`` ranks are in."""

    def __init__(self, host: str, port: int, size: int, mapping: str) -> None:
        self.size, self.kvs = size, {"PMI_process_mapping": mapping}
        self.listener = socket.create_server((host, port), backlog=max(64, size))
        self.listener.setblocking(False)
        self.conns: dict[int, socket.socket] = {}
        self.buffers: dict[int, bytes] = {}
        self.ranks: dict[int, int] = {}
        self.barrier: list[socket.socket] = []

    def fds(self) -> list[int]:
        return [self.listener.fileno(), *self.conns]

    def handle(self, fd: int) -> None:
        if fd == self.listener.fileno():
            with contextlib.suppress(BlockingIOError):
                conn, _ = self.listener.accept()
                self.conns[conn.fileno()], self.buffers[conn.fileno()] = conn, b""
            return
        conn = self.conns[fd]
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(fd)
            return
        self.buffers[fd] += data
        while b"\n" in self.buffers.get(fd, b""):
            line, self.buffers[fd] = self.buffers[fd].split(b"\n", 1)
            self._command(conn, line.decode("utf-8", "replace"))

    def _drop(self, fd: int) -> None:
        conn = self.conns.pop(fd)
        self.buffers.pop(fd, None)
        self.barrier = [c for c in self.barrier if c is not conn]
        conn.close()

    def _command(self, conn: socket.socket, line: str) -> None:
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        cmd = fields.get("cmd")
        if cmd == "initack":
            rank = int(fields.get("pmiid", "-1"))
            self.ranks[conn.fileno()] = rank
            self._send(conn, "cmd=initack", f"cmd=set size={self.size}", f"cmd=set rank={rank}",
                       "cmd=set debug=0")  # fmt: skip
        elif cmd == "init":
            self._send(conn, "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0")
        elif cmd == "get_maxes":
            self._send(conn, "cmd=maxes kvsname_max=256 keylen_max=256 vallen_max=1024 rc=0")
        elif cmd == "get_appnum":
            self._send(conn, "cmd=appnum appnum=0 rc=0")
        elif cmd == "get_my_kvsname":
            self._send(conn, "cmd=my_kvsname kvsname=kvs_0 rc=0")
        elif cmd == "get_universe_size":
            self._send(conn, f"cmd=universe_size size={self.size} rc=0")
        elif cmd == "put":
            self.kvs[fields.get("key", "")] = fields.get("value", "")
            self._send(conn, "cmd=put_result rc=0")
        elif cmd == "get":
            value = self.kvs.get(fields.get("key", ""))
            reply = f"rc=0 value={value}" if value is not None else "rc=-1 msg=key_not_found"
            self._send(conn, f"cmd=get_result {reply}")
        elif cmd == "barrier_in":
            self.barrier.append(conn)
            if len(self.barrier) == self.size:
                waiting, self.barrier = self.barrier, []
                for other in waiting:
                    self._send(other, "cmd=barrier_out rc=0")
        elif cmd == "finalize":
            self._send(conn, "cmd=finalize_ack rc=0")
        elif cmd == "abort":
            os.write(2, f"Runyard: MPI rank {self.ranks.get(conn.fileno())} aborted\n".encode())
        else:  # an unknown command: the client reports rc != 0 and the rank fails loudly
            self._send(conn, f"cmd={cmd or 'unknown'} rc=-1 msg=unsupported_by_runyard")

    @staticmethod
    def _send(conn: socket.socket, *lines: str) -> None:
        with contextlib.suppress(OSError):
            conn.sendall("".join(line + "\n" for line in lines).encode())

    def close(self) -> None:
        for fd in list(self.conns):
            self._drop(fd)
        self.listener.close()


def wait_for_listener(address: str, timeout: float = PMI_WAIT) -> None:
    """Until something listens at ``host:port`` (the first node's PMI server)."""
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class _Rank:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.rank = int(spec["rank"])
        self.env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
        self.log = str(spec["log"])
        self.tee = bool(spec.get("tee"))
        self.pid = 0
        self.code: int | None = None
        self.log_fd = -1
        self.pipe = -1  # the read end of a tee'd rank's output


def supervise_ranks(
    status: str,
    argv: list[str],
    env: dict[str, str],
    request: dict[str, Any],
    *,
    fork: bool,
    start_fork: Callable[[list[str], dict[str, str], int, list[int]], int],
) -> tuple[int, int | None]:
    """Runs the node's ranks to their end; returns (exit code, rank that decided it).

    ``start_fork(argv, rank_env, out_fd, closing)``: forks a rank as the forkserver forks a
    job (the child calls ``child_setup``, then raises up to main and runs the script);
    used when ``fork`` is set."""
    ranks = [_Rank(spec) for spec in request["ranks"]]
    pmi_spec = request.get("pmi")
    pmi = Pmi(**pmi_spec) if pmi_spec else None
    pmi_port = next((r.env["PMI_PORT"] for r in ranks if "PMI_PORT" in r.env), None)
    if pmi is None and pmi_port is not None:
        wait_for_listener(pmi_port)
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    stopping: list[float] = []  # when the ranks were told to stop
    canceled = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal canceled
        canceled = True
        _signal_all(ranks, signum)

    old = signal.set_wakeup_fd(wake_w)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)}
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    private = [wake_r, wake_w, *(pmi.fds() if pmi else [])]
    owner = os.getpid()  # a forked rank leaves through here on its way to its script
    try:
        for rank in ranks:
            _start(rank, argv, env, fork, start_fork, private, ranks)
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        failed: _Rank | None = None
        while any(r.code is None for r in ranks):
            timeout = None
            if stopping:
                timeout = max(0.0, stopping[0] + STOP_GRACE - time.monotonic())
            watched = [wake_r, *(r.pipe for r in ranks if r.pipe >= 0), *(pmi.fds() if pmi else [])]
            try:
                ready, _, _ = select.select(watched, [], [], timeout)
            except InterruptedError:
                ready = []
            for fd in ready:
                if fd == wake_r:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(wake_r, 4096):
                            pass
                elif pmi is not None and fd in pmi.fds():
                    pmi.handle(fd)
                else:
                    _pump(next(r for r in ranks if r.pipe == fd))
            for rank in _reap(ranks):
                if rank.code and failed is None and not canceled:
                    failed = rank
                    _signal_all(ranks, signal.SIGTERM)
                    stopping.append(time.monotonic())
            if stopping and time.monotonic() - stopping[0] >= STOP_GRACE:
                _signal_all(ranks, signal.SIGKILL)
        for rank in ranks:
            while rank.pipe >= 0 and _pump(rank, block=False):
                pass
    finally:
        if os.getpid() == owner:
            signal.set_wakeup_fd(old)
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            for fd in [wake_r, wake_w, *(f for r in ranks for f in (r.log_fd, r.pipe))]:
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            if pmi is not None:
                pmi.close()
    if failed is not None:
        return _as_code(failed), failed.rank
    worst = next((r for r in ranks if r.code), ranks[0])
    return _as_code(worst), worst.rank


def _as_code(rank: _Rank) -> int:
    return rank.code if rank.code is not None else 0


def _start(
    rank: _Rank,
    argv: list[str],
    env: dict[str, str],
    fork: bool,
    start_fork: Callable[[list[str], dict[str, str], int, list[int]], int],
    private: list[int],
    ranks: list[_Rank],
) -> None:
    rank.log_fd = os.open(rank.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    out = rank.log_fd
    if rank.tee:
        rank.pipe, out = os.pipe()
    if fork:
        # A forked rank keeps every descriptor of ours: all but its output are closed.
        own = [fd for r in ranks for fd in (r.log_fd, r.pipe) if fd >= 0 and fd != out]
        rank.pid = start_fork(argv, rank.env, out, [*private, *own, out])
    else:
        actions = [(os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, out, 2)]
        rank.pid = os.posix_spawnp(
            argv[0], argv, {**env, **rank.env}, file_actions=actions, setsigdef=_RESTORED
        )
    if rank.tee:
        os.close(out)


_RESTORED = tuple(
    getattr(signal, n) for n in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, n)
)


def child_setup(out_fd: int, rank_env: dict[str, str], closing: list[int]) -> None:
    """In a forked rank: its output, its variables, the signal dispositions of a fresh
    interpreter, and none of the wrapper's own descriptors."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    for fd in closing:
        if fd > 2:
            with contextlib.suppress(OSError):
                os.close(fd)
    os.environ.update(rank_env)


def _pump(rank: _Rank, *, block: bool = True) -> bool:
    """Copies what a tee'd rank wrote to its log and to the driver log (fd 1)."""
    if not block:
        os.set_blocking(rank.pipe, False)
    try:
        data = os.read(rank.pipe, 65536)
    except BlockingIOError:
        return False
    if not data:
        os.close(rank.pipe)
        rank.pipe = -1
        return False
    for fd in (rank.log_fd, 1):
        with contextlib.suppress(OSError):
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
    return True


def _reap(ranks: list[_Rank]) -> list[_Rank]:
    ended = []
    by_pid = {r.pid: r for r in ranks if r.code is None}
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        rank = by_pid.get(pid)
        if rank is not None:  # else a descendant re-parented to us (we are a subreaper)
            rank.code = os.waitstatus_to_exitcode(wait_status)
            ended.append(rank)
    return ended


def _signal_all(ranks: list[_Rank], signum: int) -> None:
    for rank in ranks:
        if rank.code is None and rank.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(rank.pid, signum)


def status_body(code: int, rank: int | None) -> bytes:
    """The status file's JSON: the node's exit code and the rank it came from."""
    data: dict[str, int] = {"exit_code": code}
    if rank is not None:
        data["rank"] = rank
    return json.dumps(data).encode()
