"""The GUI's run control as a client of a station service: while a service owns the queue the
widget sends queue edits and run commands to it, never starts a plan or writes the queue file
itself, and follows the plan the service runs; without a service it runs the queue alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stm_andreev.gui.run_control import RunControlWidget
from stm_andreev.service.client import ServiceError
from stm_andreev.service.queue_store import QueueItem, RunQueue

from .test_gui_queue_plans import RecordingLauncher


class FakeService:
    """Does to the queue file what ``stm-andreev serve`` would, and records the calls."""

    def __init__(self, queue_path) -> None:
        self.own = RunQueue(queue_path)
        self.calls: list[tuple[str, ...]] = []
        self.refuse = False

    def add(self, plan_text, station=None):
        if self.refuse:
            raise ServiceError("station service: plan refused: bad")
        self.calls.append(("add", station or ""))
        item = self.own.add(QueueItem("quick", plan_text, station or "simulated", "/tmp/x"))
        return {"id": item.id}

    def remove(self, item_id):
        self.calls.append(("remove", item_id))
        self.own.remove(item_id)

    def command(self, what):
        self.calls.append(("command", what))

    def resume_queue(self):
        self.calls.append(("resume_queue",))


def test_with_a_service_the_gui_is_its_client(qtbot, tmp_path, physics_run):
    # A copy: a live reader left open on the shared session file would clash (HDF5 refuses
    # a second live open of one file in one process) with later tests reading it.
    run_file = Path(shutil.copy(physics_run, tmp_path / "run.h5"))
    path = tmp_path / "queue.json"
    service = FakeService(path)
    launcher = RecordingLauncher()
    sent = []
    widget = RunControlWidget(RunQueue(path), launcher, runs_dir=tmp_path / "runs",
                              find_service=lambda p: service,
                              send=lambda run, what: sent.append(what))
    qtbot.addWidget(widget)
    widget.plan_combo.setCurrentText("quick")
    item = widget.add_to_queue()
    assert item is not None and service.calls == [("add", "simulated")]
    assert widget.queue_table.rowCount() == 1
    widget.start_next()
    assert launcher.started == [] and service.calls[-1] == ("resume_queue",)
    # The service starts the plan and records its run file; the GUI follows it.
    service.own.update(service.own.get(item.id), state="running", run_path=str(run_file))
    widget.poll()
    assert widget.run_path == run_file
    assert widget.queue_table.item(0, 1).text() == "running"
    assert "finished" in widget.progress_label.text()
    widget.command("pause")
    assert service.calls[-1] == ("command", "pause") and sent == []
    mtime = path.stat().st_mtime_ns
    widget.poll()
    assert path.stat().st_mtime_ns == mtime  # the GUI never writes the service's queue
    assert launcher.started == []
    service.refuse = True
    assert widget.add_to_queue() is None and "refused" in widget.form_error.text()
    widget.timer.stop()
    widget.follower.close()


def test_remove_goes_through_the_service(qtbot, tmp_path):
    path = tmp_path / "queue.json"
    service = FakeService(path)
    widget = RunControlWidget(RunQueue(path), RecordingLauncher(), runs_dir=tmp_path / "runs",
                              find_service=lambda p: service)
    qtbot.addWidget(widget)
    widget.plan_combo.setCurrentText("quick")
    first = widget.add_to_queue()
    widget.queue_table.selectRow(0)
    widget.remove_selected()
    assert service.calls[-1] == ("remove", first.id)
    assert RunQueue(path).items == [] and widget.queue_table.rowCount() == 0


def test_without_a_service_the_gui_runs_the_queue_itself(qtbot, tmp_path):
    launcher = RecordingLauncher()
    widget = RunControlWidget(RunQueue(tmp_path / "queue.json"), launcher,
                              runs_dir=tmp_path / "runs", find_service=lambda p: None)
    qtbot.addWidget(widget)
    widget.plan_combo.setCurrentText("quick")
    widget.add_to_queue()
    widget.start_next()
    assert len(launcher.started) == 1


def test_alone_the_gui_runs_the_services_supervisor_and_holds_the_queue(qtbot, tmp_path):
    """One queue logic: the GUI without a service advances the queue with the service's
    Supervisor, holding the queue's lock while anything runs (no second GUI or service starts
    a plan beside it), and lets go when nothing is left, so a service can take over."""
    from stm_andreev.gui.run_control import RUN_ELSEWHERE
    from stm_andreev.service.supervisor import StationBusyError, Supervisor

    from ..service.fakes import FakeLauncher

    path = tmp_path / "queue.json"
    launcher = FakeLauncher()
    widget = RunControlWidget(RunQueue(path), launcher, runs_dir=tmp_path / "runs",
                              interval_ms=60_000)
    qtbot.addWidget(widget)
    widget.plan_combo.setCurrentText("quick")
    a, b, c = widget.add_to_queue(), widget.add_to_queue(), widget.add_to_queue()
    widget.start_next()
    assert launcher.started == [a.id] and widget.runner.owns
    service = Supervisor(RunQueue(path), launcher, runs_dir=tmp_path / "runs")
    with pytest.raises(StationBusyError):
        service.acquire()  # `stm-andreev serve` is refused while the GUI runs the queue
    other = RunControlWidget(RunQueue(path), launcher, runs_dir=tmp_path / "runs",
                             interval_ms=60_000)
    qtbot.addWidget(other)
    other.start_next()
    assert launcher.started == [a.id] and RUN_ELSEWHERE in other.progress_label.text()
    assert other.add_to_queue() is None and RUN_ELSEWHERE in other.form_error.text()
    other.close()

    widget.poll()
    assert launcher.started == [a.id]  # one plan at a time
    launcher.end(a.id, 0)
    widget.poll()
    assert launcher.started == [a.id, b.id] and a.state == "finished"
    # The GUI closes mid-plan: its lock goes, the plan goes on, a service takes the queue
    # over, re-attaches to the running plan (never starting it again) and starts the next.
    widget.close()
    service.acquire()
    assert service.item.id == b.id
    service.step()
    assert launcher.started == [a.id, b.id]
    launcher.end(b.id, 0)
    service.step()
    assert launcher.started == [a.id, b.id, c.id]
    service.release()
