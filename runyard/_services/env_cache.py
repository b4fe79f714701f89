"""The cache of built environments under ``RUNYARD_HOME/envs``, shared by every workspace of
that home: which environments active runs need, so ``runyard envs prune`` keeps them."""

from __future__ import annotations

from runyard._config import Settings
from runyard._entities import ACTIVE_STATUSES, RunStatus
from runyard._envs import resolve_spec
from runyard._services import open_services
from runyard._services.job_setup import has_environment, run_environment
from runyard._services.workspaces import layout_for, list_workspaces


def environments_in_use(settings: Settings) -> set[str]:
    """Spec hashes of the environments of active runs in every workspace of this home,
    so ``runyard envs prune`` keeps them."""
    hashes: set[str] = set()
    for identity in list_workspaces(settings):
        services = open_services(layout_for(settings, identity.name), settings)
        statuses = (*ACTIVE_STATUSES, RunStatus.QUEUED)
        for info in services.store.list_runs(statuses=statuses, include_children=True):
            if has_environment(info.definition):
                hashes.add(resolve_spec(run_environment(info.definition)).spec.hash)
    return hashes
