"""Stop a blocking controller command from a watcher thread when the operator aborts.

A controller-run sweep is one request that answers only when the sweep ends (a minute or
more on hardware), and the thread that sent it sees nothing of the run's control until then.
:class:`StopOnAbort` looks at the abort request from a second thread and, once it is set,
sends the stop on another link; the blocked call then returns early with what was measured.
Pause requests are left alone: a pause takes effect at the next check point, as everywhere.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

# Wall time between two looks at the abort request: a human is on the other side, and a look
# is a flag read plus, with a control file, one small read.
WATCH_POLL_S = 0.05
# How long leaving the block waits for a stop still under way (its link has its own timeout).
JOIN_TIMEOUT_S = 2.0


class StopOnAbort:
    """Context manager: while its block runs, call ``stop()`` once ``abort_requested()`` is
    true, and again every ``poll_s`` until the block ends (a stop that reaches the controller
    before the sweep has started is ignored by it, so one is not enough).

    :attr:`fired` tells the block's caller afterwards whether a stop was sent. Failures of
    either callable are logged, never raised: the watcher must not take the run down.
    """

    def __init__(
        self,
        abort_requested: Callable[[], bool],
        stop: Callable[[], None],
        *,
        poll_s: float = WATCH_POLL_S,
    ) -> None:
        self._abort_requested = abort_requested
        self._stop = stop
        self.poll_s = poll_s
        self._fired = threading.Event()
        self._done = threading.Event()
        self._stop_failed = False
        self._thread = threading.Thread(target=self._watch, name="stop-on-abort", daemon=True)

    @property
    def fired(self) -> bool:
        return self._fired.is_set()

    def __enter__(self) -> StopOnAbort:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("the sweep stop was still being sent after %g s", JOIN_TIMEOUT_S)

    def _watch(self) -> None:
        while not self._done.is_set():
            if self.fired or self._abort_seen():
                # Set before the stop goes out, so a short sweep is always explained.
                self._fired.set()
                self._send_stop()
            if self._done.wait(self.poll_s):
                return

    def _abort_seen(self) -> bool:
        try:
            return bool(self._abort_requested())
        except Exception:  # noqa: BLE001 - e.g. an unreadable control file: look again later
            log.exception("could not read the abort request")
            return False

    def _send_stop(self) -> None:
        try:
            self._stop()
        except Exception as exc:  # noqa: BLE001 - the sweep then ends by itself
            level = logging.DEBUG if self._stop_failed else logging.WARNING
            log.log(level, "could not stop the controller's sweep: %s", exc)
            self._stop_failed = True
