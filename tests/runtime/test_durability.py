"""Nothing logged is lost, and no run stays Running, when processes are killed."""

from __future__ import annotations

import os
import signal

import pytest

from runyard._entities import RunStatus
from runyard._services import runs
from runyard._services.agent_client import agent_pid, agent_status

pytestmark = pytest.mark.timeout(120)

ACTIVE = {
    RunStatus.PREPARING,
    RunStatus.STARTING,
    RunStatus.RUNNING,
    RunStatus.FINALIZING,
    RunStatus.CANCEL_REQUESTED,
}

N = 20_000
LOGGER = (
    "import sys, time\n"
    "from runyard.core.run import Run\n"
    "run = Run.get_context()\n"
    f"for i in range({N}):\n"
    "    run.log('value', i)\n"
    "run.log_row('table', epoch=1, loss=0.5)\n"
    "run.tag('phase', 'trained')\n"
    "print('MARKER-LOGGED', flush=True)\n"
    "time.sleep(60)\n"
)


def test_kill_9_of_the_job_keeps_every_logged_value(
    services, source, submit, wait, wait_for_marker
) -> None:
    info = submit(services, source(**{"train.py": LOGGER}))
    wait_for_marker(services, info.run_id, "MARKER-LOGGED")
    pid = int(services.store.get_run(info.run_id).runtime.job.job_id)
    os.kill(pid, signal.SIGKILL)
    done = wait(services, info.run_id)
    assert done.status is RunStatus.FAILED
    assert done.error.code == "ProcessKilled"
    assert "killed by signal 9 (SIGKILL)" in done.error.message
    metrics = services.store.get_metrics(info.run_id)
    assert metrics["value"].values == list(range(N))
    assert metrics["table"].values == [{"epoch": 1, "loss": 0.5}]
    assert done.tags["phase"] == "trained"


def test_killed_agent_is_reconciled_run_failed_with_reason(
    services, source, pid_alive, submit, wait, wait_for_marker, wait_until
) -> None:
    info = submit(services, source(**{"train.py": LOGGER}))
    wait_for_marker(services, info.run_id, "MARKER-LOGGED")
    running = services.store.get_run(info.run_id)
    assert running.status is RunStatus.RUNNING
    old_agent, job_pid = agent_pid(services.layout), int(running.runtime.job.job_id)
    os.kill(old_agent, signal.SIGKILL)
    wait_until(lambda: agent_pid(services.layout) is None, 10, "the agent lock to be released")
    assert services.store.get_run(info.run_id).status is RunStatus.RUNNING  # nobody noticed yet

    done = wait(services, info.run_id)  # sees no agent, starts one, which reconciles

    assert done.status is RunStatus.FAILED
    assert done.error.code == "AgentDied"
    assert f"The agent (pid {old_agent})" in done.error.message
    assert "while the run was Running" in done.error.message
    assert "Rerun it" in done.error.message
    wait_until(lambda: not pid_alive(job_pid), 10, "the orphaned job to be killed")
    assert services.store.get_metrics(info.run_id)["value"].values == list(range(N))
    assert not [r for r in services.store.list_runs(include_children=True) if r.status in ACTIVE]
    assert agent_status(services.layout, services.settings).running_runs == []


def test_stopped_agent_fails_its_runs_with_agent_stopped(
    services, source, pid_alive, submit, wait_for_marker
) -> None:
    from runyard._services.agent_client import stop_agent

    info = submit(services, source(**{"train.py": LOGGER}))
    wait_for_marker(services, info.run_id, "MARKER-LOGGED")
    job_pid = int(services.store.get_run(info.run_id).runtime.job.job_id)
    assert stop_agent(services.layout, timeout=30) is True
    done = services.store.get_run(info.run_id)
    assert done.status is RunStatus.FAILED
    assert done.error.code == "AgentStopped"
    assert "was stopped" in done.error.message
    assert not pid_alive(job_pid)
    assert services.store.get_metrics(info.run_id)["value"].values == list(range(N))


BIG_OUTPUTS = (
    "import os\n"
    "from runyard.core.run import Run\n"
    "Run.get_context().log('acc', 0.9)\n"
    "os.makedirs('outputs', exist_ok=True)\n"
    "for i in range(30):\n"
    "    open(f'outputs/part{i:02d}.bin', 'wb').write(os.urandom(8 * 1024 * 1024))\n"
    "print('MARKER-WROTE', flush=True)\n"
)


def test_agent_killed_while_finalizing_ends_the_run_by_its_exit_code(
    services, source, submit, wait, wait_until
) -> None:
    info = submit(services, source(**{"train.py": BIG_OUTPUTS}))
    wait_until(
        lambda: services.store.get_run(info.run_id).status is RunStatus.FINALIZING,
        60,
        "the run to reach Finalizing (uploading 240 MB of outputs)",
    )
    os.kill(agent_pid(services.layout), signal.SIGKILL)

    done = wait(services, info.run_id)  # a new agent reconciles the run

    assert done.status is RunStatus.COMPLETED, done.error
    assert done.error is None
    names = services.artifacts.list(f"runs/{info.run_id}/outputs/")
    assert len(names) == 30
    assert services.store.get_metrics(info.run_id)["acc"].values == [0.9]
    assert not (services.layout.jobs_dir / info.run_id).exists()


FINISHES_ON_GO = (
    "import os, time\n"
    "from runyard.core.run import Run\n"
    "run = Run.get_context()\n"
    "run.log('before', 1)\n"
    "print('MARKER-WAITING', flush=True)\n"
    "while not os.path.exists(os.environ['GO_FILE']):\n"
    "    time.sleep(0.02)\n"
    "os.makedirs('outputs', exist_ok=True)\n"
    "open('outputs/model.txt', 'w').write('weights')\n"
    "run.log('after', 2)\n"
)


def test_polling_status_alone_ends_a_run_whose_agent_died_by_what_really_happened(
    services, source, submit, wait_for_marker, wait_until, tmp_path
) -> None:
    """The agent is SIGKILLed while the job runs; the job then ends by itself. Nobody calls
    submit or wait_for_completion: reading the run's status brings an agent up, and the run
    ends Completed (its exit code was recorded by the job's wrapper), outputs saved."""
    go = tmp_path / "go"
    info = submit(services, source(**{"train.py": FINISHES_ON_GO}),
                  environment_variables={"GO_FILE": str(go)})  # fmt: skip
    wait_for_marker(services, info.run_id, "MARKER-WAITING")
    old_agent = agent_pid(services.layout)
    os.kill(old_agent, signal.SIGKILL)
    wait_until(lambda: agent_pid(services.layout) is None, 10, "the agent lock to be released")
    go.touch()
    status_file = services.layout.jobs_dir / info.run_id / "exit_status.json"
    wait_until(status_file.exists, 30, "the job's wrapper to record its exit status")

    wait_until(
        lambda: runs.get_run(services, info.run_id).status.is_terminal(),
        30,
        "status polling alone to end the run",
    )
    done = runs.get_run(services, info.run_id)
    assert done.status is RunStatus.COMPLETED, done.error
    assert agent_pid(services.layout) not in (None, old_agent)
    assert services.artifacts.read_bytes(f"runs/{info.run_id}/outputs/model.txt") == b"weights"
    metrics = services.store.get_metrics(info.run_id)
    assert metrics["before"].values == [1] and metrics["after"].values == [2]
