"""Run control: pick and edit a plan, queue runs, start/pause/resume/abort, progress, events.

Runs are separate ``stm-andreev run`` processes (see :mod:`stm_andreev.service.launcher`); this
widget reads their run files and writes to their control channels. It never runs the engine
itself, and it has no queue logic of its own: the queue is advanced by one
:class:`~stm_andreev.service.supervisor.Supervisor`, the one ``stm-andreev serve`` runs.

* While a station service owns the queue file, the widget is its client: queue edits and run
  commands go to the service, which alone starts plans and writes the queue; the widget
  re-reads the queue file and follows the running plan.
* Without a service, the widget runs that same supervisor in-process from "Start" until
  nothing is left to run, holding the queue's lock meanwhile (as a service does), so no second
  GUI or service starts a plan beside it. The running plan outlives the GUI; the next one
  starts when a GUI is opened again or ``stm-andreev serve`` takes the queue over.
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
from stm_andreev.service.launcher import RunHandle, RunLauncher
from stm_andreev.service.queue_store import QueueFileError, QueueItem, RunQueue, queue_owned
from stm_andreev.service.supervisor import QueueRequestError, StationBusyError, Supervisor

from . import theme
from .browse import COOLDOWN_FORMAT, file_format
from .plan_form import StepForm, StepInputError
from .plans import EditableStep, load_editable, plan_names, plan_text_from_steps
from .runfile import FINAL_STATUSES, RunFollower, RunFollowError, format_duration

log = logging.getLogger(__name__)

FollowerFactory = Callable[[Path], RunFollower]
ServiceFinder = Callable[[Path], "ServiceClient | None"]
QUEUE_COLUMNS = ("plan", "state", "run file", "message")
RUN_ELSEWHERE = ("another GUI runs this queue (or a station service this GUI cannot reach): "
                 "use that one, or close it")


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
        #: The queue logic, shared with ``stm-andreev serve``; it starts plans only while it
        #: holds the queue's lock (from "Start" until nothing is left to run).
        self.runner = Supervisor(queue, launcher, station=station, runs_dir=runs_dir)
        self.follower_factory = follower_factory
        self.send = send
        #: The newest run the queue is followed into (one switch per run file).
        self._shown_run = ""
        self._table_rows: list[tuple[str, str, str, str]] | None = None
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
        # At once: a run left going by a closed GUI is re-attached (and the queue carried on
        # from it unless a service runs it); then always, to follow what a service starts.
        if self.queue.running() is not None:
            self.poll()
        self.timer.start()

    @property
    def runs_dir(self) -> Path:
        """Each queued run gets its own folder below it."""
        return self.runner.runs_dir

    @runs_dir.setter
    def runs_dir(self, value: str | os.PathLike[str]) -> None:
        self.runner.runs_dir = Path(value).resolve()

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
        service = self._service()
        if service is not None:
            try:
                added = service.add(text, station)
            except ServiceError as exc:
                self.form_error.setText(f"not queued: {exc}")
                return None
            self._reload_queue()
            return self.queue.get(added["id"])
        if self._run_elsewhere():
            self.form_error.setText(f"not queued: {RUN_ELSEWHERE}")
            return None
        try:
            item = self.runner.add(text, station or None)
        except (ConfigError, QueueFileError) as exc:  # e.g. a plan beyond the station's limits
            self.form_error.setText(f"not queued: {exc}")
            return None
        self._refresh_queue_table()
        return item

    def remove_selected(self) -> None:
        rows = {i.row() for i in self.queue_table.selectedIndexes()}
        service = self._service()
        elsewhere = service is None and self._run_elsewhere()
        for row in sorted(rows, reverse=True):
            try:
                item_id = self.queue.items[row].id
                if service is not None:
                    service.remove(item_id)
                elif elsewhere:
                    self.form_error.setText(RUN_ELSEWHERE)
                else:
                    self.runner.remove(item_id)
            except (QueueRequestError, LookupError, QueueFileError, ServiceError) as exc:
                self.form_error.setText(str(exc.args[0]) if exc.args else str(exc))
        if service is not None:
            self._reload_queue()
        self._refresh_queue_table()

    # ------------------------------------------------------------------ runs
    def start_next(self) -> None:
        """Let the queue run: release its hold (a failed plan or stop-after-current) and start
        the first queued plan unless one runs. With a station service the service does it;
        without one this GUI runs the service's supervisor itself until the queue is done."""
        service = self._service()
        if service is not None:
            try:
                service.resume_queue()
                self.progress_label.setText("the station service runs the queue")
            except ServiceError as exc:
                self.progress_label.setText(str(exc))
            return
        if self.queue.next_queued() is None and self.queue.running() is None:
            self.progress_label.setText("queue empty: add a plan first")
            return
        if not self._take_queue():
            return
        try:
            self.runner.resume_queue()
        except QueueFileError as exc:
            self.progress_label.setText(str(exc))
            return
        self._step()
        self._follow_current()
        self._let_go_when_idle()

    def attach(self, run_path: str | os.PathLike[str]) -> None:
        """Follow an existing run file (started elsewhere, e.g. by ``stm-andreev run``)."""
        self.item = None
        self.handle = None
        self._set_follower(Path(run_path))

    def release_queue(self) -> None:
        """Stop running the queue from this GUI (the running plan goes on; a restarted GUI or
        ``stm-andreev serve`` carries the queue on from it)."""
        self.timer.stop()
        self.runner.release()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.release_queue()
        super().closeEvent(event)

    def _service(self) -> ServiceClient | None:
        """The station service owning the queue, unless this GUI runs the queue itself."""
        return None if self.runner.owns else self.find_service(self.queue.path)

    def _run_elsewhere(self) -> bool:
        """Whether another GUI (or a service this GUI cannot reach) runs the queue."""
        return not self.runner.owns and queue_owned(self.queue.path)

    def _take_queue(self) -> bool:
        """Hold the queue's lock, as ``stm-andreev serve`` does, so that no second GUI or
        service starts a plan beside this one (False, and says why, when one runs it)."""
        try:
            self.runner.acquire()
        except StationBusyError:
            self.progress_label.setText(RUN_ELSEWHERE)
            return False
        except QueueFileError as exc:
            self.progress_label.setText(str(exc))
            return False
        self._refresh_queue_table()
        return True

    def _let_go_when_idle(self) -> None:
        """Nothing runs any more (queue done or held): release the lock, so a service (or
        another GUI) may take the queue."""
        if self.runner.owns and self.runner.item is None:
            self.runner.release()

    def _step(self) -> None:
        """One step of the supervisor (the service's queue logic): note the end of the
        running plan, start the next one."""
        ending = self.runner.item
        try:
            self.runner.step()
        except QueueFileError as exc:
            self.progress_label.setText(str(exc))
        current = self.runner.item or ending
        if current is not None:
            self.item = current
        if self.runner.handle is not None:
            self.handle = self.runner.handle
        self._refresh_queue_table()

    @property
    def run_path(self) -> Path | None:
        return None if self.follower is None else self.follower.path

    def command(self, what: str) -> None:
        """Send ``pause``/``resume``/``abort`` to the followed run."""
        if self.run_path is None:
            self.progress_label.setText(f"no run to {what}")
            return
        service = self._service()
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
        """Timer: advance the queue when this GUI runs it, follow the running plan, show it.

        When a service or another GUI runs the queue, only re-read its file (never write it).
        A run found going with no one running the queue (its GUI or service is gone) is taken
        over: followed to its end, then the queue goes on.
        """
        if not self.runner.owns:
            self._reload_queue()
            if self.queue.running() is not None and self.find_service(self.queue.path) is None \
                    and not queue_owned(self.queue.path):
                self._take_queue()
        if self.runner.owns:
            self._step()
        self._follow_current()
        self._let_go_when_idle()

    def _reload_queue(self) -> None:
        try:
            self.queue.reload()  # parsed only when the owner changed it
        except QueueFileError as exc:  # being rewritten by its owner: next poll
            log.debug("%s", exc)
        self._refresh_queue_table()

    def _follow_current(self) -> None:
        """Follow the running plan's file once it is laid out enough to tell a run file from a
        cooldown log; the last run stays shown until the next one has a file."""
        running = self.queue.running()
        if running is not None:
            self.item = running
        item = self.item
        if item is not None and item.run_path and item.run_path != self._shown_run:
            kind = file_format(Path(item.run_path))
            if kind is not None:
                self._shown_run = item.run_path
                if kind == COOLDOWN_FORMAT:
                    # a cooldown plan logs temperatures, not spectra: the dashboard shows it
                    self.progress_label.setText(f"{Path(item.run_path).name}: cooldown log")
                    self.cooldown_file_changed.emit(item.run_path)
                else:
                    self._set_follower(Path(item.run_path))
        if self.follower is not None:
            try:
                self.follower.poll_status()
            except RunFollowError as exc:
                self.progress_label.setText(str(exc))
            self._show_run_state()

    def _set_follower(self, path: Path) -> None:
        if self.follower is not None:
            self.follower.close()
        self.follower = self.follower_factory(path)
        self._events_shown = 0
        self.event_log.clear()
        self.run_file_changed.emit(str(path))
        self.timer.start()

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

    def _refresh_queue_table(self) -> None:
        rows = [(item.plan_name, item.state, Path(item.run_path).name, item.message)
                for item in self.queue.items]
        if rows == self._table_rows:
            return  # polled every tick: redraw (and resize) only on a change
        self._table_rows = rows
        table = self.queue_table
        table.setRowCount(len(rows))
        for row, texts in enumerate(rows):
            for col, text in enumerate(texts):
                table.setItem(row, col, QtWidgets.QTableWidgetItem(text))
        table.resizeColumnsToContents()
