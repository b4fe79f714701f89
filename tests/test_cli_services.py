"""`runyard services ...` on real deployed services: list, show, logs (and --follow), keys,
delete, each with --json; unknown names; keys of a service without auth. One workspace and
two services for the module: 'cli-svc' (key auth) and 'open-svc' (auth_enabled=False)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import httpx
import pytest
from typer.testing import CliRunner

from runyard._services import close_all
from runyard._services.agent_client import stop_agent
from runyard._serving.local import LocalServing
from runyard.cli import app

cli = CliRunner()
WS = "svc-cli-ws"

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
        raise ValueError("boom asked for " + str(data["boom"]))
    return {"sum": sum(data["data"]) + offset}
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, uv_cache_dir):
    """The workspace with both services Healthy: {'cli-svc': service, 'open-svc': service}."""
    from runyard.core import Workspace
    from runyard.core.environment import Environment
    from runyard.core.model import InferenceConfig, Model
    from runyard.core.webservice import AciWebservice

    root = tmp_path_factory.mktemp("cli-services")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUNYARD_HOME", str(root / "home"))
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        mp.setenv("RUNYARD_AGENT_IDLE_SECONDS", "600")
        for name in ("RUNYARD_STORE_URI", "AZUREML_MODEL_DIR", "AZUREML_RUN_ID"):
            mp.delenv(name, raising=False)
        mp.chdir(root)
        ws = Workspace.create(WS, show_output=False)
        (root / "model.json").write_text(json.dumps({"offset": 1}))
        model = Model.register(ws, str(root / "model.json"), "adder")
        (root / "app").mkdir()
        (root / "app" / "score.py").write_text(SCORE)
        inference = InferenceConfig(
            entry_script="score.py",
            environment=Environment("serving-test"),
            source_directory=str(root / "app"),
        )
        services = {}
        for name, auth in (("cli-svc", True), ("open-svc", False)):
            config = AciWebservice.deploy_configuration(
                auth_enabled=auth, cpu_cores=1, tags={"kind": "cli"}, description="for the CLI"
            )
            services[name] = Model.deploy(ws, name, [model], inference, config)
        for service in services.values():
            service.wait_for_deployment(show_output=False, timeout_sec=600)
        yield services
        stop_agent(ws._services.layout, timeout=30)
        serving = LocalServing(ws._services.layout.services_dir)
        for folder in ws._services.layout.services_dir.glob("*"):
            serving.delete(folder.name)
        close_all()


def _invoke(*args: str, input: str | None = None):
    return cli.invoke(app, [*args, "-w", WS], input=input, env={"COLUMNS": "200"})


def _ok(*args: str) -> str:
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _post(uri: str, body: dict, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(uri, json=body, headers=headers, timeout=60)


class _Follower:
    """`runyard services logs NAME --follow` in a process of its own, its stdout read by a
    thread (the CLI flushes what it prints)."""

    def __init__(self, name: str) -> None:
        code = "from runyard.cli import app; app()"
        command = [sys.executable, "-c", code, "services", "logs", name, "-w", WS, "--follow"]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()

    def close(self) -> None:
        """Kills it if still running and closes its pipes."""
        self.proc.kill()
        self.proc.wait()
        self._reader.join(30)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def test_list_shows_every_service_with_state_uri_and_models(deployed):
    rows = json.loads(_ok("services", "list", "--json"))
    by_name = {r["name"]: r for r in rows}
    assert sorted(by_name) == ["cli-svc", "open-svc"]
    row = by_name["cli-svc"]
    assert row["compute_type"] == "ACI" and row["state"] == "Healthy"
    assert row["scoring_uri"] == deployed["cli-svc"].scoring_uri
    assert row["models"] == ["adder:1"] and row["restarts"] == 0
    assert set(row) == {"name", "compute_type", "state", "scoring_uri", "models", "restarts",
                        "updated_time"}  # fmt: skip
    text = _ok("services", "list")
    assert "Web services" in text and deployed["cli-svc"].scoring_uri in text
    assert "open-svc" in text and "adder:1" in text and "Healthy" in text


def test_show_json_has_settings_models_and_no_environment_body_or_keys(deployed):
    service = deployed["cli-svc"]
    shown = json.loads(_ok("services", "show", "cli-svc", "--json"))
    assert shown["state"] == "Healthy" and shown["error"] is None
    assert shown["scoring_uri"] == service.scoring_uri
    assert shown["swagger_uri"] == service.swagger_uri
    assert shown["port"] == service.port and shown["auth_enabled"] is True
    assert shown["version"] == 1 and shown["served_version"] == 1 and shown["restarts"] == 0
    assert shown["models"] == [{"name": "adder", "version": 1, "id": "adder:1"}]
    assert shown["tags"] == {"kind": "cli"} and shown["description"] == "for the CLI"
    assert shown["deployment"]["cpu_cores"] == 1 and shown["deployment"]["workers"] == 1
    assert shown["inference"]["entry_script"] == "score.py"
    assert shown["inference"]["environment"] == {"name": "serving-test", "version": None}
    primary, secondary = service.get_keys()
    text = json.dumps(shown)
    assert primary not in text and secondary not in text and "condaDependencies" not in text


def test_show_prints_a_table_of_the_same(deployed):
    text = _ok("services", "show", "cli-svc")
    assert "Web service cli-svc" in text and deployed["cli-svc"].scoring_uri in text
    assert "deployment.cpu_cores" in text and "inference.entry_script" in text
    assert "adder:1" in text and "serving-test" in text


def test_logs_prints_the_log_its_last_lines_and_the_latest_start(deployed):
    text = _ok("services", "logs", "cli-svc")
    assert "init done, offset 1" in text
    assert text == deployed["cli-svc"].get_logs()
    last = _ok("services", "logs", "cli-svc", "--num-lines", "1")
    assert last.count("\n") == 1 and text.endswith(last)
    init = _ok("services", "logs", "cli-svc", "--init")
    assert init.startswith("---- runyard: starting generation 1") and "init done" in init
    as_json = json.loads(_ok("services", "logs", "cli-svc", "--init", "--json"))
    assert as_json == {"name": "cli-svc", "log": init}


def test_logs_json_with_follow_is_refused(deployed):
    result = _invoke("services", "logs", "cli-svc", "--follow", "--json")
    assert result.exit_code == 1
    assert "--json prints the log once" in result.output and "leave out --follow" in result.output


def test_logs_follow_prints_new_lines_until_ctrl_c(deployed, wait_until):
    service = deployed["cli-svc"]
    follower = _Follower("cli-svc")
    try:
        wait_until(lambda: "init done, offset 1" in follower.text(), what="the log so far")
        resp = _post(service.scoring_uri, {"boom": "while followed"}, service.get_keys()[0])
        assert resp.status_code == 500
        wait_until(lambda: "boom asked for while followed" in follower.text(), what="new lines")
        follower.proc.send_signal(signal.SIGINT)
        code, stderr = follower.finish()
    finally:
        follower.close()
    assert code == 0, stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert follower.text().count("init done, offset 1") == 1  # each line printed once


def test_keys_prints_both_keys_and_json(deployed):
    primary, secondary = deployed["cli-svc"].get_keys()
    keys = json.loads(_ok("services", "keys", "cli-svc", "--json"))
    assert keys == {"primary_key": primary, "secondary_key": secondary}
    text = _ok("services", "keys", "cli-svc")
    assert f"Primary key: {primary}" in text and f"Secondary key: {secondary}" in text
    assert _post(deployed["cli-svc"].scoring_uri, {"data": [1]}, primary).json() == {"sum": 2}


def test_keys_of_a_service_without_auth_says_how_to_turn_it_on(deployed):
    result = _invoke("services", "keys", "open-svc")
    assert result.exit_code == 1
    assert "Service open-svc has no keys: it was deployed with auth_enabled=False" in (
        result.output
    )
    assert "service.update(auth_enabled=True)" in result.output
    assert "Traceback" not in result.output
    assert _post(deployed["open-svc"].scoring_uri, {"data": [2]}).json() == {"sum": 3}


@pytest.mark.parametrize(
    "command",
    [("show",), ("logs",), ("logs", "--follow"), ("keys",), ("delete", "--yes")],
    ids=lambda c: " ".join(c),
)
def test_an_unknown_name_names_the_existing_services(deployed, command):
    result = _invoke("services", command[0], "no-such-svc", *command[1:])
    assert result.exit_code == 1
    assert "Webservice with name no-such-svc not found" in result.output
    assert "Services of this workspace: cli-svc, open-svc." in result.output
    assert "Traceback" not in result.output


def test_logs_follow_ends_when_the_service_is_deleted(deployed, wait_until):
    follower = _Follower("open-svc")
    try:
        wait_until(lambda: "init done, offset 1" in follower.text(), what="the log so far")
        deleted = json.loads(_ok("services", "delete", "open-svc", "--yes", "--json"))
        assert deleted == {"name": "open-svc", "deleted": True}
        code, stderr = follower.finish()
    finally:
        follower.close()
    assert code == 0, stderr
    assert "Service open-svc was deleted; its log ends here." in stderr
    assert [r["name"] for r in json.loads(_ok("services", "list", "--json"))] == ["cli-svc"]


def test_delete_asks_first_and_deletes_on_yes(deployed):
    uri = deployed["cli-svc"].scoring_uri
    refused = _invoke("services", "delete", "cli-svc", input="n\n")
    assert refused.exit_code == 1 and "Delete service cli-svc (ACI, Healthy" in refused.output
    assert "cli-svc" in _ok("services", "list")
    done = _invoke("services", "delete", "cli-svc", input="y\n")
    assert done.exit_code == 0, done.output
    assert "Deleted service cli-svc." in done.stdout
    assert json.loads(_ok("services", "list", "--json")) == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(uri, timeout=5)
