"""Plan models: sequences, counts, estimates, and the cross-check against station limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from stm_andreev.config import (
    ConfigError,
    PlanLimitError,
    Sweep,
    load_station,
    plan_from_dict,
)
from stm_andreev.config.plan import PositionSurveyStep, SetpointSweepStep
from stm_andreev.procedures.checks import (
    check_plan_against_station,
    estimate_plan,
    require_plan_fits_station,
)

SPECTRUM = {"bias_start_V": -1e-3, "bias_stop_V": 1e-3, "n_bias": 11, "settle_s": 0.5,
            "integration_s": 0.5, "feedback_settle_s": 4.0}


@pytest.fixture(scope="module")
def station():
    return load_station("simulated")


def one(kind: str, **params) -> dict:
    return {"kind": kind, **SPECTRUM, **params}


def test_single_step_file_equals_steps_form():
    step = one("single_spectrum", setpoint_A=1e-8)
    flat = plan_from_dict({"name": "p", **step})
    listed = plan_from_dict({"name": "p", "steps": [step]})
    assert flat.model_dump() == listed.model_dump()
    assert flat.step_key(0) == "" and listed.step_key(0) == "steps.0."


def test_single_step_errors_use_the_files_own_keys():
    with pytest.raises(ConfigError) as info:
        plan_from_dict({"kind": "single_spectrum", "setpoint_A": -1.0}, "p.yaml")
    assert info.value.keys == ["setpoint_A"]
    with pytest.raises(ConfigError) as info:
        plan_from_dict({"steps": [{"kind": "single_spectrum", "setpoint_A": -1.0}]}, "p.yaml")
    assert info.value.keys == ["steps.0.setpoint_A"]


def test_every_problem_is_listed_not_only_the_first():
    with pytest.raises(ConfigError) as info:
        plan_from_dict({"kind": "setpoint_sweep", "I_start_A": -1, "n_setpoints": "many",
                        "n_bias": 1, "colour": "red"})
    assert set(info.value.keys) == {"I_start_A", "I_stop_A", "n_setpoints", "n_bias", "colour"}
    assert len(info.value.problems) == 5


def test_sweep_values():
    assert np.allclose(Sweep(start=1, stop=3, n=3).values(), [1, 2, 3])
    assert np.allclose(Sweep(start=1e-9, stop=1e-6, n=4, spacing="log").values(),
                       [1e-9, 1e-8, 1e-7, 1e-6])
    with pytest.raises(ValidationError):
        Sweep(start=-1, stop=1, n=3, spacing="log")
    with pytest.raises(ValidationError):
        Sweep(start=1, stop=2, n=1)


def test_setpoint_sweep_linear_and_log():
    log = SetpointSweepStep(kind="setpoint_sweep", I_start_A=1e-9, I_stop_A=1e-7, n_setpoints=3)
    assert np.allclose(log.setpoint_sequence_A(), [1e-9, 1e-8, 1e-7])
    lin = log.model_copy(update={"spacing": "linear"})
    assert np.allclose(lin.setpoint_sequence_A(), [1e-9, 5.05e-8, 1e-7])
    assert np.allclose(log.bias_V(), np.linspace(-1.5e-3, 1.5e-3, 301))


def test_overnight_grid_nests_temperature_position_setpoint_repeat():
    plan = plan_from_dict(one("overnight_grid", temperatures_K=[0.1, 0.5],
                              setpoints_A={"start": 1e-9, "stop": 1e-8, "n": 2, "spacing": "log"},
                              repeats=2, positions_m=[[0, 0], [1e-8, 0], [0, 1e-8]]))
    (step,) = plan.steps
    assert step.n_spectra == 2 * 3 * 2 * 2
    seq = step.setpoint_sequence_A()
    assert np.allclose(seq[:4], [1e-9, 1e-9, 1e-8, 1e-8])  # repeats innermost
    assert np.allclose(step.temperature_sequence_K(), [0.1, 0.5])
    assert step.position_sequence_m().shape == (3, 2)


def test_position_survey_grid_is_a_raster_with_two_setpoints_each():
    step = PositionSurveyStep(kind="position_survey", low_setpoint_A=1e-9, high_setpoint_A=1e-6,
                              grid={"x0": 0, "x1": 2e-8, "nx": 3, "y0": 0, "y1": 1e-8, "ny": 2})
    pos = step.position_sequence_m()
    assert pos.shape == (6, 2)
    assert np.allclose(pos[:3, 1], 0) and np.allclose(pos[:3, 0], [0, 1e-8, 2e-8])
    assert np.allclose(step.setpoint_sequence_A()[:4], [1e-9, 1e-6, 1e-9, 1e-6])
    assert step.n_spectra == 12


def test_models_are_frozen():
    step = SetpointSweepStep(kind="setpoint_sweep", I_start_A=1e-9, I_stop_A=1e-7, n_setpoints=3)
    with pytest.raises(ValidationError):
        step.n_bias = 5


# ------------------------------------------------------------------ limits cross-check

@pytest.mark.parametrize("params, key, words", [
    ({"kind": "single_spectrum", "setpoint_A": 1e-9, "bias_stop_V": 6e-3},
     "bias_stop_V", "max_bias_V"),
    # 4.99 mV plus the 20 uVrms modulation peak (28 uV) goes over the 5 mV limit
    ({"kind": "single_spectrum", "setpoint_A": 1e-9, "bias_start_V": -4.99e-3},
     "bias_start_V", "modulation peak"),
    ({"kind": "single_spectrum", "setpoint_A": 1e-9, "V_sp_V": -8e-3}, "V_sp_V", "max_bias_V"),
    # the station's limit is 5 uA (paper-inO2's 4.3 uA contact)
    ({"kind": "single_spectrum", "setpoint_A": 6e-6}, "setpoint_A", "max_setpoint_A"),
    ({"kind": "setpoint_sweep", "I_start_A": 1e-9, "I_stop_A": 8e-6, "n_setpoints": 5},
     "I_stop_A", "max_setpoint_A"),
    ({"kind": "temperature_sweep", "temperatures_K": [0.1, 2.5], "setpoint_A": 1e-6},
     "temperatures_K", "temperature_ceiling_K"),
    ({"kind": "single_spectrum", "setpoint_A": 1e-9, "modulation_Vrms": 100e-6},
     "modulation_Vrms", "max_modulation_Vrms"),
    ({"kind": "cooldown", "target_K": 4.2, "interval_s": 1, "max_duration_s": 10},
     "target_K", "temperature_ceiling_K"),
    ({"kind": "overnight_grid", "temperatures_K": [0.1], "setpoints_A": [1e-9, 6e-6],
      "positions_m": [[0, 0]]}, "setpoints_A", "max_setpoint_A"),
])
def test_plan_exceeding_a_limit_is_reported_by_key(station, params, key, words):
    plan = plan_from_dict({"steps": [{"kind": "cooldown", "target_K": 0.06, "interval_s": 1,
                                      "max_duration_s": 2}, params]})
    violations = check_plan_against_station(plan, station)
    assert len(violations) == 1, violations
    assert violations[0].startswith(f"steps.1.{key}: ") and words in violations[0]
    with pytest.raises(PlanLimitError) as info:
        require_plan_fits_station(plan, station, "plan.yaml")
    assert info.value.keys == [f"steps.1.{key}"] and "plan.yaml" in str(info.value)


def test_temperature_above_last_band_but_below_ceiling(station):
    raised = station.model_copy(update={"limits": station.limits.model_copy(
        update={"temperature_ceiling_K": 3.0})})
    plan = plan_from_dict({"kind": "temperature_sweep", "temperatures_K": [2.5],
                           "setpoint_A": 1e-6})
    (violation,) = check_plan_against_station(plan, raised)
    assert violation.startswith("temperatures_K: ") and "last temperature_control band" in violation


def test_controller_acquisition_ignores_lockin_modulation_limit(station):
    plan = plan_from_dict({"kind": "single_spectrum", "setpoint_A": 1e-9, "acquisition":
                           "controller", "modulation_Vrms": 1e-3, "bias_stop_V": 4.99e-3})
    assert check_plan_against_station(plan, station) == []


def test_estimate_counts_spectra_ramps_and_settling(station):
    # A controller-run sweep takes settle_s + integration_s per point, as the controller times it.
    plan = plan_from_dict({"steps": [
        one("setpoint_sweep", I_start_A=1e-9, I_stop_A=1e-7, n_setpoints=3, temperature_K=0.1,
            acquisition="controller", modulation_Vrms=1e-3),
        one("temperature_sweep", temperatures_K=[0.2, 0.3], setpoint_A=1e-6,
            acquisition="controller", modulation_Vrms=1e-3),
    ]})
    est = estimate_plan(plan, station)
    per_spectrum = 4.0 + 11 * 1.0
    ramp = ((1e-7 - 1e-9) + (1e-6 - 1e-7)) / station.limits.setpoint_ramp_A_per_s
    settle = station.temperature_control.settle
    assert est.n_spectra == 5 and est.n_points == 55
    assert est.min_s == pytest.approx(5 * per_spectrum + ramp + 3 * settle.dwell_s)
    assert est.max_s == pytest.approx(5 * per_spectrum + ramp + 3 * settle.timeout_s)
    bare = estimate_plan(plan)
    assert bare.min_s == pytest.approx(5 * per_spectrum) == bare.max_s
    assert bare.text().startswith("about 1 min")


@pytest.mark.parametrize(("tau_s", "slope_db", "per_point_s"), [
    (0.1, 24, 0.1 * 13.0622),  # 24 dB/oct settles to 1e-3 in 13.06 tau: longer than settle_s
    (0.1, 6, 0.1 * 6.9078),  # 6 dB/oct: ln(1000) = 6.91 tau
    (0.01, 24, 0.5),  # a short filter: the plan's settle_s (0.5 s) is the wait
])
def test_lockin_estimate_waits_for_the_filter_to_settle(station, tau_s, slope_db, per_point_s):
    plan = plan_from_dict({"steps": [one("single_spectrum", setpoint_A=1e-8,
                                         lockin_time_constant_s=tau_s,
                                         lockin_filter_slope_db=slope_db)]})
    est = estimate_plan(plan, station)
    # integration_s is the controller's averaging: point by point the lock-in is read once.
    assert est.min_s == pytest.approx(4.0 + 11 * per_point_s, rel=1e-4)
    assert estimate_plan(plan).min_s == pytest.approx(4.0 + 11 * 1.0)  # no station: nominal


@pytest.mark.parametrize(("tau_s", "slope_db", "wait_s"), [
    (0.1, 24, 0.1 * 13.0622),  # the filter's settle time rules, as point by point
    (0.01, 24, 0.5),  # a short filter: settle_s
])
def test_controller_lockin_estimate_adds_the_integration_to_the_lockin_wait(
        station, tau_s, slope_db, wait_s):
    step = one("single_spectrum", setpoint_A=1e-8, acquisition="controller_lockin",
               lockin_time_constant_s=tau_s, lockin_filter_slope_db=slope_db)
    est = estimate_plan(plan_from_dict({"steps": [step]}), station)
    # The controller settles the lock-in's wait, then averages integration_s (0.5 s); the
    # procedure sets no initial or end settling.
    assert est.min_s == pytest.approx(4.0 + 11 * (wait_s + 0.5), rel=1e-4)
    step["acquisition"] = "lockin"
    lockin = estimate_plan(plan_from_dict({"steps": [step]}), station)
    assert est.min_s - lockin.min_s == pytest.approx(11 * 0.5, rel=1e-4)


@pytest.mark.parametrize("acquisition", ["lockin", "controller_lockin"])
def test_external_lockin_modes_count_the_modulation_peak_and_its_limit(station, acquisition):
    # 4.99 mV + sqrt(2) x 20 uV exceeds max_bias_V = 5 mV; 60 uV exceeds 50 uVrms.
    plan = plan_from_dict({"kind": "single_spectrum", "setpoint_A": 1e-9, "acquisition":
                           acquisition, "modulation_Vrms": 20e-6, "bias_stop_V": 4.99e-3})
    (violation,) = check_plan_against_station(plan, station)
    assert violation.startswith("bias_stop_V: ") and "modulation peak" in violation
    plan = plan_from_dict({"kind": "single_spectrum", "setpoint_A": 1e-9, "acquisition":
                           acquisition, "modulation_Vrms": 60e-6})
    (violation,) = check_plan_against_station(plan, station)
    assert violation.startswith("modulation_Vrms: ")
    assert plan.steps[0].describe().endswith(f"{acquisition} 60 uVrms")


def test_cooldown_estimate_is_bounded_by_its_maximum(station):
    plan = plan_from_dict({"kind": "cooldown", "target_K": 0.05, "interval_s": 60,
                           "max_duration_s": 7200})
    est = estimate_plan(plan, station)
    assert est.n_spectra == 0 and est.max_s == 7200 and est.min_s < est.max_s
    assert not math.isclose(est.min_s, est.max_s) and "at most 2 h 00 min" in est.text()


def test_controller_lockin_settling_beyond_the_controller_limit_is_refused(station):
    # At 100 pA the SNR needs a 1 s filter: 13 s to settle at 24 dB/oct, more than the
    # controller's 10 s per point; at 10 nA a 30 ms filter settles in 0.4 s.
    low = plan_from_dict({"steps": [one("single_spectrum", setpoint_A=1e-10,
                                        acquisition="controller_lockin")]})
    (problem,) = check_plan_against_station(low, station)
    assert problem.startswith("steps.0.acquisition: controller_lockin at setpoint 100 pA needs 13.1 s")
    assert "10 s" in problem
    fine = plan_from_dict({"steps": [one("single_spectrum", setpoint_A=1e-8,
                                         acquisition="controller_lockin")]})
    assert check_plan_against_station(fine, station) == []
