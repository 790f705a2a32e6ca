"""``acquisition: controller_lockin`` end to end: the Nanonis times the sweep and records the
SR830's X and Y outputs on its inputs. In process on a virtual clock (and once over TCP).

The spectrum must equal the point-by-point lock-in spectrum of an identically seeded station
within the simulated noise, a plan must run whole through the engine with its lock-in settings
in the run file, a lock-in restart during the sweep must get the spectrum re-taken, and clipped
outputs must never be stored. (The abort is in test_controller_abort.py, the duration against
the plan estimate in test_plan_estimate.py.)
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest

from stm_andreev.config import load_plan_text, load_station
from stm_andreev.drivers.srs_tables import SR830_MODEL
from stm_andreev.engine import RunControl, RunEngine
from stm_andreev.procedures import (
    LockInOverload,
    SpectrumSettings,
    bias_sweeps,
    plan_points,
    spectroscopy,
    take_spectrum,
)
from stm_andreev.station import Station
from stm_andreev.storage import RunReader

from ..shared import served_station, short_settings
from .conftest import new_run, station_config

FAST = "settle_s: 0.01, integration_s: 0.01, feedback_settle_s: 0.1"
N_BIAS = 151


class NoPauseControl(RunControl):
    """Fails the test where the engine would pause for the operator (and wait forever)."""

    def wait_while_paused(self, on_pause=None) -> None:
        if self.paused:
            raise AssertionError("the run paused (an interlock or too many re-takes)")
        super().wait_while_paused(on_pause)


def single_plan(mode: str, setpoint_A: float):
    text = (f"name: one\nkind: single_spectrum\nsetpoint_A: {setpoint_A}\nacquisition: {mode}\n"
            f"n_bias: {N_BIAS}\n" + FAST.replace(", ", "\n"))
    return load_plan_text(text, "one.yaml")


def one_spectrum(mode: str, setpoint_A: float):
    """A spectrum on a fresh station of configs/simulated.yaml (seed 1), and the lab's output
    routing afterwards."""
    station = Station.from_config(station_config(), source_text="test")
    try:
        point = plan_points(single_plan(mode, setpoint_A))[0]
        spectrum = take_spectrum(station, point.setpoint_A, point.settings)
        return spectrum, station.lab.lockin.output_sources
    finally:
        station.close()


@pytest.mark.parametrize("setpoint_A", [1e-8, 1e-6], ids=["tunnelling", "contact"])
def test_spectrum_agrees_with_the_point_by_point_lockin_spectrum(setpoint_A):
    reference, _ = one_spectrum("lockin", setpoint_A)
    measured, outputs = one_spectrum("controller_lockin", setpoint_A)
    assert outputs == ("X", "Y")  # the procedure routed the outputs
    for key in ("preamp_gain_V_per_A", "lockin_sensitivity_V", "lockin_time_constant_s",
                "modulation_Vrms"):
        assert measured.record[key] == reference.record[key], key
    G_N = reference.record["G_sp_S"]
    assert measured.record["G_sp_S"] == pytest.approx(G_N, rel=0.01)
    # The noise of one reading in units of G_N: Y carries noise only (the reference phase is
    # aligned with the signal), and the procedure picks the filter for an SNR of 300 at G_N.
    to_G = reference.record["preamp_gain_V_per_A"] * reference.record["modulation_Vrms"]
    sigma = float(np.std(reference.Y_V)) / to_G / G_N
    assert 0 < sigma < 1 / 300
    # Two readings with independent noise differ by sqrt(2) sigma rms; 6 of those bound the
    # largest of 151 differences. Point by point the reading comes after settling to 1e-3 of
    # the step from the previous point, so up to 1e-3 of the largest step may remain.
    settling = 1e-3 * float(np.max(np.abs(np.diff(reference.G_S)))) / G_N
    difference = (measured.G_S - reference.G_S) / G_N
    assert np.max(np.abs(difference)) < 6 * math.sqrt(2) * sigma + settling
    assert np.sqrt(np.mean(difference**2)) < 2 * math.sqrt(2) * sigma
    # X and Y came back in volts rms at the lock-in input, as point by point.
    np.testing.assert_allclose(measured.X_V, measured.G_S * to_G, rtol=1e-12)
    assert np.std(measured.Y_V) == pytest.approx(np.std(reference.Y_V), rel=0.5)
    # Not trivially equal: tunnelling is gapped; in contact (1 uA: Z ~ 5.5 over 140 channels)
    # Andreev reflection lifts the gap above the Dynes floor of tunnelling (0.061 G_N; 0.071
    # measured).
    middle = N_BIAS // 2
    if setpoint_A < 1e-7:
        assert measured.G_S[middle] < 0.2 * measured.G_S[0]
    else:
        assert measured.G_S[middle] > 0.066 * measured.G_S[0]


def test_a_plan_runs_through_the_engine_with_its_lockin_settings_in_the_run_file(tmp_path):
    text = f"""
name: controller-lockin-plan
steps:
  - kind: setpoint_sweep
    acquisition: controller_lockin
    temperature_K: 0.065
    I_start_A: 1.0e-9
    I_stop_A: 1.0e-6
    n_setpoints: 4
    n_bias: 41
    {FAST.replace(", ", chr(10) + "    ")}
  - kind: temperature_sweep
    acquisition: controller_lockin
    temperatures_K: [0.3]
    setpoint_A: 1.0e-6
    n_bias: 41
    lockin_time_constant_s: 0.01
    lockin_filter_slope_db: 12
    {FAST.replace(", ", chr(10) + "    ")}
"""
    plan = load_plan_text(text, "plan.yaml")
    station, points, writer = new_run(tmp_path, plan)
    summary = RunEngine(station, points, writer, control=NoPauseControl(None)).run()
    station.close()
    assert summary.status == "finished" and summary.measured == 5
    with RunReader(writer.path) as run:
        spectra, table, events = run.spectra(), run.table(), run.events()
        ledger = sorted(int(p) for p in run.ledger)
    assert ledger == list(range(5))
    assert not [e for e in events if e.kind in ("retake", "settings_lost")]
    assert np.all(np.isfinite(spectra["G_S"])) and spectra["G_S"].shape == (5, 41)
    # Every spectrum with the lock-in settings the rule gives for its setpoint decade.
    for row, point in enumerate(points):
        gain, chosen = spectroscopy.settings_for_setpoint(
            point.setpoint_A, point.settings, (1e6, 1e7, 1e8, 1e9, 1e10), "SR830")
        assert table["preamp_gain_V_per_A"][row] == gain
        assert table["lockin_sensitivity_V"][row] == pytest.approx(chosen.sensitivity_V)
        assert table["lockin_time_constant_s"][row] == pytest.approx(chosen.time_constant_s)
        assert table["modulation_Vrms"][row] == pytest.approx(20e-6)
    assert table["lockin_time_constant_s"][4] == pytest.approx(0.01)
    # G in siemens: G_N = I_sp / V_sp at the bias ends (far from the gap) within ~15 %.
    ends = spectra["G_S"][:, [0, -1]].mean(axis=1)
    np.testing.assert_allclose(ends, table["G_sp_S"], rtol=0.15)


def test_a_lockin_restart_during_the_sweep_gets_the_spectrum_retaken(tmp_path, hook_clock):
    """The lock-in power-cycles in the middle of the first sweep (sensitivity back to 1 V, its
    outputs back to the displays): the controller's readings are wrong from there on, so the
    engine's check after the spectrum must catch it and re-take with the settings restored."""
    plan = load_plan_text(
        "name: restart\nkind: single_spectrum\nsetpoint_A: 1.0e-8\nacquisition: "
        "controller_lockin\nn_bias: 41\n" + FAST.replace(", ", "\n"), "plan.yaml")
    station, points, writer = new_run(tmp_path, plan)
    lockin_emulator = station.lockin.adapter.emulator
    sweeping = {"sleeps": 0, "restarted": False}
    start = station.feedback.start_bias_spectroscopy

    def tick() -> None:
        sweeping["sleeps"] += 1
        if sweeping["sleeps"] == 20 and not sweeping["restarted"]:
            sweeping["restarted"] = True
            lockin_emulator.reset()

    def counted_start(*args, **kwargs):
        hook_clock.hook = tick
        try:
            return start(*args, **kwargs)
        finally:
            hook_clock.hook = None

    station.feedback.start_bias_spectroscopy = counted_start
    summary = RunEngine(station, points, writer, control=NoPauseControl(None)).run()
    station.close()
    assert sweeping["restarted"] and summary.status == "finished"
    with RunReader(writer.path) as run:
        table, events = run.table(), run.events()
    lost = [e for e in events if e.kind == "settings_lost"]
    assert len(lost) == 1 and "sensitivity" in lost[0].message
    assert "lockin outputs X/Y" in lost[0].message
    assert [e.kind for e in events].count("retake") == 1
    assert table["retake_count"][0] == 1
    reference, _ = one_spectrum("controller_lockin", 1e-8)
    assert table["lockin_sensitivity_V"][0] == reference.record["lockin_sensitivity_V"]


@pytest.mark.parametrize("latched", [True, False], ids=["status latched", "volts alone"])
def test_outputs_beyond_full_scale_are_never_stored(monkeypatch, latched):
    """A sensitivity two decades too fine: the outputs clip at 10.9 V. The spectrum is refused
    (a re-take for the engine) and the loop closed at V_sp, also when the lock-in's status
    shows nothing: then the recorded volts alone must tell."""
    rule = spectroscopy.settings_for_setpoint

    def too_sensitive(*args, **kwargs):
        gain, chosen = rule(*args, **kwargs)
        index = SR830_MODEL.sensitivities_V.index(chosen.sensitivity_V)
        return gain, dataclasses.replace(chosen,
                                         sensitivity_V=SR830_MODEL.sensitivities_V[index - 6])

    monkeypatch.setattr(spectroscopy, "settings_for_setpoint", too_sensitive)
    station = Station.from_config(station_config(), source_text="test")
    if not latched:  # a status that missed it
        monkeypatch.setattr(station.lockin, "overloaded", lambda: False)
    try:
        point = plan_points(single_plan("controller_lockin", 1e-8))[0]
        message = r"outputs up to 10\.9 V of 10 V full scale" + (", status latched" if latched
                                                                 else r"\)")
        with pytest.raises(LockInOverload, match=message):
            take_spectrum(station, point.setpoint_A, point.settings)
        assert station.lab.feedback_on and station.lab.bias_V == pytest.approx(-3e-3)
    finally:
        station.close()


@pytest.mark.parametrize(("rail_V", "overload"), [(10.0, True), (-10.0, True), (9.99, False)])
def test_a_reading_at_full_scale_counts_as_an_overload(rail_V, overload):
    """A controller input with a +-10 V range rails at full scale, below the lock-in's 10.9 V
    clip: a reading there is no measurement either."""
    bias = np.linspace(-1e-3, 1e-3, 5)
    x_V = np.array([1.0, 2.0, rail_V, 2.0, 1.0])
    lockin = SimpleNamespace(settle_time=lambda fraction: 0.1, status_bits=lambda: 0,
                             overloaded=lambda: False)
    feedback = SimpleNamespace(bias_spectroscopy=lambda *a, **k: {
        "Bias (V)": bias, "Input 1 (V)": x_V, "Input 2 (V)": np.zeros(5)})
    station = SimpleNamespace(lockin=lockin, feedback=feedback,
                              lockin_output_signals=("Input 1 (V)", "Input 2 (V)"))
    settings = SpectrumSettings(-3e-3, bias, "controller_lockin", 20e-6, 377.0, 0.0, 0.01,
                                0.1, 30.0)
    if overload:
        with pytest.raises(LockInOverload):
            bias_sweeps.sweep_with_controller_lockin(station, settings, 1e8, 1e-3)
    else:
        X, Y = bias_sweeps.sweep_with_controller_lockin(station, settings, 1e8, 1e-3)
        np.testing.assert_allclose(X, x_V * 1e-4)  # 10 V = 1 mV full scale
        assert not Y.any()


@pytest.mark.tcp
def test_one_spectrum_over_tcp_with_the_real_drivers():
    from stm_andreev.simulators.transports.station import SimulatedStationServers

    config = load_station("simulated-tcp")
    with SimulatedStationServers.from_station(config, free_ports=True) as servers:
        with served_station(servers) as station:
            assert station.lab is None
            settings = short_settings("controller_lockin", n_bias=21, integration_s=0.005)
            spectrum = take_spectrum(station, 1e-9, settings, abort_requested=lambda: False)
            assert station.lockin.xy_outputs_routed()
        assert servers.lab.lockin.output_sources == ("X", "Y")
    G = spectrum.G_S
    assert np.all(np.isfinite(G)) and G.shape == (21,)
    assert G[10] < 0.2 * G[0]  # the tunnelling gap is there at zero bias
    G_N = spectrum.record["G_sp_S"]
    assert G_N == pytest.approx(1e-9 / 3e-3, rel=0.05)
    assert 0.5 * G_N < G[0] < 2 * G_N
