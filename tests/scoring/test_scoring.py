"""POST /score as v1's server answers it: run() gets the body as a str, its return value goes
back as JSON (or as the AMLResponse it is), its errors are 500s; 404, 405, 413, 504."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

SCRIPT = """
import json, os, time
from azureml.contrib.services.aml_response import AMLResponse

def init():
    global calls
    calls = 0

def run(raw_data):
    global calls
    calls += 1
    if raw_data.startswith("{") and json.loads(raw_data).get("kind"):
        kind = json.loads(raw_data)["kind"]
    else:
        return {"type": type(raw_data).__name__, "echo": raw_data, "calls": calls}
    if kind == "list":
        return [1, 2.5, "three", None]
    if kind == "str":
        return "a plain string"
    if kind == "response":
        return AMLResponse("made <b>here</b>", 201, {"X-Extra": "one, two"})
    if kind == "bytes-response":
        return AMLResponse(b"\\x89PNG", 202, {"Content-Type": "image/png"})
    if kind == "json-response":
        return AMLResponse({"ok": True}, 200, json_str=True)
    if kind == "none-response":
        return AMLResponse(None, 200)
    if kind == "raise":
        raise ValueError("the input has no 'data' field")
    if kind == "set":
        return {1, 2}
    if kind == "hang":
        while True:
            time.sleep(0.01)
    raise AssertionError(kind)
"""


@pytest.fixture(scope="module")
def worker(module_workers):
    scripts, workers = module_workers
    limits = {"RUNYARD_SERVICE_MAX_BODY_BYTES": "1000", "RUNYARD_SERVICE_TIMEOUT_MS": "300"}
    started = workers.start(scripts.write(SCRIPT), limits)
    assert started.said == b"ready\n", started.stderr()
    return started


@pytest.fixture
def client(worker) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=worker.base, trust_env=False, timeout=30) as client:
        yield client


def _score(client: httpx.Client, body: str | bytes, **kwargs) -> httpx.Response:
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return client.post("/score", content=body, headers=headers, **kwargs)


def _kind(client: httpx.Client, kind: str) -> httpx.Response:
    return _score(client, json.dumps({"kind": kind}))


def test_run_gets_the_body_as_a_str(client):
    resp = _score(client, '{"data": [[1, 2]]}')
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()["type"] == "str" and resp.json()["echo"] == '{"data": [[1, 2]]}'


def test_a_body_that_is_not_json_reaches_run_as_it_is(client):
    assert _score(client, "plain text, é").json()["echo"] == "plain text, é"


def test_a_body_that_is_not_utf8_is_400(client):
    resp = _score(client, b"\xff\xfe")
    assert resp.status_code == 400
    assert "cannot be decoded as UTF-8" in resp.json()["message"]


def test_init_state_lasts_between_requests(client):
    first = _score(client, "x").json()["calls"]
    assert _score(client, "x").json()["calls"] == first + 1


def test_a_dict_return_value_is_sent_as_json(client):
    resp = _score(client, "{}")
    assert resp.headers["content-type"] == "application/json"
    assert sorted(resp.json()) == ["calls", "echo", "type"]


def test_a_list_return_value_is_sent_as_json(client):
    assert _kind(client, "list").json() == [1, 2.5, "three", None]


def test_a_str_return_value_is_sent_as_a_json_string(client):
    # as v1: clients call json.loads(resp.json()) on what their run() had json.dumps'ed
    resp = _kind(client, "str")
    assert resp.text == '"a plain string"'
    assert resp.json() == "a plain string"


def test_an_amlresponse_sets_status_headers_and_body(client):
    resp = _kind(client, "response")
    assert resp.status_code == 201
    assert resp.text == "made <b>here</b>"
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert resp.headers.get_list("x-extra") == ["one", "two"]


def test_an_amlresponse_content_type_replaces_the_default(client):
    resp = _kind(client, "bytes-response")
    assert (resp.status_code, resp.content) == (202, b"\x89PNG")
    assert resp.headers.get_list("content-type") == ["image/png"]


def test_an_amlresponse_with_json_str_sends_json(client):
    resp = _kind(client, "json-response")
    assert resp.headers["content-type"] == "application/json" and resp.json() == {"ok": True}


def test_an_amlresponse_of_none_sends_an_empty_json_object(client):
    resp = _kind(client, "none-response")
    assert (resp.status_code, resp.headers["content-type"], resp.json()) == (
        200,
        "application/json",
        {},
    )


def test_run_raising_is_500_with_the_message_and_the_traceback_in_the_log(worker, client):
    resp = _kind(client, "raise")
    assert resp.status_code == 500
    assert resp.json()["message"] == "run() raised ValueError: the input has no 'data' field"
    log = worker.stderr()
    assert "Traceback (most recent call last)" in log
    assert "raise ValueError(\"the input has no 'data' field\")" in log


def test_a_return_value_that_is_not_json_serializable_is_500_naming_its_type(client):
    resp = _kind(client, "set")
    assert resp.status_code == 500
    message = resp.json()["message"]
    assert message.startswith("run() returned a set, which is not JSON-serializable")
    assert "AMLResponse" in message


def test_a_run_past_the_timeout_is_504_and_stopped(worker, client):
    resp = _kind(client, "hang")
    assert resp.status_code == 504
    assert resp.json()["message"] == (
        "run() did not finish within 300 ms (the service's scoring timeout), so it was stopped."
    )
    # stopped, not left running: the one script thread serves the next request
    assert _score(client, "after").json()["echo"] == "after"
    assert "run() did not finish within 300 ms" in worker.stderr()


def test_a_body_over_the_limit_by_content_length_is_413(client):
    resp = _score(client, "x" * 1001)
    assert resp.status_code == 413
    assert "at most 1000 bytes (RUNYARD_SERVICE_MAX_BODY_BYTES)" in resp.json()["message"]


def test_a_chunked_body_over_the_limit_is_413(client):
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b"y" * 400

    resp = client.post("/score", content=chunks())
    assert resp.request.headers.get("transfer-encoding") == "chunked"
    assert resp.status_code == 413


def test_a_chunked_body_under_the_limit_reaches_run_whole(client):
    def chunks() -> Iterator[bytes]:
        yield b"ab"
        yield b"cd"

    assert client.post("/score", content=chunks()).json()["echo"] == "abcd"


def test_a_body_at_the_limit_is_served(client):
    assert _score(client, "z" * 1000).status_code == 200


def test_get_score_passes_the_query_as_json_text(client):
    resp = client.get("/score", params={"a": "1", "b": "[1,2]", "c": "word"})
    assert json.loads(resp.json()["echo"]) == {"a": 1, "b": [1, 2], "c": "word"}


def test_an_unknown_path_is_404(client):
    resp = client.post("/predict", content="{}")
    assert resp.status_code == 404
    assert "POST /score" in resp.json()["message"]


def test_a_wrong_method_on_score_is_405(client):
    resp = client.put("/score", content="{}")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, POST, OPTIONS"


def test_a_wrong_method_on_the_liveness_path_is_405(client):
    assert client.post("/", content="{}").status_code == 405


def test_liveness_answers_healthy(client):
    resp = client.get("/")
    assert (resp.status_code, resp.text) == (200, "Healthy")


def test_run_can_take_the_request_headers(scripts, start_worker):
    script = scripts.write(
        """
        def init():
            pass

        def run(data, request_headers):
            return {"data": data, "trace": request_headers.get("X-Trace-Id")}
        """
    )
    worker = start_worker(script)
    resp = worker.client().post("/score", content="[1]", headers={"X-Trace-Id": "t-42"})
    assert resp.json() == {"data": "[1]", "trace": "t-42"}
