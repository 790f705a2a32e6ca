"""The runner supervisor: starts queued plans one after another as ``stm-andreev run`` processes.

One supervisor per queue file (an exclusive lock beside it): two services can never start two
plans on one station. A plan runs in its own session, so the service dying never stops it; a
restarted service finds the item still marked "running", checks its pid (and the run file's
writer lock) and follows it to its end before starting the next plan. No item is ever started
twice: an item leaves "queued" (and is saved) before its process starts.

A plan that fails or is aborted holds the queue ("continue on failure" is off by default) until
the operator skips or retries it; "stop after current" holds it once the running plan ends.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

from stm_andreev.config import load_plan_text, load_station
from stm_andreev.engine import send_command
from stm_andreev.engine.control import COMMANDS
from stm_andreev.gui.runfile import FINAL_STATUSES, writer_alive
from stm_andreev.procedures.checks import require_plan_fits_station
from stm_andreev.storage import RunReader, StorageError
from stm_andreev.storage.cooldown_file import cooldown_status

from .launcher import LaunchError, RunHandle, RunLauncher
from .queue_store import QueueItem, RunQueue, queue_lock_path

log = logging.getLogger(__name__)

HOLD_STOP = "stopped after the current plan (resume the queue to go on)"
#: Appended to HOLD_STOP while the current plan still runs.
PENDING = " [after the running plan]"


class StationBusyError(Exception):
    """Another service already owns this queue (and so the station)."""


class QueueRequestError(Exception):
    """A queue or run-control request that cannot be done now (message says why)."""


def run_status(path: str) -> str:
    """The status stored in a run file or cooldown log ("" when unreadable)."""
    try:
        with RunReader(path) as reader:
            return reader.status
    except (StorageError, OSError, KeyError) as exc:
        log.debug("%s has no run status: %s", path, exc)
    return cooldown_status(path)


def failure_message(log_tail: str) -> str:
    """What a failed run said last: its ``error:`` message with the lines that follow it
    (the problems it names), else its last line."""
    lines = [line.strip() for line in log_tail.strip().splitlines() if line.strip()]
    if not lines:
        return "run process ended without a final status"
    starts = [k for k, line in enumerate(lines) if line.lower().startswith("error")]
    return " ".join(lines[starts[-1]:]) if starts else lines[-1]


class Supervisor:
    """Owns the queue and the station's one running plan.

    :param queue: the persistent queue.
    :param launcher: starts runs and re-attaches to them.
    :param station: station file or name for plans added without one.
    :param runs_dir: each queued plan gets its own folder below it.
    :param continue_on_failure: start the next plan after a failed or aborted one.
    """

    def __init__(
        self,
        queue: RunQueue,
        launcher: RunLauncher,
        *,
        station: str = "simulated",
        runs_dir: str | os.PathLike[str] = "runs",
        continue_on_failure: bool = False,
    ) -> None:
        self.queue = queue
        self.launcher = launcher
        self.station = station
        self.runs_dir = Path(runs_dir).resolve()
        self.continue_on_failure = continue_on_failure
        self.lock = threading.RLock()
        self.item: QueueItem | None = None
        self.handle: RunHandle | None = None
        self._lock_fd: int | None = None

    # ------------------------------------------------------------------ ownership
    def acquire(self) -> None:
        """Take the queue's lock (held until :meth:`release` or process exit) and re-attach
        to a run an earlier service or GUI left going (a no-op while already held)."""
        if self._lock_fd is not None:
            return
        lock_path = queue_lock_path(self.queue.path)
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise StationBusyError(
                f"another stm-andreev serve (or a GUI running it alone) already owns the queue "
                f"{self.queue.path}") from exc
        self._lock_fd = fd
        with self.lock:
            if self.queue.path.exists():
                self.queue.load()  # what a GUI or an earlier service left
            running = self.queue.running()
            if running is not None:
                log.info("re-attaching to queue item %s (%s, pid %s)", running.id,
                         running.plan_name, running.pid)
                self.item, self.handle = running, self.launcher.attach(running)

    @property
    def owns(self) -> bool:
        """Whether this supervisor holds the queue's lock (and so may start plans)."""
        return self._lock_fd is not None

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ the loop's step
    def step(self) -> None:
        """Note the end of the running plan; start the next one if the queue may advance."""
        with self.lock:
            if self.item is not None:
                self._discover_run_file()
                if self._still_running():
                    return
                self._finish()
            if self.queue.hold:
                return
            item = self.queue.next_queued()
            if item is not None:
                self._start(item)

    def _still_running(self) -> bool:
        assert self.item is not None and self.handle is not None
        if self.handle.alive():
            return True
        # A dead pid with the writer lock still held cannot happen for our runs, but a run
        # file written by a process we could not identify (no pid kept) is followed to its end.
        return bool(self.item.run_path) and not self.handle.pid and writer_alive(
            self.item.run_path)

    def _discover_run_file(self) -> None:
        assert self.item is not None and self.handle is not None
        if not self.item.run_path:
            path = self.handle.run_file()
            if path is not None:
                self.queue.update(self.item, run_path=str(path))

    def _finish(self) -> None:
        item, handle = self.item, self.handle
        assert item is not None and handle is not None
        code = handle.returncode()
        status = run_status(item.run_path) if item.run_path else ""
        if status in FINAL_STATUSES:
            state = status
            message = f"exit code {code}" if code is not None else "ended"
        elif code == 0:
            state, message = "finished", "exit code 0"
        else:
            state = "failed"
            message = failure_message(handle.log_tail(800)) + (
                f"; resume with: stm-andreev run --resume {item.run_path}" if item.run_path
                else "")
        self.queue.update(item, state=state, message=message)
        log.info("queue item %s (%s) ended: %s (%s)", item.id, item.plan_name, state, message)
        self.item = self.handle = None
        if state != "finished" and not self.continue_on_failure:
            # Also replaces a pending stop: the failure is what the operator must see.
            self.queue.set_hold(f"{item.plan_name} ({item.id}) {state}: skip or retry it")
        elif self.queue.hold == HOLD_STOP + PENDING:
            self.queue.set_hold(HOLD_STOP)

    def _start(self, item: QueueItem) -> None:
        # Marked running and saved before the process exists: a crash between the two leaves
        # an item that is never started twice (it is then found dead and marked failed).
        self.queue.update(item, state="running", message="starting", pid=0)
        try:
            handle = self.launcher.start(item)
        except LaunchError as exc:
            self.queue.update(item, state="failed", message=str(exc))
            if not self.continue_on_failure:
                self.queue.set_hold(f"{item.plan_name} ({item.id}) failed to start: {exc}")
            return
        self.queue.update(item, message="started", pid=handle.pid)
        self.item, self.handle = item, handle
        log.info("started queue item %s (%s), pid %d", item.id, item.plan_name, handle.pid)

    # ------------------------------------------------------------------ requests
    def add(self, plan_text: str, station: str | None = None) -> QueueItem:
        """Queue a plan (YAML text), checked against the station's limits first."""
        station = station or self.station
        plan = self._checked_plan(plan_text, station)
        with self.lock:
            item = QueueItem(plan.name, plan_text, station, "")
            item.out_dir = str(self.runs_dir / f"{plan.name}-{item.id}")
            return self.queue.add(item)

    @staticmethod
    def _checked_plan(plan_text: str, station: str):
        # ConfigError (a ValueError) names the key or file that is wrong.
        plan = load_plan_text(plan_text, file="<request>")
        require_plan_fits_station(plan, load_station(station))
        return plan

    def remove(self, item_id: str) -> None:
        with self.lock:
            self._known(item_id)
            try:
                self.queue.remove(item_id)
            except ValueError as exc:
                raise QueueRequestError(str(exc)) from exc

    def move(self, item_id: str, index: int) -> None:
        with self.lock:
            self._known(item_id)
            try:
                self.queue.move(item_id, index)
            except ValueError as exc:
                raise QueueRequestError(str(exc)) from exc

    def edit(self, item_id: str, plan_text: str | None, station: str | None) -> QueueItem:
        with self.lock:
            item = self._known(item_id)
            if item.state != "queued":
                raise QueueRequestError(f"queue item {item_id} is {item.state}; only queued "
                                        "items can be edited")
            new_station = station or item.station
            plan = self._checked_plan(plan_text or item.plan_text, new_station)
            return self.queue.edit(item_id, plan_name=plan.name,
                                   plan_text=plan_text or item.plan_text, station=new_station)

    def stop_after_current(self) -> None:
        with self.lock:
            self.queue.set_hold(HOLD_STOP + (PENDING if self.item is not None else ""))

    def resume_queue(self) -> None:
        with self.lock:
            self.queue.set_hold("")

    def skip(self, item_id: str) -> None:
        """Leave a failed or aborted plan as it is and let the queue go on."""
        with self.lock:
            item = self._ended_badly(item_id)
            self.queue.update(item, message=f"{item.message}; skipped")
            self.queue.set_hold("")

    def retry(self, item_id: str) -> QueueItem:
        """Queue a fresh copy of a failed or aborted plan first in line (the failed item and
        its file stay on record) and let the queue go on."""
        with self.lock:
            item = self._ended_badly(item_id)
            copy = QueueItem(item.plan_name, item.plan_text, item.station, "")
            copy.out_dir = str(self.runs_dir / f"{item.plan_name}-{copy.id}")
            copy.message = f"retry of {item.id}"
            queued = [i for i in self.queue.items if i.state == "queued"]
            index = self.queue.items.index(queued[0]) if queued else len(self.queue.items)
            self.queue.items.insert(index, copy)
            self.queue.update(item, message=f"{item.message}; retried as {copy.id}")
            self.queue.set_hold("")
            return copy

    def control(self, command: str) -> str:
        """Send pause/resume/abort to the running plan through its control file."""
        if command not in COMMANDS:
            raise QueueRequestError(f"unknown run command {command!r}; expected one of "
                                    f"{', '.join(COMMANDS)}")
        with self.lock:
            if self.item is None or not self.item.run_path:
                raise QueueRequestError(f"no running plan with a run file to {command}")
            send_command(self.item.run_path, command)
            return self.item.run_path

    def _known(self, item_id: str) -> QueueItem:
        try:
            return self.queue.get(item_id)
        except KeyError as exc:
            raise LookupError(f"no queue item {item_id!r}") from exc

    def _ended_badly(self, item_id: str) -> QueueItem:
        item = self._known(item_id)
        if item.state not in ("failed", "aborted"):
            raise QueueRequestError(f"queue item {item_id} is {item.state}; only a failed or "
                                    "aborted plan can be skipped or retried")
        return item
