"""The process a local job runs under: ``python -m runyard._compute.job_wrapper STATUS -- ARGV``.

It starts ARGV (the job's interpreter, script and arguments) as its child and:
- is a child subreaper (``PR_SET_CHILD_SUBREAPER``), so descendants that leave the job's
  session or lose their parent are re-parented here, not to pid 1, and can still be found;
- records the child's exit status durably in STATUS (written to a temporary file, fsynced,
  renamed) the moment the child ends, so an agent that died meanwhile is replaced by one
  that ends the run by what really happened;
- then kills what the job left running (its remaining descendants) and exits as the child
  did (same code, or killed by the same signal).

SIGTERM (a cancel) is passed on to the child, and the wrapper keeps waiting for it. Pure
standard library: it runs under the agent's Python, whatever the job's environment holds.
"""

from __future__ import annotations

# Imports are few on purpose: this process starts before every local job, so each module
# it loads is paid on every run (json is loaded only by read_status, in the agent).
import ctypes
import os
import signal
import sys

_PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
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


def write_status(path: os.PathLike[str] | str, returncode: int) -> None:
    """Atomically writes {"exit_code": ...} (negative: killed by that signal)."""
    path = os.fspath(path)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b'{"exit_code": %d}' % returncode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_status(path: os.PathLike[str] | str) -> int | None:
    """The exit code a wrapper recorded, or None when none was (yet)."""
    # late: the agent reads statuses; the wrapper, which starts before every job, only writes
    import json

    try:
        with open(path) as f:
            data = json.loads(f.read())
    except (FileNotFoundError, ValueError):
        return None
    code = data.get("exit_code") if isinstance(data, dict) else None
    return code if isinstance(code, int) else None


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m runyard._compute.job_wrapper STATUS -- ARGV...", file=sys.stderr)
        return 2
    status = argv[0]
    _become_subreaper()
    child = os.posix_spawnp(argv[2], argv[2:], os.environ)

    def forward(signum: int, frame: object) -> None:
        try:  # noqa: SIM105 - contextlib would be one more import before every job
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    # A handler, not SIG_IGN: ignored signals would stay ignored in the child after exec.
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
    write_status(status, code)
    for pid in _descendants(os.getpid()):
        try:  # noqa: SIM105 - as above
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        while os.waitpid(-1, 0)[0] > 0:  # reap what was re-parented here
            pass
    except ChildProcessError:
        pass
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
