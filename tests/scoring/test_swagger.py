"""GET /swagger.json, and run() decorated with inference_schema: its schemas shape the
document, and the JSON body's fields become run()'s arguments (v1's server does both)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

PLAIN = """
def init():
    pass

def run(raw_data):
    return raw_data
"""
DECORATED = """
from inference_schema.parameter_types.standard_py_parameter_type import (
    StandardPythonParameterType,
)
from inference_schema.schema_decorators import input_schema, output_schema

def init():
    pass

@input_schema("data", StandardPythonParameterType([[1.0, 2.0]]))
@input_schema("scale", StandardPythonParameterType(1.0))
@output_schema(StandardPythonParameterType([3.0]))
def run(data, scale=1.0):
    return {"sums": [sum(row) * scale for row in data], "type": type(data).__name__}
"""


@pytest.fixture(scope="module")
def plain(module_workers):
    scripts, workers = module_workers
    worker = workers.start(scripts.write(PLAIN))
    with worker.client() as client:
        yield client


@pytest.fixture(scope="session")
def inference_schema_path(persistent_envs_dir: Path, scoring_python: str) -> str:
    """A folder holding the inference-schema package (pip-installed there once), for a
    worker's PYTHONPATH ("" when the workers' interpreter has it already); the tests
    needing it skip when it cannot be installed."""
    if (
        scoring_python == sys.executable
        and importlib.util.find_spec("inference_schema") is not None
    ):
        return ""
    target = persistent_envs_dir / "scoring-inference-schema"
    if not (target / "inference_schema" / "schema_util.py").exists():
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            + ["--no-input", "--upgrade", "--target", str(target), "inference-schema"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"inference-schema cannot be installed with pip here: {why}")
    return str(target)


@pytest.fixture(scope="module")
def decorated(module_workers, inference_schema_path):
    scripts, workers = module_workers
    worker = workers.start(scripts.write(DECORATED), {"PYTHONPATH": inference_schema_path})
    assert worker.said == b"ready\n", worker.stderr()
    with worker.client() as client:
        yield client


def test_swagger_is_version_2_by_default_with_the_service_paths(plain):
    document = plain.get("/swagger.json").json()
    assert document["swagger"] == "2.0"
    assert document["info"]["title"] == "test-service"
    assert {"/", "/score"} <= set(document["paths"])
    assert document["paths"]["/score"]["post"]["security"] == [{"Bearer": []}]
    assert document["definitions"]["ServiceInput"] == {"type": "object", "example": {}}


@pytest.mark.parametrize(("version", "openapi"), [("3", "3.0.3"), ("3.1", "3.1.0")])
def test_swagger_version_3_is_openapi(plain, version, openapi):
    document = plain.get("/swagger.json", params={"version": version}).json()
    assert document["openapi"] == openapi
    assert "ServiceOutput" in document["components"]["schemas"]


def test_an_unknown_swagger_version_is_404(plain):
    resp = plain.get("/swagger.json", params={"version": "9"})
    assert resp.status_code == 404
    assert resp.json()["message"] == (
        "Swagger version [9] is not valid. Supported versions: [2, 3, 3.1]."
    )


def test_the_input_schema_shapes_the_swagger_definitions(decorated):
    definitions = decorated.get("/swagger.json").json()["definitions"]
    service_input = definitions["ServiceInput"]
    assert set(service_input["properties"]) == {"data", "scale"}
    assert service_input["example"] == {"data": [[1.0, 2.0]], "scale": 1.0}
    assert definitions["ServiceOutput"]["type"] == "array"


def test_a_decorated_run_gets_the_json_fields_as_arguments(decorated):
    resp = decorated.post("/score", json={"data": [[1, 2], [3, 4]], "scale": 2})
    assert resp.json() == {"sums": [6, 14], "type": "list"}


def test_a_decorated_run_takes_the_defaults_of_missing_optional_fields(decorated):
    assert decorated.post("/score", json={"data": [[1, 1]]}).json()["sums"] == [2]


def test_a_decorated_run_with_a_required_field_missing_is_400(decorated):
    resp = decorated.post("/score", json={"scale": 2})
    assert resp.status_code == 400
    assert resp.json()["message"] == "A value is not provided for the 'data' parameter."


def test_a_decorated_run_with_bad_json_is_400(decorated):
    resp = decorated.post("/score", content=b"{nope", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["message"].startswith("POST body could not be decoded as JSON")


def test_a_decorated_run_with_a_json_array_body_is_400(decorated):
    resp = decorated.post("/score", json=[1, 2])
    assert (resp.status_code, resp.json()["message"]) == (
        400,
        "POST body should be a JSON dictionary.",
    )


def test_a_decorated_run_without_a_json_content_type_is_415(decorated):
    resp = decorated.post(
        "/score", content=b'{"data": [[1]]}', headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 415
    assert resp.json()["message"] == "Expects Content-Type to be application/json"


def test_a_users_swagger_json_in_the_source_folder_is_served(scripts, start_worker):
    script = scripts.write(PLAIN)
    (script.parent / "swagger.json").write_text('{"swagger": "2.0", "info": {"title": "mine"}}')
    document = start_worker(script).client().get("/swagger.json").json()
    assert document == {"swagger": "2.0", "info": {"title": "mine"}}
