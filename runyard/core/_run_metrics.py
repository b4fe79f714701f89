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
    json_point,
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

    def _log_json(self, method: str, name: str, value: Any, description: str) -> None:
        """Where v1's JSON metrics go; the job-side run overrides it to write the spool."""
        self._log_points([json_point(name, value, description or "", method)])

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        """Logs a confusion matrix (v1's ``azureml.v1.confusion_matrix`` JSON metric).

        Args:
            name: The metric's name.
            value: A dict, or a str holding a JSON object, such as ``{"schema_type":
                "confusion_matrix", "schema_version": "1.0.0", "data": {"class_labels":
                ["0", "1"], "matrix": [[3, 0], [1, 2]]}}``.
            description: An optional description.

        Raises:
            UserErrorException: The value is not a JSON object, or its schema_type is
                another kind (nothing stored).
        """
        self._log_json("log_confusion_matrix", name, value, description)

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        """Logs an accuracy table (v1's ``azureml.v1.accuracy_table`` JSON metric).

        Args:
            name: The metric's name.
            value: A dict, or a str holding a JSON object: ``schema_type``
                "accuracy_table", ``schema_version`` "1.0.1" and ``data`` with
                probability_tables, percentile_tables, probability_thresholds,
                percentile_thresholds and class_labels.
            description: An optional description.

        Raises:
            UserErrorException: The value is not a JSON object, or its schema_type is
                another kind (nothing stored).
        """
        self._log_json("log_accuracy_table", name, value, description)

    def log_residuals(self, name: str, value: Any, description: str = "") -> None:
        """Logs a histogram of residuals (v1's ``azureml.v1.residuals`` JSON metric).

        Args:
            name: The metric's name.
            value: A dict, or a str holding a JSON object, such as ``{"schema_type":
                "residuals", "schema_version": "1.0.0", "data": {"bin_edges": [50, 100,
                200], "bin_counts": [0.88, 20]}}``.
            description: An optional description.

        Raises:
            UserErrorException: The value is not a JSON object, or its schema_type is
                another kind (nothing stored).
        """
        self._log_json("log_residuals", name, value, description)

    def log_predictions(self, name: str, value: Any, description: str = "") -> None:
        """Logs binned predictions (v1's ``azureml.v1.predictions`` JSON metric).

        Args:
            name: The metric's name.
            value: A dict, or a str holding a JSON object, such as ``{"schema_type":
                "predictions", "schema_version": "1.0.0", "data": {"bin_averages":
                [0.25, 0.75], "bin_errors": [0.01, 0.04], "bin_counts": [56, 34],
                "bin_edges": [0.0, 0.5, 1.0]}}``.
            description: An optional description.

        Raises:
            UserErrorException: The value is not a JSON object, or its schema_type is
                another kind (nothing stored).
        """
        self._log_json("log_predictions", name, value, description)

    def flush(self, timeout_seconds: int = 300) -> None:
        """Returns at once: every logged value is already durable (v1 waits for its
        upload queue here).

        Args:
            timeout_seconds: Accepted for v1 compatibility; nothing is waited for.
        """

    def get_metrics(
        self,
        name: str | None = None,
        recursive: bool = False,
        run_type: str | None = None,
        populate: bool = False,
    ) -> dict[str, Any]:
        """Metrics in v1's shapes: a scalar when logged once, a list when logged many times,
        {col: [..]} for tables ({col: value} for one row), images as aml:// locations,
        JSON metrics (log_confusion_matrix ...) as the logged dict.
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
