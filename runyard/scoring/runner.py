"""The one thread that runs the user's code: the script's import and ``init()``, then each
``run()``, one at a time as in v1's sync workers. The event loop stays free meanwhile, so
``GET /`` answers while a long ``run()`` works, and a ``run()`` past its time is stopped."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class RunStopped(BaseException):
    """Raised inside a ``run()`` that went past its time (v1 raises its timeout there too).

    A BaseException, so that a script's ``except Exception`` does not swallow it."""


class RunTimedOut(Exception):
    """The caller's side of a call that went past its time."""


def _checkpoint() -> None:
    """A Python-level call: a pending RunStopped is raised at its latest here."""


class _Call:
    __slots__ = ("fn", "args", "future", "loop", "lock", "thread", "dropped")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.future: asyncio.Future[Any] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock = threading.Lock()
        self.thread: int | None = None  # the thread running it, while it runs
        self.dropped = False  # its caller has stopped waiting

    def execute(self) -> None:
        with self.lock:
            if self.dropped:
                return
            self.thread = threading.get_ident()
        ok, value = True, None
        try:
            try:
                value = self.fn(*self.args)
            except RunStopped:
                raise
            except BaseException as exc:  # the caller reports it; the thread goes on
                ok, value = False, exc
            finally:
                with self.lock:
                    self.thread = None
                _checkpoint()
        except RunStopped:
            return
        if self.loop is not None:
            # RuntimeError: the event loop has closed, the worker is stopping
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._resolve, ok, value)

    def _resolve(self, ok: bool, value: Any) -> None:
        assert self.future is not None
        if self.future.done():
            return
        if ok:
            self.future.set_result(value)
        else:
            self.future.set_exception(value)

    def drop(self, timeout_ms: int) -> None:
        """Stops waiting for it; if it is running, stops it at its next Python line."""
        with self.lock:
            self.dropped = True
            thread = self.thread
            if thread is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread), ctypes.py_object(RunStopped)
                )
        assert self.future is not None
        if not self.future.done():
            self.future.set_exception(RunTimedOut(timeout_ms))


class ScriptThread:
    """Runs the calls given to it in order, on one daemon thread."""

    def __init__(self, name: str = "runyard-scoring-script") -> None:
        self._queue: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            # a stop that came just as its call was letting go
            with contextlib.suppress(RunStopped):
                self._queue.get().execute()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Runs ``fn(*args)`` after the calls before it, not waiting for it (its exceptions
        are ``fn``'s to handle)."""
        self._queue.put(_Call(fn, args))

    async def call(self, timeout_ms: int, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the thread, after the calls before it.

        Raises:
            RunTimedOut: not done ``timeout_ms`` after the call was made (waiting included);
                a call still waiting is skipped, a running one is stopped.
        """
        loop = asyncio.get_running_loop()
        call = _Call(fn, args)
        call.loop, call.future = loop, loop.create_future()
        timer = loop.call_later(timeout_ms / 1000, call.drop, timeout_ms)
        self._queue.put(call)
        try:
            return await call.future
        finally:
            timer.cancel()
