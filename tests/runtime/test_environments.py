"""Runs with an Environment: built by uv in Preparing (or reused), then run with its Python."""

from __future__ import annotations

import pytest

from runyard._entities import RunStatus
from runyard.core import Experiment, ScriptRunConfig
from runyard.core.environment import DockerConfiguration, Environment

# The agent (and so uv) inherits UV_CACHE_DIR: builds after the first hit uv's cache.
pytestmark = pytest.mark.usefixtures("job_uv_cache")

SCRIPT = """
import sys
import six
from azureml.core.run import Run
run = Run.get_context()
run.log("six_major", int(six.__version__.split(".")[0]))
print("python", sys.executable)
print("six", six.__version__)
"""


def test_run_uses_its_built_environment(
    ws, services, source, capsys, build_log, driver_log, six_env
) -> None:
    src = source(**{"train.py": SCRIPT})
    config = ScriptRunConfig(
        src,
        "train.py",
        environment=six_env(),
        docker_runtime_config=DockerConfiguration(use_docker=True),
    )
    run = Experiment(ws, "envs").submit(config)
    details = run.wait_for_completion(show_output=True)
    assert details["status"] == "Completed"
    home = services.settings.home
    log = driver_log(services, run.id)
    assert f"python {home / 'envs'}" in log
    assert "six 1." in log
    assert "was not used: Runyard runs jobs in a uv virtualenv" in log.splitlines()[0]
    assert run.get_metrics() == {"six_major": 1}
    built = build_log(services, run.id)
    assert "Building environment" in built and "built in" in built
    shown = capsys.readouterr().out
    build_at = shown.index("Streaming azureml-logs/20_image_build_log.txt")
    driver_at = shown.index("Streaming azureml-logs/70_driver_log.txt")
    assert build_at < shown.index("Building environment") < driver_at < shown.index("six 1.")
    assert shown.count("Building environment") == 1  # no line printed twice


def test_failed_build_fails_the_run_with_uvs_message(
    ws, services, source, build_log, six_env
) -> None:
    src = source(**{"train.py": SCRIPT})
    env = six_env("broken-env", ("runyard-no-such-package-4242",))
    run = Experiment(ws, "envs").submit(ScriptRunConfig(src, "train.py", environment=env))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    info = services.store.get_run(run.id)
    message = info.error.message
    assert message.startswith("Preparing the run's environment failed:")
    assert "runyard-no-such-package-4242" in message
    assert "not found in the package registry" in message  # uv's own words
    assert info.start_time is None  # the script never started
    built = build_log(services, run.id)
    assert built.count("not found in the package registry") == 1  # streamed, not repeated
    assert built.rstrip().endswith("(uv's output is above)")
    envs = services.settings.home / "envs"
    assert [p.name for p in envs.iterdir() if not p.name.endswith(".lock")] == []


def test_two_runs_needing_one_environment_build_it_once(
    ws, services, source, build_log, six_env
) -> None:
    src = source(**{"train.py": SCRIPT})
    exp = Experiment(ws, "envs")
    runs = [exp.submit(ScriptRunConfig(src, "train.py", environment=six_env())) for _ in range(2)]
    for run in runs:
        assert run.wait_for_completion()["status"] == "Completed"
    logs = [build_log(services, r.id) for r in runs]
    assert sum("Building environment" in log for log in logs) == 1
    assert sum("reusing it" in log for log in logs) == 1
    envs = services.settings.home / "envs"
    assert len([p for p in envs.iterdir() if p.is_dir()]) == 1
    assert {services.store.get_run(r.id).status for r in runs} == {RunStatus.COMPLETED}


def test_a_built_env_job_without_sqlalchemy_reads_its_run_through_the_agent(
    ws, services, source, six_env
) -> None:
    script = (
        "import sys\n"
        "from azureml.core.run import Run\n"
        "run = Run.get_context()\n"
        "run.log('kept', 1)\n"
        "print('DETAILS', run.get_details()['status'], 'sqlalchemy' in sys.modules)\n"
        "import sqlalchemy\n"  # the environment has none: the channel needs none
    )
    src = source(**{"train.py": script})
    run = Experiment(ws, "envs").submit(ScriptRunConfig(src, "train.py", environment=six_env()))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert "No module named 'sqlalchemy'" in details["error"]["error"]["message"]
    log = services.artifacts.read_bytes(f"runs/{run.id}/azureml-logs/70_driver_log.txt")
    assert "DETAILS Running False" in log.decode()
    assert run.get_metrics() == {"kept": 1}


def _hold_build_lock(services, env: Environment):
    """Takes the build lock of env's spec, as another builder would: the run waits in
    Preparing until it is released."""
    import fcntl
    import os

    from runyard._envs import resolve_spec

    envs = services.settings.home / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    spec_hash = resolve_spec(env._serialize_to_dict()).spec.hash
    fd = os.open(envs / f"{spec_hash}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_agent_stopped_while_preparing_never_starts_the_script(
    ws, services, source, six_env, wait_until
) -> None:
    import os
    import threading

    from runyard._services.agent_client import stop_agent

    env = six_env("stop-env")
    fd = _hold_build_lock(services, env)
    marker = services.settings.home.parent / "script-ran"
    script = f"open({str(marker)!r}, 'w').write('ran')\n"
    run = Experiment(ws, "envs").submit(
        ScriptRunConfig(source(**{"train.py": script}), "train.py", environment=env)
    )
    wait_until(lambda: "waiting for it" in _build_log_text(services, run.id), 30)
    stopper = threading.Thread(target=stop_agent, args=(services.layout,), kwargs={"timeout": 60})
    stopper.start()
    wait_until(lambda: not _agent_listening(services), 10, "the agent to start stopping")
    # The stopping agent tells its supervisors to stop: this one ends its wait for the lock.
    wait_until(
        lambda: "was stopped while waiting for another build" in _build_log_text(services, run.id),
        30,
        "the supervisor to stop waiting for the build lock",
    )
    os.close(fd)  # the lock comes free: nothing may go on to start the script now
    stopper.join(90)
    info = services.store.get_run(run.id)
    # What the run went through, shown if an assertion fails (seen once under heavy load).
    build = _build_log_text(services, run.id)
    story = f"{info.status} {info.error} start={info.start_time}\n{build}"
    assert info.status is RunStatus.FAILED, story
    assert info.error.code == "AgentStopped", story
    assert info.start_time is None and not marker.exists(), story


def _build_log_text(services, run_id: str) -> str:
    path = services.artifacts.local_path(f"runs/{run_id}/azureml-logs/20_image_build_log.txt")
    return path.read_text() if path is not None and path.exists() else ""


def _agent_listening(services) -> bool:
    from runyard._services.agent_client import wake

    return wake(services.layout)


def test_cancel_while_preparing_stops_the_build_and_ends_canceled(
    ws, services, source, six_env, wait_until
) -> None:
    import os

    env = six_env("cancel-env")
    fd = _hold_build_lock(services, env)  # another build holds it for as long as we like
    try:
        marker = services.settings.home.parent / "script-ran-after-cancel"
        script = f"open({str(marker)!r}, 'w').write('ran')\n"
        run = Experiment(ws, "envs").submit(
            ScriptRunConfig(source(**{"train.py": script}), "train.py", environment=env)
        )
        wait_until(lambda: "waiting for it" in _build_log_text(services, run.id), 30)
        run.cancel()
        # Canceled while the lock is still held: the wait itself was stopped.
        wait_until(lambda: services.store.get_run(run.id).status.is_terminal(), 15, "Canceled")
        info = services.store.get_run(run.id)
        assert info.status is RunStatus.CANCELED
        assert info.start_time is None and not marker.exists()
        assert "was stopped while waiting for another build" in _build_log_text(services, run.id)
    finally:
        os.close(fd)
