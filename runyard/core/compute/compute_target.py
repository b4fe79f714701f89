"""``ComputeTarget``: a named place to run jobs (v1: ``azureml.core.compute.ComputeTarget``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runyard._services import compute
from runyard.exceptions import ComputeTargetException

_POLL_SECONDS = 0.2

if TYPE_CHECKING:
    from runyard._entities import ComputeTargetInfo
    from runyard.core.workspace import Workspace

# compute type -> SDK class; filled in by the subclasses' modules, which the package
# runyard.core.compute imports before this module can be used
_TYPES: dict[str, type[ComputeTarget]] = {}


class ComputeTarget:
    """A compute target of a workspace. ``ComputeTarget(ws, name)`` returns the concrete
    subclass (``AmlCompute``...) of the stored target.

    Args:
        workspace: The workspace holding the target.
        name: The target's name.

    Raises:
        ComputeTargetException: No target of that name ('ComputeTargetNotFound: ...'), or
            it is not of the class asked for.
    """

    _compute_type: str | None = None

    def __new__(cls, workspace: Workspace | None = None, name: str | None = None) -> Any:
        if workspace is None or name is None:
            return super().__new__(cls)
        info = compute.get_compute_target(workspace._services, name)
        target_cls = _TYPES.get(info.compute_type)
        if target_cls is None or not issubclass(target_cls, cls):
            raise ComputeTargetException(
                f"Compute target {name!r} is of type {info.compute_type!r}, not "
                f"{cls.__name__}; get it with ComputeTarget(ws, {name!r})."
            )
        obj = super().__new__(target_cls)
        obj._bind(workspace, info)
        return obj

    def __init__(self, workspace: Workspace | None = None, name: str | None = None) -> None:
        """Set up by ``__new__`` (v1's pattern: the constructor looks the target up)."""

    def _bind(self, workspace: Workspace, info: ComputeTargetInfo) -> None:
        self._workspace = workspace
        self._info = info
        self.name = info.name
        self.type = info.compute_type
        self.tags = dict(info.config.get("tags") or {})
        self.description = info.config.get("description")
        self.location = info.config.get("location") or "local"
        self.cluster_location = self.location
        self.provisioning_state = info.provisioning_state
        self.provisioning_errors = None

    @property
    def workspace(self) -> Workspace:
        return self._workspace

    def _await_provisioning(
        self, show_output: bool, minutes: float, done: Callable[[ComputeTargetInfo], bool]
    ) -> ComputeTargetInfo | None:
        """Re-reads the target (starting the agent when it waits for one) until ``done``,
        printing each new provisioning state; None after ``minutes`` (printed too)."""
        out = sys.stdout
        deadline = time.monotonic() + minutes * 60
        shown = None
        while True:
            info = compute.refresh(self._workspace._services, self.name)
            self._bind(self._workspace, info)
            if show_output and info.provisioning_state != shown:
                out.write(f"{info.provisioning_state}\n")
                shown = info.provisioning_state
            if done(info):
                return info
            if time.monotonic() > deadline:
                if show_output:
                    out.write(f"Timed out after {minutes:g} minute(s).\n")
                return None
            time.sleep(_POLL_SECONDS)

    @staticmethod
    def create(workspace: Workspace, name: str, provisioning_configuration: Any) -> Any:
        """Creates a target; it is returned at once while the agent provisions it.

        Args:
            workspace: The workspace to create it in.
            name: 2 to 16 characters: letters, digits and '-', starting with a letter.
            provisioning_configuration: From ``AmlCompute.provisioning_configuration(...)``.

        Returns:
            The new target (an AmlCompute); call ``wait_for_completion`` to wait for it.

        Raises:
            ComputeTargetException: A bad name or configuration, or the name is taken.
        """
        to_config = getattr(provisioning_configuration, "_to_config", None)
        compute_type = getattr(provisioning_configuration, "_compute_type", None)
        if to_config is None or compute_type is None:
            raise ComputeTargetException(
                f"provisioning_configuration {provisioning_configuration!r} is not a "
                "provisioning configuration; build one with "
                "AmlCompute.provisioning_configuration(vm_size=..., max_nodes=...)."
            )
        info = compute.create_compute_target(workspace._services, name, compute_type, to_config())
        return ComputeTarget(workspace, info.name)

    @staticmethod
    def attach(workspace: Workspace, name: str, attach_configuration: Any) -> Any:
        """Attaches an existing cluster (v1's ``ComputeTarget.attach``); it is stored only
        once it answers at its address.

        Args:
            workspace: The workspace to attach it to.
            name: 2 to 16 characters: letters, digits and '-', starting with a letter.
            attach_configuration: From ``RayCompute.attach_configuration(address=...)``.

        Returns:
            The attached target (a RayCompute).

        Raises:
            ComputeTargetException: A bad name or configuration, the name is taken, or the
                cluster does not answer at its address (nothing is stored then).
        """
        to_config = getattr(attach_configuration, "_to_config", None)
        compute_type = getattr(attach_configuration, "_compute_type", None)
        if to_config is None or compute_type is None:
            raise ComputeTargetException(
                f"attach_configuration {attach_configuration!r} is not an attach "
                "configuration; build one with RayCompute.attach_configuration("
                "address='host:port')."
            )
        info = compute.attach_compute_target(workspace._services, name, compute_type, to_config())
        return ComputeTarget(workspace, info.name)

    @staticmethod
    def list(workspace: Workspace) -> list[Any]:
        """All compute targets of the workspace, by name."""
        found = []
        for info in compute.list_compute_targets(workspace._services):
            target_cls = _TYPES.get(info.compute_type, ComputeTarget)
            obj = object.__new__(target_cls)
            obj._bind(workspace, info)
            found.append(obj)
        return found

    def delete(self) -> None:
        """Removes the target from the workspace.

        Raises:
            ComputeTargetException: It was already deleted ('ComputeTargetNotFound: ...').
        """
        compute.delete_compute_target(self._workspace._services, self.name)
        self.provisioning_state = "Deleting"

    def detach(self) -> None:
        """v1 detaches attached targets; created ones are deleted instead.

        Raises:
            ComputeTargetException: Always for created targets (use delete()).
        """
        raise ComputeTargetException(
            f"{self.name!r} is a created {self.type}, not an attached target; remove it with "
            "delete()."
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(workspace={self._workspace.name!r}, name={self.name!r}, "
            f"type={self.type!r}, provisioning_state={self.provisioning_state!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ComputeTarget):
            return NotImplemented
        return (self._workspace, self.name) == (other._workspace, other.name)

    def __hash__(self) -> int:
        return hash(self.name)
