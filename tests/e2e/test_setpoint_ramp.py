"""The setpoint ramp protects the tip: rate and step size limits, and the settle that follows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stm_andreev.config import load_plan_text
from stm_andreev.config.errors import ConfigError
from stm_andreev.procedures import plan_points
from stm_andreev.procedures.spectroscopy import MAX_RAMP_RATIO, take_spectrum
from stm_andreev.station import Station

from .conftest import station_config

PLAN = """
name: ramp
steps:
  - kind: single_spectrum
    setpoint_A: {I}
    n_bias: 11
    settle_s: 0.01
    integration_s: 0.01
    feedback_settle_s: {settle}
{extra}"""


def settings_for(I_A: float, settle_s: float, extra: str = ""):
    plan = load_plan_text(PLAN.format(I=I_A, settle=settle_s, extra=extra), "ramp.yaml")
    return plan_points(plan)[0].settings


class Recorder:
    """Wraps the feedback driver: (virtual time, what) of every setpoint and loop change."""

    def __init__(self, station: Station) -> None:
        self.log: list[tuple[float, str, float]] = []
        fb, clock = station.feedback, station.clock
        set_setpoint, set_feedback = fb.set_setpoint, fb.set_feedback

        def setpoint(value: float) -> None:
            set_setpoint(value)
            self.log.append((clock.now(), "setpoint", float(value)))

        def feedback(on: bool) -> None:
            set_feedback(on)
            self.log.append((clock.now(), "feedback", float(on)))

        fb.set_setpoint, fb.set_feedback = setpoint, feedback

    def setpoints(self) -> list[tuple[float, float]]:
        return [(t, v) for t, what, v in self.log if what == "setpoint"]

    def loop_opened_at(self) -> float:
        return next(t for t, what, v in self.log if what == "feedback" and v == 0.0)


@pytest.fixture
def station():
    station = Station.from_config(station_config(), source_text="test")
    yield station
    station.close()


@pytest.mark.parametrize("settle_s", [0.5, 30.0])
def test_ramp_from_1nA_to_1uA_respects_rate_and_step_limits(station, settle_s):
    station.feedback.set_setpoint(1e-9)
    rate = station.limits.setpoint_ramp_A_per_s
    rec = Recorder(station)
    t0 = station.clock.now()
    take_spectrum(station, 1e-6, settings_for(1e-6, settle_s))
    steps = rec.setpoints()
    assert steps[-1][1] == pytest.approx(1e-6)
    # 1 nA -> 1 uA in steps of at most x1.25: at least log(1000)/log(1.25) = 31 steps
    assert len(steps) >= math.ceil(math.log(1000) / math.log(MAX_RAMP_RATIO))
    previous_I = 1e-9
    for t, I in steps:
        assert I / previous_I <= MAX_RAMP_RATIO * (1 + 1e-9)
        # never ahead of a linear ramp at the station's rate started with the sweep
        assert I - 1e-9 <= (t - t0) * rate + 1e-6 * I  # float32 on the wire
        previous_I = I
    # The loop opens only once the last change has had the whole feedback settle.
    assert rec.loop_opened_at() - steps[-1][0] >= settle_s * (1 - 1e-9)


def test_ramp_down_is_limited_too(station):
    take_spectrum(station, 1e-6, settings_for(1e-6, 0.1))
    rate = station.limits.setpoint_ramp_A_per_s
    rec = Recorder(station)
    t0 = station.clock.now()
    take_spectrum(station, 1e-8, settings_for(1e-8, 0.1))
    steps = rec.setpoints()
    values = np.array([1e-6] + [I for _, I in steps])
    assert values[-1] == pytest.approx(1e-8)
    assert np.all(values[1:] / values[:-1] >= 1 / MAX_RAMP_RATIO * (1 - 1e-6))  # float32 on the wire
    times = np.array([t for t, _ in steps])
    assert np.all(1e-6 - values[1:] <= (times - t0) * rate + 1e-6 * 1e-6)  # float32 wire


def test_a_fixed_lockin_filter_is_used_and_recorded(station):
    extra = "    lockin_time_constant_s: 0.03\n    lockin_filter_slope_db: 12\n"
    spectrum = take_spectrum(station, 1e-8, settings_for(1e-8, 0.1, extra))
    assert station.lockin.time_constant == pytest.approx(0.03)
    assert station.lockin.filter_slope == 12
    assert spectrum.record["lockin_time_constant_s"] == pytest.approx(0.03)
    # Automatic choice at 1 nA needs a longer filter than 30 ms for its signal-to-noise.
    auto = take_spectrum(station, 1e-9, settings_for(1e-9, 0.1))
    assert auto.record["lockin_time_constant_s"] > 0.03


def test_a_time_constant_no_lockin_has_is_refused_by_name():
    with pytest.raises(ConfigError, match="lockin_time_constant_s.*0.025 s is not a time"):
        settings_for(1e-8, 0.1, "    lockin_time_constant_s: 0.025\n")
