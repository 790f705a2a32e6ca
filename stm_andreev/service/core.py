"""The service's loop: one thread advances the queue and follows the current run file.

HTTP handlers never wait on the run: they change the queue under the supervisor's lock or read
the monitor's snapshots. Stopping the service stops this loop only; the running plan goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict
from typing import Any

from .monitor import RunMonitor
from .supervisor import Supervisor

log = logging.getLogger(__name__)

#: How often the loop looks at the run (s): bounds the latency from a stored spectrum to a client.
POLL_S = 0.2
#: The status text the event streams compare is rebuilt at most this often (s), however many
#: clients follow: each stream looks every 0.1 s.
STATUS_TEXT_S = 0.1


class StationService:
    def __init__(self, supervisor: Supervisor, monitor: RunMonitor | None = None,
                 *, poll_s: float = POLL_S) -> None:
        self.supervisor = supervisor
        self.monitor = monitor or RunMonitor()
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loop_error = ""
        self._status_text: tuple[float, int, str] | None = None  # (when, version, JSON)

    def start(self) -> None:
        self.supervisor.acquire()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="station-service", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.monitor.close()
        self.supervisor.release()

    def tick(self) -> None:
        """One pass: advance the queue, follow the newest run file, read what is new."""
        self.supervisor.step()
        item = self.supervisor.item
        if item is not None and item.run_path and str(self.monitor.path) != item.run_path:
            self.monitor.follow(item.run_path)  # the last run stays shown until the next one
        self.monitor.poll()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
                self.loop_error = ""
            except Exception as exc:  # keep serving; the error is in the log and the status
                log.exception("service loop")
                self.loop_error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.poll_s)

    # ------------------------------------------------------------------ views
    def queue_view(self) -> list[dict[str, Any]]:
        with self.supervisor.lock:
            return [asdict(i) for i in self.supervisor.queue.items]

    def status_text(self) -> str:
        """:meth:`status` as compact JSON, shared by every stream: rebuilt when the run's
        news changed, else at most STATUS_TEXT_S old (queue changes)."""
        cached = self._status_text
        now = time.monotonic()
        version = self.monitor.version
        if cached is None or cached[1] != version or now - cached[0] >= STATUS_TEXT_S:
            cached = (now, version, json.dumps(self.status(), separators=(",", ":")))
            self._status_text = cached
        return cached[2]

    def status(self) -> dict[str, Any]:
        sup = self.supervisor
        with sup.lock:
            current = None if sup.item is None else {
                "id": sup.item.id, "plan_name": sup.item.plan_name,
                "run_file": sup.item.run_path, "pid": sup.item.pid}
            hold = sup.queue.hold
            counts: dict[str, int] = {}
            for item in sup.queue.items:
                counts[item.state] = counts.get(item.state, 0) + 1
        return {
            "current": current,
            "queue_hold": hold,
            "queue_counts": counts,
            "continue_on_failure": sup.continue_on_failure,
            "service_error": self.loop_error,
            "run": self.monitor.run,
        }
