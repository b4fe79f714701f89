"""The serving backend contract (runyard._serving.base.ServingBackend), run on every
implementation: deploy, status, logs, update without a dropped request, revive, delete.
Launches use this Python (it has the scoring server's packages); no agent, no store."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import httpx
import pytest

from runyard import _jobenv
from runyard._serving.base import ServiceLaunch, ServingBackend
from runyard._serving.local import LocalServing

SCRIPT = """
import os

def init():
    global version
    version = open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "version")).read()
    print("init of version", version, flush=True)

def run(raw):
    return version
"""

BACKENDS = {"local": LocalServing}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request, tmp_path) -> ServingBackend:
    serving = BACKENDS[request.param](tmp_path / "services")
    yield serving
    for folder in (tmp_path / "services").glob("*"):
        serving.delete(folder.name)


def _launch(tmp_path: Path, name: str, generation: int, script: str = SCRIPT) -> ServiceLaunch:
    root = tmp_path / f"{name}-gen-{generation}"
    (root / "app").mkdir(parents=True)
    (root / "app" / "score.py").write_text(script)
    (root / "model").mkdir()
    (root / "model" / "version").write_text(str(generation))
    path = _jobenv.package_pythonpath(os.environ) or ""
    return ServiceLaunch(
        name=name,
        generation=generation,
        python=sys.executable,
        app_root=str(root),
        source_directory=str(root / "app"),
        entry_script=str(root / "app" / "score.py"),
        model_dir=str(root / "model"),
        env={"PYTHONPATH": path} if path else {},
    )


def _serving(backend, name, generation, wait_until):
    def ready():
        report = backend.status(name)
        return report if report.state == "Healthy" and report.generation == generation else None

    return wait_until(ready, timeout=60, what=f"{name} serving generation {generation}")


def _auth_off(backend, name):
    folder = Path(backend.services_dir) / name  # type: ignore[attr-defined]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "auth.json").write_text(json.dumps({"auth_enabled": False, "key_sha256": []}))


def test_deploy_status_logs_and_delete(backend, tmp_path, wait_until):
    _auth_off(backend, "svc")
    backend.deploy(_launch(tmp_path, "svc", 1))
    report = _serving(backend, "svc", 1, wait_until)
    assert report.alive and report.port and len(report.pids) == 2
    resp = httpx.post(f"http://127.0.0.1:{report.port}/score", content="{}")
    assert resp.json() == "1"
    assert "init of version 1" in backend.logs("svc")
    assert "init of version 1" in backend.logs("svc", init=True)
    assert len(backend.logs("svc", num_lines=1).splitlines()) == 1
    backend.delete("svc")
    assert not backend.status("svc").alive
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{report.port}/")


def test_update_swaps_the_new_generation_in_without_a_dropped_request(
    backend, tmp_path, wait_until
):
    _auth_off(backend, "svc")
    backend.deploy(_launch(tmp_path, "svc", 1))
    port = _serving(backend, "svc", 1, wait_until).port
    seen, failures, stop = [], [], threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                seen.append(httpx.post(f"http://127.0.0.1:{port}/score", content="{}").json())
            except httpx.HTTPError as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(seen) > 10, what="answers of generation 1")
        backend.update(_launch(tmp_path, "svc", 2))
        report = _serving(backend, "svc", 2, wait_until)
        count = len(seen)
        wait_until(lambda: len(seen) > count + 10, what="answers of generation 2")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == [] and report.port == port
    assert seen[0] == "1" and seen[-1] == "2"
    assert "init of version 2" in backend.logs("svc", init=True)
    assert "init of version 1" not in backend.logs("svc", init=True)


def test_a_failing_new_generation_leaves_the_old_one_serving(backend, tmp_path, wait_until):
    _auth_off(backend, "svc")
    backend.deploy(_launch(tmp_path, "svc", 1))
    port = _serving(backend, "svc", 1, wait_until).port
    broken = "def init():\n    raise ValueError('bad weights')\n\ndef run(raw):\n    return 0\n"
    backend.update(_launch(tmp_path, "svc", 2, script=broken))
    report = wait_until(
        lambda: (r := backend.status("svc")).failed_generation == 2 and r, what="update failed"
    )
    assert report.generation == 1 and report.state == "Healthy" and "init()" in report.error
    assert httpx.post(f"http://127.0.0.1:{port}/score", content="{}").json() == "1"
    assert "bad weights" in backend.logs("svc")


def test_revive_starts_a_killed_host_again_on_its_port(backend, tmp_path, wait_until):
    _auth_off(backend, "svc")
    backend.deploy(_launch(tmp_path, "svc", 1))
    report = _serving(backend, "svc", 1, wait_until)
    assert backend.revive("svc") is False  # alive: nothing to do
    os.kill(report.pids[0], signal.SIGKILL)
    wait_until(lambda: not backend.status("svc").alive, what="the host gone")
    assert backend.revive("svc") is True
    again = _serving(backend, "svc", 1, wait_until)
    assert again.port == report.port and again.pids[0] != report.pids[0]


def test_a_first_generation_that_cannot_start_is_failed_and_not_revived(
    backend, tmp_path, wait_until
):
    _auth_off(backend, "svc")
    broken = "def init():\n    raise ValueError('bad weights')\n\ndef run(raw):\n    return 0\n"
    backend.deploy(_launch(tmp_path, "svc", 1, script=broken))
    report = wait_until(  # the host writes Failed, then stops
        lambda: (r := backend.status("svc")).state == "Failed" and not r.alive and r,
        what="Failed and stopped",
    )
    assert report.failed_generation == 1 and not report.alive
    assert backend.revive("svc") is False
    assert "bad weights" in backend.logs("svc", init=True)
