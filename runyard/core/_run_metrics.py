"""The metrics side of a Run: log, log_list, log_row, log_table, log_image, get_metrics.

A mixin of ``runyard.core.run.Run`` (which supplies ``_services``, ``_run_id`` and
``upload_file``); the job side's run overrides the log methods to write its spool.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runyard._entities import MetricKind, MetricPoint
from runyard._metric_values import check_metric_name
from runyard.core._metric_points import (
    image_artifact,
    list_points,
    row_point,
    scalar_point,
    table_points,
)

if TYPE_CHECKING:
    from runyard._services import Services

# Job side: a job's Run.get_context() imports this module, so what it imports is paid at
# every job's start. The services (and the SDK modules that only some methods need) are
# imported inside the methods that use them ("late: job side"); tests/core/test_imports.py
# holds a job's start to what logging needs.


class _RunMetrics:
    _run_id: str

    if TYPE_CHECKING:  # supplied by Run

        @property
        def _services(self) -> Services: ...

        def upload_file(
            self, name: str, path_or_stream: Any, datastore_name: Any = None
        ) -> None: ...

    def _log_points(self, points: Sequence[MetricPoint]) -> None:
        """Where checked points go; the job-side run overrides it to write the spool."""
        # late: job side (see the note at the top of this module)
        from runyard._services import metrics

        metrics.log_metrics(self._services, self._run_id, points)

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Logs one value; repeated calls append.

        Raises:
            UserErrorException: The value is not a number, str or bool (nothing stored).
        """
        self._log_points([scalar_point(name, value, description, step)])

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        """Logs a list of values under one name."""
        self._log_points(list_points(name, value, description))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Logs one table row; the keyword arguments are its columns."""
        self._log_points([row_point(name, kwargs, description or "", "log_row")])

    def log_table(self, name: str, value: Mapping[str, Any], description: str = "") -> None:
        """Logs a table given as {column: [values]}."""
        self._log_points(table_points(name, value, description))

    def log_image(
        self, name: str, path: Any = None, plot: Any = None, description: str = ""
    ) -> None:
        """Logs an image: a png file (``path``) or a matplotlib figure (``plot``)."""
        check_metric_name(name)
        artifact, data = image_artifact(name, path, plot)
        self.upload_file(artifact, io.BytesIO(data))
        self._log_points(
            [MetricPoint(name, MetricKind.IMAGE, artifact, time.time(), None, description)]
        )

    def get_metrics(
        self,
        name: str | None = None,
        recursive: bool = False,
        run_type: str | None = None,
        populate: bool = False,
    ) -> dict[str, Any]:
        """Metrics in v1's shapes: a scalar when logged once, a list when logged many times,
        {col: [..]} for tables ({col: value} for one row), images as aml:// locations.
        ``recursive`` gives {run_id: {...}} for this run and its descendants."""
        # late: job side (see the note at the top of this module)
        from runyard._services import metrics

        return metrics.get_metrics(
            self._services,
            self._run_id,
            name=name,
            recursive=recursive,
            run_type=run_type,
            populate=populate,
        )
