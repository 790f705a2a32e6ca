"""The lock-in's physics inside the VirtualLab: filtered steps, the measured dI/dV, noise, overloads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stm_andreev.simulators.lab import LabError

from .conftest import settle

TAU = 0.01


def configure(lab, *, slope: int = 6, tau: float = TAU, amplitude: float = 0.02) -> None:
    li = lab.lockin
    li.amplitude_Vrms = amplitude  # 20 mV rms sine out -> 20 uV at the junction
    li.time_constant_s = tau
    li.filter_slope_db = slope
    li.sensitivity_V = 1.0
    li.phase_deg = 0.0


def frozen_contact(lab, clock, setpoint_A: float = 1e-7) -> float:
    """Settle, open the loop; returns the preamp gain in V/A."""
    settle(lab, clock, setpoint_A)
    lab.feedback_on = False
    return lab.preamp_gains_V_per_A[lab.preamp_gain_index]


def expected_x(lab, gain: float, bias_V: float) -> float:
    return gain * lab.true_dIdV_S(bias_V) * lab.lockin.modulation_Vrms


def test_modulation_is_amplitude_times_divider(lab) -> None:
    lab.lockin.amplitude_Vrms = 0.02
    assert lab.lockin.modulation_Vrms == pytest.approx(20e-6)
    lab.lockin.modulation_Vrms = 10e-6
    assert lab.lockin.amplitude_Vrms == pytest.approx(0.01)


@pytest.mark.parametrize(("slope", "settled_after_5tau"), [(6, True), (12, False)])
def test_bias_step_is_filtered(lab, clock, slope: int, settled_after_5tau: bool) -> None:
    configure(lab, slope=slope)
    # A contact (Z ~ 5.5 over 140 channels) where the zero-bias signal stands well above the
    # input noise.
    gain = frozen_contact(lab, clock, 1e-6)
    lab.bias_V = 0.0
    clock.advance(100 * TAU)
    old = expected_x(lab, gain, 0.0)
    lab.bias_V = 700e-6  # onto the coherence peak: a big change of dI/dV
    new = expected_x(lab, gain, 700e-6)
    assert abs(new - old) > 0.5 * abs(old)
    x_now, _ = lab.lockin.read_xy_V()
    assert x_now == pytest.approx(old, rel=0.01)  # right after the step: still the old value
    clock.advance(TAU)
    n = slope // 6
    residual = math.exp(-1.0) * sum(1.0 / math.factorial(k) for k in range(n))
    x_1tau, _ = lab.lockin.read_xy_V()
    assert x_1tau == pytest.approx(new + (old - new) * residual, rel=0.01)
    clock.advance(4 * TAU)
    x_5tau, _ = lab.lockin.read_xy_V()
    assert (abs(x_5tau - new) < 0.01 * abs(new - old)) is settled_after_5tau


def test_x_over_gain_vmod_is_the_model_dIdV(lab, clock) -> None:
    configure(lab, tau=0.1, slope=24)
    gain = frozen_contact(lab, clock, 1e-7)
    biases = np.linspace(-1.5e-3, 1.5e-3, 31)
    measured, ys = [], []
    for v in biases:
        lab.bias_V = float(v)
        clock.advance(20 * 0.1)
        x, y = lab.lockin.read_xy_V()
        measured.append(x / (gain * lab.lockin.modulation_Vrms))
        ys.append(y / (gain * lab.lockin.modulation_Vrms))
    truth = lab.true_dIdV_S(biases)
    scale = float(np.max(truth))
    np.testing.assert_allclose(measured, truth, atol=0.01 * scale)
    assert np.max(np.abs(ys)) < 0.01 * scale  # Y carries only noise at phase 0


def test_phase_rotates_signal_into_y(lab, clock) -> None:
    configure(lab, tau=0.1, slope=24)
    gain = frozen_contact(lab, clock)
    lab.lockin.phase_deg = 90.0
    clock.advance(3.0)
    x, y = lab.lockin.read_xy_V()
    signal = expected_x(lab, gain, lab.bias_V)
    assert abs(x) < 0.01 * abs(signal)
    assert y == pytest.approx(-signal, rel=0.01)


def test_noise_scales_with_sqrt_enbw(lab, clock) -> None:
    configure(lab, slope=6)
    frozen_contact(lab, clock, 1e-9)
    lab.preamp_gain_index = 4

    def spread(tau: float) -> float:
        lab.lockin.time_constant_s = tau
        clock.advance(100 * tau)
        xs = []
        for _ in range(400):
            clock.advance(10 * tau)
            xs.append(lab.lockin.read_xy_V()[0])
        return float(np.std(xs))

    ratio = spread(0.001) / spread(0.1)
    assert ratio == pytest.approx(10.0, rel=0.15)


def test_shot_noise_grows_with_current(lab, clock) -> None:
    configure(lab, tau=0.01)
    lab.feedback_on = False
    lab.preamp_gain_index = 2
    stds = []
    for z in (lab.z_m + 2e-10, lab.z_m - 3e-10):
        lab.z_m = z
        clock.advance(1.0)
        xs = []
        for _ in range(300):
            clock.advance(10 * TAU)
            xs.append(lab.lockin.read_xy_V()[1])
        stds.append(float(np.std(xs)))
    assert stds[1] > 1.5 * stds[0]


def test_noise_is_a_filtered_process_not_fresh_per_reading(lab, clock) -> None:
    configure(lab, tau=0.1)
    frozen_contact(lab, clock, 1e-9)
    lab.preamp_gain_index = 4
    clock.advance(10.0)
    assert lab.lockin.read_xy_V() == lab.lockin.read_xy_V()  # one instant, one value
    assert lab.measured_current_A() == lab.measured_current_A()
    # Readings 1 ms apart behind a 100 ms filter are nearly the same sample: averaging them
    # does not beat the noise down (their spread is far below the noise itself).
    fast = []
    for _ in range(50):
        clock.advance(1e-3)
        fast.append(lab.lockin.read_xy_V()[1])
    slow = []
    for _ in range(200):
        clock.advance(1.0)
        slow.append(lab.lockin.read_xy_V()[1])
    assert np.std(fast) < 0.5 * np.std(slow)


def test_output_overload_when_signal_exceeds_sensitivity(lab, clock) -> None:
    configure(lab)
    gain = frozen_contact(lab, clock)
    signal = expected_x(lab, gain, lab.bias_V)
    lab.lockin.sensitivity_V = 1.0
    clock.advance(1.0)
    assert lab.lockin.overload_bits() == 0
    lab.lockin.sensitivity_V = abs(signal) / 3
    clock.advance(1.0)
    assert lab.lockin.overload_bits() & 4


def test_input_overload_when_preamp_saturates(lab, clock) -> None:
    configure(lab)
    frozen_contact(lab, clock, 1e-6)
    lab.preamp_gain_index = 4
    clock.advance(1.0)
    assert lab.lockin.overload_bits() & 1
    x, _ = lab.lockin.read_xy_V()
    assert abs(x) < 1e-3  # a railed preamp carries no modulation


def test_second_harmonic_follows_the_slope_of_G(lab, clock) -> None:
    configure(lab, tau=0.1, slope=24)
    gain = frozen_contact(lab, clock)
    lab.lockin.harmonic = 2
    lab.bias_V = 600e-6  # rising edge of the coherence peak: dG/dV > 0
    clock.advance(3.0)
    x, _ = lab.lockin.read_xy_V()
    h = 2e-6
    dG = (lab.true_dIdV_S(600e-6 + h) - lab.true_dIdV_S(600e-6 - h)) / (2 * h)
    vm = lab.lockin.modulation_Vrms
    assert x == pytest.approx(gain * dG * vm**2 / (2 * math.sqrt(2)), rel=0.05)


def test_reset_settings_restores_power_on_defaults(lab, clock) -> None:
    configure(lab, slope=24, tau=0.3)
    lab.lockin.harmonic = 2
    lab.lockin.reset_settings()
    li = lab.lockin
    assert (li.amplitude_Vrms, li.time_constant_s, li.filter_slope_db, li.harmonic) == (
        1.0, 0.1, 12, 1,
    )
    assert li.modulation_Vrms == pytest.approx(1e-3)


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("filter_slope_db", 9),
        ("time_constant_s", 0.0),
        ("sensitivity_V", 2.0),
        ("amplitude_Vrms", -1.0),
        ("harmonic", 0),
        ("frequency_Hz", 1e7),
    ],
)
def test_bad_lockin_settings_raise(lab, attr, value) -> None:
    with pytest.raises(LabError, match=attr.split("_")[0]):
        setattr(lab.lockin, attr, value)


def test_reading_at_the_same_state_needs_no_model_evaluation(lab, clock) -> None:
    configure(lab)
    frozen_contact(lab, clock)
    lab.bias_V = 100e-6
    clock.advance(1.0)
    lab.lockin.read_xy_V()
    lab.measured_current_A()
    lab.true_dIdV_S(np.linspace(-1e-3, 1e-3, 101))
    before = lab.model_evaluations
    for v in np.linspace(-1e-3, 1e-3, 21):  # a whole sweep at a frozen tip
        lab.bias_V = float(v)
        clock.advance(0.05)
        lab.lockin.read_xy_V()
        lab.measured_current_A()
    lab.true_dIdV_S(0.0)
    assert lab.model_evaluations == before


def test_a_long_unread_stretch_costs_nothing(lab, clock) -> None:
    configure(lab)
    lab.fridge.heater_range = 5
    lab.fridge.pid = (150.0, 40.0, 0.0)
    lab.fridge.setpoint_K = 0.5
    lab.feedback_on = False
    for _ in range(200):  # the Lake Shore polls while the fridge warms; nobody reads the lock-in
        clock.advance(2.0)
        lab.fridge.temperature_K(6)
    before = lab.model_evaluations
    lab.lockin.read_xy_V()
    assert lab.model_evaluations - before <= 2
