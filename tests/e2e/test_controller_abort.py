"""An abort during a controller-run sweep: the sweep is stopped on the controller's second link,
the run ends "aborted" in the safe state without the partial spectrum, and a resume re-takes it.
Both controller-run modes: its own demodulator (``controller``) and the lock-in's outputs
(``controller_lockin``).

The abort is requested from inside the simulated time line (a clock hook during the sweep),
which then waits (bounded) for the Stop to reach the controller: virtual time does not run
while it waits, so the result does not depend on how fast this machine is.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import pytest

from stm_andreev import station as station_module
from stm_andreev.config import load_plan_text
from stm_andreev.engine import RunControl, RunEngine, send_command
from stm_andreev.procedures.abort_watch import StopOnAbort
from stm_andreev.storage import RunReader, RunWriter

from ..shared import WAIT_S, wait_until
from .conftest import new_run

N_BIAS = 101
V_SP = -3e-3
MODES = ["controller", "controller_lockin"]
PLAN = f"""
name: controller-abort
kind: setpoint_sweep
acquisition: {{mode}}
I_start_A: 1.0e-9
I_stop_A: 1.0e-7
n_setpoints: 3
n_bias: {N_BIAS}
settle_s: 0.01
integration_s: 0.01
feedback_settle_s: 0.1
"""
SWEEP = 1  # the point whose sweep the operator interrupts (0-based)
AT_SLEEP = 40  # ... on the sweep's 40th clock sleep (initial settling, then one per point)


class Operator:
    """Acts once, ``AT_SLEEP`` sleeps into the controller sweep of point ``SWEEP``.

    Counts sweeps by wrapping the driver's ``start_bias_spectroscopy`` (which, in process,
    runs the whole sweep in the calling thread), and Stops by wrapping the stop link's.
    """

    def __init__(self, station, monkeypatch, act) -> None:
        self.act = act
        self.sweeps = 0
        self.sleeps = 0
        self.sweeping = False
        self.acted = False
        self.stops = 0
        self.stopped = threading.Event()
        fb = station.feedback
        start = fb.start_bias_spectroscopy

        def counted_start(*args, **kwargs):
            self.sweeps += 1
            self.sweeping, self.sleeps = True, 0
            try:
                return start(*args, **kwargs)
            finally:
                self.sweeping = False

        monkeypatch.setattr(fb, "start_bias_spectroscopy", counted_start)
        stopper = station.sweep_stopper()
        if stopper is not None:
            stop = stopper.stop_bias_spectroscopy

            def counted_stop() -> None:
                stop()
                self.stops += 1
                self.stopped.set()

            monkeypatch.setattr(stopper, "stop_bias_spectroscopy", counted_stop)
        station.clock.hook = self.tick

    def tick(self) -> None:
        if not self.sweeping or self.acted or self.sweeps != SWEEP + 1:
            return
        self.sleeps += 1
        if self.sleeps == AT_SLEEP:
            self.acted = True
            self.act()


class ResumingControl(RunControl):
    """Reads the control file like a real run; answers a pause with a resume (no wall wait)."""

    def wait_while_paused(self, on_pause=None) -> None:
        self.poll()
        if self.paused:
            if on_pause is not None:
                on_pause()
            self.request("resume")
        self.check_abort()


def read_back(path):
    with RunReader(path) as run:
        return run.status, [int(p) for p in run.ledger], run.events()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["control file", "SIGTERM"])
def test_abort_stops_the_sweep_and_resume_retakes_the_point(tmp_path, hook_clock,
                                                           monkeypatch, how, mode):
    plan = load_plan_text(PLAN.format(mode=mode), "plan.yaml")
    station, points, writer = new_run(tmp_path, plan)
    control = RunControl(writer.path)
    waited: list[bool] = []

    def abort() -> None:
        if how == "SIGTERM":
            os.kill(os.getpid(), signal.SIGTERM)  # the handler only sets the flag
        else:
            send_command(writer.path, "abort")
        # Hold the sweep (and virtual time) until the watcher has sent the Stop.
        waited.append(operator.stopped.wait(WAIT_S))

    operator = Operator(station, monkeypatch, abort)
    control.install_signal_handlers()
    try:
        summary = RunEngine(station, points, writer, control=control).run()
    finally:
        control.restore_signal_handlers()
    lab = station.lab
    assert waited == [True], "the watcher never sent the Stop"
    assert summary.status == "aborted"
    # Safe state: bias back at V_sp, feedback on, and the controller's sweep is over.
    assert lab.feedback_on and lab.bias_V == pytest.approx(V_SP)
    assert not station.feedback.bias_spectroscopy_running()
    assert operator.sweeps == SWEEP + 1  # no sweep was started after the abort
    station.close()

    status, ledger, events = read_back(writer.path)
    assert status == "aborted"
    assert ledger == list(range(SWEEP))  # the interrupted point is not marked done
    stopped = [e for e in events if e.kind == "sweep_stopped"]
    assert len(stopped) == 1 and stopped[0].point_index == SWEEP
    # Stopped right after the point in progress when the abort came, not at the sweep's end.
    assert f"after {AT_SLEEP - 1} of {N_BIAS} points" in stopped[0].message
    assert events[-1].kind == "abort"

    # --resume: a fresh station and engine on the same file finish the plan.
    hook_clock.hook = None
    station = station_module.Station.from_config(station.config, source_text="test")
    resumed = RunEngine(station, points, RunWriter.resume(writer.path),
                        control=RunControl(None)).run()
    station.close()
    assert resumed.status == "finished" and resumed.measured == len(points) - SWEEP
    status, ledger, _ = read_back(writer.path)
    assert status == "finished"
    assert sorted(ledger) == list(range(len(points)))  # every point exactly once
    with RunReader(writer.path) as run:
        assert run.spectra()["G_S"].shape == (len(points), N_BIAS)


def test_pause_during_the_sweep_does_not_stop_it(tmp_path, hook_clock, monkeypatch):
    plan = load_plan_text(PLAN.format(mode="controller"), "plan.yaml")
    station, points, writer = new_run(tmp_path, plan)
    control = ResumingControl(writer.path)
    seen: list[bool] = []

    def pause() -> None:
        send_command(writer.path, "pause")
        # The watcher reads the file while the sweep runs: wait until it has seen the pause.
        seen.append(wait_until(lambda: control.paused))

    operator = Operator(station, monkeypatch, pause)
    summary = RunEngine(station, points, writer, control=control).run()
    station.close()
    assert seen == [True], "the watcher never read the pause"
    assert operator.stops == 0
    assert summary.status == "finished"
    status, ledger, events = read_back(writer.path)
    assert ledger == list(range(len(points)))
    kinds = [(e.kind, e.point_index) for e in events]
    assert "sweep_stopped" not in [k for k, _ in kinds]
    # The pause took effect at the next check point: before the point after the sweep.
    assert ("pause", SWEEP + 1) in kinds and ("resume", SWEEP + 1) in kinds


def test_without_a_stop_link_the_abort_waits_for_the_sweep(tmp_path, hook_clock, monkeypatch,
                                                          caplog):
    plan = load_plan_text(PLAN.format(mode="controller"), "plan.yaml")
    station, points, writer = new_run(tmp_path, plan)
    monkeypatch.setattr(station, "sweep_stopper", lambda: None)  # a one-port controller
    operator = Operator(station, monkeypatch, lambda: send_command(writer.path, "abort"))
    summary = RunEngine(station, points, writer, control=RunControl(writer.path)).run()
    station.close()
    assert operator.acted and summary.status == "aborted"
    status, ledger, events = read_back(writer.path)
    # As before the stop link: the sweep ran to its end, its spectrum was stored whole.
    assert ledger == list(range(SWEEP + 1))
    assert "sweep_stopped" not in [e.kind for e in events]


# ------------------------------------------------------------------------- the watcher
def test_watcher_sends_nothing_without_an_abort():
    stops: list[int] = []
    looks = threading.Semaphore(0)

    def abort_requested() -> bool:
        looks.release()
        return False

    with StopOnAbort(abort_requested, lambda: stops.append(1), poll_s=0.01) as watch:
        for _ in range(3):  # it keeps looking...
            assert looks.acquire(timeout=WAIT_S)
    assert not watch.fired and stops == []  # ...and never stops anything


def test_watcher_keeps_stopping_until_the_block_ends(caplog):
    """A Stop that reaches the controller before its sweep starts is lost: send it again."""
    stops: list[int] = []

    def stop() -> None:
        stops.append(1)
        if len(stops) == 1:
            raise ConnectionError("link busy")  # logged once; the watcher goes on

    with caplog.at_level(logging.WARNING), StopOnAbort(lambda: True, stop, poll_s=0.01) as watch:
        assert wait_until(lambda: len(stops) >= 3)
    assert watch.fired
    assert [r.getMessage() for r in caplog.records] == [
        "could not stop the controller's sweep: link busy"
    ]
    # Leaving the block ended the watcher: no Stop can reach a later sweep.
    assert "stop-on-abort" not in [t.name for t in threading.enumerate()]
