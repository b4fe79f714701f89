"""Workspace: config.json search, write_config, create/get/list and name errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runyard._envs.curated import curated_names
from runyard.core import Workspace
from runyard.exceptions import UserErrorException


def _config(folder: Path, name: str, file_name: str = "config.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    path.write_text(
        json.dumps({"subscription_id": "sub-1", "resource_group": "rg-1", "workspace_name": name})
    )
    return path


def test_from_config_creates_embedded_workspace_and_says_where(runyard_home, capsys):
    _config(Path.cwd(), "from-cfg")
    ws = Workspace.from_config()
    out = capsys.readouterr().out
    assert ws.name == "from-cfg"
    assert ws.subscription_id == "sub-1" and ws.resource_group == "rg-1"
    assert out.count("\n") == 1
    assert (
        f"Created embedded workspace 'from-cfg' at {runyard_home / 'workspaces' / 'from-cfg'}"
        in out
    )
    assert (runyard_home / "workspaces" / "from-cfg" / "workspace.json").is_file()
    Workspace.from_config()
    assert capsys.readouterr().out == ""


def test_grandparent_dot_azureml_beats_config_json_in_cwd(runyard_home, tmp_path, monkeypatch):
    top = tmp_path / "top"
    _config(top / ".azureml", "grand-ws")
    work = top / "a" / "b"
    _config(work, "cwd-ws")
    monkeypatch.chdir(work)
    assert Workspace.from_config().name == "grand-ws"


def test_aml_config_beats_plain_config_json(runyard_home, tmp_path, monkeypatch):
    _config(tmp_path / "p" / "aml_config", "aml-ws", "project.json")
    _config(tmp_path / "p" / "q", "plain-ws")
    monkeypatch.chdir(tmp_path / "p" / "q")
    assert Workspace.from_config().name == "aml-ws"


def test_file_path_is_used_directly_whatever_its_name(runyard_home, tmp_path):
    path = _config(tmp_path / "elsewhere", "direct-ws", "my-settings.json")
    assert Workspace.from_config(path=str(path)).name == "direct-ws"


def test_scope_form_is_split_into_its_parts(runyard_home):
    scope = (
        "/subscriptions/s-9/resourceGroups/rg-9/providers/"
        "Microsoft.MachineLearningServices/workspaces/scope-ws"
    )
    Path("config.json").write_text(json.dumps({"Id": None, "Scope": scope}))
    ws = Workspace.from_config()
    assert (ws.subscription_id, ws.resource_group, ws.name) == ("s-9", "rg-9", "scope-ws")


def test_missing_key_names_the_key_and_the_file(runyard_home):
    Path("config.json").write_text(json.dumps({"subscription_id": "s", "workspace_name": "w-1"}))
    with pytest.raises(UserErrorException) as err:
        Workspace.from_config()
    assert "'resource_group'" in str(err.value)
    assert str(Path.cwd() / "config.json") in str(err.value)
    assert not (runyard_home / "workspaces").exists()


def test_missing_config_names_path_and_how_to_fix(runyard_home, tmp_path):
    start = tmp_path / "empty"
    start.mkdir()
    with pytest.raises(UserErrorException) as err:
        Workspace.from_config(path=str(start))
    text = str(err.value)
    assert "The workspace configuration file config.json, could not be found in" in text
    assert str(start) in text
    assert "write_config()" in text and "runyard workspace create" in text


def test_write_config_uses_dot_azureml_and_scope_form(ws, tmp_path):
    ws.write_config(path=str(tmp_path / "proj"))
    written = json.loads((tmp_path / "proj" / ".azureml" / "config.json").read_text())
    assert written["Id"] is None
    assert written["Scope"].endswith("/workspaces/test-ws")
    assert Workspace.from_config(path=str(tmp_path / "proj" / "sub")).name == "test-ws"


def test_write_config_prefers_existing_aml_config_and_project_json(ws, tmp_path):
    (tmp_path / "aml_config").mkdir()
    (tmp_path / "aml_config" / "project.json").write_text("{}")
    ws.write_config(path=str(tmp_path))
    assert "test-ws" in (tmp_path / "aml_config" / "project.json").read_text()
    assert not (tmp_path / ".azureml").exists()


def test_create_get_list(runyard_home, capsys):
    created = Workspace.create("team-a", subscription_id="s", resource_group="r")
    assert "Created embedded workspace 'team-a'" in capsys.readouterr().out
    assert Workspace.get("team-a").subscription_id == "s"
    Workspace.create("team-b", show_output=False)
    listed = Workspace.list()
    assert sorted(listed) == ["team-a", "team-b"]
    assert listed["team-a"][0] == created
    assert list(Workspace.list(subscription_id="s")) == ["team-a"]


def test_create_existing_without_exist_ok_is_refused(runyard_home):
    Workspace.create("dup-ws", show_output=False)
    with pytest.raises(UserErrorException, match="already exists.*exist_ok=True"):
        Workspace.create("dup-ws", show_output=False)
    assert Workspace.create("dup-ws", exist_ok=True, show_output=False).name == "dup-ws"


def test_get_missing_names_list_and_create(runyard_home):
    with pytest.raises(UserErrorException) as err:
        Workspace.get("nope-ws")
    assert "'nope-ws'" in str(err.value)
    assert "runyard workspace list" in str(err.value) and "Workspace.create" in str(err.value)


@pytest.mark.parametrize("bad", ["ab", "-abc", "has space", "a" * 34, "dots.not.ok"])
def test_bad_workspace_names_are_refused_and_nothing_created(runyard_home, bad):
    with pytest.raises(UserErrorException) as err:
        Workspace.create(bad, show_output=False)
    assert repr(bad) in str(err.value) and "3 to 33 characters" in str(err.value)
    assert not (runyard_home / "workspaces").exists()


def test_collections_and_get_run(ws):
    from runyard.core import Experiment

    run = Experiment(ws, "exp-a").start_logging(snapshot_directory=None)
    assert list(ws.experiments) == ["exp-a"]
    assert ws.compute_targets == {} and ws.datasets == {} and ws.models == {}
    # The default datastore exists from the start, and curated environments are always there.
    assert list(ws.datastores) == ["workspaceblobstore"]
    assert set(ws.environments) == set(curated_names())
    from runyard.core.compute import AmlCompute, ComputeTarget

    ComputeTarget.create(ws, "cpu", AmlCompute.provisioning_configuration(max_nodes=1))
    assert list(ws.compute_targets) == ["cpu"]
    assert ws.get_run(run.id).id == run.id


def test_store_call_without_sqlalchemy_says_what_to_do(ws):
    # What a job in a built environment sees: Runyard's light side, no SQLAlchemy.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['sqlalchemy'] = None\n"  # import sqlalchemy -> ModuleNotFoundError
        "from runyard.core import Model, Workspace\n"
        "from runyard.exceptions import UserErrorException\n"
        "ws = Workspace.get('test-ws')\n"
        "try:\n"
        "    Model(ws, 'clf')\n"
        "except UserErrorException as exc:\n"
        "    print('REFUSED', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "REFUSED" in out.stdout, out.stderr
    assert "SQLAlchemy is not installed" in out.stdout
    assert "'sqlalchemy' and 'alembic'" in out.stdout and "test-ws" in out.stdout


def test_new_workspace_next_to_others_warns_and_lists_them(runyard_home, capsys):
    Workspace.create("first-ws", show_output=False)
    Workspace("sub", "rg", "frist-ws")
    err = capsys.readouterr().err
    assert "workspace_name='frist-ws' matched no workspace" in err
    assert "already holds 'first-ws'" in err


def test_from_config_hint_names_the_command_that_writes_one(runyard_home, tmp_path):
    with pytest.raises(UserErrorException, match="runyard workspace create <name> --write-config"):
        Workspace.from_config(path=str(tmp_path))
