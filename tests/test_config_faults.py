"""The station file's fault schema and simulators/faults.py agree on every kind and field.

The station validates faults at load time (so a bad fault fails before anything runs, with
its key named); the simulator's FaultPlan executes them. A fault one side accepts and the
other refuses would fail mid-run, so both are tested on the same entries.
"""

from __future__ import annotations

import copy

import pytest

from stm_andreev.config import ConfigError, load_station, station_from_dict

faults = pytest.importorskip("stm_andreev.simulators.faults")

GOOD = [
    {"kind": "drop_connection", "instrument": "stm", "after_commands": 100},
    {"kind": "delay", "instrument": "lockin", "delay_s": 0.5, "probability": 0.1,
     "duration_s": 600},
    {"kind": "stall", "instrument": "fridge", "at_time_s": 3600, "duration_s": 30},
    {"kind": "stall", "instrument": "fridge", "after_commands": 7, "count": 3},
    {"kind": "garble", "instrument": "lockin", "probability": 0.01},
    {"kind": "error_status", "instrument": "fridge", "after_commands": 5, "bits": 16},
    {"kind": "error_status", "instrument": "stm", "at_time_s": 10},
    {"kind": "restart", "instrument": "fridge", "at_time_s": 7200},
    {"kind": "temperature_spike", "at_time_s": 1800, "delta_K": 0.3, "duration_s": 120},
    {"kind": "temperature_spike", "after_commands": 50, "delta_K": -0.01, "duration_s": 5,
     "instrument": "lab"},
    {"kind": "tip_change", "at_time_s": 5000},
]

BAD = [
    ({"kind": "delay", "instrument": "lockin", "after_commands": 1}, "delay_s"),
    ({"kind": "garble", "instrument": "lockin"}, ""),  # no trigger
    ({"kind": "garble", "probability": 0.1}, "instrument"),
    ({"kind": "restart", "instrument": "stm", "after_commands": 1, "at_time_s": 2}, ""),
    ({"kind": "tip_change", "at_time_s": 5, "probability": 0.5}, "probability"),
    ({"kind": "tip_change"}, ""),
    ({"kind": "temperature_spike", "at_time_s": 5, "delta_K": 0.1}, "duration_s"),
    ({"kind": "error_status", "instrument": "stm", "after_commands": 1, "bits": 0}, "bits"),
    ({"kind": "stall", "instrument": "stm", "after_commands": 1, "count": 0}, "count"),
]


@pytest.fixture(scope="module")
def base() -> dict:
    return load_station("simulated").snapshot()


def with_faults(base: dict, entries: list[dict]) -> dict:
    data = copy.deepcopy(base)
    data["simulation"]["faults"] = entries
    return data


def test_good_faults_pass_both_schemas(base):
    station = station_from_dict(with_faults(base, GOOD))
    plan = faults.FaultPlan.from_config(station.simulation.faults, seed=3)
    assert [f.kind for f in plan.faults] == [g["kind"] for g in GOOD]
    plan.check_instruments(station.instruments)
    spike = plan.faults[8]
    assert (spike.delta_K, spike.duration_s, spike.is_lab_fault) == (0.3, 120, True)
    assert plan.faults[5].bits == 16 and plan.faults[3].count == 3


@pytest.mark.parametrize("entry, key", BAD, ids=lambda v: str(v)[:40])
def test_bad_faults_are_refused_by_both(base, entry, key):
    with pytest.raises(ConfigError) as info:
        station_from_dict(with_faults(base, [entry]), "s.yaml")
    expected = "simulation.faults.0" + (f".{key}" if key else "")
    assert expected in info.value.keys, str(info.value)
    with pytest.raises(faults.FaultConfigError):
        faults.FaultPlan.from_config([entry])
