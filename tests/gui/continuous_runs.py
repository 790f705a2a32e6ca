"""A run file of continuous spectra (acquisition: continuous, SR860 capture buffer) made by
the real engine on the in-process simulated station, with its raw samples beside it."""

from __future__ import annotations

import copy
from pathlib import Path

from stm_andreev.config import load_plan_text, load_station, station_from_dict
from stm_andreev.config.yaml_file import parse_yaml

PLAN = """
name: gui-continuous
kind: setpoint_sweep
acquisition: continuous
temperature_K: 0.065
I_start_A: 1.0e-8
I_stop_A: 1.0e-6
n_setpoints: 2
n_bias: {n_bias}
settle_s: 0.01
integration_s: 0.01
feedback_settle_s: 0.5
"""


def write_continuous_run(path: Path, n_bias: int = 81) -> Path:
    from stm_andreev.engine import RunControl, RunEngine
    from stm_andreev.engine.runner import POINT_KEYS
    from stm_andreev.procedures import plan_points
    from stm_andreev.station import Station
    from stm_andreev.storage import RunWriter

    base = load_station("simulated")
    data = copy.deepcopy(parse_yaml(base.source_text, "simulated.yaml").data)
    data["instruments"]["lockin"]["driver"] = "sr860"
    config = station_from_dict(data, "gui-sr860")
    text = PLAN.format(n_bias=n_bias)
    plan = load_plan_text(text, "gui-continuous.yaml")
    points = plan_points(plan)
    with Station.from_config(config, source_text="gui-sr860") as station:
        writer = RunWriter.create(
            path, n_bias=n_bias, n_planned=len(points), metadata={"plan": plan.name},
            station_text="gui-sr860", plan_text=text, snapshot=station.snapshot(),
            point_keys=POINT_KEYS,
        )
        summary = RunEngine(station, points, writer, control=RunControl(path)).run()
    assert summary.status == "finished"
    return path
