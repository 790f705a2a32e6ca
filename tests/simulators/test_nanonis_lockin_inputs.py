"""The Nanonis emulator's analog inputs ``Input 1 (V)``/``Input 2 (V)``, wired to the external
lock-in's CH1/CH2 outputs: X (Y) / sensitivity x 10 V of the lab's lock-in, clipped at 10.9 V,
and one lock-in reading per sweep point for both. The driver reads float32 over the wire, so
values compare at float32 precision."""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.nanonis import NanonisController
from stm_andreev.simulators.emulators.nanonis import NanonisEmulator
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.lab.electronics import ANALOG_OUTPUT_LIMIT_V
from stm_andreev.simulators.transports.inprocess import EmulatorSocket

INPUTS = ["Input 1 (V)", "Input 2 (V)"]
F32 = 1e-6  # relative precision of a float32 on the wire, with margin
SENSITIVITY_V = 1e-2


@pytest.fixture
def lab() -> VirtualLab:
    clock = VirtualClock()
    lab = VirtualLab("InO-2", clock=clock, seed=7)
    lab.lockin.modulation_Vrms = 20e-6
    lab.lockin.time_constant_s = 0.01
    lab.lockin.sensitivity_V = SENSITIVITY_V
    return lab


@pytest.fixture
def ctl(lab) -> NanonisController:
    emulator = NanonisEmulator(lab)
    ctl = NanonisController(socket_factory=EmulatorSocket.factory(emulator, clock=lab.clock))
    ctl.set_current_gain(1e8)
    ctl.set_bias(-3e-3)
    ctl.set_setpoint(1e-8)
    ctl.set_feedback(True)
    lab.clock.sleep(30.0)
    ctl.set_feedback(False)
    lab.clock.sleep(1.0)
    return ctl


def test_inputs_are_appended_so_earlier_signal_indexes_keep_their_meaning(ctl):
    names = ctl.signal_names()
    assert names[:8] == ["Current (A)", "Bias (V)", "Z (m)", "LI Demod 1 X (A)",
                         "LI Demod 1 Y (A)", "X (m)", "Y (m)", "Preamp output (V)"]
    assert names[8:] == INPUTS


def test_input_1_follows_x_over_the_sensitivity_times_10_V(ctl, lab):
    for bias in (-1.5e-3, 0.0, 1.0e-3):
        ctl.set_bias(bias)
        lab.clock.sleep(0.2)
        v1, v2 = (ctl.signal_value(name) for name in INPUTS)
        x, y = lab.lockin.read_xy_V()  # the same instant: the same reading, noise included
        assert v1 == pytest.approx(x / SENSITIVITY_V * 10.0, rel=F32)
        assert v2 == pytest.approx(y / SENSITIVITY_V * 10.0, rel=F32, abs=1e-9)
    assert 0.5 < ctl.signal_value("Input 1 (V)") < 10.0  # a signal, not noise


def test_inputs_clip_at_the_output_limit(ctl, lab):
    lab.lockin.sensitivity_V = 1e-4  # X is tens of times full scale
    lab.clock.sleep(1.0)
    assert ctl.signal_value("Input 1 (V)") == pytest.approx(ANALOG_OUTPUT_LIMIT_V, rel=F32)
    assert lab.lockin.read_xy_V()[0] / 1e-4 * 10.0 > 2 * ANALOG_OUTPUT_LIMIT_V


def test_inputs_carry_what_the_outputs_are_routed_to(ctl, lab):
    lab.lockin.output_sources = ("R", "THETA")
    v1, v2 = (ctl.signal_value(name) for name in INPUTS)
    x, y = lab.lockin.read_xy_V()
    assert v1 == pytest.approx(np.hypot(x, y) / SENSITIVITY_V * 10.0, rel=F32)
    assert v2 == pytest.approx(np.degrees(np.arctan2(y, x)) / 18.0, rel=F32)


def test_a_sweep_point_reads_both_inputs_from_one_lock_in_reading(ctl, lab, monkeypatch):
    readings: list[tuple[float, tuple[float, float]]] = []
    read = lab.lockin.analog_outputs_V

    def recorded() -> tuple[float, float]:
        readings.append((lab.clock.now(), read()))
        return readings[-1][1]

    monkeypatch.setattr(lab.lockin, "analog_outputs_V", recorded)
    n, settle_s, integration_s = 21, 0.09, 0.01
    t0 = lab.clock.now()
    data = ctl.bias_spectroscopy(-1.5e-3, 1.5e-3, n, settle_s, integration_s, channels=INPUTS,
                                 initial_settling_s=0.0, end_settling_s=0.0)
    assert list(data) == ["Bias (V)", *INPUTS]
    # One reading per point, at the point's end (timing sent as float32): both inputs of a
    # point hold its X and Y.
    assert len(readings) == n
    times = np.array([t for t, _ in readings]) - t0
    np.testing.assert_allclose(times, (np.arange(n) + 1) * (settle_s + integration_s), rtol=F32)
    values = np.array([v for _, v in readings])
    np.testing.assert_allclose(data["Input 1 (V)"], values[:, 0], rtol=F32)
    np.testing.assert_allclose(data["Input 2 (V)"], values[:, 1], rtol=F32, atol=1e-9)
    # The gap: X at zero bias is well below X at the coherence peaks.
    x = data["Input 1 (V)"]
    assert x[n // 2] < 0.5 * x.max()
