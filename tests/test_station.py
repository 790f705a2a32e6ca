"""The station: builds from every shipped config, exposes role interfaces, runs over TCP."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from stm_andreev.config import load_station, station_from_dict
from stm_andreev.config.yaml_file import parse_yaml
from stm_andreev.drivers.interfaces import FeedbackController, LockIn, TemperatureController
from stm_andreev.drivers.lakeshore372 import LakeShore372
from stm_andreev.drivers.lockin import SR830LockIn
from stm_andreev.drivers.nanonis.client import NanonisController
from stm_andreev.station import Station

from .shared import short_settings


def test_lab_example_describes_its_connections_without_connecting():
    config = load_station("lab-example")
    plan = {c.name: c for c in Station.connections(config)}
    assert plan["lockin"].factory is SR830LockIn and plan["lockin"].target == "GPIB0::8::INSTR"
    assert plan["fridge"].factory is LakeShore372
    assert plan["fridge"].target.endswith("::7777::SOCKET")
    assert plan["fridge"].kwargs["visa_library"] == "@py"
    assert plan["stm"].factory is NanonisController
    assert (plan["stm"].kwargs["host"], plan["stm"].kwargs["port"]) == ("127.0.0.1", 6501)
    assert "GPIB0::8::INSTR" in plan["lockin"].describe()


def test_simulated_tcp_lists_loopback_addresses():
    config = load_station("simulated-tcp")
    for conn in Station.connections(config):
        where = conn.target if isinstance(conn.target, str) else conn.kwargs["host"]
        assert "127.0.0.1" in where


def test_simulated_station_builds_with_role_interfaces():
    with Station.load("simulated") as station:
        assert isinstance(station.lockin, LockIn)
        assert isinstance(station.feedback, FeedbackController)
        assert isinstance(station.temperature, TemperatureController)
        assert station.lab is not None and station.simulated
        assert 0.04 < station.mixing_chamber_K() < 0.07
        assert station.film_resistance_ohm() == pytest.approx(0.0, abs=1.0)  # superconducting
        assert 0.04 < station.mixing_chamber_K() < 0.07  # control channel read again
        snap = station.snapshot()
        assert snap["feedback"]["feedback_on"] is True
        assert snap["lockin"]["time_constant_s"] > 0
        assert snap["limits"]["max_setpoint_A"] == pytest.approx(5.0e-6)


def test_scanner_channel_is_rescanned_when_it_went_stale():
    with Station.load("simulated") as station:
        station.temperature.scan("still")  # something else moved the scanner
        station.clock.sleep(60)
        options = station.config.instruments["fridge"].options
        assert options.control_channel == "mixing_chamber"
        assert 0.04 < station.mixing_chamber_K() < 0.07


@pytest.mark.tcp
def test_station_over_tcp_against_simulate_servers():
    from stm_andreev.procedures import take_spectrum
    from stm_andreev.simulators.transports.station import SimulatedStationServers

    config = load_station("simulated-tcp")
    with SimulatedStationServers.from_station(config, free_ports=True) as servers:
        data = copy.deepcopy(parse_yaml(config.source_text, "simulated-tcp.yaml").data)
        for name, inst in data["instruments"].items():
            address = servers.address_of(name)
            if inst["driver"] == "nanonis":  # "host:p1,p2,..": the driver needs the first port
                address = address.split(",")[0]
            inst["address"] = address
            inst.get("options", {}).pop("ports", None)
        tcp_config = station_from_dict(data, "tcp-test")
        with Station.from_config(tcp_config) as station:
            assert station.lab is None
            settings = short_settings("lockin")
            spectrum = take_spectrum(station, 1e-9, settings)
            G = spectrum.G_S
            assert np.all(np.isfinite(G))
            assert G[7] < 0.2 * G[0]  # the tunnelling gap is there at zero bias
            assert spectrum.record["G_sp_S"] == pytest.approx(1e-9 / 3e-3, rel=0.05)
