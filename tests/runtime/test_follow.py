"""Following a run: Ctrl-C while streaming, and the order of the script's output and phases
(a phase line after a partial line starts on its own line)."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import textwrap
import threading

from runyard._entities import RunStatus
from runyard._services.jobs import cancel_run

DRIVER = textwrap.dedent(
    """
    import sys
    from runyard.core import Experiment, ScriptRunConfig, Workspace

    ws = Workspace.get("test-ws")
    run = Experiment(ws, "follow").submit(ScriptRunConfig(sys.argv[1], "train.py"))
    print("RUN", run.id, flush=True)
    try:
        run.wait_for_completion(show_output=True)
    except BaseException as exc:
        print("RAISED", type(exc).__name__, exc, flush=True)
        raise SystemExit(3)
    """
)


def test_ctrl_c_while_streaming_raises_v1s_exception_and_the_run_goes_on(
    ws, services, source, wait
) -> None:
    src = source(**{"train.py": "import time\nprint('tick', flush=True)\ntime.sleep(3)\n"})
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(src)], stdout=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    assert driver.stdout is not None
    for line in driver.stdout:
        lines.append(line)
        if line.startswith("tick"):
            break
    run_id = next(line.split()[1] for line in lines if line.startswith("RUN "))
    driver.send_signal(signal.SIGINT)
    out, _ = driver.communicate(timeout=30)
    assert driver.returncode == 3
    raised = next(line for line in out.splitlines() if line.startswith("RAISED"))
    assert raised.startswith("RAISED ExperimentExecutionException")
    assert "still executing" in raised and f"runyard runs cancel {run_id}" in raised
    assert services.store.get_run(run_id).status is RunStatus.RUNNING  # it keeps going
    assert wait(services, run_id).status is RunStatus.COMPLETED


def test_the_scripts_last_lines_come_before_the_finalizing_phase(
    services, source, submit, wait, wait_until
) -> None:
    script = (
        "import os, time\n"
        "print('first', flush=True)\n"
        "time.sleep(1)\n"
        "os.makedirs('outputs', exist_ok=True)\n"
        "for i in range(20):\n"
        "    open(f'outputs/f{i}.bin', 'wb').write(b'x' * 2_000_000)\n"
        "print('last line of the script', flush=True)\n"
    )
    src = source(**{"train.py": script})
    info = submit(services, src)
    wait_until(lambda: services.store.get_run(info.run_id).status is RunStatus.RUNNING, 30)
    out = io.StringIO()
    assert wait(services, info.run_id, out=out).status is RunStatus.COMPLETED
    text = out.getvalue()
    assert text.index("first") < text.index("last line of the script") < text.index("[Finalizing]")


# Prints a partial line, then waits (SIGTERM ignored) until the test has seen the cancel phase.
PARTIAL_THEN_CANCELED = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: None)
marker, release = sys.argv[1], sys.argv[2]
sys.stdout.write('epoch 1/3')
sys.stdout.flush()
open(marker, 'w').close()
deadline = time.monotonic() + 60
while not os.path.exists(release) and time.monotonic() < deadline:
    time.sleep(0.05)
sys.stdout.write(' stopped\\n')
sys.stdout.flush()
"""


def test_a_phase_line_after_a_partial_line_starts_on_its_own_line(
    services, source, submit, wait, wait_until, tmp_path
) -> None:
    marker, release = tmp_path / "marker", tmp_path / "release"
    src = source(**{"train.py": PARTIAL_THEN_CANCELED})
    info = submit(services, src, arguments=[str(marker), str(release)])
    out = io.StringIO()
    result: list = []
    follower = threading.Thread(target=lambda: result.append(wait(services, info.run_id, out=out)))
    follower.start()
    try:
        wait_until(marker.exists, 60, f"the job to write {marker}")
        wait_until(lambda: "epoch 1/3" in out.getvalue(), 30, "the partial line in the output")
        cancel_run(services, info.run_id)
        wait_until(lambda: "[CancelRequested]" in out.getvalue(), 30, "the cancel phase line")
    finally:
        release.touch()
        follower.join(60)
    assert result and result[0].status is RunStatus.CANCELED, out.getvalue()
    text = out.getvalue()
    assert "epoch 1/3\n[CancelRequested] CancelRequested: stopping the script\n" in text
    assert text.count("epoch 1/3") == 1
