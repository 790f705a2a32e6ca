"""The run queue: plans waiting to run, the one running and those done, kept in a JSON file.

The file survives a GUI or service restart (and a crash: it is rewritten atomically after every
change), so a reopened GUI or a restarted ``stm-andreev serve`` finds its queue and reattaches
to the run that is still going. Qt-free: the GUI and the station service both use it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_QUEUE_PATH = Path.home() / ".stm-andreev" / "queue.json"
QUEUE_FORMAT = 1
#: Item states. "running" means a run process was started for it (it may have ended since).
STATES = ("queued", "running", "finished", "aborted", "failed")


def queue_lock_path(queue_path: str | os.PathLike[str]) -> Path:
    """The lock a station service holds on its queue file while it runs."""
    return Path(f"{queue_path}.lock")


def queue_owned(queue_path: str | os.PathLike[str]) -> bool:
    """Whether a station service holds the queue at ``queue_path`` now (the GUI asks this
    before it starts a plan or writes the queue itself)."""
    import fcntl

    lock_path = queue_lock_path(queue_path)
    if not lock_path.exists():
        return False
    fd = os.open(lock_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class QueueFileError(Exception):
    """The queue file cannot be read or written (message names the file and why)."""


@dataclass
class QueueItem:
    """One queued run: the plan YAML to run, the station, where its run file goes."""

    plan_name: str
    plan_text: str
    station: str
    out_dir: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = "queued"
    run_path: str = ""
    message: str = ""
    #: Process id of the ``stm-andreev run`` started for it (0: none yet, or started by a GUI
    #: before pids were kept): how a restarted service tells a live run from a dead one.
    pid: int = 0

    def plan_file(self) -> Path:
        """Where the plan YAML is written for the run process (inside ``out_dir``)."""
        return Path(self.out_dir) / f"{self.plan_name}.plan.yaml"


class RunQueue:
    """An ordered list of :class:`QueueItem` persisted to ``path`` (JSON) on every change."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_QUEUE_PATH) -> None:
        self.path = Path(path)
        self.items: list[QueueItem] = []
        #: Why the queue does not advance ("" = it does): a failed plan with continue-on-failure
        #: off, or stop-after-current. Persisted, so a restart does not start the next plan.
        self.hold = ""
        self._loaded_text: str | None = None  # the file's text as last loaded
        if self.path.exists():
            self.load()

    def reload(self) -> bool:
        """Load the file if its text changed since this queue last loaded it; whether it did.

        A GUI following a service's queue polls it twice a second: the file is read (a few
        kB) but parsed only when it changed. The items in memory are taken to be what was
        last loaded or saved (a follower never edits them)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise QueueFileError(f"queue file {self.path} is unreadable: {exc}") from exc
        if text == self._loaded_text:
            return False
        self.load(text)
        return True

    def load(self, text: str | None = None) -> None:
        try:
            if text is None:
                text = self.path.read_text(encoding="utf-8")
            data = json.loads(text)
            if data.get("format") != QUEUE_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {QUEUE_FORMAT}")
            items = [QueueItem(**item) for item in data["items"]]
            self.hold = str(data.get("hold", ""))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise QueueFileError(f"queue file {self.path} is unreadable: {exc}") from exc
        for item in items:
            if item.state not in STATES:
                raise QueueFileError(f"queue file {self.path}: item {item.id} has unknown state "
                                     f"{item.state!r}")
        # An item already in memory is updated in place, so whoever holds it (the GUI's
        # current item, a supervisor's running item) sees the file's new state.
        known = {i.id: i for i in self.items}
        for k, item in enumerate(items):
            kept = known.get(item.id)
            if kept is not None:
                for f in fields(QueueItem):
                    setattr(kept, f.name, getattr(item, f.name))
                items[k] = kept
        self.items = items
        self._loaded_text = text

    def save(self) -> None:
        data = {"format": QUEUE_FORMAT, "items": [asdict(i) for i in self.items],
                "hold": self.hold}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".queue-", suffix=".json")
            text = json.dumps(data, indent=2)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new queue
            self._loaded_text = text
        except OSError as exc:
            raise QueueFileError(f"cannot write queue file {self.path}: {exc}") from exc

    # ------------------------------------------------------------------ edits
    def add(self, item: QueueItem) -> QueueItem:
        self.items.append(item)
        self.save()
        return item

    def remove(self, item_id: str) -> None:
        item = self.get(item_id)
        if item.state == "running":
            raise ValueError(f"queue item {item_id} is running; abort it first")
        self.items.remove(item)
        self.save()

    def get(self, item_id: str) -> QueueItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"no queue item {item_id!r}")

    def update(self, item: QueueItem, **changes: str | int) -> None:
        for key, value in changes.items():
            if key == "state" and value not in STATES:
                raise ValueError(f"unknown queue state {value!r}")
            setattr(item, key, value)
        self.save()

    def move(self, item_id: str, index: int) -> None:
        """Put a queued item at position ``index`` of the list (clamped to its ends)."""
        item = self.get(item_id)
        if item.state != "queued":
            raise ValueError(f"queue item {item_id} is {item.state}; only queued items move")
        self.items.remove(item)
        self.items.insert(max(0, min(index, len(self.items))), item)
        self.save()

    def edit(self, item_id: str, **changes: str) -> QueueItem:
        """Change a queued item's ``plan_name``/``plan_text``/``station`` before it starts."""
        item = self.get(item_id)
        if item.state != "queued":
            raise ValueError(f"queue item {item_id} is {item.state}; only queued items can be "
                             "edited")
        unknown = set(changes) - {"plan_name", "plan_text", "station"}
        if unknown:
            raise ValueError(f"cannot edit {', '.join(sorted(unknown))} of a queue item")
        for key, value in changes.items():
            setattr(item, key, value)
        self.save()
        return item

    def set_hold(self, reason: str) -> None:
        self.hold = reason
        self.save()

    def next_queued(self) -> QueueItem | None:
        return next((i for i in self.items if i.state == "queued"), None)

    def running(self) -> QueueItem | None:
        return next((i for i in self.items if i.state == "running"), None)
