"""A run's log files under ``azureml-logs/``: where they are written live, and reading back
the script's last lines for its error message."""

from __future__ import annotations

import os
from pathlib import Path

from runyard._config import make_private_dir, private_opener
from runyard._services import Services

DRIVER_LOG_NAME = "70_driver_log.txt"
BUILD_LOG_NAME = "20_image_build_log.txt"
DRIVER_LOG = f"azureml-logs/{DRIVER_LOG_NAME}"
BUILD_LOG = f"azureml-logs/{BUILD_LOG_NAME}"
_TAIL_BYTES = 64 * 1024
_TAIL_LINES = 40


def log_file(services: Services, run_id: str, name: str) -> Path:
    """Where a run's ``azureml-logs/<name>`` is written live: in the artifact store when it
    is a local folder, else in the job folder (uploaded at the end)."""
    path = services.artifacts.local_path(f"runs/{run_id}/azureml-logs/{name}")
    if path is None:
        path = services.layout.jobs_dir / run_id / name
    make_private_dir(path.parent)
    return path


def driver_log_path(services: Services, run_id: str) -> Path:
    return log_file(services, run_id, DRIVER_LOG_NAME)


def append_driver_log(services: Services, run_id: str, *lines: str) -> None:
    with open(driver_log_path(services, run_id), "a", encoding="utf-8", opener=private_opener) as f:
        f.writelines(f"{line}\n" for line in lines)


def last_error_lines(driver_log: Path) -> list[str]:
    """The script's last traceback (or, without one, its last lines) from the driver log."""
    try:
        with open(driver_log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - _TAIL_BYTES))
            text = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = [line for line in text.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")]
    if starts:
        lines = lines[starts[-1] :]
    return lines[-_TAIL_LINES:]
