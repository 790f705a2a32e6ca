"""Fits off the GUI thread: a pipeline fit takes seconds, the window must not freeze.

One fit at a time (a second request supersedes the first: its answer is dropped when it
arrives); the answer comes back on the GUI thread as ``done(token, result, error)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt5 import QtCore

#: Longest wait for a fit in flight when a view closes (ms).
STOP_WAIT_MS = 30_000


class _Signals(QtCore.QObject):
    done = QtCore.pyqtSignal(int, object, str)


class _Task(QtCore.QRunnable):
    def __init__(self, work: Callable[[], Any], token: int) -> None:
        super().__init__()
        self.work, self.token = work, token
        self.signals = _Signals()

    def run(self) -> None:
        try:
            result = self.work()
        except Exception as exc:  # shown by the view, never lost in the thread
            self.signals.done.emit(self.token, None, f"{type(exc).__name__}: {exc}")
        else:
            self.signals.done.emit(self.token, result, "")


class FitRunner(QtCore.QObject):
    """Runs ``work()`` in a worker thread; :attr:`finished` gets (result or None, error text)
    for the latest request only."""

    finished = QtCore.pyqtSignal(object, str)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._token = 0
        self._task: _Task | None = None

    def submit(self, work: Callable[[], Any]) -> None:
        self._token += 1
        task = _Task(work, self._token)
        task.signals.done.connect(self._done)
        self._task = task  # its signals object must outlive the worker's emit
        self._pool.start(task)

    def cancel(self) -> None:
        """Drop the answer of the fit in flight (it still runs to its end)."""
        self._token += 1

    def stop(self) -> None:
        self.cancel()
        self._pool.waitForDone(STOP_WAIT_MS)

    def _done(self, token: int, result, error: str) -> None:
        if token == self._token:
            self.finished.emit(result, error)
