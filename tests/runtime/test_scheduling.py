"""Cancel of queued and running runs, and the concurrency limit of the local target."""

from __future__ import annotations

import dataclasses
import json

import pytest

from runyard._entities import RunStatus
from runyard._services.jobs import cancel_run

pytestmark = pytest.mark.timeout(120)

SLEEPER = "import time\nprint('SLEEPING', flush=True)\ntime.sleep(60)\n"


@pytest.fixture
def one_slot(services, monkeypatch):
    """Services whose agent runs one job at a time."""
    monkeypatch.setenv("RUNYARD_LOCAL_MAX_CONCURRENT_RUNS", "1")
    return dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, local_max_concurrent_runs=1)
    )


def test_cancel_queued_then_running(
    one_slot, source, pid_alive, submit, wait, wait_for_marker
) -> None:
    src = source(**{"train.py": SLEEPER})
    first = submit(one_slot, src)
    wait_for_marker(one_slot, first.run_id, "SLEEPING")
    second = submit(one_slot, src)
    assert one_slot.store.get_run(second.run_id).status is RunStatus.QUEUED

    canceled = cancel_run(one_slot, second.run_id)
    assert canceled.status is RunStatus.CANCELED

    job_pid = int(one_slot.store.get_run(first.run_id).runtime.job.job_id)
    requested = cancel_run(one_slot, first.run_id)
    assert requested.status is RunStatus.CANCEL_REQUESTED
    done = wait(one_slot, first.run_id)
    assert done.status is RunStatus.CANCELED
    assert not pid_alive(job_pid)
    # Canceling a finished run changes nothing.
    assert cancel_run(one_slot, first.run_id).status is RunStatus.CANCELED


def test_runs_beyond_the_limit_wait_queued(one_slot, source, tmp_path, submit, wait) -> None:
    stamps = tmp_path / "stamps.jsonl"
    script = (
        "import json, sys, time\n"
        "start = time.time()\n"
        "time.sleep(0.3)\n"
        "with open(sys.argv[1], 'a') as f:\n"
        "    f.write(json.dumps([start, time.time()]) + '\\n')\n"
    )
    src = source(**{"train.py": script})
    runs = [submit(one_slot, src, arguments=[str(stamps)]) for _ in range(3)]
    statuses = {one_slot.store.get_run(r.run_id).status for r in runs[1:]}
    assert RunStatus.QUEUED in statuses
    for run in runs:
        assert wait(one_slot, run.run_id).status is RunStatus.COMPLETED
    intervals = sorted(json.loads(line) for line in stamps.read_text().splitlines())
    assert len(intervals) == 3
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert start >= end  # never two at once


def test_two_submitters_at_once_start_one_agent(services, source, submit, wait, wait_until) -> None:
    import threading

    from runyard._services.agent_client import agent_pid

    src = source(**{"train.py": "print('hi')\n"})
    infos: list = []
    threads = [
        threading.Thread(target=lambda: infos.append(submit(services, src))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pid = agent_pid(services.layout)
    done = [wait(services, i.run_id) for i in infos]
    assert [d.status for d in done] == [RunStatus.COMPLETED] * 4
    assert {d.runtime.agent_pid for d in done} == {pid}
    wait_until(lambda: agent_pid(services.layout) == pid, 5, "the same agent")
