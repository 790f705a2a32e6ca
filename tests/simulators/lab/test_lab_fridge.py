"""Fridge: heat balance, Lake Shore heater and PID, thermometry, spike, cooldown (virtual time)."""

from __future__ import annotations

import math

import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.lab import (
    RECOMMENDED_HEATER_SETTINGS,
    LabError,
    UnknownSensorError,
    recommended_heater_settings,
)
from stm_andreev.simulators.lab.fridge import (
    HEATER_RANGES_A,
    HEATER_RESISTANCE_OHM,
    Fridge,
    MixingChamberModel,
)
from stm_andreev.simulators.lab.thermometry import RUOX_CURVES

MC = "mixing chamber"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def fridge(clock: VirtualClock) -> Fridge:
    return Fridge(clock, film_resistance_ohm=lambda T: 1000.0 * T)


def regulate(fridge: Fridge, setpoint_K: float) -> None:
    band = recommended_heater_settings(setpoint_K)
    fridge.pid = (band.P, band.I_s, band.D_s)
    fridge.heater_range = band.heater_range
    fridge.setpoint_K = setpoint_K
    fridge.output_mode = 5


def time_to_settle(fridge: Fridge, clock: VirtualClock, target_K: float, tol_K: float) -> float:
    """Virtual seconds until the MC stays within tol for 60 s (polled every 5 s)."""
    t0 = clock.now()
    inside_since = None
    while clock.now() - t0 < 3600:
        clock.advance(5.0)
        if abs(fridge.temperature_K(MC) - target_K) <= tol_K:
            inside_since = clock.now() if inside_since is None else inside_since
            if clock.now() - inside_since >= 60:
                return inside_since - t0
        else:
            inside_since = None
    raise AssertionError(f"MC never settled at {target_K} K: {fridge.temperature_K(MC)} K")


def test_base_temperature_with_heater_off(fridge: Fridge, clock: VirtualClock) -> None:
    T = fridge.temperature_K(MC)
    assert 0.045 < T < 0.055
    clock.advance(3600)
    assert fridge.temperature_K(MC) == pytest.approx(T, abs=1e-6)
    assert fridge.heater_output_pct() == 0.0


def test_65mK_to_1K_and_back_within_bounded_time(fridge: Fridge, clock: VirtualClock) -> None:
    regulate(fridge, 0.065)
    t_65 = time_to_settle(fridge, clock, 0.065, 1e-3)
    regulate(fridge, 1.0)
    t_1K = time_to_settle(fridge, clock, 1.0, 1e-3)
    regulate(fridge, 0.065)
    t_back = time_to_settle(fridge, clock, 0.065, 1e-3)
    # Lags of tens of seconds to minutes, never an hour.
    for t in (t_65, t_1K, t_back):
        assert 10.0 < t < 1200.0
    # Once settled it stays inside the 1 mK band for a long while, film included.
    for _ in range(20):
        clock.advance(30.0)
        assert abs(fridge.temperature_K(MC) - 0.065) < 1e-3
    assert abs(fridge.temperature_K("film") - 0.065) < 1e-3
    assert 0 < fridge.heater_output_pct() < 100


@pytest.mark.parametrize("band", RECOMMENDED_HEATER_SETTINGS, ids=lambda b: f"{b.max_K}K")
def test_every_recommended_band_reaches_its_top_setpoint(band, clock: VirtualClock) -> None:
    fridge = Fridge(clock, film_resistance_ohm=lambda T: 1.0)
    target = min(band.max_K, 4.0)
    regulate(fridge, target)
    time_to_settle(fridge, clock, target, 1e-3)
    out = fridge.heater_output_pct()
    assert 5 < out < 99  # the range has headroom, the output is not pinned
    power = (out / 100 * HEATER_RANGES_A[band.heater_range]) ** 2 * HEATER_RESISTANCE_OHM
    assert fridge.heater_power_W() == pytest.approx(power)


def test_step_from_1K_to_4K_without_big_overshoot(fridge: Fridge, clock: VirtualClock) -> None:
    regulate(fridge, 1.0)
    time_to_settle(fridge, clock, 1.0, 1e-3)
    regulate(fridge, 4.0)
    peak = 0.0
    for _ in range(120):
        clock.advance(15.0)
        peak = max(peak, fridge.temperature_K(MC))
    assert peak < 4.1
    assert abs(fridge.temperature_K(MC) - 4.0) < 1e-3


def test_recommended_settings_cover_0p05_to_4K() -> None:
    ranges = [recommended_heater_settings(T).heater_range for T in (0.05, 0.065, 0.3, 1.0, 4.0)]
    assert ranges == sorted(ranges) and ranges[0] >= 1
    with pytest.raises(LabError, match="no recommended heater settings"):
        recommended_heater_settings(20.0)


def test_lowest_setpoint_just_above_base(fridge: Fridge, clock: VirtualClock) -> None:
    regulate(fridge, 0.05)
    time_to_settle(fridge, clock, 0.05, 2e-4)
    assert 0 < fridge.heater_output_pct() < 50


def test_zone_mode_picks_range_and_pid_from_the_table(fridge: Fridge, clock: VirtualClock) -> None:
    fridge.setpoint_K = 0.3
    fridge.output_mode = 3
    time_to_settle(fridge, clock, 0.3, 1e-3)
    band = recommended_heater_settings(0.3)
    current = fridge.heater_output_pct() / 100 * HEATER_RANGES_A[band.heater_range]
    assert fridge.heater_power_W() == pytest.approx(current**2 * HEATER_RESISTANCE_OHM)


def test_default_pid_is_the_65mK_band_with_the_heater_off(fridge: Fridge, clock: VirtualClock) -> None:
    band = recommended_heater_settings(0.065)
    assert fridge.pid == (band.P, band.I_s, band.D_s)
    assert fridge.setpoint_K == 0.065 and fridge.output_mode == 5 and fridge.heater_range == 0
    fridge.heater_range = band.heater_range
    time_to_settle(fridge, clock, 0.065, 1e-3)


def test_heater_off_cools_to_base(fridge: Fridge, clock: VirtualClock) -> None:
    regulate(fridge, 0.5)
    time_to_settle(fridge, clock, 0.5, 1e-3)
    fridge.heater_range = 0
    clock.advance(1800)
    assert fridge.temperature_K(MC) == pytest.approx(MixingChamberModel().base_temperature_K(), abs=5e-4)
    assert fridge.heater_output_pct() == 0.0


def test_sample_stage_lags_the_mixing_chamber(fridge: Fridge, clock: VirtualClock) -> None:
    regulate(fridge, 0.3)
    clock.advance(20)
    assert fridge.temperature_K("film") < fridge.temperature_K(MC)


def test_spike_heats_then_recovers(fridge: Fridge, clock: VirtualClock) -> None:
    regulate(fridge, 0.065)
    time_to_settle(fridge, clock, 0.065, 1e-4)
    before = fridge.temperature_K(MC)
    fridge.spike(0.05, 60.0)
    assert fridge.temperature_K(MC) == pytest.approx(before + 0.05, abs=1e-12)
    clock.advance(30)
    assert fridge.temperature_K(MC) > 0.09
    time_to_settle(fridge, clock, 0.065, 1e-3)


def test_cooldown_reaches_base_in_hours(clock: VirtualClock) -> None:
    fridge = Fridge(clock, film_resistance_ohm=lambda T: 1.0)
    fridge.start_cooldown(300.0)
    assert fridge.temperature_K(MC) == pytest.approx(300.0)
    assert fridge.cooldown_active()
    clock.advance(3 * 3600)
    mid = {name: fridge.temperature_K(name) for name in fridge.channels.values()}
    assert 4.2 < mid["4K plate"] < 100 and mid["50K plate"] > mid["4K plate"]
    assert mid[MC] == pytest.approx(mid["4K plate"], rel=0.01)  # precool: all cold stages together
    clock.advance(9 * 3600)
    assert not fridge.cooldown_active()
    assert fridge.temperature_K(MC) < 0.055
    assert 0.7 < fridge.temperature_K("still") < 0.9
    assert 0.09 < fridge.temperature_K("cold plate") < 0.12
    assert 2.5 < fridge.temperature_K("4K plate") < 4.0
    assert 35 < fridge.temperature_K("50K plate") < 60


def test_cooldown_is_monotonic_for_the_mixing_chamber(clock: VirtualClock) -> None:
    fridge = Fridge(clock, film_resistance_ohm=lambda T: 1.0)
    fridge.start_cooldown(300.0)
    last = math.inf
    for _ in range(12 * 12):
        clock.advance(300)
        T = fridge.temperature_K(MC)
        assert T <= last + 1e-9
        last = T


def test_twelve_hour_advance_at_a_held_temperature(fridge: Fridge, clock: VirtualClock) -> None:
    regulate(fridge, 0.065)
    clock.advance(12 * 3600)
    assert fridge.temperature_K(MC) == pytest.approx(0.065, abs=1e-5)


def test_ramp_moves_the_effective_setpoint_at_its_rate(fridge: Fridge, clock: VirtualClock) -> None:
    regulate(fridge, 0.1)
    time_to_settle(fridge, clock, 0.1, 1e-3)
    fridge.ramp = (True, 0.01)  # K/min
    fridge.setpoint_K = 0.15
    assert fridge.ramping()
    clock.advance(60)
    assert fridge.effective_setpoint_K == pytest.approx(0.11, abs=1e-9)
    clock.advance(300)
    assert not fridge.ramping()
    assert fridge.effective_setpoint_K == 0.15


def test_open_loop_manual_output(fridge: Fridge, clock: VirtualClock) -> None:
    fridge.output_mode = 2
    fridge.heater_range = 4
    fridge.manual_output_pct = 50.0
    clock.advance(1)
    assert fridge.heater_output_pct() == 50.0
    assert fridge.heater_power_W() == pytest.approx((0.5e-3) ** 2 * 120.0)
    clock.advance(1800)
    assert fridge.temperature_K(MC) == pytest.approx(
        MixingChamberModel().base_temperature_K(fridge.heater_power_W()), rel=1e-3
    )


def test_ruox_curves_are_monotonic_and_inverted_by_the_calibration(fridge: Fridge) -> None:
    for name, curve in RUOX_CURVES.items():
        temps = [0.03, 0.05, 0.1, 1.0, 4.0, 50.0, 300.0]
        rs = [curve.resistance_ohm(T) for T in temps]
        assert rs == sorted(rs, reverse=True)
        for T, R in zip(temps, rs, strict=True):
            assert fridge.calibration_temperature_K(name, R) == pytest.approx(T, rel=1e-12)
    R_mc = fridge.sensor_resistance_ohm(6)
    assert 20e3 < R_mc < 60e3
    assert fridge.calibration_temperature_K(6, R_mc) == pytest.approx(fridge.temperature_K(6))


def test_film_channel_is_the_sample_resistance(fridge: Fridge) -> None:
    assert fridge.channels[9] == "film"
    assert fridge.sensor_resistance_ohm("film") == pytest.approx(1000.0 * fridge.temperature_K(9))
    assert fridge.calibration_temperature_K("film", 123.0) is None


@pytest.mark.parametrize(
    ("attr", "value", "match"),
    [
        ("heater_range", 9, "heater range"),
        ("heater_range", 1.5, "heater range"),
        ("setpoint_K", -1.0, "setpoint_K"),
        ("pid", (2000.0, 10.0, 0.0), "P"),
        ("output_mode", 7, "output mode"),
        ("control_channel", 4, "control channel"),
        ("manual_output_pct", 101.0, "manual output"),
        ("ramp", (True, 0.0), "ramp rate"),
    ],
)
def test_bad_settings_raise_naming_the_setting(fridge: Fridge, attr, value, match) -> None:
    with pytest.raises(LabError, match=match):
        setattr(fridge, attr, value)


def test_unknown_sensor(fridge: Fridge) -> None:
    with pytest.raises(UnknownSensorError, match="channel 4"):
        fridge.temperature_K(4)
    with pytest.raises(UnknownSensorError, match="unknown sensor"):
        fridge.temperature_K("magnet")


def test_one_long_advance_after_a_spike_recovers_to_base(fridge: Fridge, clock: VirtualClock) -> None:
    clock.advance(600.0)
    fridge.advance_to(clock.now())
    base = fridge.temperature_K("mixing chamber")
    fridge.spike(0.2, 60.0)
    clock.advance(3600.0)  # nobody reads the fridge for an hour
    fridge.advance_to(clock.now())
    assert fridge.temperature_K("mixing chamber") == pytest.approx(base, abs=1e-4)
