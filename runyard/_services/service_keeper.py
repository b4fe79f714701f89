"""The agent's side of web services: prepare each new version, keep every service's
serving process alive (and take back those a dead agent left running), and mirror what
they report into the store.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback

from runyard._entities import ServiceInfo
from runyard._services import Services
from runyard._services.service_setup import (
    log_to_service,
    prepare_generation,
    remove_old_generations,
)
from runyard._services.serving import backend, view_of
from runyard._serving.base import DELETING, ServiceReport
from runyard.exceptions import RunyardError, ServiceNotFound

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between passes over the services (agent passes come more often)


class ServiceKeeper:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.backend = backend(services)
        self.preparing: dict[str, threading.Thread] = {}
        self.adopted: set[str] = set()
        self._last = -INTERVAL
        self._any = False

    def tick(self) -> bool:
        """A pass over the services at most every INTERVAL seconds (a sweep's children wake
        the agent far more often); True while the workspace has any."""
        now = time.monotonic()
        if now - self._last < INTERVAL:
            return self._any
        self._last = now
        infos = self.services.store.list_services()
        self._any = bool(infos)
        for info in infos:
            if info.status == DELETING:
                continue
            try:
                self._keep(info)
            except ServiceNotFound:  # deleted meanwhile
                continue
            except Exception:  # one service's trouble never stops the agent
                log.exception("service %s: supervision failed", info.name)
        self.preparing = {k: t for k, t in self.preparing.items() if t.is_alive()}
        return bool(infos)

    def _keep(self, info: ServiceInfo) -> None:
        prepared = int(info.state.get("prepared_generation") or 0)
        failed = info.state.get("failed_generation") == info.generation
        if prepared < info.generation and info.name not in self.preparing and not failed:
            thread = threading.Thread(
                target=self._prepare, args=(info,), name=f"service-{info.name}", daemon=True
            )
            self.preparing[info.name] = thread
            thread.start()
        if prepared and self.backend.revive(info.name):
            how = "taken back" if info.name not in self.adopted else "restarted"
            log.warning("service %s: its serving process was gone; started again", info.name)
            log_to_service(self.services, info.name)(
                f"runyard agent: the service's host process was gone; started again ({how})"
            )
        self.adopted.add(info.name)
        self._mirror(info, self.backend.status(info.name))

    def _prepare(self, info: ServiceInfo) -> None:
        try:
            launch = prepare_generation(self.services, info.name, info.generation, info.spec)
            self.backend.deploy(launch)
        except Exception as exc:
            detail = str(exc) if isinstance(exc, RunyardError) else traceback.format_exc()
            log_to_service(self.services, info.name)(
                f"Preparing version {info.generation} failed: {detail}"
            )
            self.services.store.update_service(
                info.name,
                state={
                    "failed_generation": info.generation,
                    "prepared_generation": info.generation,
                    "error": f"preparing the service failed: {exc}",
                },
            )
            return
        self.services.store.update_service(
            info.name, state={"prepared_generation": info.generation}
        )

    def _mirror(self, info: ServiceInfo, report: ServiceReport) -> None:
        state = {k: v for k, v in report.to_state().items() if v is not None}
        status = view_of(info, report).state
        served = info.state.get("served_generation")
        if report.generation and report.generation == info.generation != served:
            # once, when the latest version starts serving
            remove_old_generations(self.services, info.name, keep=report.generation)
        current = {k: info.state.get(k) for k in state}
        if current != state or status != info.status:
            self.services.store.update_service(info.name, state=state, status=status)
