"""Following a run: Ctrl-C while streaming, and the order of the script's output and phases."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import textwrap

from runyard._entities import RunStatus

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
