"""AmlCompute through the public SDK, against a real workspace and agent."""

from __future__ import annotations

import pytest

from runyard.core.compute import AmlCompute, ComputeTarget
from runyard.core.compute_target import ComputeTargetException

STATUS_KEYS = {
    "currentNodeCount",
    "targetNodeCount",
    "nodeStateCounts",
    "allocationState",
    "allocationStateTransitionTime",
    "errors",
    "creationTime",
    "modifiedTime",
    "provisioningState",
    "provisioningStateTransitionTime",
    "scaleSettings",
    "vmPriority",
    "vmSize",
}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "max_nodes=None is invalid: pass a whole number >= 0 (it is required"),
        ({"max_nodes": -1}, "max_nodes=-1 is invalid"),
        ({"max_nodes": 1, "min_nodes": 2}, "min_nodes=2 is above max_nodes=1"),
        ({"max_nodes": 1, "vm_priority": "spot"}, "vm_priority='spot' is invalid"),
        ({"max_nodes": 1, "vm_size": "STANDARD_XX9"}, "'STANDARD_XX9' is not a known Azure"),
        ({"max_nodes": 1, "admin_username": "me"}, "needs admin_user_password or"),
        ({"max_nodes": 1, "vnet_name": "v"}, "needs all of vnet_name, vnet_resourcegroup_name"),
        (
            {"max_nodes": 1, "remote_login_port_public_access": "Yes"},
            "remote_login_port_public_access='Yes' is invalid",
        ),
        ({"max_nodes": 1, "idle_seconds_before_scaledown": -5}, "idle_seconds_before_scaledown"),
    ],
)
def test_provisioning_configuration_rejects_what_v1_rejects(kwargs, expected) -> None:
    with pytest.raises(ComputeTargetException) as err:
        AmlCompute.provisioning_configuration(**kwargs)
    assert expected in str(err.value)


def test_missing_target_raises_v1_text(ws) -> None:
    with pytest.raises(ComputeTargetException) as err:
        ComputeTarget(ws, "gpu-cluster")
    assert str(err.value).startswith(
        "ComputeTargetNotFound: Compute Target with name gpu-cluster not found in provided "
        "workspace"
    )


@pytest.mark.parametrize("name", ["a", "1abc", "bad_name", "x" * 17])
def test_bad_cluster_names_are_refused_and_nothing_is_stored(ws, services, name) -> None:
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=1)
    with pytest.raises(ComputeTargetException) as err:
        ComputeTarget.create(ws, name, config)
    assert f"Compute target name {name!r} is invalid: use 2 to 16 characters" in str(err.value)
    assert ComputeTarget.list(ws) == []


def test_create_get_list_status_and_delete(ws, services, capsys) -> None:
    config = AmlCompute.provisioning_configuration(
        vm_size="standard_nc6", min_nodes=1, max_nodes=3, idle_seconds_before_scaledown=600
    )
    created = ComputeTarget.create(ws, "gpu-cluster", config)
    assert isinstance(created, AmlCompute)
    assert created.provisioning_state in ("Creating", "Succeeded")  # the agent is quick
    created.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert "Succeeded" in out
    assert "STANDARD_NC6 has 1 GPU(s) but this machine has none: the job runs on the CPU" in out
    assert out.rstrip().endswith("Minimum number of nodes requested have been provisioned")

    got = ComputeTarget(ws, "gpu-cluster")
    assert isinstance(got, AmlCompute) and got == created
    assert (got.name, got.type, got.vm_size, got.vm_priority) == (
        "gpu-cluster",
        "AmlCompute",
        "STANDARD_NC6",
        "dedicated",
    )
    assert got.scale_settings.maximum_node_count == 3
    status = got.get_status().serialize()
    assert set(status) == STATUS_KEYS
    assert set(status["nodeStateCounts"]) == {
        "preparingNodeCount",
        "runningNodeCount",
        "idleNodeCount",
        "unusableNodeCount",
        "leavingNodeCount",
        "preemptedNodeCount",
    }
    assert status["scaleSettings"] == {
        "minNodeCount": 1,
        "maxNodeCount": 3,
        "nodeIdleTimeBeforeScaleDown": "PT600S",
    }
    assert (status["currentNodeCount"], status["provisioningState"]) == (1, "Succeeded")
    assert (status["allocationState"], status["vmSize"]) == ("Steady", "STANDARD_NC6")
    assert [n["nodeState"] for n in got.list_nodes()] == ["idle"]
    assert [t.name for t in ComputeTarget.list(ws)] == ["gpu-cluster"]

    with pytest.raises(ComputeTargetException) as err:
        ComputeTarget.create(ws, "gpu-cluster", config)
    assert "already exists" in str(err.value)

    got.delete()
    with pytest.raises(ComputeTargetException):
        ComputeTarget(ws, "gpu-cluster")
    assert ComputeTarget.list(ws) == []


def test_update_changes_scale_settings_and_checks_them(ws, services) -> None:
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=2)
    cluster = ComputeTarget.create(ws, "cpu-cluster", config)
    cluster.update(min_nodes=1, idle_seconds_before_scaledown=60)
    cluster.wait_for_completion()
    assert cluster.get_status().serialize()["scaleSettings"] == {
        "minNodeCount": 1,
        "maxNodeCount": 2,
        "nodeIdleTimeBeforeScaleDown": "PT60S",
    }
    assert cluster.get_status().current_node_count == 1
    with pytest.raises(ComputeTargetException) as err:
        cluster.update(min_nodes=5)
    assert "min_nodes=5 is above max_nodes=2" in str(err.value)
    assert ComputeTarget(ws, "cpu-cluster").scale_settings.minimum_node_count == 1


def test_supported_vmsizes_lists_the_table(ws) -> None:
    sizes = {s["name"]: s for s in AmlCompute.supported_vmsizes(ws)}
    assert sizes["Standard_NC6"] == {
        "name": "Standard_NC6",
        "vCPUs": 6,
        "gpus": 1,
        "memoryGB": 56,
        "maxResourceVolumeMB": 340 * 1024,
    }
    assert {"Standard_D15_v2", "Standard_D64s_v3", "Standard_ND24s"} <= set(sizes)
