"""The computer's wall clock stepping back or forward during a run.

Where time is used (checked for this test): the station's waits (settling, dwell, lock-in
settle) run on the station clock, on hardware ``time.monotonic``; the control-file poll, the
warning rate limit, link resets, the sweep-stop wait and the progress bar use monotonic time;
run-file, event and notification time stamps are wall time (they say when, in the lab's
calendar). Found: pyvisa-py times its reads with ``time.time()``, so a wall-clock step back
during a silent instrument's read held the read (and the run) for the length of the step; the
GUI's ETA came from wall-clock differences, so a step made it negative or huge. Now
pyvisa-py's deadlines run on the monotonic clock (stm_andreev/visa_timeouts.py, installed when a
station is built) and the GUI's rate on monotonic time.
"""

from __future__ import annotations

import math
import socket
import threading
import time

import numpy as np
import pytest

from stm_andreev.clock import ScaledClock, WallClock
from stm_andreev.gui.runfile import RunFollower

from ..gui.physics_runs import append, create_run, plan_rows
from .conftest import dry_run

pytestmark = [pytest.mark.faults, pytest.mark.hostile]

STEP_S = 3600.0


class SteppedWallClock:
    """``time.time`` that reads ``offset`` seconds off while ``offset`` is set; after
    :meth:`step_after_next`, the thread's next reading is true and those after it are stepped
    (a deadline taken just before the clock is set)."""

    def __init__(self, real=time.time) -> None:
        self.real = real
        self.offset = 0.0
        self._armed: tuple[threading.Thread, float] | None = None

    def step_after_next(self, thread: threading.Thread, step: float) -> None:
        self._armed = (thread, step)

    def __call__(self) -> float:
        now = self.real() + self.offset
        if self._armed is not None and threading.current_thread() is self._armed[0]:
            self.offset, self._armed = self._armed[1], None
        return now


@pytest.fixture
def silent_instrument():
    """A loopback listener that accepts and then never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True)
    thread.start()
    yield server.getsockname()[1]
    for conn in accepted:
        conn.close()
    server.close()


def test_a_visa_read_ends_on_time_when_the_wall_clock_steps_back(silent_instrument,
                                                                  monkeypatch, outcome):
    import pyvisa

    from stm_andreev.config import load_station
    from stm_andreev.station import Station

    outcome.fault, outcome.instrument = "wall clock stepped back 1 h during a read", "clock"
    outcome.injections, outcome.spectra_planned = 1, 0
    # Building any station installs the monotonic deadlines (the simulated one: no hardware).
    Station.from_config(load_station("simulated")).close()
    manager = pyvisa.ResourceManager("@py")
    resource = manager.open_resource(f"TCPIP::127.0.0.1::{silent_instrument}::SOCKET",
                                     timeout=300, read_termination="\n",
                                     write_termination="\n")
    wall = SteppedWallClock()
    monkeypatch.setattr(time, "time", wall)
    result: list[BaseException | str] = []

    def read() -> None:
        try:
            result.append(resource.read())
        except BaseException as exc:  # the outcome is judged below
            result.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    # the clock is set back just after the read took its deadline, the instrument silent
    wall.step_after_next(thread, -STEP_S)
    thread.start()
    thread.join(60)
    finished = not thread.is_alive()
    wall.offset = 0.0  # (on the old code: lets the stuck read reach its deadline and end)
    resource.close()
    assert finished, "the read did not end: its timeout moved with the wall clock"
    assert isinstance(result[0], pyvisa.errors.VisaIOError)
    assert result[0].error_code == pyvisa.constants.StatusCode.error_timeout
    outcome.happened = ("the silent instrument's read timed out after its 0.3 s (a link error, "
                        "retried), not after the 1 h step")


@pytest.mark.parametrize("step", [-STEP_S, STEP_S], ids=["back", "forward"])
def test_station_clocks_and_the_run_ignore_wall_clock_steps(tmp_path, monkeypatch, outcome,
                                                            reference, step):
    """Every wait of a run is on the station clock; a stepped ``time.time`` changes no spectrum
    and no wait (the dry run is compared with the fault-free one of the same seed)."""
    outcome.fault = f"wall clock stepped {'back' if step < 0 else 'forward'} 1 h during a run"
    outcome.instrument = "clock"
    wall = SteppedWallClock()
    monkeypatch.setattr(time, "time", wall)
    clocks = [WallClock(), ScaledClock(10.0)]
    before = [c.now() for c in clocks]

    def on_spectrum(*_):
        wall.offset = step if wall.offset == 0 else 0.0  # step, and step back, between spectra

    run = dry_run(tmp_path, on_spectrum=on_spectrum, outcome=outcome)
    outcome.injections = 1
    after = [c.now() for c in clocks]
    assert all(0 <= b - a < 600 for a, b in zip(before, after, strict=True))
    assert run.status == "finished" and sorted(run.ledger) == [0, 1, 2, 3]
    np.testing.assert_array_equal(run.spectra["G_S"], reference.spectra["G_S"])
    np.testing.assert_array_equal(run.table["time_s"], reference.table["time_s"])
    outcome.happened = ("run finished; spectra and their station times identical to a run "
                        "without the step; wall and scaled clocks did not move with it")


def test_the_gui_eta_survives_a_wall_clock_step(tmp_path, outcome):
    outcome.fault, outcome.instrument = "wall clock stepped back 1 h (GUI ETA)", "clock"
    outcome.injections, outcome.spectra_planned = 1, 0
    rows = plan_rows(n_setpoints=10, temperatures_K=())
    bias = np.linspace(-1.5e-3, 1.5e-3, 21)
    writer = create_run(tmp_path / "eta.h5", len(rows), n_bias=21)
    mono = [1000.0]
    wall = SteppedWallClock(real=time.time)
    follower = RunFollower(tmp_path / "eta.h5", now=wall, monotonic=lambda: mono[0])
    try:
        append(writer, 0, rows[0], bias)
        follower.poll_status()
        for i in (1, 2):  # 0.1 spectrum/s on the monotonic clock, 7 to go -> 70 s
            mono[0] += 10.0
            if i == 2:
                wall.offset = -STEP_S
            append(writer, i, rows[i], bias)
            follower.poll_status()
        p = follower.progress()
        assert p.eta_s == pytest.approx(70.0)
        assert math.isnan(p.elapsed_s)  # the wall clock now reads before the run's start
    finally:
        writer.close("aborted")
        follower.close()
    outcome.happened = "ETA from monotonic time (70 s, as without the step); elapsed shown as unknown"
