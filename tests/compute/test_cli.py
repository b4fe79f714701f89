"""`runyard compute`, `runyard envs` and `runyard compat` through typer's CliRunner."""

from __future__ import annotations

import json
import sys

from typer.testing import CliRunner

from runyard.cli import app
from runyard.core.compute import AmlCompute, ComputeTarget

cli = CliRunner()


def _run(*args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_compute_list_and_show(ws, services) -> None:
    config = AmlCompute.provisioning_configuration(
        vm_size="STANDARD_D2_V2", min_nodes=1, max_nodes=2
    )
    ComputeTarget.create(ws, "cpu-cluster", config).wait_for_completion()
    rows = json.loads(_run("compute", "list", "-w", "test-ws", "--json"))
    assert rows == [
        {
            "name": "cpu-cluster",
            "type": "AmlCompute",
            "vm_size": "STANDARD_D2_V2",
            "provisioning_state": "Succeeded",
            "nodes": 1,
            "min_nodes": 1,
            "max_nodes": 2,
            "allocation_state": "Steady",
        }
    ]
    table = _run("compute", "list", "-w", "test-ws")
    assert "Compute targets" in table and "Steady" in table
    shown = json.loads(_run("compute", "show", "cpu-cluster", "-w", "test-ws"))
    assert shown["status"]["scaleSettings"]["maxNodeCount"] == 2
    assert [n["nodeState"] for n in shown["nodes"]] == ["idle"]


def test_compute_show_missing_target_exits_1_with_v1s_text(ws) -> None:
    out = _run("compute", "show", "nope", "-w", "test-ws", code=1)
    assert "ComputeTargetNotFound: Compute Target with name nope not found" in out


def test_envs_list_and_prune(runyard_home) -> None:
    from runyard._envs import EnvSpec, default_build_settings, ensure_env

    build = default_build_settings(runyard_home, host_python=sys.executable)
    built = ensure_env(EnvSpec(python_version=None), build, log=lambda line: None)
    rows = json.loads(_run("envs", "list", "--json"))
    assert [r["hash"] for r in rows] == [built.spec_hash]
    assert built.spec_hash[:12] in _run("envs", "list")
    assert "Removed 0 environment(s)" in _run("envs", "prune", "--older-than-days", "1")
    out = _run("envs", "prune")
    assert "Removed 1 environment(s); kept 0 in use." in out
    assert json.loads(_run("envs", "list", "--json")) == []


def test_compat_enable_status_disable(tmp_path) -> None:
    site = str(tmp_path)
    assert _run("compat", "status", "--site-packages", site).strip() == "disabled"
    assert "azureml compatibility enabled" in _run("compat", "enable", "--site-packages", site)
    assert _run("compat", "status", "--site-packages", site).strip() == "enabled"
    assert "disabled (removed" in _run("compat", "disable", "--site-packages", site)
    assert "It was not enabled." in _run("compat", "disable", "--site-packages", site)


def test_compat_enable_refuses_a_real_azureml_core(tmp_path) -> None:
    dist = tmp_path / "azureml_core-1.60.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: azureml-core\nVersion: 1.60.0\n")
    out = _run("compat", "enable", "--site-packages", str(tmp_path), code=1)
    assert "Error:" in out and "azureml-core" in out
    assert not (tmp_path / "runyard_azureml_compat.pth").exists()
