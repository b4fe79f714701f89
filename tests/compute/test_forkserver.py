"""Jobs forked by a forkserver (an interpreter started as the job's would be) behave as under
``python script.py``: same argv, paths, __main__, environment, streams, signals, exit
status and output; and the agent still finds, cancels and reattaches to them."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from runyard import _jobenv
from runyard._compute import launcher
from runyard._compute.base import JobHandle, JobSpec
from runyard._compute.local import LocalMachineBackend
from runyard._compute.processes import processes_of_run

pytestmark = pytest.mark.skipif(not launcher.available(), reason="the launcher needs pidfds")

PROBE = """
import json, os, signal, sys, threading, atexit
main = sys.modules["__main__"]
facts = {
    "argv": sys.argv, "orig_argv": sys.orig_argv, "path": sys.path, "file": __file__,
    "name": __name__, "main_is_us": main.__dict__ is globals(), "spec": repr(__spec__),
    "loader": type(__loader__).__name__, "package": __package__, "cached": __cached__,
    "cwd": os.getcwd(), "flags": repr(sys.flags), "environ": dict(os.environ),
    "stdout": [sys.stdout.line_buffering, sys.stdout.write_through, sys.stdout.encoding],
    "stdin": sys.stdin.read(),
    "signals": [repr(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM,
                signal.SIGPIPE, signal.SIGCHLD, signal.SIGXFSZ)],
    "wakeup_fd": signal.set_wakeup_fd(-1),
}
print("FACTS " + json.dumps(facts), flush=True)
atexit.register(lambda: print("atexit ran", flush=True))
# One write: its line never interleaves with the traceback (the order of the two may vary).
threading.Thread(target=lambda: os.write(1, b"thread ran\\n")).start()
how = sys.argv[1] if len(sys.argv) > 1 else ""
if how == "raise":
    def inner():
        raise ValueError("boom")
    inner()
elif how == "exit3":
    sys.exit(3)
elif how == "exitmsg":
    sys.exit("leaving with a message")
elif how == "interrupt":
    raise KeyboardInterrupt
"""


def _spec(folder: Path, run_id: str, argv: tuple[str, ...], **env: str) -> JobSpec:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probe.py").write_text(PROBE)
    (folder / "bad.py").write_text("def (\n")
    return JobSpec(
        run_id=run_id,
        argv=argv,
        cwd=folder,
        env={**os.environ, _jobenv.RUN_ID: run_id, "PYTHONUNBUFFERED": "1", **env},
        driver_log=folder / "driver.log",
        status_file=folder / "exit_status.json",
    )


def _exit_code(handle: JobHandle, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while (code := handle.wait(0.2)) is None:
        assert time.monotonic() < deadline, "the job did not end"
    return code


def _parent_cmdline(pid: int) -> str:
    ppid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    return Path(f"/proc/{ppid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _run(folder: Path, run_id: str, *args: str, **env: str) -> tuple[int, str, str]:
    """(exit code, driver log, the command line of the wrapper's parent)."""
    backend = LocalMachineBackend("local", {"max_nodes": 2}, {})
    handle = backend.launch(_spec(folder, run_id, (sys.executable, *args), **env))
    parent = _parent_cmdline(int(handle.ref.job_id))
    code = _exit_code(handle)
    return code, (folder / "driver.log").read_text(), parent


def _facts(log: str) -> dict:
    line = next(x for x in log.splitlines() if x.startswith("FACTS "))
    return json.loads(line[len("FACTS ") :])


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch):
    """Runs a job the usual way: its wrapper starts a new interpreter."""

    def run(folder: Path, run_id: str, *args: str) -> tuple[int, str, str]:
        with monkeypatch.context() as m:
            m.setenv(launcher.FORKSERVER_SWITCH, "0")
            return _run(folder, run_id, *args)

    return run


@pytest.mark.parametrize("how", ["", "raise", "exit3", "exitmsg", "interrupt"])
def test_a_forked_job_is_what_a_new_interpreter_would_run(tmp_path, plain, how) -> None:
    args = ("probe.py", how) if how else ("probe.py",)
    code, log, parent = _run(tmp_path / "f", "run-fork", *args)
    base_code, base_log, base_parent = plain(tmp_path / "p", "run-plain", *args)
    assert "--forkserver" in parent and "--launcher" in base_parent
    assert code == base_code == {"": 0, "raise": 1, "exit3": 3, "exitmsg": 1, "interrupt": -2}[how]
    forked, fresh = _facts(log), _facts(base_log)
    # The same but for the folder and the run id, which are each run's own.
    for facts, folder, run_id in ((forked, "f", "run-fork"), (fresh, "p", "run-plain")):
        text = json.dumps(facts).replace(str(tmp_path / folder), "<folder>")
        facts.clear()
        facts.update(json.loads(text.replace(run_id, "<run>")))
    fresh["environ"].pop(launcher.FORKSERVER_SWITCH)  # set in the agent's, for the plain one
    assert forked == fresh
    # Everything printed, tracebacks included, is the same (the exit handlers ran, threads
    # were joined).
    out = log.replace(str(tmp_path / "f"), "<folder>").replace("run-fork", "<run>")
    base = base_log.replace(str(tmp_path / "p"), "<folder>").replace("run-plain", "<run>")

    def printed(text: str) -> list[str]:  # the facts are compared above
        return sorted(x for x in text.splitlines() if not x.startswith("FACTS "))

    assert printed(out) == printed(base)
    assert "atexit ran" in out and "thread ran" in out
    if how == "raise":
        assert "job_wrapper" not in out and 'probe.py", line' in out


def test_syntax_errors_and_missing_scripts_end_as_under_a_new_interpreter(tmp_path, plain) -> None:
    code, log, parent = _run(tmp_path / "f", "run-syn", "bad.py")
    base_code, base_log, _ = plain(tmp_path / "p", "run-syn2", "bad.py")
    assert "--forkserver" in parent
    assert code == base_code == 1
    assert log.replace("/f/", "/p/") == base_log and "SyntaxError" in log
    # Gone between the agent's look and the fork: the interpreter's own message and code 2.
    backend = LocalMachineBackend("local", {"max_nodes": 2}, {})
    spec = _spec(tmp_path / "g", "run-gone", (sys.executable, "probe.py"))
    (tmp_path / "g" / "probe.py").unlink()
    handle = backend.launch(spec)
    assert _exit_code(handle) == 2
    assert "can't open file" in (tmp_path / "g" / "driver.log").read_text()


def test_a_forked_job_is_found_cancelled_and_reattached_without_its_run_id_in_proc(
    tmp_path,
) -> None:
    backend = LocalMachineBackend("local", {"max_nodes": 2}, {})
    folder = tmp_path / "a"
    spec = _spec(folder, "run-long", (sys.executable, "sleep.py"))
    (folder / "sleep.py").write_text(
        "import os, time\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(120)\n"
    )
    handle = backend.launch(spec)
    deadline = time.monotonic() + 60
    while not (folder / "pid").exists():
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.02)
    job = int((folder / "pid").read_text())
    # Forked, not started: /proc shows the forkserver's environment, without the run id.
    assert "--forkserver" in Path(f"/proc/{job}/cmdline").read_bytes().decode()
    assert processes_of_run("run-long") == []
    # A new agent finds the job by its wrapper (pid and start time), and stops it.
    assert handle.ref.instance
    again = LocalMachineBackend("local", {"max_nodes": 2}, {}).reattach("run-long", handle.ref)
    assert again.running() and again.wait(0.05) is None
    again.cancel(force=True)
    assert _exit_code(handle) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while Path(f"/proc/{job}").exists() and "Z" not in _state(job):
        assert time.monotonic() < deadline, "the job outlived its cancel"
        time.sleep(0.02)
    assert not again.running()
    # A pid taken by another process since is not the job's.
    stale = type(handle.ref)(handle.ref.backend, str(os.getpid()), instance="1")
    assert not LocalMachineBackend("local", {}, {}).reattach("run-long", stale).running()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return "Z"


def test_jobs_not_fit_for_a_forkserver_start_their_own_interpreter(tmp_path) -> None:
    # A relative PYTHONPATH entry means the job's folder: only a new interpreter resolves it.
    code, _, parent = _run(tmp_path / "a", "run-rel", "probe.py", PYTHONPATH="lib")
    assert code == 0 and "--launcher" in parent
    # An interpreter that cannot be a forkserver (it never says it is ready): the job still
    # runs, started by the plain launcher.
    backend = LocalMachineBackend("local", {"max_nodes": 2}, {})
    spec = _spec(tmp_path / "b", "run-true", ("/bin/true", "probe.py"))
    handle = backend.launch(spec)
    assert "--launcher" in _parent_cmdline(int(handle.ref.job_id))
    assert _exit_code(handle) == 0


def test_each_environment_gets_its_own_forkserver_and_jobs_their_own_variables(
    tmp_path,
) -> None:
    _, one, p1 = _run(tmp_path / "a", "run-e1", "probe.py", USER_SETTING="one")
    _, two, p2 = _run(tmp_path / "b", "run-e2", "probe.py", USER_SETTING="two")
    _, three, p3 = _run(tmp_path / "c", "run-e3", "probe.py", USER_SETTING="one")
    assert "--forkserver" in p1 and p1 == p2 == p3  # same command line, other processes
    facts = [_facts(log)["environ"] for log in (one, two, three)]
    assert [f["USER_SETTING"] for f in facts] == ["one", "two", "one"]
    assert [f[_jobenv.RUN_ID] for f in facts] == ["run-e1", "run-e2", "run-e3"]
