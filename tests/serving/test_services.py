"""Web services end to end: Model.deploy, the real agent, host and scoring processes, real
HTTP on 127.0.0.1. One workspace (and one built serving environment) for the module."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from pathlib import Path

import httpx
import pytest

from runyard._services import close_all
from runyard._services.agent_client import agent_pid, stop_agent
from runyard._serving.local import LocalServing

SCORE = """
import json, os

def init():
    global offset
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.json")) as f:
        offset = json.load(f)["offset"]
    print("init done, offset", offset, flush=True)

def run(raw_data):
    data = json.loads(raw_data)
    if data.get("boom"):
        raise ValueError("boom asked for")
    return {"sum": sum(data["data"]) + offset, "pid": os.getpid()}
"""

PROBE = """
import json, os
from azureml.core.model import Model

def init():
    global paths
    paths = {name: Model.get_model_path(name) for name in ("adder", "other")}

def run(raw_data):
    data = json.loads(raw_data)
    if data.get("crash"):
        os._exit(1)
    if data.get("allocate_mb"):
        block = bytearray(data["allocate_mb"] * 1024 * 1024)
        return len(block)
    return {
        "pid": os.getpid(),
        "paths": paths,
        "model_dir": os.environ["AZUREML_MODEL_DIR"],
        "cpus": len(os.sched_getaffinity(0)),
        "omp": os.environ.get("OMP_NUM_THREADS"),
    }
"""

FAILING = """
def init():
    raise RuntimeError("the model file is corrupt")

def run(raw_data):
    return 1
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory, uv_cache_dir):
    """A workspace with model 'adder' v1 (offset 1) and v2 (offset 100)."""
    from runyard.core import Workspace
    from runyard.core.model import Model

    root = tmp_path_factory.mktemp("serving")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNYARD_HOME", str(root / "home"))
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        mp.setenv("RUNYARD_AGENT_IDLE_SECONDS", "600")
        mp.setenv("RUNYARD_SERVICE_MAX_BODY_BYTES", "100000")
        for name in ("RUNYARD_STORE_URI", "AZUREML_MODEL_DIR", "AZUREML_RUN_ID"):
            mp.delenv(name, raising=False)
        mp.chdir(root)
        ws = Workspace.create("serve-ws", show_output=False)
        models = {}
        for version, offset in ((1, 1), (2, 100)):
            folder = root / f"m{version}"
            folder.mkdir()
            (folder / "model.json").write_text(json.dumps({"offset": offset}))
            models[version] = Model.register(ws, str(folder / "model.json"), "adder")
        app = root / "app"
        app.mkdir()
        (app / "score.py").write_text(SCORE)
        (app / "failing.py").write_text(FAILING)
        (app / "probe.py").write_text(PROBE)
        other = root / "other"
        other.mkdir()
        (other / "weights.bin").write_bytes(b"w")
        models["other"] = Model.register(ws, str(other), "other")
        yield ws, models, app
        stop_agent(ws._services.layout, timeout=30)
        serving = LocalServing(ws._services.layout.services_dir)
        for folder in ws._services.layout.services_dir.glob("*"):
            serving.delete(folder.name)
        close_all()


def _env():
    from runyard.core.environment import Environment

    return Environment("serving-test")


def _deploy(
    served,
    name,
    *,
    script="score.py",
    auth=True,
    version=1,
    models=None,
    kind=None,
    overwrite=False,
    **config,
):
    from runyard.core.model import InferenceConfig, Model
    from runyard.core.webservice import AciWebservice

    ws, registered, app = served
    inference = InferenceConfig(entry_script=script, environment=_env(), source_directory=str(app))
    if kind is None:
        deploy_config = AciWebservice.deploy_configuration(auth_enabled=auth, **config)
    else:
        deploy_config = kind.deploy_configuration(**config)
    chosen = [registered[m] for m in models] if models else [registered[version]]
    return Model.deploy(ws, name, chosen, inference, deploy_config, overwrite=overwrite)


def _post(uri, body, key=None, client=httpx):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return client.post(uri, content=body, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def adder(served):
    service = _deploy(served, "adder-svc", tags={"kind": "test"})
    service.wait_for_deployment(show_output=False, timeout_sec=600)
    return service


def test_deploy_scores_with_either_key_and_refuses_others(adder, served):
    from runyard.core.webservice import AciWebservice, Webservice

    ws = served[0]
    assert adder.state == "Healthy"
    assert adder.scoring_uri.startswith("http://127.0.0.1:") and adder.scoring_uri.endswith(
        "/score"
    )
    primary, secondary = adder.get_keys()
    assert primary != secondary
    for key in (primary, secondary):
        resp = _post(adder.scoring_uri, '{"data": [1, 2, 3]}', key)
        assert resp.status_code == 200, resp.text
        assert resp.json()["sum"] == 7
    assert _post(adder.scoring_uri, '{"data": [1]}').status_code == 401
    assert _post(adder.scoring_uri, '{"data": [1]}', "wrong-key-123").status_code == 401
    assert adder.run(json.dumps({"data": [5]}))["sum"] == 6
    assert httpx.get(adder.scoring_uri[: -len("/score")] + "/").text.strip('"') == "Healthy"
    assert httpx.get(adder.swagger_uri).status_code == 200
    again = Webservice(ws, "adder-svc")
    assert isinstance(again, AciWebservice) and again.scoring_uri == adder.scoring_uri
    assert again.tags == {"kind": "test"} and again.compute_type == "ACI"
    assert "adder-svc" in ws.webservices
    assert [s.name for s in Webservice.list(ws, model_name="adder")] == ["adder-svc"]
    assert "init done, offset 1" in adder.get_logs()
    assert primary not in adder.get_logs()  # keys are never logged
    serialized = adder.serialize()
    assert serialized["state"] == "Healthy" and serialized["models"] == ["adder:1"]
    assert primary not in json.dumps(serialized, default=str)


def test_regen_key_takes_effect_at_once(adder):
    old_primary, secondary = adder.get_keys()
    adder.regen_key("Primary")
    new_primary, same_secondary = adder.get_keys()
    assert new_primary != old_primary and same_secondary == secondary
    assert _post(adder.scoring_uri, '{"data": [1]}', old_primary).status_code == 401
    assert _post(adder.scoring_uri, '{"data": [1]}', new_primary).status_code == 200
    adder.regen_key("Secondary", set_key="my-own-secondary-key")
    assert _post(adder.scoring_uri, '{"data": [1]}', "my-own-secondary-key").status_code == 200
    from runyard.exceptions import WebserviceException

    with pytest.raises(WebserviceException, match="Primary.*Secondary"):
        adder.regen_key("Tertiary")


def test_errors_bad_json_raising_run_and_too_big_body(adder):
    key = adder.get_keys()[0]
    raised = _post(adder.scoring_uri, '{"data": [1], "boom": true}', key)
    assert raised.status_code == 500 and "boom asked for" in raised.text
    bad = _post(adder.scoring_uri, "{not json", key)
    assert bad.status_code == 500 and "Expecting property name" in bad.text
    big = _post(adder.scoring_uri, json.dumps({"data": [1] * 60_000}), key)
    assert big.status_code == 413
    assert "boom asked for" in adder.get_logs() and "Traceback" in adder.get_logs()
    from runyard.exceptions import WebserviceException

    with pytest.raises(WebserviceException, match="Response Code: 500"):
        adder.run('{"data": [1], "boom": true}')


def test_an_existing_name_or_a_bad_name_is_refused(adder, served):
    from runyard.exceptions import WebserviceException

    with pytest.raises(WebserviceException, match="already a service with name adder-svc"):
        _deploy(served, "adder-svc")
    with pytest.raises(WebserviceException):
        _deploy(served, "Bad_Name")


def test_a_failing_init_leaves_the_service_failed_with_its_traceback(served):
    from runyard.exceptions import WebserviceException

    service = _deploy(served, "failing-svc", script="failing.py", auth=False)
    with pytest.raises(WebserviceException, match=r"state: Failed[\s\S]*get_logs\(\)"):
        service.wait_for_deployment(timeout_sec=600)
    assert service.state == "Failed"
    logs = service.get_logs()
    assert "the model file is corrupt" in logs and "Traceback" in logs
    service.delete()


def _hammer(uri, key, stop, failures, answers, keep_alive):
    client = httpx.Client() if keep_alive else None
    try:
        while not stop.is_set():
            try:
                resp = _post(uri, '{"data": [1]}', key, client=client or httpx)
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
                continue
            if resp.status_code != 200:
                failures.append(f"{resp.status_code} {resp.text}")
            else:
                answers.append(resp.json()["sum"])
    finally:
        if client is not None:
            client.close()


def test_update_to_a_new_model_version_drops_no_request(served, wait_until):
    from runyard.core.model import Model

    service = _deploy(served, "update-svc", auth=True)
    service.wait_for_deployment(timeout_sec=600)
    key = service.get_keys()[0]
    stop, failures, answers = threading.Event(), [], []
    threads = [
        threading.Thread(
            target=_hammer, args=(service.scoring_uri, key, stop, failures, answers, keep)
        )
        for keep in (False, False, True, True)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(answers) > 20, what="requests before the update")
        service.update(models=[Model(served[0], "adder", version=2)])
        service.wait_for_deployment(timeout_sec=600)
        seen = len(answers)
        # The old version's workers finish what they hold (a keep-alive request may still
        # reach one while it shuts down, on a loaded machine): then only the new one answers.
        wait_until(
            lambda: len(answers) > seen + 20 and set(answers[-20:]) == {101},
            what="only the new version answering after the update",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert answers[0] == 2 and answers[-1] == 101  # v1's offset 1, then v2's 100
    assert service.models == ["adder:2"]
    service.delete()


def test_a_killed_scoring_process_is_restarted(adder, wait_until):
    from runyard._services import serving

    services = adder.workspace._services
    before = serving.view(services, adder.name)
    worker = before.info.state["pids"][1]
    os.kill(worker, signal.SIGKILL)
    wait_until(
        lambda: (
            serving.view(services, adder.name).restarts == before.restarts + 1
            and adder.state == "Healthy"
        ),
        timeout=120,
        what="the scoring process restarted",
    )
    key = adder.get_keys()[0]
    assert _post(adder.scoring_uri, '{"data": [2]}', key).status_code == 200
    assert serving.view(services, adder.name).port == before.port


def test_services_outlive_a_killed_agent_which_takes_them_back(adder, wait_until):
    from runyard._services import serving

    services = adder.workspace._services
    key = adder.get_keys()[0]
    pid = agent_pid(services.layout)
    assert pid
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: agent_pid(services.layout) is None, what="the agent gone")
    assert _post(adder.scoring_uri, '{"data": [1]}', key).status_code == 200
    host = serving.view(services, adder.name).info.state["pids"][0]  # starts a new agent
    assert agent_pid(services.layout) not in (None, pid)
    # The new agent supervises it: a killed host is started again, on the same port.
    port = adder.port
    os.kill(host, signal.SIGKILL)

    def answers():
        # The killed host's workers drain for a while and may still answer: wait for the new
        # host (another pid in the service's state) to be the one serving.
        view = serving.view(services, adder.name)
        if (view.info.state.get("pids") or [host])[0] == host or adder.state != "Healthy":
            return False
        try:
            return _post(adder.scoring_uri, '{"data": [1]}', key).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout=120, what="a new host serving on the service's port")
    assert serving.view(services, adder.name).port == port


def test_fifty_concurrent_clients_no_failed_request(adder):
    key = adder.get_keys()[0]
    failures, done = [], []

    def client():
        with httpx.Client() as c:
            for i in range(10):
                try:
                    resp = _post(adder.scoring_uri, json.dumps({"data": [i]}), key, client=c)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if resp.status_code != 200 or resp.json()["sum"] != i + 1:
                    failures.append(f"{resp.status_code} {resp.text}")
                done.append(1)

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and len(done) == 500


def test_delete_frees_the_port_and_forgets_the_service(served):
    from runyard.core.webservice import Webservice
    from runyard.exceptions import WebserviceException

    ws = served[0]
    service = _deploy(served, "gone-svc", auth=False)
    service.wait_for_deployment(timeout_sec=600)
    port = service.port
    assert service.run('{"data": [1]}')["sum"] == 2
    service.delete()
    assert "gone-svc" not in ws.webservices
    with pytest.raises(WebserviceException, match="gone-svc not found"):
        Webservice(ws, "gone-svc")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # free again
    assert not (Path(ws._services.layout.services_dir) / "gone-svc").exists()


def test_tags_change_at_once_without_a_new_version(adder):
    version = adder.serialize()["version"]
    adder.update(tags={"kind": "retagged"})
    assert adder.tags == {"kind": "retagged"} and adder.state == "Healthy"
    assert adder.serialize()["version"] == version


def test_multi_model_layout_limits_and_replicas(served):
    from runyard.core.webservice import AksWebservice
    from runyard.exceptions import WebserviceException

    service = _deploy(
        served,
        "probe-svc",
        script="probe.py",
        models=[1, "other"],
        kind=AksWebservice,
        num_replicas=2,
        cpu_cores=1,
        memory_gb=0.5,
        auth_enabled=False,
    )
    service.wait_for_deployment(timeout_sec=600)
    answer = service.run("{}")
    root = Path(answer["model_dir"])
    assert root.name == "azureml-models"  # several models: their common folder
    assert answer["paths"] == {
        "adder": str(root / "adder" / "1" / "model.json"),
        "other": str(root / "other" / "1" / "other"),
    }
    assert (answer["cpus"], answer["omp"]) == (1, "1")
    # 512 MB of data segment per scoring process: a 1 GB allocation fails, the service lives
    with pytest.raises(WebserviceException, match="MemoryError"):
        service.run('{"allocate_mb": 1024}')
    assert service.run('{"allocate_mb": 16}') == 16 * 1024 * 1024
    # two scoring processes share the port
    pids = {service.run("{}")["pid"] for _ in range(40)}  # a new connection each
    assert len(pids) == 2, pids
    assert service.compute_type == "AKS"
    service.delete()


def test_repeated_crashes_mark_the_service_unhealthy(served, wait_until):
    from runyard._services import serving
    from runyard.exceptions import WebserviceException

    service = _deploy(served, "crashy-svc", script="probe.py", models=[1, "other"], auth=False)
    service.wait_for_deployment(timeout_sec=600)
    services = service.workspace._services
    for crash in range(3):
        wait_until(lambda: service.state in ("Healthy", "Unhealthy"), what="serving again")
        with pytest.raises(WebserviceException):  # the process dies under the request
            service.run('{"crash": true}')
        wait_until(
            lambda n=crash: serving.view(services, service.name).restarts == n + 1,
            what=f"restart {crash + 1}",
        )
    wait_until(lambda: service.state == "Unhealthy", what="Unhealthy")
    view = serving.view(services, service.name)
    assert "3 times in the last 60 s" in view.error and "exited with code 1" in view.error

    def answers():
        try:
            return service.run("{}")["pid"]
        except WebserviceException:  # 503 while the restarted process runs init()
            return None

    wait_until(answers, timeout=60, what="answering again")
    service.delete()


def test_a_machine_restart_brings_services_back_on_their_port_and_keys(served, wait_until):
    from runyard._services import serving
    from runyard._serving.local import _all_pids, _environ
    from runyard.core.webservice import LocalWebservice, Webservice

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    service = _deploy(served, "local-svc", kind=LocalWebservice, port=port)
    service.wait_for_deployment(timeout_sec=600)
    assert service.port == port and service.compute_type == "Local"
    assert service.run('{"data": [1]}')["sum"] == 2  # auth off: v1's Local default
    ws = served[0]
    services = ws._services
    # everything of the workspace dies at once, as in a power cut
    marker = f"RUNYARD_SERVICE_AUTH={services.layout.services_dir}".encode()
    victims = [pid for pid in _all_pids() if any(e.startswith(marker) for e in _environ(pid))]
    victims += serving.view(services, "local-svc").info.state["pids"][:1]
    victims.append(agent_pid(services.layout))
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: agent_pid(services.layout) is None, what="the agent gone")
    # the first look at a service starts the agent, which starts every service again
    assert Webservice(ws, "local-svc").port == port
    wait_until(lambda: Webservice(ws, "local-svc").state == "Healthy", timeout=120, what="back")
    assert LocalWebservice(ws, "local-svc").run('{"data": [1]}')["sum"] == 2
    service.delete()


def test_overwrite_keeps_the_port_and_the_keys(served):
    first = _deploy(served, "over-svc")
    first.wait_for_deployment(timeout_sec=600)
    keys, port = first.get_keys(), first.port
    second = _deploy(served, "over-svc", version=2, overwrite=True)
    second.wait_for_deployment(timeout_sec=600)
    assert (second.port, second.get_keys()) == (port, keys)
    assert _post(second.scoring_uri, '{"data": [1]}', keys[1]).json()["sum"] == 101
    second.update(auth_enabled=False)
    assert _post(second.scoring_uri, '{"data": [1]}').status_code == 200
    second.delete()


def test_a_bad_key_is_refused_before_anything_is_stored(served):
    from runyard.exceptions import WebserviceException

    ws = served[0]
    with pytest.raises(WebserviceException, match="primary key must be a str of at least 8"):
        _deploy(served, "badkey-svc", primary_key="short")
    assert "badkey-svc" not in ws.webservices
    assert not (ws._services.layout.services_dir / "badkey-svc").exists()
