"""The worker's contract with its host: the inherited socket, the ready pipe, init() once,
exit code 3 when the script cannot start, and the two start modes."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys

import httpx
import pytest

PID_SCRIPT = """
import os

def init():
    with open(os.environ["INIT_LOG"], "a") as log:
        log.write(f"{os.getpid()}\\n")

def run(raw_data):
    return {"pid": os.getpid()}
"""
# init() says it has started, then waits for the test to create GO_FILE
GATED_SCRIPT = """
import os, pathlib, time

def init():
    global state
    pathlib.Path(os.environ["STARTED_FILE"]).touch()
    while not os.path.exists(os.environ["GO_FILE"]):
        time.sleep(0.01)
    state = "initialised"

def run(raw_data):
    return {"state": state, "echo": raw_data}
"""
FAILING_SCRIPT = """
def init():
    raise RuntimeError("model file sklearn_mnist.pkl not found")

def run(raw_data):
    return raw_data
"""


@pytest.fixture
def shared_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    yield sock
    sock.close()


def _fresh_post(port: int, body: str = "{}") -> httpx.Response:
    """On a connection of its own, so that any worker sharing the socket may take it."""
    with httpx.Client(trust_env=False, timeout=30) as client:
        return client.post(f"http://127.0.0.1:{port}/score", content=body)


def test_the_worker_says_ready_once_init_has_returned(scripts, start_worker, tmp_path):
    worker = start_worker(scripts.write(PID_SCRIPT), {"INIT_LOG": str(tmp_path / "init.log")})
    assert worker.said == b"ready\n"
    assert worker.client().get("/").text == "Healthy"


def test_init_runs_once_per_worker(scripts, start_worker, tmp_path):
    log = tmp_path / "init.log"
    worker = start_worker(scripts.write(PID_SCRIPT), {"INIT_LOG": str(log)})
    client = worker.client()
    for _ in range(5):
        assert client.post("/score", content="{}").json() == {"pid": worker.proc.pid}
    assert log.read_text().split() == [str(worker.proc.pid)]


def test_two_workers_on_one_inherited_socket_both_answer(
    scripts, start_worker, tmp_path, shared_socket
):
    log = tmp_path / "init.log"
    script = scripts.write(PID_SCRIPT)
    first = start_worker(script, {"INIT_LOG": str(log)}, sock=shared_socket)
    second = start_worker(script, {"INIT_LOG": str(log)}, sock=shared_socket)
    expected = {first.proc.pid, second.proc.pid}
    seen: set[int] = set()
    for _ in range(500):  # the kernel hands each new connection to either
        seen.add(_fresh_post(first.port).json()["pid"])
        if seen == expected:
            break
    assert seen == expected
    assert sorted(log.read_text().split()) == sorted(str(pid) for pid in expected)


def test_a_worker_stopping_leaves_the_shared_socket_to_the_others(
    scripts, start_worker, tmp_path, shared_socket
):
    env = {"INIT_LOG": str(tmp_path / "init.log")}
    script = scripts.write(PID_SCRIPT)
    old = start_worker(script, env, sock=shared_socket)
    new = start_worker(script, env, sock=shared_socket)
    old.proc.terminate()
    assert old.wait_exit() in (0, -15)
    for _ in range(20):
        assert _fresh_post(new.port).json() == {"pid": new.proc.pid}


def test_a_stopping_worker_drains_its_keep_alive_connections(
    scripts, start_worker, tmp_path, shared_socket
):
    """SIGTERM: no new connection is taken, an open one is answered with Connection: close
    (the client then moves to another worker), and the worker exits once it is closed."""
    env = {"INIT_LOG": str(tmp_path / "init.log")}
    script = scripts.write(PID_SCRIPT)
    old = start_worker(script, env, sock=shared_socket)
    with httpx.Client() as client:
        url = f"http://127.0.0.1:{old.port}/score"
        while client.post(url, content="{}").json()["pid"] != old.proc.pid:
            pass  # keep-alive: until this client's connection is the old worker's
        new = start_worker(script, env, sock=shared_socket)
        old.proc.terminate()
        seen = []
        while True:  # the open connection is answered, then closed by the client
            resp = client.post(url, content="{}")
            seen.append((resp.json()["pid"], resp.headers.get("connection")))
            if resp.json()["pid"] == new.proc.pid:
                break
        assert (old.proc.pid, "close") in seen
        assert old.wait_exit() in (0, -15)
    for _ in range(10):
        assert _fresh_post(new.port).json() == {"pid": new.proc.pid}


@pytest.mark.parametrize("accept_while_starting", [False, True], ids=["after-init", "at-once"])
def test_a_failing_init_says_failed_and_exits_3_with_its_traceback(
    scripts, start_worker, accept_while_starting
):
    worker = start_worker(
        scripts.write(FAILING_SCRIPT), accept_while_starting=accept_while_starting
    )
    assert worker.said == b"failed\n"
    assert worker.wait_exit() == 3
    log = worker.stderr()
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: model file sklearn_mnist.pkl not found" in log


def test_a_script_without_run_fails_to_start_saying_so(scripts, start_worker):
    worker = start_worker(scripts.write("def init():\n    pass\n"))
    assert (worker.said, worker.wait_exit()) == (b"failed\n", 3)
    assert "has no run() function" in worker.stderr()


def test_a_script_that_does_not_import_fails_to_start(scripts, start_worker):
    worker = start_worker(scripts.write("import no_such_module_here\n"))
    assert (worker.said, worker.wait_exit()) == (b"failed\n", 3)
    assert "No module named 'no_such_module_here'" in worker.stderr()


def test_accept_while_starting_answers_503_until_init_returns(
    scripts, start_worker, tmp_path, wait_until
):
    started, go = tmp_path / "started", tmp_path / "go"
    worker = start_worker(
        scripts.write(GATED_SCRIPT),
        {"STARTED_FILE": str(started), "GO_FILE": str(go)},
        accept_while_starting=True,
        wait=False,
    )
    wait_until(started.exists, what="init() to start")
    client = worker.client()
    for resp in (client.get("/"), client.post("/score", content="x")):
        assert resp.status_code == 503
        assert resp.json()["message"].startswith("The service is starting: its init() is still")
    go.touch()
    assert worker.wait_ready() == b"ready\n"
    assert client.get("/").text == "Healthy"
    assert client.post("/score", content="x").json() == {"state": "initialised", "echo": "x"}


def test_without_accept_while_starting_a_request_waits_for_init(
    scripts, start_worker, tmp_path, wait_until
):
    started, go = tmp_path / "started", tmp_path / "go"
    worker = start_worker(
        scripts.write(GATED_SCRIPT),
        {"STARTED_FILE": str(started), "GO_FILE": str(go)},
        wait=False,
    )
    wait_until(started.exists, what="init() to start")
    with socket.create_connection(("127.0.0.1", worker.port), timeout=30) as conn:
        conn.sendall(
            b"POST /score HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
            b"early"
        )
        # the connection waits in the socket's backlog: nothing answers while init() runs
        assert select.select([conn], [], [], 0.5)[0] == []
        go.touch()
        assert worker.wait_ready() == b"ready\n"
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body) == {"state": "initialised", "echo": "early"}


def test_the_script_is_imported_under_a_name_of_its_own_with_its_folder_first_on_sys_path(
    scripts, start_worker
):
    script = scripts.write(
        """
        import sys
        import helper

        def init():
            pass

        def run(raw_data):
            return {"name": __name__, "first": sys.path[0], "helper": helper.VALUE}
        """
    )
    (script.parent / "helper.py").write_text("VALUE = 42\n")
    answer = start_worker(script).client().post("/score", content="").json()
    assert answer["name"].startswith("runyard_entry_score_")
    assert (answer["first"], answer["helper"]) == (str(script.parent), 42)


def test_the_log_has_a_start_line_and_the_init_time(scripts, start_worker, tmp_path):
    worker = start_worker(scripts.write(PID_SCRIPT), {"INIT_LOG": str(tmp_path / "init.log")})
    log = worker.stderr()
    assert "Starting the scoring worker of service 'test-service'" in log
    assert "init() done in " in log
    worker.client().post("/score", content="{}")
    assert "POST /score" not in worker.stderr()  # no access log


def test_the_worker_serves_on_a_port_of_its_own(scripts, scoring_env, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    read_fd, write_fd = os.pipe()
    script = scripts.write(PID_SCRIPT)
    argv = [sys.executable, "-m", "runyard.scoring.worker", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--ready-fd", str(write_fd)]
    env = scoring_env(script, {"INIT_LOG": str(tmp_path / "init.log")})
    proc = subprocess.Popen(argv, env=env, pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as ready:
            assert ready.read() == b"ready\n"
        assert _fresh_post(port).json() == {"pid": proc.pid}
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_importing_the_worker_loads_neither_sqlalchemy_nor_other_runyard_layers(
    scoring_env, scripts
):
    code = "import json, sys, runyard.scoring.worker; print(json.dumps(sorted(sys.modules)))"
    env = scoring_env(scripts.write(PID_SCRIPT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    modules = json.loads(out.stdout)
    heavy = {"sqlalchemy", "alembic", "typer", "rich", "fsspec", "yaml"}
    assert sorted(m for m in modules if m.split(".")[0] in heavy) == []
    runyard = [m for m in modules if m.split(".")[0] == "runyard"]
    allowed = {"runyard", "runyard._jobenv"}
    assert [m for m in runyard if m not in allowed and not m.startswith("runyard.scoring")] == []
