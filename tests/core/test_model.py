"""Model registry: register from local paths and run files, versions, list, download,
get_model_path, bad names."""

from __future__ import annotations

from pathlib import Path

import pytest

from runyard.core import Experiment, Model
from runyard.exceptions import (
    ModelNotFoundException,
    ModelPathNotFoundException,
    UserErrorException,
    WebserviceException,
)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(b"weights-v1")
    return path


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "saved_model"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved.pb").write_bytes(b"graph")
    (folder / "variables" / "v.bin").write_bytes(b"vars")
    return folder


def test_register_file_versions_and_latest(ws, model_file):
    m1 = Model.register(ws, str(model_file), "clf", tags={"stage": "dev"}, description="first")
    m2 = Model.register(ws, str(model_file), "clf", properties={"acc": 0.9})
    assert (m1.version, m2.version) == (1, 2)
    assert m1.id == "clf:1" and m1.url == "aml://asset/clf:1"
    latest = Model(ws, "clf")
    assert latest.version == 2 and latest.properties == {"acc": "0.9"}
    first = Model(ws, id="clf:1")
    assert first.tags == {"stage": "dev"} and first.description == "first"
    assert Model(ws, "clf", version=1).created_time is not None


def test_register_folder_keeps_folder_name(ws, model_dir, tmp_path):
    model = Model.register(ws, str(model_dir), "tf-model")
    path = Path(model.download(target_dir=str(tmp_path / "dl")))
    assert path == tmp_path / "dl" / "saved_model"
    assert (path / "variables" / "v.bin").read_bytes() == b"vars"


def test_download_refuses_to_overwrite_unless_exist_ok(ws, model_file, tmp_path):
    model = Model.register(ws, str(model_file), "clf")
    target = tmp_path / "out"
    assert Model(ws, "clf").download(str(target)) == str(target / "model.pkl")
    (target / "model.pkl").write_bytes(b"local edit")
    with pytest.raises(UserErrorException) as err:
        model.download(str(target))
    assert str(target / "model.pkl") in str(err.value) and "exist_ok=True" in str(err.value)
    assert (target / "model.pkl").read_bytes() == b"local edit"
    model.download(str(target), exist_ok=True)
    assert (target / "model.pkl").read_bytes() == b"weights-v1"


def test_list_filters(ws, model_file):
    Model.register(ws, str(model_file), "a-model", tags={"team": "x"})
    Model.register(ws, str(model_file), "a-model", tags={"team": "y"})
    Model.register(ws, str(model_file), "b-model", tags={"other": "1"})
    assert [m.id for m in Model.list(ws)] == ["a-model:2", "a-model:1", "b-model:1"]
    assert [m.id for m in Model.list(ws, latest=True)] == ["a-model:2", "b-model:1"]
    assert [m.id for m in Model.list(ws, name="a-model")] == ["a-model:2", "a-model:1"]
    assert [m.id for m in Model.list(ws, tags=["team"])] == ["a-model:2", "a-model:1"]
    assert [m.id for m in Model.list(ws, tags=[["team", "x"]])] == ["a-model:1"]
    assert sorted(ws.models) == ["a-model", "b-model"]


def test_register_from_run_file_and_folder(ws, model_dir):
    run = Experiment(ws, "train").start_logging(snapshot_directory=None)
    run.upload_folder("outputs/saved_model", str(model_dir))
    model = run.register_model("from-run", model_path="outputs/saved_model")
    assert model.run_id == run.id and model.experiment_name == "train"
    single = run.register_model("single", model_path="outputs/saved_model/saved.pb")
    assert Path(single.download()).read_bytes() == b"graph"
    assert [m.id for m in Model.list(ws, run_id=run.id)] == ["from-run:1", "single:1"]


def test_register_model_missing_path_lists_run_files(ws, model_file):
    run = Experiment(ws, "train").start_logging(snapshot_directory=None)
    run.upload_file("outputs/model.pkl", str(model_file))
    with pytest.raises(ModelPathNotFoundException) as err:
        run.register_model("clf")
    text = str(err.value)
    assert "Could not locate the provided model_path 'clf' in the set of files uploaded" in text
    assert "['outputs/model.pkl']" in text
    assert Model.list(ws) == []


@pytest.mark.parametrize("bad", ["-lead", "has space", "slash/name", "x" * 256, ""])
def test_bad_model_names_store_nothing(ws, model_file, bad):
    with pytest.raises(WebserviceException) as err:
        Model.register(ws, str(model_file), bad)
    assert repr(bad) in str(err.value) and "1 to 255 characters" in str(err.value)
    assert Model.list(ws) == []
    assert not list((ws._layout.artifacts_dir).rglob("model.pkl"))


def test_missing_local_path_is_refused(ws):
    with pytest.raises(UserErrorException, match="'nowhere.pkl' does not exist"):
        Model.register(ws, "nowhere.pkl", "clf")
    assert Model.list(ws) == []


def test_model_not_found_says_modelnotfound(ws):
    with pytest.raises(ModelNotFoundException, match="ModelNotFound"):
        Model(ws, "ghost")
    with pytest.raises(WebserviceException, match="whole numbers"):
        Model(ws, id="ghost:abc")


def test_tags_properties_update_delete(ws, model_file):
    model = Model.register(ws, str(model_file), "clf", tags={"a": "1"})
    model.add_tags({"b": "2"})
    model.remove_tags(["a"])
    model.add_properties({"p": "1"})
    model.update(description="better")
    again = Model(ws, "clf")
    assert again.tags == {"b": "2"} and again.properties == {"p": "1"}
    assert again.description == "better"
    assert again.serialize()["id"] == "clf:1"
    model.delete()
    assert Model.list(ws) == []


def test_get_model_path_with_azureml_model_dir(ws, model_file, tmp_path, monkeypatch):
    multi = tmp_path / "multi"
    (multi / "clf" / "3").mkdir(parents=True)
    (multi / "clf" / "3" / "model.pkl").write_bytes(b"x")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(multi))
    assert Model.get_model_path("clf") == str(multi / "clf" / "3" / "model.pkl")
    single = tmp_path / "single"
    single.mkdir()
    (single / "model.pkl").write_bytes(b"x")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(single))
    assert Model.get_model_path("clf") == str(single / "model.pkl")
    Model.register(ws, str(model_file), "clf")
    (single / "other.txt").write_text("noise")
    assert Model.get_model_path("clf", _workspace=ws) == str(single / "model.pkl")


def test_get_model_path_local_cache_then_cwd(ws, monkeypatch):
    (Path("azureml-models") / "clf" / "2").mkdir(parents=True)
    (Path("azureml-models") / "clf" / "2" / "m.onnx").write_bytes(b"x")
    (Path("azureml-models") / "clf" / "1").mkdir(parents=True)
    (Path("azureml-models") / "clf" / "1" / "old.onnx").write_bytes(b"x")
    assert Model.get_model_path("clf") == str(Path("azureml-models/clf/2/m.onnx"))
    assert Model.get_model_path("clf", version=1) == str(Path("azureml-models/clf/1/old.onnx"))
    Path("plain").write_text("x")
    assert Model.get_model_path("plain") == "plain"
    with pytest.raises(ModelNotFoundException, match="ModelNotFound: model 'ghost'"):
        Model.get_model_path("ghost")
    with pytest.raises(WebserviceException, match="version must be an int"):
        Model.get_model_path("clf", version="2")


def test_get_model_path_with_workspace_downloads(ws, model_file):
    Model.register(ws, str(model_file), "clf")
    Model.register(ws, str(model_file), "clf")
    path = Model.get_model_path("clf", _workspace=ws)
    assert path == str(Path("azureml-models") / "clf" / "2" / "model.pkl")
    assert Path(path).read_bytes() == b"weights-v1"


def test_bad_model_calls_raise_v1_webservice_exception(ws, model_file, tmp_path):
    # v1 raises WebserviceException for these; notebooks catch that name.
    with pytest.raises(WebserviceException, match="'nowhere.pkl' does not exist"):
        Model.register(ws, "nowhere.pkl", "clf")
    with pytest.raises(WebserviceException, match="must be a dict"):
        Model.register(ws, str(model_file), "clf", tags=["k"])
    assert Model.list(ws) == []
    with pytest.raises(WebserviceException, match="needs a name or an id"):
        Model(ws)
    model = Model.register(ws, str(model_file), "clf")
    model.download(str(tmp_path / "out"))
    with pytest.raises(WebserviceException, match="exist_ok=True"):
        model.download(str(tmp_path / "out"))
