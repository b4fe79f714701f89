from __future__ import annotations

import pytest

from runyard._compute.vm_sizes import gpu_notice, vm_size
from runyard.exceptions import ComputeTargetException


def test_vm_size_lookup_is_case_insensitive() -> None:
    size = vm_size("STANDARD_NC6")
    assert size is vm_size("Standard_NC6") is vm_size("standard_nc6")
    assert (size.name, size.cores, size.memory_gb, size.gpus) == ("Standard_NC6", 6, 56, 1)
    assert vm_size("standard_d2_v2").to_v1() == {
        "name": "Standard_D2_v2",
        "vCPUs": 2,
        "gpus": 0,
        "memoryGB": 7,
        "maxResourceVolumeMB": 100 * 1024,
    }
    assert vm_size("Standard_NC64as_T4_v3").gpus == 4


def test_unknown_vm_size_lists_close_names() -> None:
    with pytest.raises(ComputeTargetException) as err:
        vm_size("STANDARD_NC7")
    message = str(err.value)
    assert "vm_size 'STANDARD_NC7' is not a known Azure VM size" in message
    assert "Did you mean" in message and "STANDARD_NC6" in message
    assert "AmlCompute.supported_vmsizes(ws)" in message


def test_gpu_size_on_a_host_without_gpu_gives_the_cpu_notice() -> None:
    assert gpu_notice(vm_size("STANDARD_NC6"), host_has_gpu=False) == (
        "STANDARD_NC6 has 1 GPU(s) but this machine has none: the job runs on the CPU"
    )
    assert gpu_notice(vm_size("STANDARD_NC6"), host_has_gpu=True) is None
    assert gpu_notice(vm_size("STANDARD_D2_V2"), host_has_gpu=False) is None
