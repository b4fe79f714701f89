"""The compute contract suite (tests/compute/test_backend_contract.py) on the Ray backend, on
the session's Ray cluster: the same tests, with a backend whose nodes are placement groups
and whose jobs run as actors on the worker nodes. This process is the Ray driver, inside the
cluster's namespace."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from conftest import import_ray

from runyard._compute.base import ComputeBackend
from runyard._compute.ray_backend import RayBackend
from tests.compute.test_backend_contract import (  # the contract's tests, run here again
    CONFIG,
    test_a_job_runs_in_its_folder_with_its_output_in_the_driver_log,
    test_a_running_job_is_polled_without_ending_it,
    test_a_wrapped_job_cancelled_records_the_signal,
    test_a_wrapped_job_records_its_exit_status_and_leaves_nothing_running,
    test_cancel_spares_processes_of_other_runs,
    test_cancel_stops_every_process_of_the_job_detached_ones_too,
    test_reattach_finds_a_job_launched_by_another_agent,
)

import_ray()

__all__ = [
    "test_a_job_runs_in_its_folder_with_its_output_in_the_driver_log",
    "test_a_running_job_is_polled_without_ending_it",
    "test_a_wrapped_job_cancelled_records_the_signal",
    "test_a_wrapped_job_records_its_exit_status_and_leaves_nothing_running",
    "test_cancel_spares_processes_of_other_runs",
    "test_cancel_stops_every_process_of_the_job_detached_ones_too",
    "test_reattach_finds_a_job_launched_by_another_agent",
]


@pytest.fixture
def backend(ray_cluster, in_cluster) -> Iterator[ComputeBackend]:
    """A Ray target of the session's cluster; its placement groups are removed afterwards
    (a tick with no run waiting or running), so the next test finds both nodes free."""
    backend = RayBackend("target-1", {**CONFIG, "address": ray_cluster.address}, {})
    yield backend
    backend.tick(time.time(), (), ())
    assert backend.state()["groups"] == {}
