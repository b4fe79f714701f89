"""Azure VM sizes: cores, memory and GPUs, from Azure's published size tables.

Only the families people train on (general purpose D, compute F, memory E, GPU NC/ND/NV).
A local cluster node is a slot on this machine, so the size decides nothing but what is
reported (``supported_vmsizes``, ``get_status``) and whether the host lacks asked-for GPUs.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from runyard.exceptions import ComputeTargetException


@dataclass(frozen=True, slots=True)
class VmSize:
    name: str  # Azure's spelling, e.g. "Standard_NC6"
    cores: int
    memory_gb: float
    gpus: int = 0
    temp_storage_gb: int = 0

    def to_v1(self) -> dict[str, object]:
        """One item of ``AmlCompute.supported_vmsizes``."""
        return {
            "name": self.name,
            "vCPUs": self.cores,
            "gpus": self.gpus,
            "memoryGB": self.memory_gb,
            "maxResourceVolumeMB": self.temp_storage_gb * 1024,
        }


# (name, cores, memory GB, GPUs, temporary storage GB)
_TABLE: tuple[tuple[str, int, float, int, int], ...] = (
    # Dv2 and DSv2 (general purpose / memory optimized v2)
    ("Standard_D1_v2", 1, 3.5, 0, 50),
    ("Standard_D2_v2", 2, 7, 0, 100),
    ("Standard_D3_v2", 4, 14, 0, 200),
    ("Standard_D4_v2", 8, 28, 0, 400),
    ("Standard_D5_v2", 16, 56, 0, 800),
    ("Standard_D11_v2", 2, 14, 0, 100),
    ("Standard_D12_v2", 4, 28, 0, 200),
    ("Standard_D13_v2", 8, 56, 0, 400),
    ("Standard_D14_v2", 16, 112, 0, 800),
    ("Standard_D15_v2", 20, 140, 0, 1000),
    ("Standard_DS1_v2", 1, 3.5, 0, 7),
    ("Standard_DS2_v2", 2, 7, 0, 14),
    ("Standard_DS3_v2", 4, 14, 0, 28),
    ("Standard_DS4_v2", 8, 28, 0, 56),
    ("Standard_DS5_v2", 16, 56, 0, 112),
    ("Standard_DS11_v2", 2, 14, 0, 28),
    ("Standard_DS12_v2", 4, 28, 0, 56),
    ("Standard_DS13_v2", 8, 56, 0, 112),
    ("Standard_DS14_v2", 16, 112, 0, 224),
    ("Standard_DS15_v2", 20, 140, 0, 280),
    # Dv3 and Dsv3
    ("Standard_D2_v3", 2, 8, 0, 50),
    ("Standard_D4_v3", 4, 16, 0, 100),
    ("Standard_D8_v3", 8, 32, 0, 200),
    ("Standard_D16_v3", 16, 64, 0, 400),
    ("Standard_D32_v3", 32, 128, 0, 800),
    ("Standard_D48_v3", 48, 192, 0, 1200),
    ("Standard_D64_v3", 64, 256, 0, 1600),
    ("Standard_D2s_v3", 2, 8, 0, 16),
    ("Standard_D4s_v3", 4, 16, 0, 32),
    ("Standard_D8s_v3", 8, 32, 0, 64),
    ("Standard_D16s_v3", 16, 64, 0, 128),
    ("Standard_D32s_v3", 32, 128, 0, 256),
    ("Standard_D48s_v3", 48, 192, 0, 384),
    ("Standard_D64s_v3", 64, 256, 0, 512),
    # F and Fsv2 (compute optimized)
    ("Standard_F1", 1, 2, 0, 16),
    ("Standard_F2", 2, 4, 0, 32),
    ("Standard_F4", 4, 8, 0, 64),
    ("Standard_F8", 8, 16, 0, 128),
    ("Standard_F16", 16, 32, 0, 256),
    ("Standard_F2s_v2", 2, 4, 0, 16),
    ("Standard_F4s_v2", 4, 8, 0, 32),
    ("Standard_F8s_v2", 8, 16, 0, 64),
    ("Standard_F16s_v2", 16, 32, 0, 128),
    ("Standard_F32s_v2", 32, 64, 0, 256),
    ("Standard_F48s_v2", 48, 96, 0, 384),
    ("Standard_F64s_v2", 64, 128, 0, 512),
    ("Standard_F72s_v2", 72, 144, 0, 576),
    # Ev3 and Esv3 (memory optimized)
    ("Standard_E2_v3", 2, 16, 0, 50),
    ("Standard_E4_v3", 4, 32, 0, 100),
    ("Standard_E8_v3", 8, 64, 0, 200),
    ("Standard_E16_v3", 16, 128, 0, 400),
    ("Standard_E32_v3", 32, 256, 0, 800),
    ("Standard_E64_v3", 64, 432, 0, 1600),
    ("Standard_E2s_v3", 2, 16, 0, 32),
    ("Standard_E4s_v3", 4, 32, 0, 64),
    ("Standard_E8s_v3", 8, 64, 0, 128),
    ("Standard_E16s_v3", 16, 128, 0, 256),
    ("Standard_E32s_v3", 32, 256, 0, 512),
    ("Standard_E64s_v3", 64, 432, 0, 864),
    # NC (K80), NCv2 (P100), NCv3 (V100), NCasT4_v3 (T4)
    ("Standard_NC6", 6, 56, 1, 340),
    ("Standard_NC12", 12, 112, 2, 680),
    ("Standard_NC24", 24, 224, 4, 1440),
    ("Standard_NC24r", 24, 224, 4, 1440),
    ("Standard_NC6s_v2", 6, 112, 1, 736),
    ("Standard_NC12s_v2", 12, 224, 2, 1474),
    ("Standard_NC24s_v2", 24, 448, 4, 2948),
    ("Standard_NC24rs_v2", 24, 448, 4, 2948),
    ("Standard_NC6s_v3", 6, 112, 1, 736),
    ("Standard_NC12s_v3", 12, 224, 2, 1474),
    ("Standard_NC24s_v3", 24, 448, 4, 2948),
    ("Standard_NC24rs_v3", 24, 448, 4, 2948),
    ("Standard_NC4as_T4_v3", 4, 28, 1, 180),
    ("Standard_NC8as_T4_v3", 8, 56, 1, 360),
    ("Standard_NC16as_T4_v3", 16, 110, 1, 360),
    ("Standard_NC64as_T4_v3", 64, 440, 4, 2880),
    # ND (P40), NDv2 (V100)
    ("Standard_ND6s", 6, 112, 1, 736),
    ("Standard_ND12s", 12, 224, 2, 1474),
    ("Standard_ND24s", 24, 448, 4, 2948),
    ("Standard_ND24rs", 24, 448, 4, 2948),
    ("Standard_ND40rs_v2", 40, 672, 8, 2948),
    # NV (M60), NVv3 (M60)
    ("Standard_NV6", 6, 56, 1, 340),
    ("Standard_NV12", 12, 112, 2, 680),
    ("Standard_NV24", 24, 224, 4, 1440),
    ("Standard_NV12s_v3", 12, 112, 1, 320),
    ("Standard_NV24s_v3", 24, 224, 2, 640),
    ("Standard_NV48s_v3", 48, 448, 4, 1280),
)

VM_SIZES: dict[str, VmSize] = {row[0].upper(): VmSize(*row) for row in _TABLE}
DEFAULT_VM_SIZE = "STANDARD_NC6"  # v1's documented default for AmlCompute


def vm_size(name: str) -> VmSize:
    """The size of that name, case-insensitively ('STANDARD_NC6' == 'Standard_NC6').

    Raises:
        ComputeTargetException: unknown name; the message lists the closest known names.
    """
    if not isinstance(name, str) or not name:
        raise ComputeTargetException(
            f"vm_size {name!r} is not a VM size name; pass one such as 'STANDARD_D2_V2' or "
            "'STANDARD_NC6' (AmlCompute.supported_vmsizes(ws) lists them)."
        )
    found = VM_SIZES.get(name.upper())
    if found is not None:
        return found
    close = difflib.get_close_matches(name.upper(), list(VM_SIZES), n=5, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ComputeTargetException(
        f"vm_size {name!r} is not a known Azure VM size.{hint} "
        "AmlCompute.supported_vmsizes(ws) lists the sizes Runyard knows."
    )


def gpu_notice(size: VmSize, *, host_has_gpu: bool) -> str | None:
    """The line saying a GPU size runs on the CPU here, or None."""
    if size.gpus == 0 or host_has_gpu:
        return None
    return (
        f"{size.name.upper()} has {size.gpus} GPU(s) but this machine has none: "
        "the job runs on the CPU"
    )
