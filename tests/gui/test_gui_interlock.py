"""An engine run hits a tip crash: the GUI shows the interlock banner, and its Resume button
(the run's control channel) lets the run finish. The engine runs in a thread here only to
inject the crash; the GUI side is exactly what it is for a separate run process."""

from __future__ import annotations

import threading

import pytest

from stm_andreev.config import load_plan_text, load_station
from stm_andreev.engine import RunControl, RunEngine
from stm_andreev.engine.runner import POINT_KEYS
from stm_andreev.gui.run_control import RunControlWidget
from stm_andreev.procedures import plan_points
from stm_andreev.service.launcher import RunLauncher
from stm_andreev.service.queue_store import RunQueue
from stm_andreev.station import Station
from stm_andreev.storage import RunReader, RunWriter

from .conftest import SETPOINT_ONLY_PLAN


@pytest.fixture
def crashing_run(tmp_path):
    """(run path, start) for an engine run whose tip crashes mid-sweep of the first spectrum."""
    plan = load_plan_text(SETPOINT_ONLY_PLAN, "gui-setpoints.yaml")
    config = load_station("simulated")
    station = Station.from_config(config, source_text=config.source_text)
    points = plan_points(plan)
    path = tmp_path / "crash.h5"
    writer = RunWriter.create(
        path, n_bias=points[0].settings.bias_V.size, n_planned=len(points),
        metadata={"plan": plan.name}, station_text=config.source_text,
        plan_text=SETPOINT_ONLY_PLAN, snapshot=station.snapshot(), point_keys=POINT_KEYS,
    )
    lab = station.lab
    original = station.lockin.snap_xy
    crashed = {"done": False}

    def snap_then_crash():
        if not crashed["done"] and lab.feedback_status() == 1:  # feedback open: mid-sweep
            crashed["done"] = True
            lab.z_m = lab.z_limits_m[0]  # drive the tip into the film
        return original()

    station.lockin.snap_xy = snap_then_crash
    result = {}

    def run():
        try:
            result["summary"] = RunEngine(station, points, writer, control=RunControl(path)).run()
        finally:
            station.close()

    thread = threading.Thread(target=run, daemon=True)
    yield path, thread, result
    if thread.is_alive():  # a failed test: stop the engine through its control channel
        from stm_andreev.engine import send_command

        send_command(path, "abort")
        thread.join(30)


def test_interlock_banner_and_resume_from_the_gui(qtbot, tmp_path, crashing_run):
    path, thread, result = crashing_run
    control = RunControlWidget(RunQueue(tmp_path / "q.json"), RunLauncher(), runs_dir=tmp_path,
                               interval_ms=50)
    qtbot.addWidget(control)
    thread.start()
    control.attach(path)
    qtbot.waitUntil(lambda: not control.banner.isHidden(), timeout=60_000)
    assert control.banner.text().startswith("INTERLOCK safe_tip")
    assert "c62828" in control.banner.styleSheet()  # red
    qtbot.waitUntil(lambda: control.follower.status == "paused", timeout=30_000)
    control.buttons["Resume"].click()
    thread.join(60)
    assert not thread.is_alive() and result["summary"].status == "finished"
    qtbot.waitUntil(lambda: control.follower.status == "finished", timeout=10_000)
    qtbot.waitUntil(lambda: control.banner.isHidden(), timeout=5_000)
    log = control.event_log.toPlainText()
    assert "[safe_tip]" in log and "[resume]" in log and "[finish]" in log
    with RunReader(path) as reader:
        assert sorted(reader.ledger.tolist()) == list(range(4))
