"""Shared pieces of the end-to-end dry runs: a simulated station and a tiny plan, in process."""

from __future__ import annotations

import copy

import pytest

from stm_andreev import station as station_module
from stm_andreev.clock import VirtualClock
from stm_andreev.config import load_plan_text, load_station, station_from_dict
from stm_andreev.config.yaml_file import parse_yaml
from stm_andreev.engine.runner import POINT_KEYS, takes_continuous_spectra
from stm_andreev.procedures import plan_points
from stm_andreev.station import Station
from stm_andreev.storage import RunWriter

TINY_PLAN = """
name: tiny
steps:
  - kind: setpoint_sweep
    label: setpoints
    temperature_K: 0.065
    I_start_A: 1.0e-9
    I_stop_A: 1.0e-6
    n_setpoints: 3
    n_bias: 21
    settle_s: 0.01
    integration_s: 0.01
    feedback_settle_s: 0.1
  - kind: temperature_sweep
    label: temperatures
    temperatures_K: [0.3, 1.0]
    setpoint_A: 1.0e-6
    n_bias: 21
    settle_s: 0.01
    integration_s: 0.01
    feedback_settle_s: 0.1
"""


def station_config(**simulation):
    """configs/simulated.yaml with simulation keys overridden (e.g. faults)."""
    base = load_station("simulated")
    data = copy.deepcopy(parse_yaml(base.source_text, "simulated.yaml").data)
    data["simulation"].update(simulation)
    return station_from_dict(data, "test-station")


class HookClock(VirtualClock):
    """A virtual clock that runs ``hook`` after every sleep: a door into the simulated time."""

    def __init__(self) -> None:
        super().__init__()
        self.hook = None

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.hook is not None:
            self.hook()


@pytest.fixture
def hook_clock(monkeypatch) -> HookClock:
    """The clock every station built in the test gets (a :class:`HookClock`)."""
    clock = HookClock()
    monkeypatch.setattr(station_module, "_make_clock", lambda config: clock)
    return clock


@pytest.fixture
def tiny_plan():
    return load_plan_text(TINY_PLAN, "tiny.yaml")


def new_run(tmp_path, plan, config=None, name="run.h5"):
    """(station, points, writer) for a fresh in-process dry run."""
    config = config or station_config()
    station = Station.from_config(config, source_text="test")
    points = plan_points(plan)
    writer = RunWriter.create(
        tmp_path / name,
        n_bias=points[0].settings.bias_V.size,
        n_planned=len(points),
        metadata={"plan": plan.name},
        station_text="test",
        plan_text=TINY_PLAN,
        snapshot=station.snapshot(),
        point_keys=POINT_KEYS,
        continuous=takes_continuous_spectra(points),
    )
    return station, points, writer
