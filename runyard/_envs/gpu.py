"""Does this node have an NVIDIA GPU? (``nvidia-smi -L`` succeeds or /dev/nvidia0 exists)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def gpu_present(
    *, nvidia_smi: str = "nvidia-smi", device: Path = Path("/dev/nvidia0"), timeout: float = 10.0
) -> bool:
    if device.exists():
        return True
    exe = shutil.which(nvidia_smi)
    if exe is None:
        return False
    try:
        proc = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "GPU" in proc.stdout
