"""The whole Run API inside a job, through the job channel to the agent (never the store):
in the host's Python and in a uv-built environment without SQLAlchemy; the channel's key;
a job whose agent is killed and replaced carries on."""

from __future__ import annotations

import pytest

from runyard.compat import hook
from runyard.core import Experiment, ScriptRunConfig

pytestmark = pytest.mark.timeout(240)

# manage-runs' hello_with_children.py, then the rest of the Run API a script may use.
SCRIPT = """
import json, os, sys
from azureml.core import Run

run = Run.get_context()

child_runs = run.create_children(count=5)
for c, child in enumerate(child_runs):
    child.log(name="Hello from child run ", value=c)
    child.complete()
tagged = run.create_children(tag_key="fold", tag_values=["a", "b"])
named = run.child_run(name="named")
named.log("x", 1)
named.fail()
run.tag("t", "v")
run.set_tags({"a": "b"})
run.add_properties({"p": "q"})
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write("weights")
run.upload_file("extra/model.txt", "outputs/model.txt")
model = run.register_model("in-job-model", model_path="extra/model.txt", tags={"k": "v"})
report = {
    "parent": run.parent,
    "workspace": run.experiment.workspace.name,
    "environment": run.get_environment().name,
    "status": run.get_status(),
    "model": model.id,
    "children": sorted(
        [c.get_status(), c.get_tags().get("azureml.batch_child_number", c.get_tags().get("fold"))]
        for c in run.get_children()
    ),
    "child_metric": child_runs[2].get_metrics(),
    "sqlalchemy": "sqlalchemy" in sys.modules,
}
print("REPORT", json.dumps(report, default=str), flush=True)
"""


def _report(services, run_id):
    import json

    log = services.artifacts.read_bytes(f"runs/{run_id}/azureml-logs/70_driver_log.txt").decode()
    line = next(x for x in log.splitlines() if x.startswith("REPORT "))
    return json.loads(line[len("REPORT ") :])


@pytest.mark.parametrize("built", [False, True], ids=["host-python", "uv-env-without-sqlalchemy"])
def test_the_whole_run_api_works_inside_a_job(ws, services, source, six_env, built):
    from runyard.core import Model

    hook.install()
    src = source(**{"hello.py": SCRIPT})
    config = ScriptRunConfig(src, "hello.py", environment=six_env() if built else None)
    run = Experiment(ws, "manage-runs").submit(config)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Completed", details.get("error")
    report = _report(services, run.id)
    assert report["sqlalchemy"] is False  # the job never opened the store
    assert report["parent"] is None and report["workspace"] == "test-ws"
    assert report["environment"] == ("six-env" if built else "default-environment")
    assert report["status"] == "Running" and report["model"] == "in-job-model:1"
    assert report["child_metric"] == {"Hello from child run ": 2}
    expected = [["Completed", str(n)] for n in range(5)] + [["Failed", None]]
    expected += [["Running", "a"], ["Running", "b"]]
    assert report["children"] == sorted(expected)
    assert run.get_tags()["t"] == "v" and run.get_properties()["p"] == "q"
    assert "extra/model.txt" in run.get_file_names()
    model = Model(ws, "in-job-model")
    assert model.run_id == run.id and model.tags == {"k": "v"}


def test_create_children_refuses_what_v1_refuses(ws):
    from runyard.exceptions import UserErrorException

    parent = Experiment(ws, "kids").start_logging()
    with pytest.raises(UserErrorException, match="Either count or tag_key and tag_values"):
        parent.create_children()
    with pytest.raises(UserErrorException, match="count can not be set when tag_key"):
        parent.create_children(count=1, tag_key="k", tag_values=["a"])
    with pytest.raises(UserErrorException, match="not create more than 100 runs"):
        parent.create_children(count=101)
    assert list(parent.get_children()) == []
    parent.complete()


def test_the_channel_serves_only_holders_of_the_workspace_key(ws, services, source):
    from multiprocessing.connection import AuthenticationError, Client

    from runyard._channel_wire import read_address
    from runyard._services.job_channel import ChannelStore, ChannelUnavailable

    src = source(**{"wait.py": "import os, time\nwhile not os.path.exists('go'): time.sleep(0.05)"})
    run = Experiment(ws, "chan").submit(ScriptRunConfig(src, "wait.py"))
    root = services.layout.root
    try:
        address = None
        while address is None:  # the agent writes its address when it starts
            address = read_address(root, {})
        with pytest.raises(AuthenticationError):
            Client(address, authkey=b"not the key")
        # The key holder is served, and a method the store has not is refused by name.
        store = ChannelStore(root)
        assert store.get_run(run.id).run_id == run.id
        with pytest.raises(ChannelUnavailable, match="no method 'drop_everything'"):
            store.drop_everything()
        store.close()
    finally:
        run.cancel()
        run.wait_for_completion(raise_on_error=False)


def test_a_client_reaches_a_replaced_server_at_its_new_address(ws, services):
    """An agent replaced while a job waits (a new agent, a new port): the job's next request
    reads the new address and is answered."""
    from runyard._services.job_channel import ChannelServer, ChannelStore

    info = Experiment(ws, "chan").start_logging()
    first = ChannelServer(services)
    first.start()
    store = ChannelStore(services.layout.root)
    assert store.get_run(info.id).status.value == "Running"
    old_address = first.address
    first.stop()
    second = ChannelServer(services)
    second.start()
    try:
        assert second.address != old_address
        assert store.get_run(info.id).run_id == info.id  # reconnected, same key
    finally:
        store.close()
        second.stop()
        info.complete()


def test_the_key_is_made_whole_once_and_a_damaged_one_is_refused_by_name(ws, services):
    from runyard._services.job_channel import KEY_FILE, ChannelUnavailable, channel_key

    path = services.layout.agent_dir / KEY_FILE
    path.unlink(missing_ok=True)
    key = channel_key(services.layout)
    assert len(key) == 32 and channel_key(services.layout) == key
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(f".{KEY_FILE}")]
    path.write_text("abc")
    with pytest.raises(ChannelUnavailable, match=r"channel.key is damaged .* delete the file"):
        channel_key(services.layout)
    path.unlink()
