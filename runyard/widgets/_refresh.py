"""When the widget reads its run again: v1's cadence, in a background thread.

v1 starts at 5 s between reads (20 s for a sweep) and moves linearly to 60 s over the first
hour; ``AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME`` (seconds) replaces the whole schedule.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from runyard.exceptions import UserErrorException

logger = logging.getLogger(__name__)

REFRESH_TIME_OVERRIDE = "AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME"
STARTING_SECONDS = 5.0
SWEEP_STARTING_SECONDS = 20.0
MAXIMUM_SECONDS = 60.0
_BACK_OFF_SECONDS = 3600.0
# v1 gives up after three failures in a row; here they must also span a while, so that a
# short outage (a busy store, a run's files being moved) never ends a fast refresh.
_FAILURES_BEFORE_GIVING_UP = 3
_FAILING_SECONDS_BEFORE_GIVING_UP = 30.0


def override_seconds() -> float | None:
    """The refresh interval the environment sets, if any.

    Raises:
        UserErrorException: The variable is not a number of seconds above 0.
    """
    # Read where the widget is shown (not in _config.Settings): it is v1's variable for the
    # notebook's process, and a user changes it with %env between two show() calls.
    raw = os.environ.get(REFRESH_TIME_OVERRIDE)
    if raw is None or not raw.strip():
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise UserErrorException(
            f"{REFRESH_TIME_OVERRIDE}={raw!r} is not a number of seconds above 0; set it to "
            f"e.g. 10, or unset it for v1's schedule ({STARTING_SECONDS:g} s growing to "
            f"{MAXIMUM_SECONDS:g} s)."
        )
    return seconds


def interval(elapsed: float, *, sweep: bool, override: float | None) -> float:
    """Seconds until the next read, ``elapsed`` seconds after the widget was shown."""
    if override is not None:
        return override
    start = SWEEP_STARTING_SECONDS if sweep else STARTING_SECONDS
    alpha = min(1.0, elapsed / _BACK_OFF_SECONDS)
    return (1 - alpha) * start + alpha * MAXIMUM_SECONDS


class Refresher(threading.Thread):
    """Calls ``update()`` on the schedule until it returns True (the run ended, or the
    widget was closed), ``stop()`` is called, or it kept failing (three times in a row,
    over 30 s at least)."""

    def __init__(
        self,
        name: str,
        update: Callable[[], bool],
        on_error: Callable[[BaseException, bool], None],
        *,
        sweep: bool,
        override: float | None,
    ) -> None:
        # daemon: a kernel shutting down must not wait for a run that may last for days
        super().__init__(name=name, daemon=True)
        self._update, self._on_error = update, on_error
        self._sweep, self._override = sweep, override
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        shown = time.monotonic()
        failures, failing_since = 0, 0.0
        while not self._stopped.wait(
            interval(time.monotonic() - shown, sweep=self._sweep, override=self._override)
        ):
            try:
                if self._update():
                    return
                failures = 0
            # Any error ends up here on purpose: this thread has no caller to raise to, so
            # the widget shows it (v1 does the same) and tries again.
            except Exception as exc:
                now = time.monotonic()
                failures, failing_since = failures + 1, failing_since if failures else now
                giving_up = (
                    failures >= _FAILURES_BEFORE_GIVING_UP
                    and now - failing_since >= _FAILING_SECONDS_BEFORE_GIVING_UP
                )
                logger.warning("RunDetails refresh failed (%d): %s", failures, exc, exc_info=True)
                self._on_error(exc, giving_up)
                if giving_up:
                    return
