"""One node of a run on Ray: the detached actor that runs the job there (``RayNode``).

The agent (``ray_backend``) creates one actor per node of a run, pinned to that node's
bundle of the run's placement group, and calls ``start`` with a portable job: the working
copy as a tar, argv and environment whose agent-side paths are placeholders (``{JOB}``,
``{PYTHON}`` ...). The actor, on its node:
- unpacks the working copy into a folder of its own (``node_root()/jobs/<actor name>``);
- builds the run's environment with uv into the node's cache (``python -m
  runyard._envs.build_main``), when the run has one;
- starts the job under Runyard's job wrapper as the local backend does (own session,
  subreaper, exit status written durably, leftovers killed; a distributed node's ranks);
- serves ``wait``, ``pull`` (new bytes of its logs and spools from given offsets, changed
  files of ./logs and ./outputs) and ``cancel``; ``release`` removes its folder and ends it.

Plain Python: Ray is not imported here (the backend wraps the class with ``ray.remote``).
Calls may come in on several threads at once (a threaded actor).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runyard import _jobenv
from runyard._compute.base import JobHandle, JobSpec
from runyard._compute.processes import LocalProcesses
from runyard._compute.ranks import PmiServer, RankSpec
from runyard._compute.ray_relay import NodeChannel

NODE_DIR_VARIABLE = "RUNYARD_NODE_DIR"  # where a Ray node keeps its jobs and environments
JOB, PYTHON, ALIAS, RUNYARD_ROOT = "{JOB}", "{PYTHON}", "{ALIAS}", "{RUNYARD_ROOT}"
DRIVER_LOG = "70_driver_log.txt"
BUILD_LOG = "20_image_build_log.txt"
TREES = ("logs", "outputs")  # folders of the working copy brought back while it runs
PULL_LIMIT = 8 * 1024 * 1024  # bytes of one file per pull


def node_root() -> Path:
    """This node's folder for Runyard: RUNYARD_NODE_DIR, else one per Ray node in /tmp
    (nodes sharing a machine keep their own jobs and environment caches)."""
    given = os.environ.get(NODE_DIR_VARIABLE)
    if given:
        return Path(given)
    node = os.environ.get("RAY_NODE_ID") or _ray_node_id() or "node"
    return Path(tempfile.gettempdir()) / "runyard-ray" / node[:12]


def _ray_node_id() -> str | None:
    """The Ray node this process runs on, inside a Ray worker; None elsewhere. Never
    starts Ray: its runtime context would start a local cluster (and turn on token auth
    for every later `ray start` of the machine, writing ~/.ray/auth_token)."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    try:
        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # noqa: BLE001 - a worker shutting down: no id
        return None


def runyard_root(root: Path) -> str:
    """A folder that makes this node's runyard importable in a job: a source checkout's
    parent as is; an installed runyard linked from the node's folder, so the node's
    site-packages never shadow the environment's packages."""
    package = Path(__file__).resolve().parent.parent
    if package.parent.name not in ("site-packages", "dist-packages"):
        return str(package.parent)
    link = root / "pylib" / "runyard"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.with_name(f".runyard-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(package, target_is_directory=True)
        tmp.replace(link)
    return str(link.parent)


def substitute(value: str, places: Mapping[str, str]) -> str:
    for placeholder, real in places.items():
        value = value.replace(placeholder, real)
    return value


class _NodeProcesses(LocalProcesses):
    compute_type = "ray-node"


class RayNode:
    """The actor. ``name`` is the actor's (``<run id>-<node>``), its folder's name too."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.root = node_root()
        self.dir = self.root / "jobs" / name
        self._handle: JobHandle | None = None
        self._lock = threading.Lock()
        self._code: int | None = None
        self._phase = "new"  # new -> preparing -> running -> ended
        self._error: str | None = None
        self._started = threading.Event()
        self._sent: dict[str, tuple[int, int]] = {}  # tree file -> (size, mtime_ns) sent
        self._channel: NodeChannel | None = None  # the job's way to its workspace

    # ---- start ---------------------------------------------------------------------------
    def start(self, job: Mapping[str, Any], snapshot: bytes) -> dict[str, Any]:
        """Unpacks the job and starts it (its environment built first, in the background);
        returns where it runs. A second call (a retried request) changes nothing."""
        if self._phase == "new":
            self._phase = "preparing"
            self.dir.mkdir(parents=True, exist_ok=True)
            with tarfile.open(fileobj=io.BytesIO(snapshot), mode="r:*") as tar:
                tar.extractall(self.dir, filter="tar")
            for name in (DRIVER_LOG, BUILD_LOG):
                (self.dir / name).touch()
            threading.Thread(
                target=self._prepare_and_launch, args=(dict(job),), daemon=True
            ).start()
        return {"pid": os.getpid(), "dir": str(self.dir), "host": _host(),
                "node_id": _ray_node_id()}  # fmt: skip

    def _prepare_and_launch(self, job: dict[str, Any]) -> None:
        try:
            python: str | None = sys.executable
            if job.get("environment") is not None:
                python = self._build(job["environment"])
            if python is None:
                return
            places = {
                JOB: str(self.dir),
                PYTHON: python,
                ALIAS: _jobenv.alias_pythonpath(),
                RUNYARD_ROOT: runyard_root(self.root),
            }
            spec = self._spec(job, places)
            self._note_remote(spec)
            with self._lock:
                if self._phase == "ended":  # canceled while preparing
                    return
                self._handle = _NodeProcesses().launch(spec)
                self._phase = "running"
        except Exception as exc:  # noqa: BLE001 - the job cannot start: say why, end it
            self._fail(f"Runyard: the job could not start on this Ray node: {exc}")
        finally:
            self._started.set()

    def _build(self, environment: Mapping[str, Any]) -> str | None:
        definition = self.dir / "environment.json"
        definition.write_text(json.dumps(environment))
        with open(self.dir / BUILD_LOG, "ab") as log:
            log.write(f"Building the environment on Ray node {_host()} ({self.root})\n".encode())
            log.flush()
            proc = subprocess.run(
                [sys.executable, "-m", "runyard._envs.build_main", str(definition), str(self.root)],
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, "PYTHONPATH": runyard_root(self.root)},
                check=False,
            )
            lines = proc.stdout.decode(errors="replace").splitlines()
            result = lines.pop() if proc.returncode == 0 and lines else ""
            log.write("".join(f"{line}\n" for line in lines).encode())
        if proc.returncode != 0 or not result.startswith("{"):
            self._fail("Runyard: building the run's environment on this Ray node failed; "
                       f"see {BUILD_LOG}.")  # fmt: skip
            return None
        return str(json.loads(result)["python"])

    def _spec(self, job: Mapping[str, Any], places: Mapping[str, str]) -> JobSpec:
        def sub(value: str) -> str:
            return substitute(value, places)

        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        for name in job.get("unset", ()):
            env.pop(name, None)
        env.update({k: sub(v) for k, v in job["env"].items()})
        if job.get("relay"):  # the workspace through Ray, wherever this node is
            env.update(self._node_channel(job["relay"]).environment())
        ranks = tuple(
            RankSpec(
                rank=int(r["rank"]),
                env={k: sub(v) for k, v in r["env"].items()},
                log=sub(r["log"]),
                tee=bool(r["tee"]),
            )
            for r in job.get("ranks", ())
        )
        pmi = PmiServer(**job["pmi"]) if job.get("pmi") else None
        return JobSpec(
            run_id=str(job["run_id"]),
            argv=tuple(sub(a) for a in job["argv"]),
            cwd=Path(sub(job["cwd"])),
            env=env,
            driver_log=self.dir / DRIVER_LOG,
            node_id=self.name,
            status_file=Path(sub(job["status_file"])),
            ranks=ranks,
            pmi=pmi,
        )

    def _node_channel(self, relay: Mapping[str, str]) -> NodeChannel:
        if self._channel is None:
            # late: inside a Ray worker, where ray is loaded already
            import ray

            self._channel = NodeChannel(ray, relay)
        return self._channel

    def _note_remote(self, spec: JobSpec) -> None:
        """A node on another machine than the agent's: the job's metrics, files and requests
        reach the workspace through Ray (ray_relay.py), but files of the workspace read by
        their path (datastores, datasets the script opens itself) are not here; the driver
        log says so before the script starts."""
        workspace = spec.env.get(_jobenv.WORKSPACE_DIR, "")
        if not workspace or os.path.isdir(workspace):
            return
        with open(self.dir / DRIVER_LOG, "a") as log:
            log.write(
                f"Runyard: WARNING: this Ray node ({_host()}) is not the agent's machine (the "
                f"workspace {workspace} is not here). The run's metrics, files and requests "
                "reach it through Ray; a script that reads datastore or dataset files by "
                "their path itself (not as the run's inputs) finds nothing here.\n"
            )

    def _fail(self, message: str) -> None:
        with open(self.dir / DRIVER_LOG, "a") as log:
            log.write(message + "\n")
        with self._lock:
            self._phase, self._code, self._error = "ended", 1, message

    # ---- follow --------------------------------------------------------------------------
    def wait(self, timeout: float) -> dict[str, Any]:
        """{"code": exit code or None, "running": bool, "phase": ...} after up to ``timeout``
        seconds of waiting for the job's end."""
        if not self._started.wait(timeout):
            return self._report(None, True)
        with self._lock:
            handle = self._handle
        if handle is None:  # it never started (failed or canceled first)
            return self._report(self._code if self._code is not None else -signal.SIGKILL, False)
        code = handle.wait(timeout)
        if code is not None:
            self._code, self._phase = code, "ended"
            return self._report(code, False)
        return self._report(None, handle.running())

    def _report(self, code: int | None, running: bool) -> dict[str, Any]:
        return {"code": code, "running": running, "phase": self._phase, "error": self._error}

    def pull(self, offsets: Mapping[str, int], fresh: bool) -> dict[str, Any]:
        """New bytes of the folder's top-level files from ``offsets`` (name -> bytes already
        delivered; every file not named there from 0), and the files of ./logs and
        ./outputs changed since the last pull (all of them when ``fresh``)."""
        if fresh:
            self._sent.clear()
        grown: dict[str, bytes] = {}
        more = False
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.dir):
                if not entry.is_file() or entry.name == "environment.json":
                    continue
                start = int(offsets.get(entry.name, 0))
                size = entry.stat().st_size
                if size > start or (size == 0 and entry.name not in offsets):  # markers
                    with open(entry.path, "rb") as f:
                        f.seek(start)
                        grown[entry.name] = f.read(PULL_LIMIT)
                    more = more or size - start > PULL_LIMIT
        return {"grown": grown, "files": self._changed_tree_files(), "more": more}

    def _changed_tree_files(self) -> dict[str, bytes]:
        changed: dict[str, bytes] = {}
        for tree in TREES:
            base = self.dir / "wd" / tree
            if not base.is_dir():
                continue
            for path in base.rglob("*"):
                try:
                    stat = path.stat()
                except OSError:
                    continue
                if not path.is_file():
                    continue
                rel = str(path.relative_to(self.dir / "wd"))
                seen = (stat.st_size, stat.st_mtime_ns)
                if self._sent.get(rel) != seen:
                    with contextlib.suppress(OSError):
                        changed[rel] = path.read_bytes()
                        self._sent[rel] = seen
        return changed

    def cancel(self, force: bool) -> None:
        """SIGTERM (or SIGKILL) to every process of the job on this node; before it has
        started, it never will."""
        with self._lock:
            handle = self._handle
            if handle is None and self._phase != "ended":
                self._phase, self._code = "ended", -signal.SIGTERM
                self._error = "canceled before it started"
        if handle is not None:
            handle.cancel(force=force)

    def release(self) -> None:
        """The run is over and everything was pulled: its processes are killed, its folder
        removed (the actor is then killed by the agent)."""
        with self._lock:
            handle = self._handle
        if handle is not None:
            handle.cancel(force=True)
        if self._channel is not None:
            self._channel.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _host() -> str:
    try:  # late: only inside a Ray worker, where ray is loaded already
        import ray

        return str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]
    except Exception:  # noqa: BLE001 - outside Ray: this machine
        return "127.0.0.1"
