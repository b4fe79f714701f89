"""A deployed web service's latency and requests/s, against ``mlflow models serve``.

The model returns the sum of its input (10 numbers). Runyard: ``Model.register``, a scoring
script whose ``run(raw)`` sums ``json.loads(raw)["data"]``, ``Model.deploy`` with
``AciWebservice.deploy_configuration(auth_enabled=True)`` (one worker), called with its
Bearer key. MLflow: a ``PythonModel`` whose ``predict`` sums its input, saved and served
by ``mlflow models serve --env-manager local --workers 1`` from MLflow's own venv under
~/.cache/runyard-bench/mlflow-venv (made with uv, reused), called with ``{"inputs": [...]}``.

The same client for both (wrk, see http_load.py): after a warm-up, 1 connection
(sequential requests) then 8 connections, for SECONDS each, Runyard and MLflow taking turns
ROUNDS times (both stay up; only one is under load at a time). p50/p99 come from the
rounds' merged histograms, requests/s from their summed requests and seconds. Server CPU per
request is the server process's CPU time (Runyard's scoring worker, MLflow's uvicorn)
over a measurement, divided by its requests. Targets, for both loads: Runyard's p50 at or
below MLflow's, its requests/s at or above.

Each side as it installs: Runyard's serving environment has httptools and uvloop, the
plain ``mlflow`` package does not bring them (uvicorn falls back to h11 and asyncio); the
header lines say what each server ran.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_load import Load, Served, merged, run_wrk, write_script, wrk_version  # noqa: E402
from report import print_figures  # noqa: E402

SECONDS = 5
WARMUP_SECONDS = 1
ROUNDS = 2
CONCURRENT = 8
NUMBERS = list(range(1, 11))
MLFLOW_VENV = Path.home() / ".cache" / "runyard-bench" / "mlflow-venv"
UV = Path(sys.executable).with_name("uv")

SCORE = """import json


def init():
    pass


def run(raw_data):
    return sum(json.loads(raw_data)["data"])
"""

SAVE_MLFLOW_MODEL = """import sys

import mlflow.pyfunc


class Sum(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [float(sum(model_input))]


mlflow.pyfunc.save_model(sys.argv[1], python_model=Sum())
"""

# What MLflow's uvicorn picks (its 'auto' http and loop); `mlflow models serve` runs uvicorn
# without --no-access-log, so it logs a line per request.
PROBE = """import importlib.metadata as m, importlib.util as u
print(f"mlflow {m.version('mlflow')}: uvicorn {m.version('uvicorn')} "
      f"http={'httptools' if u.find_spec('httptools') else 'h11'} "
      f"loop={'uvloop' if u.find_spec('uvloop') else 'asyncio'}, access log on")
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _check_answer(url: str, body: bytes, headers: dict[str, str], want: str) -> None:
    resp = httpx.post(url, content=body, headers=headers, timeout=30)
    if resp.status_code != 200 or resp.text.strip() != want:
        raise RuntimeError(f"{url} answered {resp.status_code} {resp.text[:500]!r}, not {want}")


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow models serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s:\n{log.read_text()}")


@contextmanager
def runyard_service(tmp: Path) -> Iterator[tuple[Served, str]]:
    """The deployed service, and the worker's http/loop as its log states them."""
    from runyard._services import close_all
    from runyard._services.agent_client import stop_agent
    from runyard._serving.local import LocalServing
    from runyard.core import Workspace
    from runyard.core.environment import Environment
    from runyard.core.model import InferenceConfig, Model
    from runyard.core.webservice import AciWebservice

    saved = os.environ.get("RUNYARD_HOME")
    os.environ["RUNYARD_HOME"] = str(tmp / "home")
    ws = service = None
    try:
        ws = Workspace.create("bench", show_output=False)
        (tmp / "model.json").write_text("{}")
        model = Model.register(ws, str(tmp / "model.json"), "adder")
        app = tmp / "app"
        app.mkdir()
        (app / "score.py").write_text(SCORE)
        inference = InferenceConfig(
            entry_script="score.py",
            environment=Environment("bench-serve"),
            source_directory=str(app),
        )
        config = AciWebservice.deploy_configuration(auth_enabled=True)
        service = Model.deploy(ws, "bench-serve", [model], inference, config)
        service.wait_for_deployment(show_output=False, timeout_sec=600)
        headers = {"Content-Type": "application/json"}
        headers["Authorization"] = f"Bearer {service.get_keys()[0]}"
        body = json.dumps({"data": NUMBERS}).encode()
        _check_answer(service.scoring_uri, body, headers, str(sum(NUMBERS)))
        pids = LocalServing(ws._services.layout.services_dir).status(service.name).pids
        script = write_script(tmp / "runyard.lua", body, headers)
        log = service.get_logs()
        stack = log.split(" http=", 1)[1].split(",", 1)[0] if " http=" in log else "?"
        yield Served("runyard", service.scoring_uri, script, pids[1]), f"uvicorn http={stack}"
    finally:
        if service is not None:
            service.delete()
        if ws is not None:
            stop_agent(ws._services.layout)
            close_all()
        if saved is None:
            os.environ.pop("RUNYARD_HOME", None)
        else:
            os.environ["RUNYARD_HOME"] = saved


def mlflow_python() -> Path:
    python = MLFLOW_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([UV, "venv", "-q", "--python", sys.executable, MLFLOW_VENV], check=True)
    probe = subprocess.run([python, "-c", "import mlflow"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([UV, "pip", "install", "-q", "--python", python, "mlflow"], check=True)
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _uvicorn_child(pid: int) -> int:
    """`mlflow models serve` runs `bash -c 'exec uvicorn ...'`: its child is uvicorn."""
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        if "uvicorn" in Path(f"/proc/{child}/cmdline").read_text():
            return int(child)
    raise RuntimeError(f"no uvicorn process under mlflow models serve (pid {pid})")


@contextmanager
def mlflow_server(tmp: Path) -> Iterator[tuple[Served, str]]:
    """The served pyfunc model, and its uvicorn's version, http parser and loop."""
    python = mlflow_python()
    model = tmp / "mlflow-model"
    (tmp / "save_model.py").write_text(SAVE_MLFLOW_MODEL)
    subprocess.run([python, "-W", "ignore", tmp / "save_model.py", model], check=True,
                   capture_output=True, cwd=tmp)  # fmt: skip
    probe = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, check=True)
    port = _free_port()
    env = dict(os.environ, VIRTUAL_ENV=str(MLFLOW_VENV))
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"  # it runs `uvicorn`
    argv = [python.parent / "mlflow", "models", "serve", "-m", model, "--env-manager", "local",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
    log = tmp / "mlflow-serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/ping", proc, log, timeout=300)
        headers = {"Content-Type": "application/json"}
        body = json.dumps({"inputs": NUMBERS}).encode()
        _check_answer(
            f"{base}/invocations", body, headers, f'{{"predictions": [{sum(NUMBERS)}.0]}}'
        )
        script = write_script(tmp / "mlflow.lua", body, headers)
        served = Served("mlflow", f"{base}/invocations", script, _uvicorn_child(proc.pid))
        yield served, probe.stdout.strip()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the session started above: mlflow and uvicorn
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure(served: Served) -> None:
    """One round on one server: warm-up, then sequential, then concurrent."""
    run_wrk(served.url, served.script, connections=CONCURRENT, seconds=WARMUP_SECONDS)
    for mode, connections in (("seq", 1), ("conc", CONCURRENT)):
        cpu = _cpu_seconds(served.server_pid)
        load = run_wrk(served.url, served.script, connections=connections, seconds=SECONDS)
        served.cpu_s[mode] += _cpu_seconds(served.server_pid) - cpu
        served.loads[mode].append(load)


def _row(label: str, load: Load, cpu_us: str = "") -> str:
    p50, p99 = load.percentile_ms(50), load.percentile_ms(99)
    return f"{label:28} {p50:9.3f} {p99:9.3f} {load.rate:10,.0f} {cpu_us:>12}"


def print_table(ours: Served, theirs: Served) -> None:
    print(f"{'':28} {'p50 ms':>9} {'p99 ms':>9} {'requests/s':>10} {'server CPU':>12}")
    for mode, title in (("seq", "sequential (1 conn)"), ("conc", f"{CONCURRENT} connections")):
        print(title)
        for served in (ours, theirs):
            for i, load in enumerate(served.loads[mode], 1):
                print(_row(f"  {served.name} round {i}", load))
            total = merged(served.loads[mode])
            cpu_us = f"{served.cpu_s[mode] / total.requests * 1e6:,.0f} us/req"
            print(_row(f"  {served.name} all rounds", total, cpu_us))


def _figures(ours: Served, theirs: Served) -> dict[str, object]:
    figures: dict[str, object] = {}
    for mode, title in (("seq", "sequential"), ("conc", f"{CONCURRENT} concurrent")):
        mine, base = merged(ours.loads[mode]), merged(theirs.loads[mode])
        p50, base_p50 = mine.percentile_ms(50), base.percentile_ms(50)
        figures[f"{title}: runyard p50 ms"] = p50
        figures[f"{title}: runyard p99 ms"] = mine.percentile_ms(99)
        figures[f"{title}: runyard requests/s"] = mine.rate
        figures[f"{title}: mlflow p50 ms (baseline)"] = base_p50
        figures[f"{title}: mlflow p99 ms"] = base.percentile_ms(99)
        figures[f"{title}: mlflow requests/s (baseline)"] = base.rate
        figures[f"{title}: requests/s ratio runyard/mlflow"] = mine.rate / base.rate
        figures[f"{title}: p50 <= MLflow's"] = "YES" if p50 <= base_p50 else "NO"
        figures[f"{title}: requests/s >= MLflow's"] = "YES" if mine.rate >= base.rate else "NO"
    return figures


def main() -> dict:
    client = wrk_version()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "runyard").mkdir()
        (tmp / "mlflow").mkdir()
        with (
            runyard_service(tmp / "runyard") as (ours, our_stack),
            mlflow_server(tmp / "mlflow") as (theirs, their_stack),
        ):
            for _ in range(ROUNDS):
                measure(ours)
                measure(theirs)
    print(f"client: {client}, 1 thread; {SECONDS} s per load, {ROUNDS} rounds, taking turns")
    print(f"runyard worker: {our_stack}; {their_stack}")
    print_table(ours, theirs)
    figures = {"client": client, "runyard server": our_stack, "mlflow server": their_stack}
    figures.update(_figures(ours, theirs))
    print_figures(figures)
    return figures


if __name__ == "__main__":
    main()
