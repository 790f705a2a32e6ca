"""Preamp gain per setpoint decade, matching lock-in settings, and the SR570 wrapper."""

from __future__ import annotations

import math

import pytest
from pymeasure.instruments.srs import SR570
from pymeasure.test import expected_protocol

from stm_andreev.drivers.lockin import SensitivityRangeError
from stm_andreev.drivers.lockin_filter import enbw_Hz
from stm_andreev.drivers.preamp import (
    ControllerPreamp,
    CurrentPreamp,
    PreampRangeError,
    SR570Preamp,
    current_noise_A_per_rtHz,
    gain_for_current,
    lockin_settings_for,
)
from stm_andreev.drivers.srs_tables import SR830_MODEL, SR860_MODEL


@pytest.mark.parametrize(
    ("current_A", "gain"),
    [(1e-9, 1e9), (-1e-9, 1e9), (3e-9, 1e9), (1e-8, 1e8), (3.1e-8, 1e8), (1e-7, 1e7),
     (1e-6, 1e6), (5e-6, 1e6), (2e-5, 1e5), (0.0, 1e9)],
)
def test_gain_for_current_keeps_output_within_headroom(current_A: float, gain: float) -> None:
    chosen = gain_for_current(current_A)
    assert chosen == gain
    assert abs(current_A) * chosen <= 5.0
    higher = [g for g in (1e5, 1e6, 1e7, 1e8, 1e9) if g > chosen]
    assert all(abs(current_A) * g > 5.0 for g in higher)


def test_gain_for_current_saturating_everywhere_raises() -> None:
    with pytest.raises(PreampRangeError, match="saturates"):
        gain_for_current(1e-4)
    with pytest.raises(PreampRangeError):
        gain_for_current(float("nan"))
    with pytest.raises(ValueError, match="headroom"):
        gain_for_current(1e-9, headroom=0.0)
    assert gain_for_current(1e-4, gains=(1e4, 1e5), max_output_V=10, headroom=1.0) == 1e5


@pytest.mark.parametrize("current_A", [1e-9, 1e-8, 1e-7, 1e-6])
@pytest.mark.parametrize("model", [SR830_MODEL, SR860_MODEL])
def test_lockin_settings_hold_the_peak_signal_with_margin(current_A: float, model) -> None:
    gain = gain_for_current(current_A)
    s = lockin_settings_for(current_A, -3e-3, 10e-6, gain, model=model.name)
    G_N = current_A / 3e-3
    assert s.expected_X_V == pytest.approx(gain * G_N * 10e-6)
    # coherence peaks (2.5 G_N) and Andreev excess (2 G_N) fit below 80 % of full scale
    assert 2.5 * s.expected_X_V <= 0.8 * s.sensitivity_V
    assert 2.0 * s.expected_X_V <= 0.8 * s.sensitivity_V
    # and the range is the finest that does: the next finer one would not hold the peaks
    finer = [v for v in model.sensitivities_V if v < s.sensitivity_V]
    assert not finer or 2.5 * s.expected_X_V > 0.8 * max(finer)
    assert s.sensitivity_V in model.sensitivities_V
    assert s.time_constant_s in model.time_constants_s


def test_time_constant_is_the_shortest_reaching_the_target_snr() -> None:
    I, V, mod, gain = 1e-9, 3e-3, 10e-6, 1e9
    s = lockin_settings_for(I, V, mod, gain, target_snr=300.0)
    density_V = gain * current_noise_A_per_rtHz(I, gain)
    snr = s.expected_X_V / (density_V * math.sqrt(enbw_Hz(s.time_constant_s, 24)))
    assert snr >= 300.0
    assert s.noise_V == pytest.approx(s.expected_X_V / snr)
    shorter = max(t for t in SR830_MODEL.time_constants_s if t < s.time_constant_s)
    assert s.expected_X_V / (density_V * math.sqrt(enbw_Hz(shorter, 24))) < 300.0
    # low current needs a longer average than contact
    contact = lockin_settings_for(1e-6, V, mod, 1e6)
    assert s.time_constant_s > contact.time_constant_s


def test_time_constant_filters_the_reference() -> None:
    s = lockin_settings_for(1e-6, 3e-3, 30e-6, 1e6, frequency_Hz=100.0, min_periods=10)
    assert s.time_constant_s >= 0.1


def test_shot_noise_dominates_at_1_nA() -> None:
    shot = math.sqrt(2 * 1.602176634e-19 * 1e-9)
    assert current_noise_A_per_rtHz(1e-9, 1e9) == pytest.approx(
        math.sqrt(shot**2 + 4 * 1.380649e-23 * 300 / 1e9))


@pytest.mark.parametrize(
    "kwargs",
    [dict(V_sp_V=0.0), dict(modulation_Vrms=0.0), dict(gain=-1.0), dict(model="SR7265")],
)
def test_lockin_settings_bad_input(kwargs: dict) -> None:
    args = dict(I_sp_A=1e-9, V_sp_V=-3e-3, modulation_Vrms=1e-5, gain=1e9) | kwargs
    with pytest.raises(ValueError):
        lockin_settings_for(**args)


def test_lockin_settings_signal_too_large() -> None:
    with pytest.raises(SensitivityRangeError):
        lockin_settings_for(1e-6, 3e-3, 5e-3, 1e7)


@pytest.mark.filterwarnings("ignore:It is not known whether this device support SCPI")
def test_sr570_wrapper_sets_exact_sensitivity_bytes() -> None:
    pairs = [("SENS 9", None), ("SENS 18", None)]
    with expected_protocol(SR570, pairs) as sr570:
        preamp = SR570Preamp(sr570, 1e9)  # 1 nA/V
        assert isinstance(preamp, CurrentPreamp)
        assert preamp.gain == 1e9
        preamp.set_gain(1e6)  # 1 uA/V
        with pytest.raises(PreampRangeError):
            preamp.set_gain(3e8)
        with pytest.raises(PreampRangeError):
            preamp.set_gain(0.0)
        assert preamp.gain == 1e6


def test_controller_preamp_forwards_exact_gains() -> None:
    class Controller:
        def __init__(self) -> None:
            self.gains: list[float] = []

        def set_current_gain(self, gain_V_per_A: float) -> None:
            self.gains.append(gain_V_per_A)

    controller = Controller()
    preamp = ControllerPreamp(controller, 1e9)
    assert isinstance(preamp, CurrentPreamp)
    preamp.set_gain(gain_for_current(1e-6))
    assert (preamp.gain, controller.gains) == (1e6, [1e9, 1e6])
    with pytest.raises(PreampRangeError, match="not an allowed setting"):
        preamp.set_gain(2e6)
    assert preamp.gain == 1e6
