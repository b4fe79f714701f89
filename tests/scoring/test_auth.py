"""Key authentication of /score: both keys, a rewritten key file on the very next request,
a missing key file refusing everything; / and /swagger.json need no key."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

PRIMARY, SECONDARY = "primary-key-0123456789", "secondary-key-9876543210"
SCRIPT = """
def init():
    pass

def run(raw_data):
    return {"echo": raw_data}
"""


def _write_keys(path: Path, *keys: str, enabled: bool = True) -> None:
    """As the host should: the whole file written aside, then renamed into place."""
    data = {
        "auth_enabled": enabled,
        "key_sha256": [hashlib.sha256(k.encode()).hexdigest() for k in keys],
    }
    aside = path.with_suffix(".tmp")
    aside.write_text(json.dumps(data))
    os.replace(aside, path)


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "auth.json"
    _write_keys(path, PRIMARY, SECONDARY)
    return path


@pytest.fixture
def worker(scripts, start_worker, keyfile):
    return start_worker(scripts.write(SCRIPT), {"RUNYARD_SERVICE_AUTH": str(keyfile)})


def _score(worker, key: str | None = None, scheme: str = "Bearer"):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"{scheme} {key}"
    return worker.client().post("/score", content='{"a": 1}', headers=headers)


def test_the_primary_key_is_accepted(worker):
    resp = _score(worker, PRIMARY)
    assert (resp.status_code, resp.json()) == (200, {"echo": '{"a": 1}'})


def test_the_secondary_key_is_accepted(worker):
    assert _score(worker, SECONDARY).status_code == 200


def test_a_missing_authorization_header_is_401_saying_so(worker):
    resp = _score(worker)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    message = resp.json()["message"]
    assert message.startswith("Missing Authorization header")
    assert "'Authorization: Bearer <key from service.get_keys()>'" in message


def test_a_wrong_key_is_401_saying_it_is_invalid(worker):
    resp = _score(worker, "not-a-key")
    assert resp.status_code == 401
    message = resp.json()["message"]
    assert message.startswith("Invalid key in the Authorization header")
    assert "Bearer <key from service.get_keys()>" in message


def test_a_key_without_the_bearer_scheme_is_401(worker):
    assert _score(worker, PRIMARY, scheme="Basic").status_code == 401


def test_a_rewritten_key_file_counts_from_the_very_next_request(worker, keyfile):
    client = worker.client()
    headers = {"Authorization": f"Bearer {PRIMARY}"}
    assert client.post("/score", content="1", headers=headers).status_code == 200
    _write_keys(keyfile, "regenerated-primary", SECONDARY)
    assert client.post("/score", content="1", headers=headers).status_code == 401
    new = {"Authorization": "Bearer regenerated-primary"}
    assert client.post("/score", content="1", headers=new).status_code == 200


def test_a_key_file_rewritten_in_place_counts_from_the_next_request(worker, keyfile):
    # same size, same inode, likely the same mtime tick: the recent file is read again
    client = worker.client()
    assert (
        client.post(
            "/score", content="1", headers={"Authorization": f"Bearer {PRIMARY}"}
        ).status_code
        == 200
    )
    data = json.loads(keyfile.read_text())
    data["key_sha256"][0] = hashlib.sha256(PRIMARY.upper().encode()).hexdigest()
    keyfile.write_text(json.dumps(data))
    old = client.post("/score", content="1", headers={"Authorization": f"Bearer {PRIMARY}"})
    new = client.post("/score", content="1", headers={"Authorization": f"Bearer {PRIMARY.upper()}"})
    assert (old.status_code, new.status_code) == (401, 200)


def test_auth_turned_off_in_the_key_file_lets_requests_in(worker, keyfile):
    _write_keys(keyfile, enabled=False)
    assert _score(worker).status_code == 200


def test_a_missing_key_file_refuses_every_request(scripts, start_worker, tmp_path):
    worker = start_worker(
        scripts.write(SCRIPT), {"RUNYARD_SERVICE_AUTH": str(tmp_path / "gone.json")}
    )
    for key in (None, PRIMARY, "anything"):
        resp = _score(worker, key)
        assert resp.status_code == 401
        assert "key file is missing or unreadable" in resp.json()["message"]
    assert "gone.json (RUNYARD_SERVICE_AUTH) is unusable" in worker.stderr()


def test_a_key_file_that_is_not_json_refuses_every_request(worker, keyfile):
    keyfile.write_text("{not json")
    resp = _score(worker, PRIMARY)
    assert resp.status_code == 401
    assert "missing or unreadable" in resp.json()["message"]


def test_a_key_file_deleted_later_refuses_every_request(worker, keyfile):
    assert _score(worker, PRIMARY).status_code == 200
    keyfile.unlink()
    assert _score(worker, PRIMARY).status_code == 401


def test_liveness_and_swagger_need_no_key(worker):
    client = worker.client()
    assert client.get("/").text == "Healthy"
    assert client.get("/swagger.json").status_code == 200


def test_no_key_or_header_reaches_the_log(worker):
    _score(worker, PRIMARY)
    _score(worker, "wrong-key-abc")
    log = worker.stdout() + worker.stderr()
    assert PRIMARY not in log and "wrong-key-abc" not in log and "Bearer" not in log


def test_without_an_auth_variable_no_key_is_needed(scripts, start_worker):
    worker = start_worker(scripts.write(SCRIPT))
    assert _score(worker).status_code == 200
