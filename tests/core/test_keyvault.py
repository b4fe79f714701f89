"""The workspace's key vault (v1's Keyvault): secrets as private files, apart from runs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from runyard import compat
from runyard.core import Experiment
from runyard.exceptions import SecretNotFound, UserErrorException


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_set_and_get_secret_round_trip(ws):
    kv = ws.get_default_keyvault()
    kv.set_secret("db-password", "s3cr3t")
    kv.set_secret("db-password", "rotated")
    assert kv.get_secret("db-password") == "rotated"
    assert kv.get_secret_content_type("db-password") == "application/NotProvided"


def test_set_secrets_and_get_secrets_give_none_for_missing_names(ws):
    kv = ws.get_default_keyvault()
    kv.set_secrets({"api-key": "k1", "token": "t1"})
    assert kv.get_secrets(["api-key", "token", "absent"]) == {
        "api-key": "k1",
        "token": "t1",
        "absent": None,
    }


def test_list_secrets_gives_names_only(ws):
    kv = ws.get_default_keyvault()
    kv.set_secrets({"b-key": "value-b", "a-key": "value-a"})
    assert kv.list_secrets() == [{"name": "a-key"}, {"name": "b-key"}]


def test_names_are_case_insensitive_as_in_key_vault(ws):
    kv = ws.get_default_keyvault()
    kv.set_secret("Api-Key", "v1")
    kv.set_secret("API-KEY", "v2")
    assert kv.get_secret("api-key") == "v2"
    assert kv.list_secrets() == [{"name": "API-KEY"}]


@pytest.mark.parametrize("bad", ["my_secret", "", "a" * 128, "with space", "../etc", 42])
def test_bad_secret_name_is_refused_naming_it(ws, bad):
    with pytest.raises(UserErrorException, match="is invalid: a Key Vault secret name") as err:
        ws.get_default_keyvault().set_secret(bad, "value")
    assert repr(bad) in str(err.value)
    assert ws.get_default_keyvault().list_secrets() == []


def test_a_bad_name_in_a_batch_stores_none_of_it(ws):
    kv = ws.get_default_keyvault()
    with pytest.raises(UserErrorException, match="'bad_name' is invalid"):
        kv.set_secrets({"good-name": "v", "bad_name": "v"})
    assert kv.list_secrets() == []


def test_a_value_that_is_not_a_str_is_refused(ws):
    with pytest.raises(UserErrorException, match="secret 'port' is a int; a secret value is"):
        ws.get_default_keyvault().set_secret("port", 5432)
    assert ws.get_default_keyvault().list_secrets() == []


def test_missing_secret_error_says_how_to_set_it(ws):
    with pytest.raises(SecretNotFound, match="Secret 'nope' not found in the key vault") as err:
        ws.get_default_keyvault().get_secret("nope")
    assert "set_secret('nope', value)" in str(err.value)


def test_delete_secret_removes_it_and_a_missing_one_is_an_error(ws):
    kv = ws.get_default_keyvault()
    kv.set_secrets({"one": "1", "two": "2"})
    kv.delete_secret("one")
    assert kv.list_secrets() == [{"name": "two"}]
    with pytest.raises(SecretNotFound, match="'one' not found"):
        kv.delete_secret("one")
    with pytest.raises(SecretNotFound, match="'gone' not found"):
        kv.delete_secrets(["two", "gone"])
    assert kv.get_secret("two") == "2"


def test_secrets_are_private_files_apart_from_the_store(ws, services):
    ws.get_default_keyvault().set_secret("db-password", "value-never-in-the-db")
    folder = ws._layout.secrets_dir
    assert _mode(folder) == 0o700
    assert [(p.name, _mode(p)) for p in folder.iterdir()] == [("db-password", 0o600)]
    assert b"value-never-in-the-db" not in ws._layout.db_path.read_bytes()


def test_run_get_secret_on_the_driver(ws):
    ws.get_default_keyvault().set_secrets({"api-key": "driver-side-value"})
    run = Experiment(ws, "secrets").start_logging()
    assert run.get_secret("api-key") == "driver-side-value"
    assert run.get_secrets(["api-key", "other"]) == {"api-key": "driver-side-value", "other": None}
    run.complete()
    assert "driver-side-value" not in repr(run.get_details())


def test_azureml_core_keyvault_is_runyards(tmp_path):
    code = (
        "import azureml.core.keyvault as v1, runyard.core.keyvault as ours\n"
        "print(v1.Keyvault is ours.Keyvault)"
    )
    env = {**os.environ, "PYTHONPATH": compat.job_pythonpath()}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "True"
