"""The GUI with real ``stm-andreev run`` processes: start, pause, resume, abort; attach to a run
started on the command line; close the GUI mid-run and check the run finishes intact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stm_andreev.gui.app import GuiOptions, build_gui
from stm_andreev.gui.run_control import RunControlWidget
from stm_andreev.gui.spectra_view import LiveSpectraWidget
from stm_andreev.service.launcher import RunLauncher, find_run_file
from stm_andreev.service.queue_store import RunQueue
from stm_andreev.storage import RunReader

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

# Subprocess start-up (imports) plus a few seconds of dry run; generous for a loaded machine.
RUN_TIMEOUT_MS = 90_000

TEMPERATURE_TAIL_PLAN = """
name: gui-live
steps:
  - kind: setpoint_sweep
    label: setpoints
    I_start_A: 1.0e-9
    I_stop_A: 1.0e-6
    n_setpoints: 4
    n_bias: 41
    settle_s: 0.01
    integration_s: 0.01
    feedback_settle_s: 0.1
  - kind: temperature_sweep
    label: temperatures
    temperatures_K: [0.3, 0.6]
    setpoint_A: 1.0e-6
    n_bias: 41
    settle_s: 0.01
    integration_s: 0.01
    feedback_settle_s: 0.1
"""


def _control(tmp_path, queue_path=None) -> RunControlWidget:
    return RunControlWidget(
        RunQueue(queue_path or tmp_path / "queue.json"),
        RunLauncher(extra_args=["--no-report"]),
        runs_dir=tmp_path / "runs",
        interval_ms=50,
    )


def _statuses(follower) -> list[str]:
    return [e.kind for e in follower.events]


def test_start_pause_resume_abort_from_the_gui(qtbot, tmp_path):
    control = _control(tmp_path)
    spectra = LiveSpectraWidget(interval_ms=50)
    qtbot.addWidget(control)
    qtbot.addWidget(spectra)
    control.run_file_changed.connect(spectra.follow)
    control.plan_combo.setCurrentText("quick")
    control.forms[0].set_value("n_setpoints", 40)  # long enough to pause before it ends
    item = control.add_to_queue()
    control.start_next()
    assert item.state == "running"
    try:
        qtbot.waitUntil(lambda: spectra.model.n >= 1, timeout=RUN_TIMEOUT_MS)
        x, y = spectra.current_curve.getData()
        assert x.size == 41 and np.all(np.isfinite(y))

        control.command("pause")
        qtbot.waitUntil(lambda: control.follower.status == "paused", timeout=RUN_TIMEOUT_MS)
        qtbot.waitUntil(lambda: not control.banner.isHidden(), timeout=5_000)
        assert "paused" in control.banner.text().lower()
        assert "pause" in _statuses(control.follower)

        paused_at = control.follower.rows_seen
        control.command("resume")
        # The engine logs no event when an operator pause ends: new spectra show it.
        qtbot.waitUntil(lambda: control.follower.rows_seen > paused_at, timeout=RUN_TIMEOUT_MS)
        qtbot.waitUntil(lambda: control.banner.isHidden(), timeout=5_000)

        control.command("abort")
        qtbot.waitUntil(lambda: item.state != "running", timeout=RUN_TIMEOUT_MS)
    finally:
        if control.handle.process.poll() is None:  # a failed assertion must not leak a run
            control.handle.process.kill()
            control.handle.process.wait(10)
    assert item.state == "aborted", item.message
    assert RunQueue(tmp_path / "queue.json").items[0].state == "aborted"
    with RunReader(item.run_path) as reader:
        assert reader.status == "aborted"
        assert 1 <= reader.n_spectra < reader.metadata["n_planned"]
        assert len(set(reader.ledger.tolist())) == reader.n_spectra
    assert "[abort]" in control.event_log.toPlainText()
    spectra.close_run()


def test_closing_the_gui_mid_run_leaves_the_run_going_and_reopening_reattaches(qtbot, tmp_path):
    control = _control(tmp_path)
    qtbot.addWidget(control)
    control.plan_combo.setCurrentText("quick")
    item = control.add_to_queue()
    control.start_next()
    process = control.handle.process
    try:
        qtbot.waitUntil(lambda: control.follower is not None and control.follower.rows_seen >= 1,
                        timeout=RUN_TIMEOUT_MS)
        # The GUI goes away mid-run (window closed and deleted, readers closed).
        control.timer.stop()
        control.follower.close()
        control.close()
        control.deleteLater()
        qtbot.wait(10)
        assert process.poll() is None
        assert process.wait(timeout=RUN_TIMEOUT_MS / 1000) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    with RunReader(item.run_path) as reader:
        assert reader.status == "finished"
        assert reader.n_spectra == reader.metadata["n_planned"] == 5
        assert sorted(reader.ledger.tolist()) == list(range(5))
    # A new GUI finds the queue, reattaches to the run and sees that it finished.
    reopened = _control(tmp_path)
    qtbot.addWidget(reopened)
    assert reopened.item.id == item.id and str(reopened.follower.path) == item.run_path
    qtbot.waitUntil(lambda: reopened.queue.items[0].state == "finished", timeout=10_000)
    assert reopened.progress_bar.value() == 5


def test_attach_to_a_run_started_on_the_command_line(qtbot, tmp_path):
    plan = tmp_path / "gui-live.yaml"
    plan.write_text(TEMPERATURE_TAIL_PLAN)
    out = tmp_path / "cli"
    process = subprocess.Popen(
        [sys.executable, "-m", "stm_andreev.cli", "run", str(plan), "--out", str(out),
         "--quiet", "--no-report"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    gui = None
    try:
        qtbot.waitUntil(lambda: out.is_dir() and find_run_file(out) is not None,
                        timeout=RUN_TIMEOUT_MS)
        run_file = find_run_file(out)
        gui = build_gui(GuiOptions(attach=str(run_file), queue=str(tmp_path / "q.json"),
                                   runs=str(out)))
        window = gui.window
        qtbot.addWidget(window)
        assert window.tabs.currentWidget() is window.spectra
        qtbot.waitUntil(lambda: window.spectra.model.n >= 1, timeout=RUN_TIMEOUT_MS)
        # Kill the GUI mid-run: the run must not notice.
        gui.close()
        window.close()
        window.deleteLater()
        gui = None
        assert process.wait(timeout=RUN_TIMEOUT_MS / 1000) == 0
    finally:
        if gui is not None:
            gui.close()
        if process.poll() is None:
            process.kill()
            process.wait(10)
    with RunReader(run_file) as reader:
        assert reader.status == "finished"
        assert sorted(reader.ledger.tolist()) == list(range(6))


def test_a_run_that_cannot_start_is_marked_failed_and_holds_the_queue(qtbot, tmp_path):
    control = _control(tmp_path)
    qtbot.addWidget(control)
    control.plan_combo.setCurrentText("quick")
    control.station_edit.setText("no-such-station")
    assert control.add_to_queue() is None  # refused when queued, as by the service
    assert "no-such-station" in control.form_error.text()
    # A station file that goes away between queueing and starting: the run itself fails.
    station = tmp_path / "lab.yaml"
    station.write_text((ROOT / "configs" / "simulated.yaml").read_text())
    control.station_edit.setText(str(station))
    item = control.add_to_queue()
    second = control.add_to_queue()
    station.unlink()
    control.start_next()
    qtbot.waitUntil(lambda: item.state != "running", timeout=RUN_TIMEOUT_MS)
    assert item.state == "failed"
    assert "lab.yaml" in item.message
    # The service's rule (continue on failure is off): the next plan waits for the operator.
    assert "skip or retry" in control.queue.hold and second.state == "queued"
    assert not control.runner.owns  # nothing runs: the queue is free for a service
    station.write_text((ROOT / "configs" / "simulated.yaml").read_text())
    control.start_next()  # "Start" releases the hold, as the service client's does
    qtbot.waitUntil(lambda: second.state not in ("queued", "running"), timeout=RUN_TIMEOUT_MS)
    assert second.state == "finished", second.message


def test_a_queued_cooldown_plan_opens_its_log_in_the_dashboard(qtbot, tmp_path):
    from stm_andreev.gui.app import GuiOptions, build_gui

    gui = build_gui(GuiOptions(queue=str(tmp_path / "q.json"), runs=str(tmp_path / "runs")))
    window = gui.window
    qtbot.addWidget(window)
    control = window.run_control
    control.runs_dir = tmp_path / "runs"
    control.timer.setInterval(50)
    control.plan_combo.setCurrentText("cooldown")
    item = control.add_to_queue()
    control.start_next()
    try:
        qtbot.waitUntil(lambda: item.state != "running", timeout=RUN_TIMEOUT_MS)
        assert item.state == "finished", item.message
        assert window.cooldown_logs, "the cooldown log was not opened"
        board = window.cooldown_logs[0]
        board.tick_once()
        assert board.history.latest("mixing_chamber") < 0.1  # logged down to base
    finally:
        process = control.handle.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)
        gui.close()
