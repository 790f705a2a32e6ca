"""Instruments that restart (losing their settings) or refuse a command during a dry run."""

from __future__ import annotations

import re

import numpy as np
import pytest

from .conftest import MID_SWEEP, assert_complete_and_plausible, dry_run

pytestmark = pytest.mark.faults


def test_lockin_restart_is_detected_and_settings_restored(tmp_path, reference, outcome):
    fault = {"kind": "restart", "instrument": "lockin", "after_commands": MID_SWEEP["lockin"]}
    run = dry_run(tmp_path, [fault], outcome=outcome)
    outcome.fault, outcome.instrument = "restart (power cycle, settings lost)", "lockin"
    assert run.error is None and run.status == "finished", run.error
    assert run.injected["lockin"] == 1
    lost = [e for e in run.events if e[0] == "settings_lost"]
    assert len(lost) == 1 and lost[0][1] == 1, run.events
    assert "time constant" in lost[0][2] and "sensitivity" in lost[0][2]
    assert ("retake", 1) in [(k, p) for k, p, _ in run.events]
    row = run.rows_of()[1]
    assert run.table["retake_count"][row] == 1
    # The stored spectrum was measured with the planned settings, restored before the re-take.
    ref_row = reference.rows_of()[1]
    for key in ("lockin_time_constant_s", "lockin_sensitivity_V", "modulation_Vrms"):
        assert run.table[key][row] == pytest.approx(reference.table[key][ref_row]), key
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("settings change caught after the spectrum (time constant, sensitivity, "
                        "amplitude), settings re-applied, point re-taken")


def test_fridge_controller_restart_is_caught_by_the_temperature_check(
    tmp_path, reference, outcome
):
    """The Lake Shore forgets heater range and PID: the mixing chamber drifts, the spectrum
    leaves its temperature band, and the engine re-sets the temperature before re-taking."""
    fault = {"kind": "restart", "instrument": "fridge", "after_commands": MID_SWEEP["fridge"]}
    run = dry_run(tmp_path, [fault], outcome=outcome)
    outcome.fault, outcome.instrument = "restart (power cycle, settings lost)", "fridge"
    assert run.error is None and run.status == "finished", run.error
    assert run.injected["fridge"] == 1
    retakes = [e for e in run.events if e[0] == "retake"]
    assert len(retakes) == 1 and "left its band" in retakes[0][2], run.events
    # heater settings sent again (a new "going to" for the same point) before the re-take
    assert ("temperature", retakes[0][1]) in [(k, p) for k, p, _ in run.events[
        run.events.index(retakes[0]):]]
    rows = run.rows_of()
    assert np.all(np.abs(run.table["temperature_after_K"][[rows[i] for i in range(3)]] - 0.065)
                  < 0.002)
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("heater range and PID lost; temperature left its band, temperature "
                        "re-set and settled, point re-taken")


def test_nanonis_restart_loses_nothing_lockin_acquisition_uses(tmp_path, reference, outcome):
    """A restart of the Nanonis software forgets its spectroscopy and modulator settings;
    lock-in acquisition uses neither, and bias/feedback live in the controller hardware."""
    fault = {"kind": "restart", "instrument": "stm", "after_commands": MID_SWEEP["stm"]}
    run = dry_run(tmp_path, [fault], outcome=outcome)
    outcome.fault, outcome.instrument = "restart (power cycle, settings lost)", "stm"
    assert run.error is None and run.status == "finished", run.error
    assert run.injected["stm"] == 1
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("software settings the lock-in sweep does not use were lost; "
                        "spectra unchanged, run finished")


def test_nanonis_error_block_pauses_safely_naming_the_command(tmp_path, reference, outcome):
    seen: dict[str, object] = {}

    def while_paused() -> None:
        lab = run_station["station"].lab
        seen.update(feedback=lab.feedback_on, bias=lab.bias_V,
                    heater=lab.fridge.heater_range)

    run_station: dict[str, object] = {}
    fault = {"kind": "error_status", "instrument": "stm", "after_commands": MID_SWEEP["stm"]}
    run = dry_run(tmp_path, [fault], outcome=outcome, on_pause=while_paused,
                  prepare=lambda station, writer: run_station.update(station=station))
    outcome.fault, outcome.instrument = "error block in a reply (error_status)", "stm"
    assert run.error is None and run.status == "finished", run.error
    assert run.injected["stm"] == 1
    errors = [e for e in run.events if e[0] == "instrument_error"]
    assert len(errors) == 1, run.events
    # the message names the Nanonis command that was refused, and the controller's text
    assert re.search(r"\b[A-Z][A-Za-z]+\.[A-Z][A-Za-z]+: Injected fault", errors[0][2]), errors
    kinds = run.event_kinds
    assert kinds[kinds.index("instrument_error") + 1] == "pause"
    assert run.control.pauses == 1
    # safe state while paused: feedback on at the setpoint bias; the fridge keeps regulating
    # at the point's temperature (range 3 is the 65 mK band; a pause is not an exit)
    assert seen == {"feedback": True, "bias": pytest.approx(-3e-3), "heater": 3}
    assert_complete_and_plausible(run, reference)
    outcome.happened = (f"surfaced as '{errors[0][2]}'; run paused with feedback on, bias at "
                        "V_sp; point re-taken after resume")



def test_lockin_overload_during_a_sweep_is_retaken(tmp_path, reference, outcome):
    """The lock-in latches an overload (LIAS? bit 0) in the middle of spectrum 1: the clipped
    readings are not stored; the spectrum is re-taken."""
    fault = {"kind": "error_status", "instrument": "lockin", "after_commands": MID_SWEEP["lockin"]}
    run = dry_run(tmp_path, [fault], outcome=outcome)
    outcome.fault, outcome.instrument = "overload status (error_status on LIAS?)", "lockin"
    assert run.error is None and run.status == "finished", run.error
    assert run.injected["lockin"] == 1
    retakes = [e for e in run.events if e[0] == "retake"]
    assert [p for _, p, _ in retakes] == [1] and "overload" in retakes[0][2], run.events
    assert run.table["retake_count"][run.rows_of()[1]] == 1
    assert_complete_and_plausible(run, reference)
    outcome.happened = ("overload latched during the sweep; spectrum discarded and re-taken "
                        "(was: stored as ok, only logged)")


def test_invalid_thermometer_reading_is_never_used(tmp_path, reference, outcome):
    """The Lake Shore flags a reading T.UNDER (RDGST? bit 7) mid-spectrum: the number that
    came with it is refused (LakeShoreReadingError), read again, and never stored."""
    from stm_andreev.drivers.lakeshore372_types import LakeShoreReadingError

    refused: list[str] = []

    def spy(station, writer) -> None:
        read = station.temperature.temperature

        def temperature(channel):
            try:
                return read(channel)
            except LakeShoreReadingError as exc:
                refused.append(str(exc))
                raise

        station.temperature.temperature = temperature

    fault = {"kind": "error_status", "instrument": "fridge", "after_commands": MID_SWEEP["fridge"],
             "bits": 128}
    run = dry_run(tmp_path, [fault], outcome=outcome, prepare=spy)
    outcome.fault, outcome.instrument = "reading flagged invalid (RDGST? T.UNDER)", "fridge"
    assert run.error is None and run.status == "finished", run.error
    assert run.injected["fridge"] == 1
    assert len(refused) == 1, refused
    for key in ("temperature_before_K", "temperature_after_K"):
        np.testing.assert_allclose(run.table[key], reference.table[key], atol=0.002)
    assert_complete_and_plausible(run, reference)
    outcome.happened = "flagged reading refused by the driver and read again; stored values valid"
