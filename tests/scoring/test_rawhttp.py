"""@rawhttp scripts: run() gets the request itself (the Flask request API v1 scripts use) for
GET and POST /score, imported through azureml.contrib.services as in v1."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse

def init():
    pass

@rawhttp
def run(request):
    assert isinstance(request, AMLRequest)
    if request.path != "/score":
        return AMLResponse("wrong path", 500)
    seen = {
        "method": request.method,
        "args": request.args.to_dict(flat=False),
        "data": request.get_data(as_text=True),
        "same": request.data == request.get_data(),
        "full_path": request.full_path,
        "url": request.url,
        "header": request.headers.get("X-Custom"),
        "content_type": request.content_type,
    }
    if request.method == "GET":
        return AMLResponse(seen, 200, json_str=True)
    if request.args.get("form"):
        seen["form"] = request.form.to_dict()
        upload = request.files["upload"]
        seen["file"] = [upload.filename, upload.read().decode()]
    elif request.args.get("json"):
        seen["json"] = request.get_json()
    else:
        seen["silent"] = request.get_json(silent=True)
    return seen
"""


@pytest.fixture(scope="module")
def client(module_workers):
    scripts, workers = module_workers
    worker = workers.start(scripts.write(SCRIPT))
    assert worker.said == b"ready\n", worker.stderr()
    with worker.client() as client:
        yield client


def test_a_get_reaches_run_as_the_request(client):
    resp = client.get("/score", params=[("q", "1"), ("q", "2"), ("name", "x")])
    assert resp.status_code == 200
    seen = resp.json()
    assert seen["method"] == "GET"
    assert seen["args"] == {"q": ["1", "2"], "name": ["x"]}
    assert seen["full_path"] == "/score?q=1&q=2&name=x"
    assert seen["url"].endswith("/score?q=1&q=2&name=x") and seen["url"].startswith("http://")
    assert seen["data"] == ""


def test_a_post_reaches_run_with_its_body_and_headers(client):
    resp = client.post("/score", content=b"raw bytes", headers={"X-Custom": "yes"})
    seen = resp.json()
    assert (seen["method"], seen["data"], seen["same"], seen["header"]) == (
        "POST",
        "raw bytes",
        True,
        "yes",
    )
    assert seen["full_path"] == "/score?"  # werkzeug keeps the "?"
    assert seen["silent"] is None


def test_get_json_parses_a_json_body(client):
    resp = client.post("/score", params={"json": "1"}, json={"image": [1, 2]})
    assert resp.json()["json"] == {"image": [1, 2]}


def test_get_json_without_a_json_content_type_is_run_failing(client):
    resp = client.post("/score", params={"json": "1"}, content=b"{}")
    assert resp.status_code == 500
    assert "Content-Type was not 'application/json'" in resp.json()["message"]


def test_form_fields_and_files_are_parsed(client):
    resp = client.post(
        "/score",
        params={"form": "1"},
        data={"label": "cat"},
        files={"upload": ("photo.txt", b"file body", "text/plain")},
    )
    seen = resp.json()
    assert seen["form"] == {"label": "cat"}
    assert seen["file"] == ["photo.txt", "file body"]
    assert seen["content_type"].startswith("multipart/form-data; boundary=")


def test_aml_request_and_response_import_under_their_azureml_names():
    code = (
        "from runyard.compat import hook; hook.install()\n"
        "import azureml.contrib.services as s\n"
        "from azureml.contrib.services.aml_request import rawhttp, AMLRequest\n"
        "from azureml.contrib.services.aml_response import AMLResponse\n"
        "import runyard.scoring.contrib.services.aml_request as r\n"
        "assert s.rawhttp is rawhttp is r.rawhttp\n"
        "print(AMLResponse('x', 404).status)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "404 Not Found", out.stderr
