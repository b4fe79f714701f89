"""Moving a job's metric spool into the store (its ./logs and ./outputs: job_uploads)."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runyard._entities import MetricKind, MetricPoint
from runyard._metric_values import JSON_KINDS
from runyard._services import Services
from runyard._services.driver_log import append_driver_log
from runyard._spool import IMAGE, LIST, SCALAR, TABLE, read_records
from runyard.exceptions import MetricTypeConflict, RunyardError

log = logging.getLogger(__name__)

_KINDS = {SCALAR: MetricKind.SCALAR, LIST: MetricKind.LIST, TABLE: MetricKind.TABLE}


# ---- spool ingest ----------------------------------------------------------------------


def _points(record: Mapping[str, Any]) -> list[MetricPoint]:
    name, kind, value, t = record["n"], record["k"], record["v"], record["t"]
    desc = record.get("d", "")
    if kind == SCALAR:
        return [MetricPoint(name, MetricKind.SCALAR, value, t, record.get("s"), desc)]
    if kind == IMAGE:
        return [MetricPoint(name, MetricKind.IMAGE, value, t, None, desc)]
    if kind in JSON_KINDS:  # log_confusion_matrix & co: one JSON object
        return [MetricPoint(name, MetricKind(kind), value, t, None, desc)]
    if kind == TABLE and isinstance(value, list):  # log_table: a list of rows
        return [MetricPoint(name, MetricKind.TABLE, row, t, None, desc) for row in value]
    if kind == TABLE:
        return [MetricPoint(name, MetricKind.TABLE, value, t, None, desc)]
    return [MetricPoint(name, _KINDS[kind], v, t, None, desc) for v in value]


class _GcPause:
    """No garbage collection while a batch's records become points: every full collection
    would rescan the ~300k fresh dicts and points (ingest ~1.5x slower). A batch makes no
    cycles. Counted, so that the agent's supervisor threads can pause it together."""

    def __init__(self) -> None:
        self._lock, self._count, self._resume = threading.Lock(), 0, False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._count == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                if self._count == 0 and self._resume:
                    gc.enable()


_gc_paused = _GcPause()


class SpoolIngester:
    """Moves complete spool records into the store, remembering the ingested offset."""

    def __init__(
        self,
        services: Services,
        run_id: str,
        path: Path,
        *,
        offset: int | None = None,
        spool: str | None = None,
    ) -> None:
        """``offset``: where ingesting starts when the caller knows it (a new spool: 0).
        ``spool``: the name its offset is kept under, for a run's other spools (a
        distributed run's ranks after the first); None: the run's own spool."""
        self.services, self.run_id, self.path, self.spool = services, run_id, path, spool
        if offset is None:
            offset = services.store.get_spool_offset(run_id, spool)
        self.offset = offset

    def ingest(self) -> None:
        while True:
            with _gc_paused():
                records, end = read_records(self.path, self.offset)
                if end == self.offset:
                    return
                self._apply(records, end)
                del records
            self.offset = end

    def _apply(self, records: list[dict[str, Any]], end: int) -> None:
        store, points = self.services.store, list[MetricPoint]()
        append, scalar = points.append, MetricKind.SCALAR
        # MetricPoint's own __new__ is a Python function around this: 1.5x slower.
        new = tuple.__new__
        for record in records:
            kind = record.get("k")
            if kind == SCALAR:  # nearly every record: no call to _points
                append(
                    new(
                        MetricPoint,
                        (record["n"], scalar, record["v"], record["t"], record.get("s"),
                         record.get("d", "")),
                    )
                )  # fmt: skip
            elif kind is not None:
                points.extend(_points(record))
            elif "tags" in record:
                store.set_tags(self.run_id, record["tags"])
            elif "props" in record:
                try:
                    store.add_properties(self.run_id, record["props"])
                except RunyardError as exc:  # e.g. an immutable property set twice
                    log.warning("run %s: property record refused: %s", self.run_id, exc)
        try:
            store.log_metrics(self.run_id, points, spool_offset=end, spool=self.spool)
        except MetricTypeConflict:
            self._apply_fitting(points, end)

    def _apply_fitting(self, points: list[MetricPoint], end: int) -> None:
        """Another writer (a second process of the job) fixed a kind first: keeps what
        fits, and says in the driver log (where the user looks) what was refused."""
        store, refused = self.services.store, dict[str, str]()
        by_name: dict[str, list[MetricPoint]] = {}
        for point in points:
            by_name.setdefault(point.name, []).append(point)
        for name, batch in by_name.items():
            try:
                store.log_metrics(self.run_id, batch)
            except MetricTypeConflict:
                for point in batch:  # one name may carry two kinds in one batch
                    try:
                        store.log_metrics(self.run_id, [point])
                    except MetricTypeConflict as exc:
                        refused.setdefault(name, str(exc))
        store.log_metrics(self.run_id, [], spool_offset=end, spool=self.spool)
        if refused:
            self._report(refused)

    def _report(self, refused: Mapping[str, str]) -> None:
        for message in refused.values():
            log.warning("run %s: %s", self.run_id, message)
        append_driver_log(
            self.services,
            self.run_id,
            *(f"Runyard: values of metric {n!r} were not kept: {m}" for n, m in refused.items()),
        )
