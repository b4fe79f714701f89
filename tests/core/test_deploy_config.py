"""Deployment configurations (ACI, AKS, Local): v1's signatures, defaults, validation rules
and messages, the serving layer's dict, and v1's service-name rule."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from runyard.core.webservice.aci_config import (
    AciServiceDeploymentConfiguration,
    aci_deploy_configuration,
)
from runyard.core.webservice.aks_config import (
    AksServiceDeploymentConfiguration,
    aks_deploy_configuration,
)
from runyard.core.webservice.deploy_config import (
    V1_DEFAULT_CPU_CORES,
    V1_DEFAULT_MEMORY_GB,
    WebserviceDeploymentConfiguration,
    check_service_name,
)
from runyard.core.webservice.local_config import (
    LocalWebserviceDeploymentConfiguration,
    local_deploy_configuration,
)
from runyard.exceptions import WebserviceException

ACI_PARAMS = [
    "cpu_cores",
    "memory_gb",
    "tags",
    "properties",
    "description",
    "location",
    "auth_enabled",
    "ssl_enabled",
    "enable_app_insights",
    "ssl_cert_pem_file",
    "ssl_key_pem_file",
    "ssl_cname",
    "dns_name_label",
    "primary_key",
    "secondary_key",
    "collect_model_data",
    "cmk_vault_base_url",
    "cmk_key_name",
    "cmk_key_version",
    "vnet_name",
    "subnet_name",
]
AKS_PARAMS = [
    "autoscale_enabled",
    "autoscale_min_replicas",
    "autoscale_max_replicas",
    "autoscale_refresh_seconds",
    "autoscale_target_utilization",
    "collect_model_data",
    "auth_enabled",
    "cpu_cores",
    "memory_gb",
    "enable_app_insights",
    "scoring_timeout_ms",
    "replica_max_concurrent_requests",
    "max_request_wait_time",
    "num_replicas",
    "primary_key",
    "secondary_key",
    "tags",
    "properties",
    "description",
    "gpu_cores",
    "period_seconds",
    "initial_delay_seconds",
    "timeout_seconds",
    "success_threshold",
    "failure_threshold",
    "namespace",
    "token_auth_enabled",
    "compute_target_name",
    "cpu_cores_limit",
    "memory_gb_limit",
    "blobfuse_enabled",
]
RUNYARD_KEYS = {
    "compute_type",
    "cpu_cores",
    "memory_gb",
    "auth_enabled",
    "token_auth_enabled",
    "port",
    "workers",
    "tags",
    "properties",
    "description",
    "scoring_timeout_ms",
    "primary_key",
    "secondary_key",
    "recorded",
}


def _params(func) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(func).parameters.values()]


# ---- signatures -----------------------------------------------------------------------------


def test_aci_deploy_configuration_has_v1s_signature() -> None:
    assert _params(aci_deploy_configuration) == [(name, None) for name in ACI_PARAMS]


def test_aks_deploy_configuration_has_v1s_signature() -> None:
    assert _params(aks_deploy_configuration) == [(name, None) for name in AKS_PARAMS]


def test_aks_configuration_constructor_is_positional_as_in_v1() -> None:
    params = _params(AksServiceDeploymentConfiguration.__init__)[1:]
    assert [name for name, _ in params] == AKS_PARAMS
    assert [default for _, default in params[:-1]] == [inspect.Parameter.empty] * 30
    assert params[-1] == ("blobfuse_enabled", None)


def test_local_deploy_configuration_has_v1s_signature() -> None:
    assert _params(local_deploy_configuration) == [("port", None)]


def test_configurations_share_v1s_base_class() -> None:
    configs = (aci_deploy_configuration(), aks_deploy_configuration(), local_deploy_configuration())
    for config in configs:
        assert isinstance(config, WebserviceDeploymentConfiguration)


# ---- ACI ------------------------------------------------------------------------------------


def test_aci_defaults_are_not_set() -> None:
    config = aci_deploy_configuration()
    assert isinstance(config, AciServiceDeploymentConfiguration)
    assert all(getattr(config, name) is None for name in ACI_PARAMS)


def test_aci_to_runyard_for_the_chainer_notebook() -> None:
    config = aci_deploy_configuration(
        cpu_cores=1,
        auth_enabled=True,
        memory_gb=2,
        tags={"name": "mnist", "framework": "Chainer"},
        description="Chainer DNN with MNIST",
    )
    assert config._to_runyard() == {
        "compute_type": "ACI",
        "cpu_cores": 1.0,
        "memory_gb": 2.0,
        "auth_enabled": True,
        "token_auth_enabled": False,
        "port": None,
        "workers": 1,
        "tags": {"name": "mnist", "framework": "Chainer"},
        "properties": {},
        "description": "Chainer DNN with MNIST",
        "scoring_timeout_ms": None,
        "primary_key": None,
        "secondary_key": None,
        "recorded": {},
    }


def test_aci_to_runyard_defaults_apply_no_limits_and_no_auth() -> None:
    out = aci_deploy_configuration()._to_runyard()
    assert set(out) == RUNYARD_KEYS
    assert (out["cpu_cores"], out["memory_gb"], out["auth_enabled"]) == (None, None, False)
    assert (out["tags"], out["properties"], out["recorded"]) == ({}, {}, {})
    assert (V1_DEFAULT_CPU_CORES, V1_DEFAULT_MEMORY_GB) == (0.1, 0.5)


def test_aci_to_runyard_records_the_azure_only_settings_by_v1_name() -> None:
    config = aci_deploy_configuration(
        location="westeurope",
        dns_name_label="mnist",
        enable_app_insights=True,
        collect_model_data=False,
        vnet_name="vnet",
        subnet_name="default",
        cmk_vault_base_url="https://kv",
        cmk_key_name="key",
        cmk_key_version="1",
        primary_key="p",
        secondary_key="s",
        properties={"owner": "me"},
    )
    out = config._to_runyard()
    assert out["recorded"] == {
        "location": "westeurope",
        "dns_name_label": "mnist",
        "enable_app_insights": True,
        "collect_model_data": False,
        "vnet_name": "vnet",
        "subnet_name": "default",
        "cmk_vault_base_url": "https://kv",
        "cmk_key_name": "key",
        "cmk_key_version": "1",
    }
    assert (out["primary_key"], out["secondary_key"]) == ("p", "s")
    assert out["properties"] == {"owner": "me"}
    json.dumps(out)


def test_aci_to_runyard_copies_tags() -> None:
    tags = {"a": "1"}
    out = aci_deploy_configuration(tags=tags)._to_runyard()
    out["tags"]["b"] = "2"
    assert tags == {"a": "1"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cpu_cores": 0}, "Invalid configuration, cpu_cores must be positive."),
        ({"cpu_cores": -0.5}, "Invalid configuration, cpu_cores must be positive."),
        ({"memory_gb": 0}, "Invalid configuration, memory_gb must be positive."),
        ({"cpu_cores": "1"}, "Invalid configuration, cpu_cores must be a number; got '1'."),
        (
            {"ssl_enabled": True, "ssl_cert_pem_file": "c.pem", "ssl_key_pem_file": "k.pem"},
            "SSL is enabled, you must provide a SSL certificate, key, and cname.",
        ),
        (
            {"cmk_vault_base_url": "https://kv", "cmk_key_name": "key"},
            "customer managed key vault_base_url, key_name and key_version must all have values "
            "or all are empty/null",
        ),
        (
            {"cmk_key_version": "1"},
            "customer managed key vault_base_url, key_name and key_version must all have values "
            "or all are empty/null",
        ),
        (
            {"vnet_name": "vnet"},
            "vnet_name and subnet_name must all have values or both are empty/null",
        ),
        (
            {"subnet_name": "default"},
            "vnet_name and subnet_name must all have values or both are empty/null",
        ),
    ],
)
def test_aci_rejects_invalid_values_with_v1s_message(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(WebserviceException) as info:
        aci_deploy_configuration(**kwargs)
    assert str(info.value) == message


def test_aci_ssl_needs_the_cert_file(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("key")
    missing = str(tmp_path / "cert.pem")
    with pytest.raises(WebserviceException) as info:
        aci_deploy_configuration(
            ssl_enabled=True, ssl_cert_pem_file=missing, ssl_key_pem_file=str(key), ssl_cname="x"
        )
    assert str(info.value) == f"Error, unable to find SSL cert pem file provided paths:\n{missing}"


def test_aci_ssl_needs_the_key_file(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("cert")
    missing = str(tmp_path / "key.pem")
    with pytest.raises(WebserviceException) as info:
        aci_deploy_configuration(
            ssl_enabled=True, ssl_cert_pem_file=str(cert), ssl_key_pem_file=missing, ssl_cname="x"
        )
    assert str(info.value) == f"Error, unable to find SSL key pem file provided paths:\n{missing}"


def test_aci_ssl_with_its_files_is_recorded(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    config = aci_deploy_configuration(
        ssl_enabled=True, ssl_cert_pem_file=str(cert), ssl_key_pem_file=str(key), ssl_cname="a.b"
    )
    assert config._to_runyard()["recorded"] == {
        "ssl_enabled": True,
        "ssl_cert_pem_file": str(cert),
        "ssl_key_pem_file": str(key),
        "ssl_cname": "a.b",
    }


def test_aci_to_runyard_validates_values_changed_after_creation() -> None:
    config = aci_deploy_configuration(cpu_cores=1)
    config.cpu_cores = -1
    with pytest.raises(WebserviceException, match="cpu_cores must be positive"):
        config._to_runyard()


def test_aci_print_deploy_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    aci_deploy_configuration(cpu_cores=1, memory_gb=2).print_deploy_configuration()
    aci_deploy_configuration().print_deploy_configuration()
    assert capsys.readouterr().out == "CPU requirement: 1, Memory requirement: 2GB\n"


# ---- AKS ------------------------------------------------------------------------------------


def test_aks_defaults_are_not_set_and_key_auth_is_on() -> None:
    config = aks_deploy_configuration()
    assert all(getattr(config, name) is None for name in AKS_PARAMS)
    out = config._to_runyard()
    assert set(out) == RUNYARD_KEYS
    assert out["compute_type"] == "AKS"
    assert (out["auth_enabled"], out["token_auth_enabled"]) == (True, False)
    assert (out["workers"], out["port"], out["recorded"]) == (1, None, {})


def test_aks_key_auth_can_be_turned_off() -> None:
    assert aks_deploy_configuration(auth_enabled=False)._to_runyard()["auth_enabled"] is False


def test_aks_token_auth_turns_default_key_auth_off() -> None:
    out = aks_deploy_configuration(token_auth_enabled=True)._to_runyard()
    assert (out["auth_enabled"], out["token_auth_enabled"]) == (False, True)


def test_aks_num_replicas_become_workers() -> None:
    out = aks_deploy_configuration(num_replicas=3)._to_runyard()
    assert out["workers"] == 3
    assert out["recorded"] == {"num_replicas": 3}


def test_aks_autoscale_min_replicas_become_workers() -> None:
    config = aks_deploy_configuration(
        autoscale_enabled=True,
        autoscale_min_replicas=2,
        autoscale_max_replicas=4,
        autoscale_refresh_seconds=5,
        autoscale_target_utilization=60,
    )
    out = config._to_runyard()
    assert out["workers"] == 2
    assert out["recorded"] == {
        "autoscale_enabled": True,
        "autoscale_min_replicas": 2,
        "autoscale_max_replicas": 4,
        "autoscale_refresh_seconds": 5,
        "autoscale_target_utilization": 60,
    }


def test_aks_autoscale_without_min_replicas_has_one_worker() -> None:
    assert aks_deploy_configuration(autoscale_enabled=True).workers == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_replicas": 20},
        {"autoscale_enabled": True, "autoscale_min_replicas": 12, "autoscale_max_replicas": 20},
    ],
)
def test_aks_workers_are_capped_at_eight_without_error(kwargs: dict[str, Any]) -> None:
    assert aks_deploy_configuration(**kwargs)._to_runyard()["workers"] == 8


def test_aks_to_runyard_keeps_resources_timeout_and_keys() -> None:
    config = aks_deploy_configuration(
        cpu_cores=0.5,
        memory_gb=1,
        scoring_timeout_ms=5000,
        primary_key="p",
        secondary_key="s",
        tags={"t": "1"},
        properties={"p": "2"},
        description="d",
    )
    out = config._to_runyard()
    assert (out["cpu_cores"], out["memory_gb"], out["scoring_timeout_ms"]) == (0.5, 1.0, 5000)
    assert (out["primary_key"], out["secondary_key"]) == ("p", "s")
    assert (out["tags"], out["properties"], out["description"]) == ({"t": "1"}, {"p": "2"}, "d")


def test_aks_to_runyard_records_the_kubernetes_settings_by_v1_name() -> None:
    recorded: dict[str, Any] = {
        "collect_model_data": True,
        "cpu_cores_limit": 2,
        "memory_gb_limit": 4,
        "gpu_cores": 0,
        "enable_app_insights": False,
        "replica_max_concurrent_requests": 2,
        "max_request_wait_time": 500,
        "period_seconds": 10,
        "initial_delay_seconds": 310,
        "timeout_seconds": 2,
        "success_threshold": 1,
        "failure_threshold": 3,
        "namespace": "scoring",
        "compute_target_name": "aks-1",
        "blobfuse_enabled": True,
    }
    out = aks_deploy_configuration(cpu_cores=1, memory_gb=1, **recorded)._to_runyard()
    assert out["recorded"] == recorded
    json.dumps(out)


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({"cpu_cores": 0}, "cpu_cores must be greater than zero."),
        (
            {"cpu_cores": 2, "cpu_cores_limit": 1},
            "cpu_cores_limit must be greater than or equal to cpu_cores.",
        ),
        ({"memory_gb": -1}, "memory_gb must be greater than zero."),
        (
            {"memory_gb": 2, "memory_gb_limit": 1},
            "memory_gb_limit must be greater than or equal to memory_gb.",
        ),
        ({"gpu_cores": -1}, "gpu_cores must be greater than or equal to zero."),
        ({"period_seconds": 0}, "period_seconds must be greater than zero."),
        ({"initial_delay_seconds": 0}, "initial_delay_seconds must be greater than zero."),
        ({"timeout_seconds": 0}, "timeout_seconds must be greater than zero."),
        ({"success_threshold": 0}, "success_threshold must be greater than zero."),
        ({"failure_threshold": 0}, "failure_threshold must be greater than zero."),
        (
            {"namespace": "Bad_NS"},
            "namespace must be a valid Kubernetes namespace. Regex for validation is "
            "^[a-z0-9]([a-z0-9-]{,61}[a-z0-9])?$",
        ),
        ({"scoring_timeout_ms": 0}, "scoring_timeout_ms must be greater than zero."),
        (
            {"replica_max_concurrent_requests": 0},
            "replica_max_concurrent_requests must be greater than zero.",
        ),
        ({"max_request_wait_time": 0}, "max_request_wait_time must be greater than zero."),
        ({"num_replicas": 0}, "num_replicas must be greater than zero."),
        (
            {"autoscale_enabled": True, "num_replicas": 2},
            "autoscale enabled and num_replicas provided.",
        ),
        (
            {"autoscale_enabled": True, "autoscale_min_replicas": 0},
            "autoscale_min_replicas must be greater than zero.",
        ),
        (
            {"autoscale_enabled": True, "autoscale_max_replicas": -1},
            "autoscale_max_replicas must be greater than zero.",
        ),
        (
            {"autoscale_enabled": True, "autoscale_min_replicas": 5, "autoscale_max_replicas": 2},
            "autoscale_min_replicas cannot be greater than autoscale_max_replicas.",
        ),
        (
            {"autoscale_enabled": True, "autoscale_refresh_seconds": 0},
            "autoscale_refresh_seconds must be greater than zero.",
        ),
        (
            {"autoscale_enabled": True, "autoscale_target_utilization": 0},
            "autoscale_target_utilization must be greater than zero.",
        ),
        ({"autoscale_enabled": False}, "autoscale disabled but num_replicas not provided."),
        (
            {"autoscale_min_replicas": 1},
            "autoscale_min_replicas provided without enabling autoscaling.",
        ),
        (
            {"num_replicas": 2, "autoscale_max_replicas": 3},
            "autoscale_max_replicas provided without enabling autoscaling.",
        ),
        (
            {"autoscale_refresh_seconds": 1},
            "autoscale_refresh_seconds provided without enabling autoscaling.",
        ),
        (
            {"autoscale_enabled": False, "num_replicas": 1, "autoscale_target_utilization": 70},
            "autoscale_target_utilization provided without enabling autoscaling.",
        ),
        (
            {"auth_enabled": True, "token_auth_enabled": True},
            "auth_enabled and token_auth_enabled cannot both be true.",
        ),
        ({"num_replicas": "2"}, "num_replicas must be a number; got '2'."),
    ],
)
def test_aks_rejects_invalid_values_with_v1s_message(kwargs: dict[str, Any], line: str) -> None:
    with pytest.raises(WebserviceException) as info:
        aks_deploy_configuration(**kwargs)
    assert str(info.value) == f"Invalid configuration, {line}\n"


def test_aks_reports_every_problem_at_once_in_v1s_order() -> None:
    with pytest.raises(WebserviceException) as info:
        aks_deploy_configuration(
            autoscale_enabled=True,
            num_replicas=2,
            autoscale_min_replicas=0,
            autoscale_refresh_seconds=0,
            cpu_cores=0,
        )
    assert str(info.value) == (
        "Invalid configuration, cpu_cores must be greater than zero.\n"
        "Invalid configuration, autoscale enabled and num_replicas provided.\n"
        "Invalid configuration, autoscale_min_replicas must be greater than zero.\n"
        "Invalid configuration, autoscale_refresh_seconds must be greater than zero.\n"
    )


def test_aks_disabled_autoscale_with_replicas_is_valid() -> None:
    out = aks_deploy_configuration(autoscale_enabled=False, num_replicas=2)._to_runyard()
    assert out["workers"] == 2
    assert out["recorded"] == {"autoscale_enabled": False, "num_replicas": 2}


def test_aks_print_deploy_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    aks_deploy_configuration(
        cpu_cores=1, gpu_cores=1, memory_gb=2, num_replicas=3
    ).print_deploy_configuration()
    aks_deploy_configuration().print_deploy_configuration()
    assert capsys.readouterr().out == (
        "CPU requirement: 1, GPU requirement: 1, Memory requirement: 2GB, Number of replica: 3\n"
    )


# ---- Local ----------------------------------------------------------------------------------


def test_local_without_port_lets_runyard_choose() -> None:
    config = local_deploy_configuration()
    assert isinstance(config, LocalWebserviceDeploymentConfiguration)
    assert config.port is None
    assert config._to_runyard() == {
        "compute_type": "Local",
        "cpu_cores": None,
        "memory_gb": None,
        "auth_enabled": False,
        "token_auth_enabled": False,
        "port": None,
        "workers": 1,
        "tags": {},
        "properties": {},
        "description": None,
        "scoring_timeout_ms": None,
        "primary_key": None,
        "secondary_key": None,
        "recorded": {},
    }


def test_local_port_is_kept() -> None:
    assert local_deploy_configuration(port=8890)._to_runyard()["port"] == 8890


def test_local_port_zero_means_choose_a_free_port() -> None:
    assert local_deploy_configuration(0)._to_runyard()["port"] is None


@pytest.mark.parametrize("port", [70000, -1, "8890", 80.5])
def test_local_rejects_a_bad_port_with_v1s_message(port: object) -> None:
    with pytest.raises(WebserviceException) as info:
        local_deploy_configuration(port)  # type: ignore[arg-type]
    assert str(info.value) == (
        f"Invalid configuration, port must be an integer in range [1, 65535]; got {port!r}."
    )


def test_local_print_deploy_configuration_prints_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    local_deploy_configuration(8890).print_deploy_configuration()
    assert capsys.readouterr().out == ""


# ---- service names --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["chainer-mnist-1", "abc", "a" * 32, "a-b"])
def test_check_service_name_accepts_v1_names(name: str) -> None:
    check_service_name(name)


V1_RULE = (
    "Error, provided service name is invalid. It must only consist of lowercase letters, "
    "numbers, or dashes, start with a letter, end with a letter or number, and be between 3 "
    "and 32 characters long."
)


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("ab", "chainer-mnist-1"),
        ("a" * 33, "a" * 32),
        ("Chainer-MNIST", "chainer-mnist"),
        ("my_service", "my-service"),
        ("1service", "service"),
        ("service-", "service"),
        ("-svc", "svc"),
        ("", "chainer-mnist-1"),
        (None, "chainer-mnist-1"),
    ],
)
def test_check_service_name_rejects_with_v1s_rule_and_a_valid_name(
    name: object, suggestion: str
) -> None:
    with pytest.raises(WebserviceException) as info:
        check_service_name(name)
    assert str(info.value) == (
        f"{V1_RULE} Got {name!r}; a valid name is, for example, {suggestion!r}."
    )
    check_service_name(suggestion)
