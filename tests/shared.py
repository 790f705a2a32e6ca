"""Pieces several test packages use: a station served over TCP, short spectrum settings, and a
bounded wait for another thread."""

from __future__ import annotations

import copy
import time

import numpy as np

from stm_andreev.config import load_station, station_from_dict
from stm_andreev.config.yaml_file import parse_yaml
from stm_andreev.procedures import SpectrumSettings
from stm_andreev.station import Station

#: Bound on every wait for another thread (wall seconds; the waits poll every 10 ms).
WAIT_S = 10.0


def served_station(servers, ports: list[int] | None = None) -> Station:
    """configs/simulated-tcp.yaml pointed at ``servers`` (``SimulatedStationServers`` on
    ephemeral ports); the Nanonis on ``ports``, default all of the servers' ports."""
    config = load_station("simulated-tcp")
    data = copy.deepcopy(parse_yaml(config.source_text, "simulated-tcp.yaml").data)
    for name, inst in data["instruments"].items():
        if inst["driver"] == "nanonis":
            served = list(servers.servers[name].ports)
            inst["address"] = f"{servers.servers[name].host}:{served[0]}"
            inst["options"]["ports"] = served if ports is None else ports
        else:
            inst["address"] = servers.address_of(name)
    return Station.from_config(station_from_dict(data, "tcp-test"))


def short_settings(acquisition: str, n_bias: int = 15, integration_s: float = 0.0
                   ) -> SpectrumSettings:
    """A short sweep at V_sp = -3 mV over +-1.5 mV, 20 uV rms at 377 Hz, 0.1 s feedback settle."""
    return SpectrumSettings(
        V_sp_V=-3e-3,
        bias_V=np.linspace(-1.5e-3, 1.5e-3, n_bias),
        acquisition=acquisition,
        modulation_Vrms=20e-6,
        modulation_frequency_Hz=377.0,
        settle_s=0.0,
        integration_s=integration_s,
        feedback_settle_s=0.1,
        settle_z_timeout_s=30.0,
    )


def wait_until(condition, timeout_s: float = WAIT_S) -> bool:
    """Poll ``condition`` every 10 ms up to ``timeout_s``: another thread has to see something."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
