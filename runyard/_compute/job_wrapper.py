"""The process a local job runs under, a child subreaper that outlives the agent if need be.

Two ways to start it:
- ``python -m runyard._compute.job_wrapper STATUS -- ARGV``: one wrapper process per job;
- ``python runyard/_compute/job_wrapper.py --launcher``: the agent's one long-lived launcher
  (``launcher.py`` talks to it over the socket on its stdin). For each job it forks a copy of
  itself that becomes the job's wrapper, so a job no longer waits for an interpreter to
  start before its own does;
- ``python runyard/_compute/job_wrapper.py --forkserver``: a launcher started the way a job's
  interpreter is (no -S/-E, the job's environment but for its per-run variables), whose
  wrappers *fork* the job's process instead of starting an interpreter: the job's script
  runs in an interpreter that has already started (``run_script``), as under
  ``python script.py``. See ``launcher.py`` for when the agent uses one.

Either way the wrapper starts ARGV (the job's interpreter, script and arguments) as its
child and:
- is a child subreaper (``PR_SET_CHILD_SUBREAPER``), so descendants that leave the job's
  session or lose their parent are re-parented here, not to pid 1, and can still be found;
- records the child's exit status durably in STATUS (written to a temporary file, fsynced,
  renamed) the moment the child ends, so an agent that died meanwhile is replaced by one
  that ends the run by what really happened;
- then kills what the job left running (its remaining descendants), notes that nothing is
  left (STATUS.swept, as a subreaper only) and exits as the child did (same code, or killed
  by the same signal).

SIGTERM (a cancel) is passed on to the child, and the wrapper keeps waiting for it. Pure
standard library: it runs under the agent's Python, whatever the job's environment holds.
"""

from __future__ import annotations

# Standard library only, and little of it: the per-job form (used where the launcher
# cannot be, without pidfds) starts before its job.
import atexit
import builtins
import contextlib
import ctypes
import importlib.machinery
import json
import os
import select
import signal
import socket
import sys
import types
from typing import Any, NoReturn

if __package__:
    from runyard._compute import rank_wrapper
else:  # run as a file (the launcher, a forkserver): its folder is sys.path[0]
    import rank_wrapper  # type: ignore[import-not-found, no-redef]

_PR_SET_CHILD_SUBREAPER = 36
# Popen's restore_signals: Python ignores these, and an ignored signal stays ignored in a
# program started from it.
_RESTORED = tuple(
    getattr(signal, n) for n in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, n)
)
_libc: ctypes.CDLL | None = None


def _become_subreaper() -> bool:
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        return bool(_libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):  # not Linux: the marker scan still finds the job
        return False


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return found


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = _children(pid)
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(_children(child))
    return out


def write_status(path: os.PathLike[str] | str, returncode: int, rank: int | None = None) -> None:
    """Atomically writes {"exit_code": ...} (negative: killed by that signal), and for a
    distributed job's node the rank that code came from ({"rank": ...})."""
    path = os.fspath(path)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, rank_wrapper.status_body(returncode, rank))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_status(path: os.PathLike[str] | str) -> int | None:
    """The exit code a wrapper recorded, or None when none was (yet)."""
    code = _status_field(path, "exit_code")
    return code


def read_status_rank(path: os.PathLike[str] | str) -> int | None:
    """The rank a distributed node's recorded exit code came from (None: not distributed,
    or nothing recorded yet)."""
    return _status_field(path, "rank")


def _status_field(path: os.PathLike[str] | str, name: str) -> int | None:
    try:
        with open(path) as f:
            data = json.loads(f.read())
    except (FileNotFoundError, ValueError):
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class RunScript(BaseException):
    """Raised in a forkserver's job process, forked from its wrapper: unwinds the server's
    stack up to ``main``, which then runs the job's script (``run_script``)."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv)
        self.argv = argv


def supervise(
    status: str,
    argv: list[str],
    env: dict[str, str],
    *,
    fork: bool = False,
    request: dict[str, Any] | None = None,
) -> int:
    """Runs ``argv`` to its end as this process's child; returns its exit code (negative:
    the signal that killed it) once its status is recorded and its leftovers killed.

    ``fork``: the child is a fork of this process, which raises RunScript (this process is a
    forkserver's wrapper, running the job's interpreter with ``env`` already in os.environ).
    ``request`` with ``ranks``: one node of a distributed job, whose ranks run ``argv``
    each (``rank_wrapper``).
    """
    reaper = _become_subreaper()
    rank: int | None = None
    if request is not None and request.get("ranks"):
        code, rank = rank_wrapper.supervise_ranks(
            status, argv, env, request, fork=fork, start_fork=_fork_rank
        )
    else:
        code = _run_child(argv, env, fork=fork)
    write_status(status, code, rank)
    for pid in _descendants(os.getpid()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        while os.waitpid(-1, 0)[0] > 0:  # reap what was re-parented here
            pass
    except ChildProcessError:
        pass
    if reaper:  # every process the job left was our descendant, and none is left
        with contextlib.suppress(OSError):  # a full disk: the agent looks for them itself
            os.close(os.open(swept_path(status), os.O_WRONLY | os.O_CREAT, 0o600))
    return code


def _run_child(argv: list[str], env: dict[str, str], *, fork: bool) -> int:
    if fork:
        child = os.fork()
        if child == 0:
            raise RunScript(argv)  # its signal dispositions are the fresh interpreter's
    else:
        child = os.posix_spawnp(argv[0], argv, env, setsigdef=_RESTORED)

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    # A handler, not SIG_IGN: ignored signals would stay ignored in the child after exec.
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])


def _fork_rank(argv: list[str], rank_env: dict[str, str], out: int, closing: list[int]) -> int:
    """A rank of a forkserver's job: a fork that runs the script in this interpreter."""
    child = os.fork()
    if child == 0:
        rank_wrapper.child_setup(out, rank_env, closing)
        raise RunScript(argv)
    return child


def swept_path(status: os.PathLike[str] | str) -> str:
    """Beside STATUS once the wrapper (a subreaper) has ended: no process of the job is left."""
    return os.fspath(status) + ".swept"


def _die_as(code: int) -> None:
    """Ends this process the way the job ended: by the same signal, or with its code."""
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)


# ---- the launcher: one process that forks every job's wrapper ---------------------------
# Its stdin is a stream socket to the agent. A request is a 4-byte big-endian length and a
# JSON object {argv, cwd, env, status, umask, fork}, sent with the job's driver log as the
# one descriptor (SCM_RIGHTS); the answer, the same framing, is {"pid": the wrapper's pid,
# "started": its start time} with a pidfd of the wrapper attached, or {"error": why}. A
# forkserver first sends {"ready": its pid} once, when it has started.


def receive(sock: socket.socket) -> tuple[bytes, list[int]] | None:
    """One framed message and the descriptors sent with it; None at end of stream."""
    data, fds, _, _ = socket.recv_fds(sock, 65536, 4)
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
        more = sock.recv(65536) if data else b""
        if not more:
            for fd in fds:
                os.close(fd)
            return None
        data += more
    return data[4:], fds


def send(sock: socket.socket, body: bytes, fds: list[int]) -> None:
    """One framed message; ``fds`` go with its first bytes."""
    data = len(body).to_bytes(4, "big") + body
    sent = socket.send_fds(sock, [data], fds)
    if sent < len(data):  # cut short by a signal: the rest goes on its own
        sock.sendall(data[sent:])


def _start_wrapper(
    request: dict[str, Any], log_fd: int, sock: socket.socket, own: list[int]
) -> NoReturn:
    """In the forked child: become the job's wrapper, then end as the job did (or, in a
    forkserver's job process, raise RunScript up to ``main``)."""
    code = 1
    job: RunScript | None = None
    try:
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.close(sock.detach())  # and never again when the object goes (fd 0 by then)
            for fd in own:
                os.close(fd)
            os.setsid()
            os.umask(int(request["umask"]))
            null = os.open(os.devnull, os.O_RDONLY)  # fd 0 was the socket: null may be 0
            if null == 0:
                os.set_inheritable(0, True)
            else:
                os.dup2(null, 0)
                os.close(null)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.close(log_fd)
            os.chdir(request["cwd"])
            env = {str(k): str(v) for k, v in request["env"].items()}
            os.environ.clear()  # posix_spawnp looks the program up on the job's PATH
            os.environ.update(env)
            argv = [str(a) for a in request["argv"]]
            code = supervise(
                str(request["status"]), argv, env, fork=bool(request.get("fork")), request=request
            )
        except RunScript as exc:  # the job's own process: on to main
            job = exc
        except BaseException as exc:  # never back into the launcher's loop
            with contextlib.suppress(OSError):
                os.write(2, f"Runyard: the job's wrapper failed: {exc}\n".encode())
            with contextlib.suppress(OSError):
                if not os.path.exists(str(request.get("status"))):
                    write_status(str(request["status"]), code)
    finally:
        if job is None:
            _die_as(code)
            os._exit(code & 0xFF)
    raise job


def _start_time(pid: int) -> str:
    """The process's start time (clock ticks after boot): with the pid, it names that process
    and no later one that reuses the pid. Read by the parent, before it reaps it."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[19]


def _launch(
    sock: socket.socket, body: bytes, fds: list[int], own: list[int], *, fork: bool
) -> None:
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        send(sock, b'{"error": "a launch request carries the driver log, and only it"}', [])
        return
    try:
        request = json.loads(body)
        request["fork"] = fork  # a forkserver forks every job (its interpreter is the job's)
        pid = os.fork()
    except (ValueError, OSError) as exc:
        os.close(fds[0])
        send(sock, json.dumps({"error": str(exc)}).encode(), [])
        return
    if pid == 0:
        _start_wrapper(request, fds[0], sock, own)
    os.close(fds[0])
    pidfd = os.pidfd_open(pid)  # before any reaping: it is this child, whatever happens
    try:
        started = _start_time(pid)
        send(sock, json.dumps({"pid": pid, "started": started}).encode(), [pidfd])
    finally:
        os.close(pidfd)


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def serve(*, fork: bool = False) -> int:
    """The launcher's loop: starts the jobs the agent asks for until its socket closes (the
    agent stopped or died), then waits for the jobs still running and exits.

    ``fork``: a forkserver, which says it is ready and forks the jobs themselves."""
    sock = socket.socket(fileno=0)
    if fork:
        send(sock, json.dumps({"ready": os.getpid()}).encode(), [])
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # select wakes on wake_r
    own = [wake_r, wake_w]
    while True:
        ready, _, _ = select.select([sock.fileno(), wake_r], [], [])
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 4096):
                    pass
            _reap()
        if sock.fileno() in ready:
            message = receive(sock)
            if message is None:
                break
            _launch(sock, *message, own, fork=fork)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    sock.close()
    try:
        while os.waitpid(-1, 0)[0] > 0:  # no job of ours is left a zombie
            pass
    except ChildProcessError:
        pass
    return 0


def run_script(argv: list[str]) -> int:
    """Runs ``argv`` = [python, script, args...] in this interpreter as ``python script
    args`` would in a new one (this process's interpreter is the job's, started with its
    environment but for per-run variables, now in os.environ): the same sys.argv,
    sys.orig_argv, sys.path[0], ``__main__`` and exit status. Returns the exit code for
    ``sys.exit`` (which then runs atexit, joins threads and flushes, as at any exit); the
    script's SystemExit goes through as it is."""
    script = argv[1]
    path = os.path.abspath(script)
    sys.argv = argv[1:]
    sys.orig_argv = list(argv)
    # the script's folder, symlinks resolved (the interpreter's own rule) instead of ours
    sys.path[0] = os.path.dirname(os.path.realpath(path))
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as exc:
        print(
            f"{sys.executable}: can't open file {path!r}: [Errno {exc.errno}] {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__cached__ = None  # type: ignore[attr-defined]
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    sys.modules["__main__"] = main
    try:
        exec(compile(source, path, "exec", dont_inherit=True), main.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:  # what the interpreter does with an uncaught exception
        tb = exc.__traceback__
        if tb is not None and tb.tb_frame.f_code is run_script.__code__:
            tb = tb.tb_next  # this frame: not the script's
        sys.excepthook(type(exc), exc, exc.with_traceback(tb).__traceback__)
        if isinstance(exc, KeyboardInterrupt):  # ends by SIGINT, after the exit handlers
            atexit._run_exitfuncs()
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--launcher"]:
        return serve()
    if argv == ["--forkserver"]:
        try:
            return serve(fork=True)
        except RunScript as job:  # a job's own process (serve's stack is gone)
            job_argv = job.argv
        return run_script(job_argv)
    request = None
    if len(argv) > 3 and argv[1] == "--ranks":  # STATUS --ranks REQUEST.json -- ARGV
        with open(argv[2]) as f:
            request = json.load(f)
        argv = [argv[0], *argv[3:]]
    if len(argv) < 3 or argv[1] != "--":
        print(
            "usage: python -m runyard._compute.job_wrapper STATUS [--ranks FILE] -- ARGV...",
            file=sys.stderr,
        )
        return 2
    code = supervise(argv[0], argv[2:], dict(os.environ), request=request)
    _die_as(code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
