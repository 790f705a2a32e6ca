"""A plan is expanded into points in one place: each step lists its spectra once
(``grid_points``), and the counts, setpoint sequences and numbered points all come from it."""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.config import config_dir, load_plan, load_plan_text
from stm_andreev.procedures import plan_points

SHIPPED = sorted(p.stem for p in (config_dir() / "plans").glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_points_are_numbered_once_in_order(name):
    plan = load_plan(name)
    lead = sum(1 for s in plan.steps if s.kind == "cooldown")
    points = plan_points(plan, first_step=lead)
    assert [p.index for p in points] == list(range(len(points)))
    assert len(points) == plan.n_spectra
    for step_index, step in enumerate(plan.steps[lead:], start=lead):
        mine = [p for p in points if p.step_index == step_index]
        assert len(mine) == step.n_spectra == len(step.grid_points())
        assert [p.setpoint_A for p in mine] == step.setpoint_sequence_A().tolist()
        # one bias grid per step, the schema's own
        assert all(p.settings is mine[0].settings for p in mine)
        assert np.array_equal(mine[0].settings.bias_V, step.bias_V())


def test_overnight_grid_nests_temperature_position_setpoint_repeat():
    plan = load_plan_text("""
kind: overnight_grid
temperatures_K: [0.1, 0.2]
positions_m: [[0, 0], [1.0e-8, 0]]
setpoints_A: [1.0e-9, 1.0e-8, 1.0e-7]
repeats: 2
n_bias: 21
""")
    step = plan.steps[0]
    grid = step.grid_points()
    assert step.n_spectra == len(grid) == 2 * 2 * 3 * 2
    assert [(g.temperature_K, g.position_m, g.setpoint_A, g.repeat) for g in grid[:7]] == [
        (0.1, (0.0, 0.0), 1e-9, 0), (0.1, (0.0, 0.0), 1e-9, 1),
        (0.1, (0.0, 0.0), 1e-8, 0), (0.1, (0.0, 0.0), 1e-8, 1),
        (0.1, (0.0, 0.0), 1e-7, 0), (0.1, (0.0, 0.0), 1e-7, 1),
        (0.1, (1e-8, 0.0), 1e-9, 0),
    ]
    assert grid[-1] == (0.2, (1e-8, 0.0), 1e-7, 1)


def test_cooldown_steps_take_no_points():
    plan = load_plan("cooldown")
    assert plan.n_spectra == 0
    with pytest.raises(ValueError, match="takes no spectra"):
        plan_points(plan)
