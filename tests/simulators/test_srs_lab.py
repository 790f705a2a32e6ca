"""The lock-in drivers against the emulators over the real VirtualLab, in virtual time.

Checks the physics the procedures rely on: X / (preamp gain x modulation) is the model dI/dV
at the bias within the simulated noise; a reading right after a bias step is the old value
filtered, the approach follows the n-stage RC step response, and after ``settle_time`` the
reading is within the fraction; overloads latch and ``auto_range`` recovers; the preamp gain
policy keeps 1 nA and 1 uA setpoints out of saturation.
"""

from __future__ import annotations

import math

import pytest
from pymeasure.instruments.srs import SR830, SR860

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.lockin import SR830LockIn, SR860LockIn
from stm_andreev.drivers.lockin_filter import enbw_Hz, step_response
from stm_andreev.drivers.preamp import (
    current_noise_A_per_rtHz,
    gain_for_current,
    lockin_settings_for,
)
from stm_andreev.simulators.emulators.srs import SR830Emulator, SR860Emulator
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.transports.inprocess import EmulatorAdapter

V_SP_V = -3e-3
MODULATION_VRMS = 10e-6
PAIRS = [(SR830LockIn, SR830Emulator), (SR860LockIn, SR860Emulator)]
IDS = ["SR830", "SR860"]


def approach(lab, clock: VirtualClock, setpoint_A: float) -> float:
    """Feedback at (V_SP_V, setpoint_A) until settled, then open the loop; returns the gain."""
    gain = gain_for_current(setpoint_A, gains=tuple(lab.preamp_gains_V_per_A))
    lab.preamp_gain_index = list(lab.preamp_gains_V_per_A).index(gain)
    lab.bias_V = V_SP_V
    lab.setpoint_A = setpoint_A
    lab.feedback_on = True
    clock.sleep(30.0)
    lab.feedback_on = False
    return gain


def station(cls, emulator_cls, setpoint_A: float = 1e-7, seed: int = 3):
    clock = VirtualClock()
    lab = VirtualLab("InO-2", clock=clock, seed=seed)
    emulator = emulator_cls(lab)
    lockin = cls(EmulatorAdapter(emulator, clock=clock))
    lockin.emulator = emulator
    gain = approach(lab, clock, setpoint_A)
    settings = lockin_settings_for(setpoint_A, V_SP_V, MODULATION_VRMS, gain, model=cls.MODEL.name)
    lockin.sine_voltage = MODULATION_VRMS / lab.lockin.divider
    lockin.sensitivity = settings.sensitivity_V
    lockin.time_constant = settings.time_constant_s
    lockin.filter_slope = settings.filter_slope_db
    return clock, lab, lockin, gain


def noise_S(lab, gain: float, lockin_tc_s: float, slope: int) -> float:
    """One-sigma noise of X / (gain * Vmod) in S (shot + Johnson, as the policy estimates)."""
    current = abs(lab.measured_current_A())
    density = current_noise_A_per_rtHz(current, gain)
    return density * math.sqrt(enbw_Hz(lockin_tc_s, slope)) / MODULATION_VRMS


@pytest.mark.parametrize(("cls", "emulator_cls"), PAIRS, ids=IDS)
@pytest.mark.parametrize("bias_V", [0.0, 0.3e-3, 0.68e-3, -1.2e-3])
def test_x_over_gain_and_modulation_is_the_model_conductance(cls, emulator_cls, bias_V) -> None:
    clock, lab, lockin, gain = station(cls, emulator_cls)
    lab.bias_V = bias_V
    clock.sleep(lockin.settle_time(1e-4))
    x, y = lockin.snap_xy()
    measured_S = x / (gain * lab.lockin.modulation_Vrms)
    expected_S = float(lab.true_dIdV_S(bias_V))
    sigma = noise_S(lab, gain, lockin.time_constant, lockin.filter_slope)
    # the Johnson/shot estimate is a floor; allow the lock-in's own input noise on top
    assert abs(measured_S - expected_S) < 6 * sigma + 2e-4 * abs(expected_S) + 1e-12
    assert abs(y / (gain * lab.lockin.modulation_Vrms)) < 6 * sigma + 1e-12
    assert not lockin.overloaded()


@pytest.mark.parametrize(("plain", "cls", "emulator_cls"),
                         [(SR830, SR830LockIn, SR830Emulator), (SR860, SR860LockIn, SR860Emulator)],
                         ids=IDS)
def test_plain_pymeasure_reads_the_model_conductance(plain, cls, emulator_cls) -> None:
    clock, lab, lockin, gain = station(cls, emulator_cls)
    driver = plain(EmulatorAdapter(lockin.emulator, clock=clock))
    for bias_V in (0.0, 0.68e-3):
        lab.bias_V = bias_V
        clock.sleep(lockin.settle_time(1e-4))
        x, y = driver.snap()
        sigma = noise_S(lab, gain, lockin.time_constant, lockin.filter_slope)
        expected_S = float(lab.true_dIdV_S(bias_V))
        assert abs(x / (gain * lab.lockin.modulation_Vrms) - expected_S) < (
            6 * sigma + 2e-4 * expected_S)
        assert driver.x == pytest.approx(x, abs=10 * sigma * gain * MODULATION_VRMS)


@pytest.mark.parametrize(("cls", "emulator_cls"), PAIRS, ids=IDS)
@pytest.mark.parametrize("slope", [6, 24])
def test_bias_step_follows_the_filter_and_settles_in_settle_time(cls, emulator_cls, slope) -> None:
    clock, lab, lockin, gain = station(cls, emulator_cls, setpoint_A=1e-6)
    lockin.filter_slope = slope
    lockin.time_constant = 0.1
    scale = gain * lab.lockin.modulation_Vrms
    lab.bias_V = 0.0
    clock.sleep(lockin.settle_time(1e-6))
    before = lockin.snap_xy()[0]
    lab.bias_V = 0.68e-3
    after_expected = float(lab.true_dIdV_S(0.68e-3)) * scale
    step = after_expected - before
    sigma_V = noise_S(lab, gain, 0.1, slope) * MODULATION_VRMS * gain
    assert abs(step) > 100 * sigma_V  # the step is far above the noise

    immediately = lockin.snap_xy()[0]
    assert abs(immediately - before) < 5 * sigma_V + 1e-3 * abs(step)

    elapsed = 0.0
    for wait in (0.05, 0.1, 0.2):  # partway: the n-stage RC step response
        clock.sleep(wait)
        elapsed += wait
        expected = before + step * step_response(elapsed, 0.1, slope)
        assert lockin.snap_xy()[0] == pytest.approx(expected, abs=5 * sigma_V + 1e-3 * abs(step))

    clock.sleep(lockin.settle_time(1e-3) - elapsed)
    settled = lockin.snap_xy()[0]
    assert abs(settled - after_expected) < 1e-3 * abs(step) + 5 * sigma_V


@pytest.mark.parametrize(("cls", "emulator_cls"), PAIRS, ids=IDS)
def test_overload_latches_and_auto_range_recovers(cls, emulator_cls) -> None:
    clock, lab, lockin, _ = station(cls, emulator_cls, setpoint_A=1e-6)
    lab.bias_V = 0.68e-3
    clock.sleep(lockin.settle_time())
    r = lockin.magnitude
    lockin.sensitivity = lockin.choose_sensitivity(r, headroom=1.0) / 10  # about 10x too small
    lockin.magnitude  # noqa: B018 - the reading overloads the output
    assert lockin.overloaded()
    assert lockin.overloaded()  # cleared by the read, but the overload persists: latched again
    final = lockin.auto_range(max_steps=5, sleep=clock.sleep)
    assert 0.1 * final <= lockin.magnitude <= 0.8 * final
    assert not lockin.overloaded()


@pytest.mark.parametrize("setpoint_A", [1e-9, 1e-6])
def test_gain_policy_keeps_the_preamp_and_lockin_in_range(setpoint_A: float) -> None:
    clock, lab, lockin, gain = station(SR830LockIn, SR830Emulator, setpoint_A=setpoint_A)
    assert not lab.preamp_saturated()
    assert abs(lab.measured_current_A()) * gain < 10.0
    # the switch from the power-on 1 V sine to 10 mV overloads the output until it settles
    clock.sleep(lockin.settle_time())
    lockin.overloaded()
    # sweep the spectrum's range: no overload anywhere, including the coherence peaks
    for bias_V in (-1.5e-3, -0.68e-3, -0.15e-3, 0.0, 0.15e-3, 0.68e-3, 1.5e-3):
        lab.bias_V = bias_V
        clock.sleep(lockin.settle_time())
        x, _ = lockin.snap_xy()
        assert abs(x) < 0.8 * lockin.sensitivity
    assert not lockin.overloaded()
