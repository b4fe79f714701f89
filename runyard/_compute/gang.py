"""A distributed run's nodes as one job: ``launch_gang(backend, jobs)`` starts them.

Each node's job is a ``JobHandle`` of the backend (one wrapper per node, supervising that
node's ranks). The gang has ended once every node has; the first node that fails decides
the code, and the others are stopped at once (SIGTERM, then SIGKILL after ``STOP_GRACE``),
as torchrun stops a job's other workers. Its ``JobRef`` joins the nodes' refs with ``+``
(``join_refs`` / ``split_ref``), so a later agent finds every node again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from runyard._compute.base import ComputeBackend, JobHandle, JobSpec
from runyard._entities import JobRef

STOP_GRACE = 5.0  # s between SIGTERM and SIGKILL of the nodes left when one failed
_SEP = "+"


def join_refs(refs: Sequence[JobRef]) -> JobRef:
    instances = [r.instance or "" for r in refs]
    return JobRef(
        backend=refs[0].backend,
        job_id=_SEP.join(r.job_id for r in refs),
        instance=_SEP.join(instances) if any(instances) else None,
    )


def split_ref(ref: JobRef) -> list[JobRef] | None:
    """The nodes' refs of a gang's ref; None for a one-node job."""
    if _SEP not in ref.job_id:
        return None
    ids = ref.job_id.split(_SEP)
    instances = (ref.instance or "").split(_SEP) if ref.instance else [""] * len(ids)
    return [
        JobRef(backend=ref.backend, job_id=job_id, instance=instance or None)
        for job_id, instance in zip(ids, instances, strict=True)
    ]


def launch_gang(backend: ComputeBackend, jobs: Sequence[JobSpec]) -> GangHandle:
    """Starts a distributed run's nodes (``jobs[k]``: node k; the first one first, as it
    serves the others) through the backend's ``launch``; a node that cannot start stops
    those already started.

    Raises:
        OSError: a node's job could not be started.
    """
    handles: list[JobHandle] = []
    try:
        for job in jobs:
            handles.append(backend.launch(job))
    except OSError:
        for handle in handles:
            handle.cancel(force=True)
        raise
    return GangHandle(handles)


class GangHandle(JobHandle):
    """Node handles supervised together; ``failed_node`` is the node whose code decided."""

    def __init__(self, handles: Sequence[JobHandle]) -> None:
        self.handles = list(handles)
        self._codes: list[int | None] = [None] * len(self.handles)
        self._ref = join_refs([h.ref for h in self.handles])
        self.failed_node: int | None = None
        self._stopping_since: float | None = None

    @property
    def ref(self) -> JobRef:
        return self._ref

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while True:
            for i, handle in enumerate(self.handles):
                if self._codes[i] is None:
                    self._codes[i] = handle.wait(0)
                    if self._codes[i] and self.failed_node is None:
                        self.failed_node = i
                        self._stop_others()
            if all(c is not None for c in self._codes):
                return self._code()
            pairs = zip(self._codes, self.handles, strict=True)
            if all(c is not None or not h.running() for c, h in pairs):
                return self._code() if self.failed_node is not None else None
            stopping = self._stopping_since
            if stopping is not None and time.monotonic() - stopping > STOP_GRACE:
                for i, handle in enumerate(self.handles):
                    if self._codes[i] is None:
                        handle.cancel(force=True)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            pending = next(i for i, c in enumerate(self._codes) if c is None)
            # Waiting on one node at a time, in short slices: a failure elsewhere is seen
            # within 50 ms; a local node's wait returns at once when it ends.
            code = self.handles[pending].wait(min(left, 0.05))
            if code is not None:
                self._codes[pending] = code
                if code and self.failed_node is None:
                    self.failed_node = pending
                    self._stop_others()

    def _code(self) -> int:
        if self.failed_node is not None:
            return self._codes[self.failed_node] or 0
        return next((c for c in self._codes if c), 0)

    def _stop_others(self) -> None:
        self._stopping_since = time.monotonic()
        for i, handle in enumerate(self.handles):
            if self._codes[i] is None:
                handle.cancel()

    def running(self) -> bool:
        return any(h.running() for h in self.handles)

    def cancel(self, *, force: bool = False) -> None:
        for handle in self.handles:
            handle.cancel(force=force)

    def sync(self) -> None:
        for handle in self.handles:
            handle.sync()

    def placement(self) -> list[dict[str, Any]]:
        return [item for handle in self.handles for item in handle.placement()]

    def lost_node(self) -> str | None:
        """The first lost node's sentence: losing any node loses the run's world."""
        return next((lost for h in self.handles if (lost := h.lost_node())), None)
