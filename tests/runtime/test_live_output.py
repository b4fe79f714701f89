"""show_output streams what the script prints as it comes: a partial line (a `\\r` progress
bar) shows while the script still runs, the driver log keeps its bytes exactly, and a phase
line after a partial line starts on its own line."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from runyard._entities import RunInfo, RunStatus
from runyard._services.jobs import cancel_run

pytestmark = pytest.mark.timeout(120)

# Prints a progress bar with `\r` and no newline, says so with a marker file, and goes on only
# once the test has seen the bar in wait_for_completion's output and releases it.
PROGRESS_JOB = """
import os, sys, time
marker, release = sys.argv[1], sys.argv[2]
sys.stdout.write('progress 10%')
sys.stdout.flush()
sys.stdout.write('\\rprogress 50%')
sys.stdout.flush()
open(marker, 'w').close()
deadline = time.monotonic() + 60
while not os.path.exists(release):
    if time.monotonic() > deadline:
        sys.exit('never released')
    time.sleep(0.05)
sys.stdout.write('\\rprogress 100%\\n')
print('done', flush=True)
"""
PRINTED = "progress 10%\rprogress 50%\rprogress 100%\ndone\n"

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


@contextmanager
def _following(
    wait: Callable[..., RunInfo], services, run_id: str, release: Path
) -> Iterator[tuple[io.StringIO, list[RunInfo]]]:
    """wait_for_run(show_output) in a thread, its output readable while it runs; on leaving,
    releases the job and waits for the follower to return."""
    out, result = io.StringIO(), []
    follower = threading.Thread(target=lambda: result.append(wait(services, run_id, out=out)))
    follower.start()
    try:
        yield out, result
    finally:
        release.touch()
        follower.join(60)


def test_a_partial_progress_line_shows_while_the_script_runs(
    services, source, submit, wait, wait_until, driver_log, tmp_path
) -> None:
    marker, release = tmp_path / "marker", tmp_path / "release"
    src = source(**{"train.py": PROGRESS_JOB})
    info = submit(services, src, arguments=[str(marker), str(release)])
    with _following(wait, services, info.run_id, release) as (out, result):
        wait_until(marker.exists, 60, f"the job to write {marker}")
        wait_until(lambda: "progress 50%" in out.getvalue(), 30, "the partial line in the output")
        assert services.store.get_run(info.run_id).status is RunStatus.RUNNING
        assert "progress 100%" not in out.getvalue()
    assert result and result[0].status is RunStatus.COMPLETED, out.getvalue()
    text = out.getvalue()
    assert PRINTED in text  # as printed: no newline added inside it, nothing twice
    assert text.count("progress 50%") == 1 and text.count("done") == 1
    assert "\n[Finalizing]" in text and text.index(PRINTED) < text.index("[Finalizing]")
    assert PRINTED in driver_log(services, info.run_id)  # the bytes as the script wrote them


def test_a_phase_line_after_a_partial_line_starts_on_its_own_line(
    services, source, submit, wait, wait_until, tmp_path
) -> None:
    marker, release = tmp_path / "marker", tmp_path / "release"
    src = source(**{"train.py": PARTIAL_THEN_CANCELED})
    info = submit(services, src, arguments=[str(marker), str(release)])
    with _following(wait, services, info.run_id, release) as (out, result):
        wait_until(marker.exists, 60, f"the job to write {marker}")
        wait_until(lambda: "epoch 1/3" in out.getvalue(), 30, "the partial line in the output")
        cancel_run(services, info.run_id)
        wait_until(lambda: "[CancelRequested]" in out.getvalue(), 30, "the cancel phase line")
    assert result and result[0].status is RunStatus.CANCELED, out.getvalue()
    text = out.getvalue()
    assert "epoch 1/3\n[CancelRequested] CancelRequested: stopping the script\n" in text
    assert text.count("epoch 1/3") == 1
