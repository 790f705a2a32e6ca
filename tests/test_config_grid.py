"""The ``grid`` plan step: validation with keyed errors, the scan range, size and estimate."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from stm_andreev.config import ConfigError, load_station, plan_from_dict, station_from_dict
from stm_andreev.config.plan import GridStep
from stm_andreev.config.yaml_file import parse_yaml
from stm_andreev.procedures import plan_points
from stm_andreev.procedures.checks import check_plan_against_station, estimate_plan

GRID = {"kind": "grid", "centre_m": [0.0, 0.0], "size_m": [100e-9, 50e-9], "nx": 4, "ny": 3,
        "setpoint_A": 3e-7, "move_setpoint_A": 1e-9, "n_bias": 21, "settle_s": 0.01,
        "integration_s": 0.01, "feedback_settle_s": 0.1}


@pytest.fixture(scope="module")
def station():
    return load_station("simulated")


def station_with(**limits):
    base = load_station("simulated")
    data = copy.deepcopy(parse_yaml(base.source_text, "simulated.yaml").data)
    for key, value in limits.items():
        if value is None:
            data["limits"].pop(key, None)
        else:
            data["limits"][key] = value
    return station_from_dict(data, "test-station")


def keys_of(**params) -> list[str]:
    with pytest.raises(ConfigError) as info:
        plan_from_dict({"name": "g", **GRID, **params}, "g.yaml")
    return info.value.keys


def test_move_setpoint_above_the_spectrum_setpoint_is_refused_by_key():
    assert keys_of(move_setpoint_A=1e-6) == ["move_setpoint_A"]


@pytest.mark.parametrize("params, key", [
    ({"nx": 0}, "nx"), ({"ny": 5000}, "ny"), ({"nx": 2.5}, "nx"),
    ({"size_m": [0.0, 50e-9]}, "size_m.0"), ({"size_m": [1e-9, -1e-9]}, "size_m.1"),
    ({"drift_every": 5}, "drift_reference_m"), ({"rotation_deg": 400}, "rotation_deg"),
    ({"centre_m": [1.0, 0.0]}, "centre_m.0"),
])
def test_bad_grid_keys_are_named(params, key):
    assert key in keys_of(**params)


def test_one_grid_per_plan():
    with pytest.raises(ConfigError) as info:
        plan_from_dict({"name": "g", "steps": [GRID, GRID]}, "g.yaml")
    assert info.value.keys == ["steps.1.kind"]


def test_pixels_raster_x_inner_rotation_about_the_centre():
    plan = plan_from_dict({"name": "g", **GRID, "centre_m": [10e-9, 20e-9],
                           "rotation_deg": 90.0})
    points = plan_points(plan)
    assert len(points) == 12
    # pixel (iy, ix) = point iy * nx + ix; x runs along the grid's own x, here lab +y
    p = points[1 * 4 + 2]
    assert (p.grid.iy, p.grid.ix) == (1, 2)
    u, v = plan.steps[0].pixel_offsets_m()
    np.testing.assert_allclose(p.position_m, (10e-9 - v[1], 20e-9 + u[2]), atol=1e-18)
    assert p.setpoint_A == 3e-7 and p.grid.move.move_setpoint_A == 1e-9


def test_whole_rotated_area_must_fit_the_scan_range():
    tight = station_with(scan_range_m=[[-60e-9, 60e-9], [-60e-9, 60e-9]])
    plan = plan_from_dict({"name": "g", **GRID})  # 100 x 50 nm: fits unrotated
    assert check_plan_against_station(plan, tight) == []
    # turned by 45 deg its corners reach 53 nm in x and y: still inside
    plan = plan_from_dict({"name": "g", **GRID, "rotation_deg": 45})
    assert check_plan_against_station(plan, tight) == []
    # turned by 90 deg the 100 nm side lies along y... and fits; moved 20 nm up it does not
    plan = plan_from_dict({"name": "g", **GRID, "rotation_deg": 90, "centre_m": [0, 20e-9]})
    [problem] = check_plan_against_station(plan, tight)
    assert problem.startswith("size_m: the tip would go to") and "scan_range_m" in problem


def test_drift_allowance_and_reference_lines_count_in_the_scan_range():
    tight = station_with(scan_range_m=[[-60e-9, 60e-9], [-60e-9, 60e-9]])
    drift = {"drift_every": 10, "drift_reference_m": [0.0, 0.0]}
    plan = plan_from_dict({"name": "g", **GRID, **drift, "drift_max_m": 5e-9})
    assert check_plan_against_station(plan, tight) == []
    plan = plan_from_dict({"name": "g", **GRID, **drift, "drift_max_m": 20e-9})
    assert "widened by drift_max_m" in check_plan_against_station(plan, tight)[0]
    plan = plan_from_dict({"name": "g", **GRID, **drift, "drift_max_m": 5e-9,
                           "drift_reference_m": [58e-9, 0.0]})
    assert len(check_plan_against_station(plan, tight)) == 1


def test_a_grid_needs_the_scan_range_and_other_positions_are_checked_against_it():
    plan = plan_from_dict({"name": "g", **GRID})
    [problem] = check_plan_against_station(plan, station_with(scan_range_m=None))
    assert problem.startswith("kind: a grid needs the piezo's scan range")
    single = plan_from_dict({"name": "s", "kind": "single_spectrum", "setpoint_A": 1e-9,
                             "position_m": [2e-6, 0.0]})
    [problem] = check_plan_against_station(single, station_with())
    assert problem.startswith("position_m: the tip would go to")
    assert check_plan_against_station(single, station_with(scan_range_m=None)) == []


def test_scan_range_key_is_validated():
    with pytest.raises(ConfigError) as info:
        station_with(scan_range_m=[[1e-6, -1e-6], [0, 1e-6]])
    assert info.value.keys == ["limits.scan_range_m"]


def test_size_is_counted_before_the_grid_is_expanded(monkeypatch):
    small = station_with(max_plan_spectra=1000)
    plan = plan_from_dict({"name": "g", **GRID, "nx": 40, "ny": 40})

    def expand(self):
        raise AssertionError("the grid was expanded before its size was checked")

    monkeypatch.setattr(GridStep, "grid_points", expand)
    monkeypatch.setattr(GridStep, "position_sequence_m", expand)
    assert check_plan_against_station(plan, small) == [
        "steps: the plan has 1600 spectra; limits.max_plan_spectra is 1000"]


def test_duration_bound_counts_the_grid_with_its_moves():
    plan = plan_from_dict({"name": "g", **GRID, "nx": 300, "ny": 300, "move_settle_s": 60})
    problems = check_plan_against_station(plan, station_with(max_plan_duration_days=30))
    # 90 000 pixels x 60 s of settling alone is 62.5 days
    assert len(problems) == 1 and "max_plan_duration_days" in problems[0]


def test_estimate_includes_moves_settling_ramps_and_drift_references(station):
    base = estimate_plan(plan_from_dict({"name": "g", **GRID}), station).min_s
    slower = estimate_plan(plan_from_dict({"name": "g", **GRID, "move_settle_s": 1.2}),
                           station).min_s
    assert slower - base == pytest.approx(12 * 1.0)  # one more second at each of 12 pixels
    step = plan_from_dict({"name": "g", **GRID}).steps[0]
    # path at 50 nm/s: 100 nm along each of 3 rows, 2 diagonal returns (100 nm back, 25 up)
    ramps = 2 * 12 * (3e-7 - 1e-9) / station.limits.setpoint_ramp_A_per_s
    path = 3 * 100e-9 + 2 * np.hypot(100e-9, 25e-9)
    assert step.overhead_s(station.limits.setpoint_ramp_A_per_s) == pytest.approx(
        ramps + path / 50e-9 + 12 * 0.2)
    drift = estimate_plan(plan_from_dict({"name": "g", **GRID, "drift_every": 4,
                                          "drift_reference_m": [0, 0]}), station).min_s
    assert drift - base > 3 * 2 * 21 * 0.2  # three references of two 21-point lines


def test_run_file_geometry_numbers_the_grid_after_the_steps_before_it():
    from stm_andreev.procedures.grid import grid_geometry

    before = {"kind": "single_spectrum", "setpoint_A": 1e-9, "n_bias": 21}
    plan = plan_from_dict({"name": "g", "steps": [
        {"kind": "cooldown", "target_K": 0.1, "interval_s": 60, "max_duration_s": 600},
        before, before, GRID, before]})
    geometry = grid_geometry(plan)
    assert geometry.first_point == 2 and (geometry.nx, geometry.ny) == (4, 3)
    points = plan_points(plan, first_step=1)
    assert points[2].grid.pixel == 0 and points[13].grid.pixel == 11
    assert points[14].grid is None and points[1].grid is None
    assert grid_geometry(plan_from_dict({"name": "s", **before})) is None
