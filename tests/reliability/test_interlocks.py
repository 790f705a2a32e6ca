"""Events in the simulated world during a spectrum: a temperature spike, a tip crash, a
saturated current preamplifier. The engine re-takes or withdraws the tip and pauses."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from stm_andreev.station import Station

from .conftest import MID_SPECTRUM_TIME_S, assert_complete_and_plausible, dry_run

pytestmark = pytest.mark.faults

N_BIAS_MID = 5  # the lock-in read (within a spectrum) at which a scripted lab event happens


def at_lockin_read(point_reads: int, action: Callable[[Station], None]):
    """A ``prepare`` hook: run ``action`` on the lab at the ``point_reads``-th lock-in read
    taken with the feedback loop open (i.e. inside a bias sweep), once.

    There is no wire fault for a crash or a saturation (they happen in the junction, not on
    a cable), so the lab state is changed directly, at a moment of the sweep.
    """

    def prepare(station: Station, writer) -> None:
        original = station.lockin.snap_xy
        state = {"reads": 0, "done": False}

        def snap():
            if not state["done"] and not station.lab.feedback_on:
                state["reads"] += 1
                if state["reads"] == point_reads:
                    state["done"] = True
                    action(station)
            return original()

        station.lockin.snap_xy = snap

    return prepare


def pause_watcher(seen: list[dict], holder: dict) -> Callable[[], None]:
    def watch() -> None:
        lab = holder["station"].lab
        seen.append({"feedback": lab.feedback_on, "z_m": lab.z_m, "z_top_m": lab.z_limits_m[1],
                     "bias_V": lab.bias_V})
    return watch


def test_temperature_spike_during_spectrum_is_retaken(tmp_path, reference, outcome):
    fault = {"kind": "temperature_spike", "at_time_s": MID_SPECTRUM_TIME_S, "delta_K": 0.05,
             "duration_s": 30.0}
    run = dry_run(tmp_path, [fault], outcome=outcome)
    outcome.fault, outcome.instrument = "temperature spike +50 mK for 30 s mid-spectrum", "lab"
    assert run.error is None and run.status == "finished", run.error
    assert run.injected["lab"] == 1
    retakes = [e for e in run.events if e[0] == "retake"]
    assert [p for _, p, _ in retakes] == [1], run.events
    assert "left its band" in retakes[0][2]
    row = run.rows_of()[1]
    assert run.table["retake_count"][row] == 1
    # the re-take waited for the fridge to settle again: both ends of it inside the band
    for key in ("temperature_before_K", "temperature_after_K"):
        assert abs(run.table[key][row] - 0.065) < 0.002, key
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("excursion caught, spectrum discarded, re-taken after the "
                        "temperature settled; run finished")


def test_tip_crash_withdraws_pauses_and_logs(tmp_path, reference, outcome):
    seen: list[dict] = []
    holder: dict = {}

    def crash(station: Station) -> None:
        station.lab.z_m = station.lab.z_limits_m[0]  # drive the tip into the sample

    def prepare(station, writer):
        holder["station"] = station
        at_lockin_read(N_BIAS_MID + 11, crash)(station, writer)  # inside spectrum 1

    run = dry_run(tmp_path, [], outcome=outcome, prepare=prepare,
                  on_pause=pause_watcher(seen, holder))
    outcome.fault, outcome.instrument = "tip crash (safe-tip event) mid-sweep", "stm"
    assert run.error is None and run.status == "finished", run.error
    outcome.injections = 1
    events = [(k, p) for k, p, _ in run.events]
    assert ("safe_tip", 1) in events and ("pause", 1) in events and ("resume", 1) in events
    assert run.control.pauses == 1
    # while paused: loop open and the tip at the top of its range (withdrawn)
    assert seen and seen[0]["feedback"] is False
    assert seen[0]["z_m"] == pytest.approx(seen[0]["z_top_m"])
    # the crashed spectrum is not stored: point 1 is there once, measured after the resume
    assert sorted(run.ledger) == [0, 1, 2, 3]
    assert np.all(np.isfinite(run.spectra["G_S"]))
    outcome.happened = ("safe-tip event logged, tip withdrawn, run paused; after resume the "
                        "point was re-taken")


def test_preamp_saturation_withdraws_pauses_and_logs(tmp_path, reference, outcome):
    seen: list[dict] = []
    holder: dict = {}

    def approach(station: Station) -> None:
        # 0.3 nm closer with the loop open: the 1 nA tunnelling current grows ~100-fold,
        # past what the high-gain preamp range can pass
        station.lab.z_m = station.lab.z_m - 3e-10

    def prepare(station, writer):
        holder["station"] = station
        at_lockin_read(N_BIAS_MID, approach)(station, writer)  # inside spectrum 0 (1 nA)

    run = dry_run(tmp_path, [], outcome=outcome, prepare=prepare,
                  on_pause=pause_watcher(seen, holder))
    outcome.fault, outcome.instrument = "preamp saturation mid-sweep", "stm"
    assert run.error is None and run.status == "finished", run.error
    outcome.injections = 1
    sat = [e for e in run.events if e[0] == "saturation"]
    assert len(sat) == 1 and sat[0][1] == 0 and "rail" in sat[0][2], run.events
    assert ("pause", 0) in [(k, p) for k, p, _ in run.events]
    assert seen and seen[0]["feedback"] is False
    assert seen[0]["z_m"] == pytest.approx(seen[0]["z_top_m"])
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("saturation logged, tip withdrawn, run paused; after resume the point "
                        "was re-taken")
