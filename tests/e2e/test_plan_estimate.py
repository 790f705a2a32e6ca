"""The plan estimate predicts the waits the procedures really make (lock-in filter settling),
point by point and in a controller-timed sweep of the lock-in's outputs."""

from __future__ import annotations

import pytest

from stm_andreev.config import load_plan_text
from stm_andreev.procedures import plan_points
from stm_andreev.procedures.checks import estimate_plan, spectrum_time_s
from stm_andreev.procedures.spectroscopy import take_spectrum
from stm_andreev.station import Station

from .conftest import station_config

PLAN = """
name: estimate
kind: setpoint_sweep
I_start_A: 1.0e-9
I_stop_A: 1.0e-6
n_setpoints: 4
n_bias: 21
settle_s: 0.01
integration_s: 0.01
feedback_settle_s: 0.5
{extra}"""


def sweep_durations(station: Station, plan) -> list[float]:
    """Virtual time with the loop open (the bias sweep) of each spectrum of ``plan``."""
    fb, clock = station.feedback, station.clock
    set_feedback = fb.set_feedback
    opened: list[float] = []
    durations: list[float] = []

    def feedback(on: bool) -> None:
        set_feedback(on)
        if not on:
            opened.append(clock.now())
        elif opened and len(durations) < len(opened):
            durations.append(clock.now() - opened[-1])

    fb.set_feedback = feedback
    for point in plan_points(plan):
        take_spectrum(station, point.setpoint_A, point.settings)
    return durations


FIXED_FILTER = "lockin_time_constant_s: 0.03\nlockin_filter_slope_db: 12"
CONTROLLER_LOCKIN = "acquisition: controller_lockin\n"


@pytest.mark.parametrize("extra", ["", FIXED_FILTER, CONTROLLER_LOCKIN,
                                   CONTROLLER_LOCKIN + FIXED_FILTER],
                         ids=["lockin", "lockin-fixed", "controller_lockin",
                              "controller_lockin-fixed"])
def test_estimate_matches_the_sweep_the_procedure_makes(extra):
    config = station_config()
    plan = load_plan_text(PLAN.format(extra=extra), "estimate.yaml")
    step = plan.steps[0]
    station = Station.from_config(config, source_text="test")
    try:
        measured = sweep_durations(station, plan)
    finally:
        station.close()
    predicted = [spectrum_time_s(step, float(I), config) - step.feedback_settle_s
                 for I in step.setpoint_sequence_A()]
    assert len(measured) == 4
    # The nominal settle_s + integration_s (0.42 s per spectrum) is far off: the filter rules.
    assert min(predicted) > 5 * step.n_bias * (step.settle_s + step.integration_s)
    assert measured == pytest.approx(predicted, rel=1e-6)
    whole = estimate_plan(plan, config).steps[0].min_s
    assert whole >= sum(predicted) + 4 * step.feedback_settle_s


def test_controller_sweep_time_does_not_depend_on_what_the_controller_was_left_with():
    """A controller-run sweep sends its own initial and end settling, so neither a setting
    left on the controller's panel nor an earlier step changes the run (or its estimate)."""
    config = station_config()
    plan = load_plan_text(PLAN.format(extra="acquisition: controller"),
                          "estimate.yaml")
    step = plan.steps[0]
    station = Station.from_config(config, source_text="test")
    try:
        station.feedback.set_spectroscopy_timing(0.01, 0.01, initial_settling_s=2.0,
                                                 end_settling_s=3.0)
        measured = sweep_durations(station, plan)
    finally:
        station.close()
    predicted = [spectrum_time_s(step, float(I), config) - step.feedback_settle_s
                 for I in step.setpoint_sequence_A()]
    assert predicted == pytest.approx([21 * 0.02] * 4)
    assert measured == pytest.approx(predicted, rel=1e-6)
