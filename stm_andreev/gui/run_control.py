"""Run control: pick and edit a plan, queue runs, start/pause/resume/abort, progress, events.

Runs are separate ``stm-andreev run`` processes (see :mod:`stm_andreev.service.launcher`); this
widget starts them, reads their run files and writes to their control channels. It never runs
the engine itself. While a station service (``stm-andreev serve``) owns the queue file, the
widget is its client: queue edits and run commands go to the service, which alone starts plans
and writes the queue; the widget re-reads the queue file and follows the running plan. When no
service runs, it runs the queue itself as before.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

from PyQt5 import QtCore, QtWidgets

from stm_andreev.config import ConfigError
from stm_andreev.engine import send_command
from stm_andreev.service.client import ServiceClient, ServiceError
from stm_andreev.service.launcher import LaunchError, RunHandle, RunLauncher
from stm_andreev.service.queue_store import QueueFileError, QueueItem, RunQueue
from stm_andreev.storage.cooldown_file import cooldown_status

from . import theme
from .browse import COOLDOWN_FORMAT, file_format, is_cooldown_file
from .plan_form import StepForm, StepInputError
from .plans import EditableStep, load_editable, plan_names, plan_text_from_steps
from .runfile import FINAL_STATUSES, RunFollower, RunFollowError, format_duration, writer_alive

log = logging.getLogger(__name__)

FollowerFactory = Callable[[Path], RunFollower]
ServiceFinder = Callable[[Path], "ServiceClient | None"]
QUEUE_COLUMNS = ("plan", "state", "run file", "message")


class RunControlWidget(QtWidgets.QWidget):
    """Plan editor, run queue and the controls of the current run.

    :param queue: the persistent queue.
    :param launcher: starts runs (``start(item) -> RunHandle``, ``attach(item) -> RunHandle``).
    :param station: the station file or name runs use.
    :param runs_dir: each queued run gets its own folder below it.
    :param follower_factory: opens a :class:`~.runfile.RunFollower` on a run file.
    :param send: sends ``pause``/``resume``/``abort`` to a run (default
        :func:`stm_andreev.engine.send_command`).
    :param interval_ms: how often the run file is polled (ms).
    :param find_service: the station service owning the queue file, or None (default
        :meth:`ServiceClient.find`; asked at every action, so the GUI follows a service that
        starts or stops while it is open).

    Emits :attr:`run_file_changed` with the path of the run it now follows, or
    :attr:`cooldown_file_changed` when a started plan turned out to log a cooldown.
    """

    run_file_changed = QtCore.pyqtSignal(str)
    cooldown_file_changed = QtCore.pyqtSignal(str)

    def __init__(
        self,
        queue: RunQueue,
        launcher: RunLauncher,
        *,
        station: str = "simulated",
        runs_dir: str | os.PathLike[str] = "runs",
        follower_factory: FollowerFactory = RunFollower,
        send: Callable[[Path, str], None] = send_command,
        interval_ms: int = 500,
        find_service: ServiceFinder = ServiceClient.find,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.queue = queue
        self.find_service = find_service
        self.launcher = launcher
        self.runs_dir = Path(runs_dir).resolve()
        self.follower_factory = follower_factory
        self.send = send
        self.auto_continue = True
        self.handle: RunHandle | None = None
        self.item: QueueItem | None = None
        self.follower: RunFollower | None = None
        self._events_shown = 0
        self._plan = None
        self._steps: list[EditableStep] = []
        self.forms: list[StepForm] = []
        self._build(station)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.poll)
        self._refresh_queue_table()
        self._reattach_running()

    # ------------------------------------------------------------------ layout
    def _build(self, station: str) -> None:
        layout = QtWidgets.QHBoxLayout(self)
        left = QtWidgets.QVBoxLayout()
        top = QtWidgets.QFormLayout()
        self.station_edit = QtWidgets.QLineEdit(station)
        top.addRow("Station", self.station_edit)
        self.plan_combo = QtWidgets.QComboBox()
        self.plan_combo.addItems(plan_names())
        self.plan_combo.currentTextChanged.connect(self.load_plan)
        top.addRow("Plan", self.plan_combo)
        left.addLayout(top)
        self.plan_description = QtWidgets.QLabel("")
        self.plan_description.setWordWrap(True)
        left.addWidget(self.plan_description)
        self.steps_tabs = QtWidgets.QTabWidget()
        left.addWidget(self.steps_tabs, stretch=1)
        self.form_error = QtWidgets.QLabel("")
        self.form_error.setStyleSheet("color:#c62828;")
        self.form_error.setWordWrap(True)
        left.addWidget(self.form_error)
        self.add_button = QtWidgets.QPushButton("Add to queue")
        self.add_button.clicked.connect(self.add_to_queue)
        left.addWidget(self.add_button)
        layout.addLayout(left, stretch=2)

        right = QtWidgets.QVBoxLayout()
        self.banner = QtWidgets.QLabel("")
        self.banner.setWordWrap(True)
        self.banner.hide()
        right.addWidget(self.banner)
        self.queue_table = QtWidgets.QTableWidget(0, len(QUEUE_COLUMNS))
        self.queue_table.setHorizontalHeaderLabels(QUEUE_COLUMNS)
        self.queue_table.horizontalHeader().setStretchLastSection(True)
        self.queue_table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.queue_table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        right.addWidget(QtWidgets.QLabel("Queue"))
        right.addWidget(self.queue_table, stretch=1)
        buttons = QtWidgets.QHBoxLayout()
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        for name, slot in (
            ("Start", self.start_next),
            ("Pause", lambda: self.command("pause")),
            ("Resume", lambda: self.command("resume")),
            ("Abort", lambda: self.command("abort")),
            ("Remove", self.remove_selected),
        ):
            button = QtWidgets.QPushButton(name)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[name] = button
        right.addLayout(buttons)
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setFormat("%v / %m spectra")
        right.addWidget(self.progress_bar)
        self.progress_label = QtWidgets.QLabel("no run")
        right.addWidget(self.progress_label)
        right.addWidget(QtWidgets.QLabel("Event log"))
        self.event_log = QtWidgets.QPlainTextEdit()
        self.event_log.setReadOnly(True)
        self.event_log.setMaximumBlockCount(5000)
        right.addWidget(self.event_log, stretch=1)
        layout.addLayout(right, stretch=3)
        if self.plan_combo.count():
            default = "quick" if "quick" in plan_names() else self.plan_combo.itemText(0)
            self.plan_combo.setCurrentText(default)
            self.load_plan(default)

    # ------------------------------------------------------------------ plan editing
    def load_plan(self, name: str) -> None:
        """Show the form of plan ``name`` (one tab per step)."""
        self.steps_tabs.clear()
        self.forms = []
        self.form_error.setText("")
        try:
            self._plan, self._steps = load_editable(name)
        except ConfigError as exc:
            self._plan, self._steps = None, []
            self.form_error.setText(str(exc))
            return
        self.plan_description.setText(self._plan.description)
        for step in self._steps:
            title = f"{step.index + 1}. {getattr(step.step, 'label', None) or step.kind}"
            if not step.editable:
                page = QtWidgets.QLabel(f"{step.step.describe()}\n(no spectra: not editable here)")
                page.setWordWrap(True)
            else:
                form = StepForm(step.step)
                self.forms.append(form)
                page = QtWidgets.QScrollArea()
                page.setWidget(form)
                page.setWidgetResizable(True)
            self.steps_tabs.addTab(page, title)

    def edited_plan_text(self) -> str:
        """The plan with the form's values, validated (raises on a bad field)."""
        if self._plan is None:
            raise ValueError("no plan loaded")
        forms = iter(self.forms)
        for step in self._steps:
            if step.editable:
                step.edited = next(forms).values()
        return plan_text_from_steps(self._plan, self._steps)

    def add_to_queue(self) -> QueueItem | None:
        try:
            text = self.edited_plan_text()
        except (ConfigError, StepInputError, ValueError) as exc:
            self.form_error.setText(f"not queued: {exc}")
            return None
        self.form_error.setText("")
        station = self.station_edit.text().strip()
        if Path(station).exists():
            station = str(Path(station).resolve())
        service = self.find_service(self.queue.path)
        if service is not None:
            try:
                added = service.add(text, station)
            except ServiceError as exc:
                self.form_error.setText(f"not queued: {exc}")
                return None
            self._reload_queue()
            self.timer.start()  # follow what the service starts
            return self.queue.get(added["id"])
        item = QueueItem(self._plan.name, text, station, "")
        item.out_dir = str(self.runs_dir / f"{self._plan.name}-{item.id}")
        self.queue.add(item)
        self._refresh_queue_table()
        return item

    def remove_selected(self) -> None:
        rows = {i.row() for i in self.queue_table.selectedIndexes()}
        service = self.find_service(self.queue.path)
        for row in sorted(rows, reverse=True):
            try:
                if service is not None:
                    service.remove(self.queue.items[row].id)
                else:
                    self.queue.remove(self.queue.items[row].id)
            except (ValueError, IndexError, ServiceError) as exc:
                self.form_error.setText(str(exc))
        if service is not None:
            self._reload_queue()
        self._refresh_queue_table()

    # ------------------------------------------------------------------ runs
    def start_next(self) -> None:
        """Start the first queued item unless a run is in progress (with a station service:
        release its queue's hold; the service starts the plans)."""
        service = self.find_service(self.queue.path)
        if service is not None:
            try:
                service.resume_queue()
                self.progress_label.setText("the station service runs the queue")
                self.timer.start()
            except ServiceError as exc:
                self.progress_label.setText(str(exc))
            return
        if self.item is not None and self.item.state == "running":
            return
        item = self.queue.next_queued()
        if item is None:
            self.progress_label.setText("queue empty: add a plan first")
            return
        try:
            handle = self.launcher.start(item)
        except LaunchError as exc:
            self.queue.update(item, state="failed", message=str(exc))
            self._refresh_queue_table()
            return
        self.queue.update(item, state="running", message="started", pid=handle.pid)
        self._follow(item, handle)

    def attach(self, run_path: str | os.PathLike[str]) -> None:
        """Follow an existing run file (started elsewhere, e.g. by ``stm-andreev run``)."""
        self.item = None
        self.handle = None
        self._set_follower(Path(run_path))

    def _reattach_running(self) -> None:
        item = self.queue.running()
        if item is not None:
            self._follow(item, self.launcher.attach(item))

    def _follow(self, item: QueueItem, handle: RunHandle) -> None:
        self.item, self.handle = item, handle
        self.follower = None
        if item.run_path and is_cooldown_file(Path(item.run_path)):
            self.cooldown_file_changed.emit(item.run_path)
        elif item.run_path:
            self._set_follower(Path(item.run_path))
        self._refresh_queue_table()
        self.timer.start()

    def _set_follower(self, path: Path) -> None:
        if self.follower is not None:
            self.follower.close()
        self.follower = self.follower_factory(path)
        self._events_shown = 0
        self.event_log.clear()
        self.run_file_changed.emit(str(path))
        self.timer.start()

    @property
    def run_path(self) -> Path | None:
        return None if self.follower is None else self.follower.path

    def command(self, what: str) -> None:
        """Send ``pause``/``resume``/``abort`` to the followed run."""
        if self.run_path is None:
            self.progress_label.setText(f"no run to {what}")
            return
        service = self.find_service(self.queue.path)
        if service is not None and self.item is not None:
            try:
                service.command(what)
            except ServiceError as exc:
                self.progress_label.setText(str(exc))
                return
        else:
            self.send(self.run_path, what)
        self.event_log.appendPlainText(f"-- {what} sent to {self.run_path.name}")

    def poll(self) -> None:
        """Timer: find the run file, refresh progress, banner and events, end of run."""
        if self.find_service(self.queue.path) is not None:
            self._poll_as_client()
            return
        if self.item is not None and self.item.state == "running" and self.handle is None:
            self.handle = self.launcher.attach(self.item)  # the service went away mid-run
        self._discover_run_file()
        if self.follower is not None:
            try:
                self.follower.poll_status()
            except RunFollowError as exc:
                self.progress_label.setText(str(exc))
            self._show_run_state()
        self._check_finished()

    def _reload_queue(self) -> None:
        try:
            self.queue.load()
        except QueueFileError as exc:  # the service is rewriting it: next poll
            log.debug("%s", exc)
        self._refresh_queue_table()

    def _poll_as_client(self) -> None:
        """With a station service: show its queue, follow its running plan, never write."""
        self._reload_queue()
        running = self.queue.running()
        if running is not None:
            self.item, self.handle = running, None  # the item objects are new after a reload
        elif self.item is not None:
            self.item = next((i for i in self.queue.items if i.id == self.item.id), None)
        path = Path(self.item.run_path) if self.item is not None and self.item.run_path else None
        if path is not None and (self.follower is None or self.follower.path != path) \
                and not is_cooldown_file(path):
            self._set_follower(path)  # the last run stays shown until the next one has a file
        if self.follower is not None:
            try:
                self.follower.poll_status()
            except RunFollowError as exc:
                self.progress_label.setText(str(exc))
            self._show_run_state()

    def _discover_run_file(self) -> None:
        """Find the file the started run writes, once it is laid out enough to tell a run
        file from a cooldown log."""
        if self.follower is not None or self.handle is None or self.item is None \
                or self.item.run_path:
            return
        path = self.handle.run_file()
        kind = None if path is None else file_format(path)
        if kind is None:
            return  # not created yet, or still being laid out
        self.queue.update(self.item, run_path=str(path))
        if kind == COOLDOWN_FORMAT:
            # a cooldown plan logs temperatures, not spectra: the dashboard shows it
            self.progress_label.setText(f"{path.name}: cooldown log")
            self.cooldown_file_changed.emit(str(path))
        else:
            self._set_follower(path)
        self._refresh_queue_table()

    def _show_run_state(self) -> None:
        f = self.follower
        assert f is not None
        if not f.opened:
            self.progress_label.setText(f"waiting for {f.path.name} ...")
            return
        p = f.progress()
        self.progress_bar.setMaximum(max(p.planned, 1))
        self.progress_bar.setValue(p.done)
        eta = "done" if p.status in FINAL_STATUSES else format_duration(p.eta_s)
        elapsed = format_duration(p.elapsed_s) if math.isfinite(p.elapsed_s) else "--"
        self.progress_label.setText(
            f"{f.path.name}: {p.status}, {p.done}/{p.planned} spectra, "
            f"elapsed {elapsed}, ETA {eta}"
        )
        banner = f.banner()
        if banner.level:
            self.banner.setText(banner.text)
            self.banner.setStyleSheet(theme.BANNER_STYLES[banner.level])
            self.banner.show()
        else:
            self.banner.hide()
        for event in f.events[self._events_shown:]:
            where = "" if event.point_index < 0 else f" #{event.point_index}"
            self.event_log.appendPlainText(
                f"{format_duration(event.time_s):>10} [{event.kind}]{where} {event.message}"
            )
        self._events_shown = len(f.events)

    def _check_finished(self) -> None:
        item, handle = self.item, self.handle
        if item is None or handle is None or item.state != "running":
            return
        code = handle.returncode()
        if code is not None:
            self._discover_run_file()  # a short run may have ended between two polls
            if self.follower is not None:
                try:
                    self.follower.poll_status()
                except RunFollowError as exc:
                    log.warning("%s", exc)
        status = self.follower.status if self.follower is not None else ""
        if not status and item.run_path and is_cooldown_file(Path(item.run_path)):
            status = cooldown_status(item.run_path)
            if code is None and handle.process is None and status not in FINAL_STATUSES:
                return  # a cooldown log from before a GUI restart, still being written
        if code is None:
            if handle.process is not None:
                return
            # Attached after a GUI restart: the run is over when no writer holds its file.
            if not item.run_path or writer_alive(item.run_path):
                return
        if status in FINAL_STATUSES:
            state, message = status, f"exit code {code}" if code is not None else "ended"
        elif code == 0:  # e.g. a cooldown log, which this widget does not follow
            state, message = "finished", "exit code 0"
        else:
            state = "failed"
            tail = handle.log_tail(400).strip().splitlines()
            message = (tail[-1] if tail else "run process ended") + (
                f"; resume with: stm-andreev run --resume {item.run_path}" if item.run_path else ""
            )
        self.queue.update(item, state=state, message=message)
        self._refresh_queue_table()
        if self.auto_continue and self.queue.next_queued() is not None:
            self.start_next()

    def _refresh_queue_table(self) -> None:
        table = self.queue_table
        table.setRowCount(len(self.queue.items))
        for row, item in enumerate(self.queue.items):
            for col, text in enumerate(
                (item.plan_name, item.state, Path(item.run_path).name, item.message)
            ):
                table.setItem(row, col, QtWidgets.QTableWidgetItem(text))
        table.resizeColumnsToContents()
