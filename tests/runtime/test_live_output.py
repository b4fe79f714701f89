"""show_output streams what the script prints as it comes: a partial line (a `\\r` progress
bar) shows while the script still runs, and the driver log keeps its bytes exactly."""

from __future__ import annotations

import io
import threading

import pytest

from runyard._entities import RunStatus

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


def test_a_partial_progress_line_shows_while_the_script_runs(
    services, source, submit, wait, wait_until, driver_log, tmp_path
) -> None:
    marker, release = tmp_path / "marker", tmp_path / "release"
    info = submit(
        services, source(**{"train.py": PROGRESS_JOB}), arguments=[str(marker), str(release)]
    )
    out = io.StringIO()
    result: list = []
    follower = threading.Thread(target=lambda: result.append(wait(services, info.run_id, out=out)))
    follower.start()
    try:
        wait_until(marker.exists, 60, f"the job to write {marker}")
        wait_until(lambda: "progress 50%" in out.getvalue(), 30, "the partial line in the output")
        assert services.store.get_run(info.run_id).status is RunStatus.RUNNING
        assert "progress 100%" not in out.getvalue()
    finally:
        release.touch()
        follower.join(60)
    assert result and result[0].status is RunStatus.COMPLETED, out.getvalue()
    text = out.getvalue()
    assert PRINTED in text  # as printed: no newline added inside it, nothing twice
    assert text.count("progress 50%") == 1 and text.count("done") == 1
    assert "\n[Finalizing]" in text and text.index(PRINTED) < text.index("[Finalizing]")
    assert PRINTED in driver_log(services, info.run_id)  # the bytes as the script wrote them
