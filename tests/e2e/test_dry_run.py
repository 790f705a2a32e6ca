"""End-to-end dry runs of the engine on the in-process simulated lab (virtual time)."""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.engine import RunControl, RunEngine
from stm_andreev.physics import G0_S
from stm_andreev.storage import RunReader, RunWriter

from .conftest import new_run, station_config


class ScriptedControl(RunControl):
    """A control channel whose operator answers every pause with a resume (no wall waits)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.pauses = 0

    def wait_while_paused(self, on_pause=None) -> None:
        if self.paused:
            self.pauses += 1
            if on_pause is not None:
                on_pause()
            self.request("resume")
        self.check_abort()


def run_engine(station, points, writer, control=None, **kwargs):
    engine = RunEngine(station, points, writer, control=control or ScriptedControl(), **kwargs)
    return engine, engine.run()


def test_small_plan_end_to_end(tmp_path, tiny_plan):
    station, points, writer = new_run(tmp_path, tiny_plan)
    _, summary = run_engine(station, points, writer)
    assert summary.status == "finished" and summary.measured == len(points) == 5
    with RunReader(tmp_path / "run.h5") as run:
        assert run.status == "finished"
        assert sorted(run.ledger) == list(range(5))
        spectra = run.spectra()
        assert spectra["G_G0"].shape == (5, 21)
        np.testing.assert_allclose(spectra["G_G0"], spectra["G_S"] / G0_S)
        table = run.table()
        np.testing.assert_allclose(
            table["setpoint_A"], [1e-9, 3.1623e-8, 1e-6, 1e-6, 1e-6], rtol=1e-4
        )
        # The feedback set G_sp = I_sp / |V_sp|: from 0.0043 G0 (1 nA) to 4.3 G0 (1 uA).
        np.testing.assert_allclose(table["G_sp_S"][[0, 2]] / G0_S, [0.0043, 4.302], rtol=0.02)
        assert np.all(np.diff(table["z_m"][:3]) < 0)  # the tip approaches as I_sp grows
        # Temperatures were held where the plan asked, before and after each spectrum.
        np.testing.assert_allclose(
            table["temperature_before_K"], [0.065, 0.065, 0.065, 0.3, 1.0], atol=0.003
        )
        np.testing.assert_allclose(
            table["temperature_after_K"], table["temperature_before_K"], atol=0.003
        )
        kinds = [e.kind for e in run.events()]
        assert kinds[0] == "start" and kinds[-1] == "finish"
        assert run.metadata["plan"] == "tiny"
        # Tunnelling spectrum: gapped; contact spectrum (1 uA at -3 mV, Z ~ 5.5 over 140
        # channels): Andreev reflection lifts the gap above the tunnelling floor (1.3x).
        tunnel, contact = spectra["G_S"][0], spectra["G_S"][2]
        assert tunnel[10] < 0.2 * tunnel[0]
        assert contact[10] / contact[0] > 1.15 * tunnel[10] / tunnel[0]


def test_abort_leaves_safe_state_and_run_resumes(tmp_path, tiny_plan):
    station, points, writer = new_run(tmp_path, tiny_plan)
    control = ScriptedControl()
    _, summary = run_engine(
        station,
        points,
        writer,
        control=control,
        on_spectrum=lambda p, s: control.request("abort") if p.index == 1 else None,
    )
    assert summary.status == "aborted" and summary.measured == 2
    lab = station.lab
    assert lab.feedback_on and lab.bias_V == pytest.approx(-3e-3)
    assert lab.fridge.heater_range == 0  # safe_heater_range of the station
    with RunReader(tmp_path / "run.h5") as run:
        assert run.status == "aborted" and sorted(run.ledger) == [0, 1]
    resumed = RunWriter.resume(tmp_path / "run.h5")
    _, summary = run_engine(station, points, resumed)
    assert summary.status == "finished" and summary.already_done == 2 and summary.measured == 3
    with RunReader(tmp_path / "run.h5") as run:
        assert sorted(run.ledger) == list(range(5))  # every point exactly once


def test_operator_pause_and_resume(tmp_path, tiny_plan):
    station, points, writer = new_run(tmp_path, tiny_plan)
    control = ScriptedControl()
    _, summary = run_engine(
        station,
        points,
        writer,
        control=control,
        on_spectrum=lambda p, s: control.request("pause") if p.index == 0 else None,
    )
    assert control.pauses == 1 and summary.status == "finished"
    kinds = [k for k, _ in summary.events]
    assert kinds.index("pause") < kinds.index("resume")  # both logged, in order
    with RunReader(tmp_path / "run.h5") as run:
        assert run.status == "finished"
        assert [e.kind for e in run.events()].count("resume") == 1


def test_a_pause_is_logged_before_the_status_says_paused(tmp_path, tiny_plan):
    """A reader that sees the status "paused" must find the pause (and why) in the event log:
    the writer logs the event first (the GUI's banner and event log once missed it)."""
    station, points, writer = new_run(tmp_path, tiny_plan)
    logged: list[str] = []
    statuses: list[tuple[str, list[str]]] = []
    log_event, set_status = writer.log_event, writer.set_status

    def logging_event(kind, message, **kwargs):
        log_event(kind, message, **kwargs)
        logged.append(kind)

    def setting_status(status):
        statuses.append((status, list(logged)))
        set_status(status)

    writer.log_event, writer.set_status = logging_event, setting_status
    control = ScriptedControl()
    run_engine(station, points, writer, control=control,
               on_spectrum=lambda p, s: control.request("pause") if p.index == 0 else None)
    paused = [kinds for status, kinds in statuses if status == "paused"]
    assert len(paused) == 1 and paused[0][-1] == "pause"
    resumed = [kinds for status, kinds in statuses if status == "running"]
    assert resumed and resumed[-1][-1] == "resume"


def test_temperature_spike_during_spectrum_is_retaken(tmp_path, tiny_plan):
    station, points, writer = new_run(tmp_path, tiny_plan)
    lockin = station.lockin
    original = lockin.snap_xy
    calls = {"n": 0}

    def snap_with_spike():
        calls["n"] += 1
        # the 10th bias point of the first temperature-sweep spectrum (point 3, at 0.3 K)
        if calls["n"] == 3 * 21 + 10:
            station.lab.fridge.spike(0.05, 30.0)
        return original()

    lockin.snap_xy = snap_with_spike
    _, summary = run_engine(station, points, writer)
    assert summary.status == "finished"
    retakes = [m for k, m in summary.events if k == "retake"]
    assert len(retakes) == 1 and "left its band" in retakes[0]
    with RunReader(tmp_path / "run.h5") as run:
        table = run.table()
        assert sorted(run.ledger) == list(range(5))
        row = list(run.ledger).index(3)
        assert table["retake_count"][row] == 1
        assert abs(table["temperature_after_K"][row] - 0.3) < 0.003
        events = [(e.kind, e.point_index) for e in run.events()]
        assert ("retake", 3) in events


def test_tip_crash_withdraws_and_pauses(tmp_path, tiny_plan):
    station, points, writer = new_run(tmp_path, tiny_plan)
    lab = station.lab
    seen = {}
    crashed = {"done": False}
    original = station.lockin.snap_xy

    def snap_then_crash():
        if not crashed["done"] and lab.feedback_status() == 1:  # feedback open: mid-sweep
            crashed["done"] = True
            lab.z_m = lab.z_limits_m[0]  # drive the tip into the sample
        return original()

    station.lockin.snap_xy = snap_then_crash
    control = ScriptedControl()

    def on_pause_check():
        seen["z"] = lab.z_m
        seen["feedback"] = lab.feedback_on

    control.wait_while_paused = _wrap_pause(control, on_pause_check)
    _, summary = run_engine(station, points, writer, control=control)
    kinds = [k for k, _ in summary.events]
    assert "safe_tip" in kinds and "pause" in kinds and "resume" in kinds
    assert seen["feedback"] is False and seen["z"] == pytest.approx(lab.z_limits_m[1])
    assert summary.status == "finished"
    with RunReader(tmp_path / "run.h5") as run:
        assert sorted(run.ledger) == list(range(5))


def _wrap_pause(control, hook):
    base = type(control).wait_while_paused

    def wait(on_pause=None):
        if control.paused:
            hook()
        return base(control, on_pause)

    return wait


def test_dropped_connection_is_recovered(tmp_path, tiny_plan):
    config = station_config(
        faults=[{"kind": "drop_connection", "instrument": "lockin", "after_commands": 60}]
    )
    station, points, writer = new_run(tmp_path, tiny_plan, config)
    _, summary = run_engine(station, points, writer)
    assert summary.status == "finished"
    assert any(k == "link_error" for k, _ in summary.events)
    with RunReader(tmp_path / "run.h5") as run:
        assert sorted(run.ledger) == list(range(5))
        assert np.all(np.isfinite(run.spectra()["G_S"]))
