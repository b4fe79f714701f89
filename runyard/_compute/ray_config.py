"""Which Ray cluster a workspace's clusters run on, and whether it answers (no Ray import).

Two ways in (issue 12):
- every ``AmlCompute`` cluster of a workspace runs on Ray when ``RUNYARD_RAY_ADDRESS`` is set
  in the environment, or ``ray_address`` in the workspace's ``workspace.json`` (written by
  ``runyard workspace configure --ray-address``); the environment wins;
- a target attached with ``RayCompute.attach_configuration(address=...)`` is stored with
  compute type ``RAY_TYPE`` and its address in its config.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runyard.exceptions import ComputeTargetException

ADDRESS_VARIABLE = "RUNYARD_RAY_ADDRESS"
WORKSPACE_KEY = "ray_address"  # in workspace.json
RAY_TYPE = "Ray"  # the compute type of an attached Ray cluster
CONNECT_TIMEOUT = 3.0  # seconds for the GCS port to accept a connection


def workspace_ray_address(workspace_json: Path, environ: Mapping[str, str] | None = None) -> str:
    """The Ray address every AmlCompute cluster of the workspace runs on, or '' (local)."""
    env = os.environ if environ is None else environ
    address = env.get(ADDRESS_VARIABLE, "").strip()
    if address:
        return address
    try:
        data: Any = json.loads(workspace_json.read_text())
    except (OSError, ValueError):
        return ""
    value = data.get(WORKSPACE_KEY) if isinstance(data, dict) else None
    return str(value).strip() if value else ""


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (the GCS address ``ray start --head`` prints; ``ray://`` is refused).

    Raises:
        ComputeTargetException: not host:port.
    """
    text = address.strip()
    if text.startswith("ray://"):
        raise ComputeTargetException(
            f"Ray address {address!r} is a Ray Client address; Runyard connects to the "
            "cluster's GCS: give host:port as `ray start --head` prints it (e.g. 10.0.0.5:6379)."
        )
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ComputeTargetException(
            f"Ray address {address!r} is not host:port; give the head's GCS address as "
            "`ray start --head` prints it (e.g. 10.0.0.5:6379)."
        )
    return host, int(port)


def unreachable_message(address: str, reason: object) -> str:
    return (
        f"The Ray cluster at {address} cannot be reached ({reason}). Check that it runs with "
        f"`ray status --address {address}`, or set {ADDRESS_VARIABLE} / the target's address "
        "to the right head."
    )


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raises ComputeTargetException naming the address and how to check it when nothing
    accepts connections there (a TCP connect to the GCS port: Ray is not imported)."""
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        raise ComputeTargetException(unreachable_message(address, exc)) from exc
