"""Submitting scripts: validation, completion, failure and the live driver log."""

from __future__ import annotations

import io
import re

import pytest

from runyard._entities import RunStatus
from runyard.exceptions import UserErrorException

pytestmark = pytest.mark.timeout(120)


def test_missing_script_names_script_directory_and_files(services, source, submit) -> None:
    src = source(**{"train.py": "", "pkg/util.py": ""})
    with pytest.raises(UserErrorException) as err:
        submit(services, src, "trian.py")
    message = str(err.value)
    assert "'trian.py' does not exist" in message
    assert str(src) in message
    assert "'train.py'" in message and "'pkg/util.py'" in message
    assert services.store.list_runs() == []


def test_script_that_is_a_folder_is_refused(services, source, submit) -> None:
    src = source(**{"pkg/util.py": ""})
    with pytest.raises(UserErrorException, match="'pkg' is a folder"):
        submit(services, src, "pkg")
    assert services.store.list_runs() == []


def test_script_outside_source_directory_is_refused(services, source, submit) -> None:
    src = source(**{"train.py": ""})
    with pytest.raises(UserErrorException, match="outside source_directory"):
        submit(services, src, "../x.py")
    assert services.store.list_runs() == []


def test_argument_of_another_type_is_refused(services, source, submit) -> None:
    src = source(**{"train.py": ""})
    with pytest.raises(UserErrorException) as err:
        submit(services, src, arguments=["--lr", [0.1]])
    assert "arguments[1]=[0.1] is a list" in str(err.value)
    assert "str, int, float or bool" in str(err.value)
    assert services.store.list_runs() == []


def test_missing_target_is_refused(services, source, submit) -> None:
    src = source(**{"train.py": ""})
    with pytest.raises(UserErrorException) as err:
        submit(services, src, target="gpu-cluster")
    assert "compute target 'gpu-cluster' does not exist in this workspace" in str(err.value)
    assert "targets: ['local']" in str(err.value)
    assert "ComputeTarget.create(ws, 'gpu-cluster'" in str(err.value)
    assert services.store.list_runs() == []


def test_run_based_amlcompute_target_is_refused(services, source, submit) -> None:
    src = source(**{"train.py": ""})
    with pytest.raises(UserErrorException) as err:
        submit(services, src, target="amlcompute")
    assert "'amlcompute' (a run-based cluster made from vm_size) is not supported" in str(err.value)
    assert services.store.list_runs() == []


def test_run_completes_with_output_and_outputs_uploaded(
    services, source, driver_log, submit, wait
) -> None:
    script = (
        "import os, sys\n"
        "print('args', sys.argv[1:])\n"
        "print('to stderr', file=sys.stderr)\n"
        "print('cwd has', sorted(os.listdir('.')))\n"
        "os.makedirs('outputs/sub', exist_ok=True)\n"
        "open('outputs/sub/model.txt', 'w').write('weights')\n"
        "os.makedirs('logs', exist_ok=True)\n"
        "open('logs/train.log', 'w').write('epoch 1')\n"
    )
    src = source(**{"train.py": script, "data.txt": "x"})
    info = submit(services, src, arguments=["--lr", 0.5, 3, True])
    assert re.fullmatch(r"exp_\d{10}_[0-9a-f]{8}", info.run_id)
    assert info.status is RunStatus.QUEUED
    assert info.definition["arguments"] == ["--lr", "0.5", "3", "True"]
    done = wait(services, info.run_id)
    assert done.status is RunStatus.COMPLETED, done.error
    log = driver_log(services, info.run_id)
    assert "args ['--lr', '0.5', '3', 'True']" in log
    assert "to stderr" in log
    assert "cwd has ['data.txt', 'train.py']" in log
    files = services.artifacts.list(f"runs/{info.run_id}/")
    assert f"runs/{info.run_id}/outputs/sub/model.txt" in files
    assert f"runs/{info.run_id}/logs/train.log" in files
    assert done.runtime.job is not None and int(done.runtime.job.job_id) > 0
    assert done.runtime.agent_pid is not None and done.runtime.agent_pid > 0
    # The working copy is removed once the run is finalized.
    assert not (services.layout.jobs_dir / info.run_id).exists()


def test_failing_script_ends_failed_with_traceback_tail(services, source, submit, wait) -> None:
    script = "print('starting')\ndef f():\n    raise ValueError('bad learning rate 7')\nf()\n"
    src = source(**{"train.py": script})
    info = submit(services, src)
    done = wait(services, info.run_id)
    assert done.status is RunStatus.FAILED
    assert done.error.code == "UserError"
    assert done.error.exit_code == 1
    assert "exited with code 1" in done.error.message
    assert "ValueError: bad learning rate 7" in done.error.message
    assert done.error.last_error_lines[0].startswith("Traceback (most recent call last)")
    assert done.error.last_error_lines[-1] == "ValueError: bad learning rate 7"


def test_streaming_has_no_gap_and_no_duplicate(services, source, submit, wait) -> None:
    script = (
        "import sys, time\n"
        "for i in range(5000):\n"
        "    print(f'line {i:05d}')\n"
        "    if i % 500 == 0:\n"
        "        sys.stdout.write('partial-')\n"
        "        sys.stdout.flush()\n"
        "        time.sleep(0.05)\n"
        "        print('done')\n"
    )
    src = source(**{"train.py": script})
    info = submit(services, src)
    out = io.StringIO()
    done = wait(services, info.run_id, out=out)
    assert done.status is RunStatus.COMPLETED
    text = out.getvalue()
    numbered = [line for line in text.splitlines() if line.startswith("line ")]
    assert numbered == [f"line {i:05d}" for i in range(5000)]
    assert text.count("partial-done\n") == 10
    assert f"RunId: {info.run_id}" in text
    assert "Streaming azureml-logs/70_driver_log.txt" in text
    assert "Execution Summary" in text and "Status: Completed" in text
    assert text.index("Streaming") < text.index("line 00000") < text.index("Execution Summary")


def test_wait_on_a_finished_run_prints_its_whole_log(services, source, submit, wait) -> None:
    src = source(**{"train.py": "print('only line')\n"})
    info = submit(services, src)
    wait(services, info.run_id)
    out = io.StringIO()
    done = wait(services, info.run_id, out=out)
    assert done.status is RunStatus.COMPLETED
    assert out.getvalue().count("only line\n") == 1
    assert "Status: Completed" in out.getvalue()
