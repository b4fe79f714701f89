"""``azureml.telemetry`` names: v1 notebooks opt in to diagnostics in their first cells.

Runyard sends nothing anywhere, so opting in or out only records the choice (v1 stored it in
its settings file too); the call exists so those notebooks run unchanged.
"""

from __future__ import annotations

import logging

from runyard.exceptions import UserErrorException as UserErrorException  # v1 import path

log = logging.getLogger(__name__)
_choice: dict[str, bool] = {"send_diagnostics": False}


def set_diagnostics_collection(send_diagnostics: bool = True, path: str | None = None) -> None:
    """Records the choice; Runyard never sends diagnostics, whatever it is.

    Args:
        send_diagnostics: v1's opt-in flag.
        path: v1's settings folder; unused (nothing is written).
    """
    _choice["send_diagnostics"] = bool(send_diagnostics)
    print(
        "Turning diagnostics collection "
        f"{'on' if send_diagnostics else 'off'}: Runyard records the choice and sends nothing."
    )


def get_diagnostics_collection_info(component_name: str | None = None, path: str | None = None):
    """v1 returns the stored choice; so does Runyard."""
    return dict(_choice)
