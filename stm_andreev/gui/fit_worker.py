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
        self.ran = False

    def run(self) -> None:
        try:
            result = self.work()
        except Exception as exc:  # shown by the view, never lost in the thread
            self.signals.done.emit(self.token, None, f"{type(exc).__name__}: {exc}")
        else:
            self.signals.done.emit(self.token, result, "")
        finally:
            self.ran = True


class FitRunner(QtCore.QObject):
    """Runs ``work()`` in a worker thread; :attr:`finished` gets (result or None, error text)
    for the latest request only."""

    finished = QtCore.pyqtSignal(object, str)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._token = 0
        # Every task stays referenced here until it has run. Python owns them (autoDelete
        # off): with Qt's autoDelete the pool deleted the C++ runnable after run() while its
        # Python wrapper lived on here, and dropping that wrapper later freed it a second
        # time, corrupting the heap (seen as a segfault painting a plot several tests later).
        self._tasks: list[_Task] = []

    def submit(self, work: Callable[[], Any]) -> None:
        self._token += 1
        task = _Task(work, self._token)
        task.setAutoDelete(False)
        task.signals.done.connect(self._done)
        # Finished tasks are dropped at the next request (long after their run() returned).
        self._tasks = [t for t in self._tasks if not t.ran] + [task]
        self._pool.start(task)

    def cancel(self) -> None:
        """Drop the answer of the fit in flight (it still runs to its end)."""
        self._token += 1

    def stop(self) -> None:
        self.cancel()
        if self._pool.waitForDone(STOP_WAIT_MS):
            self._tasks.clear()

    def _done(self, token: int, result, error: str) -> None:
        if token == self._token:
            self.finished.emit(result, error)
