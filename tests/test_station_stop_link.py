"""The feedback controller's stop link: a second port (in process, a second socket onto the same
emulator) that stops a running controller sweep, opened on first use, closed with the station;
a one-port controller still works, with one warning."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from stm_andreev.config import load_station
from stm_andreev.drivers.interfaces import SweepStopper
from stm_andreev.procedures import take_spectrum
from stm_andreev.station import Station
from stm_andreev.station.stop_link import stop_ports

from .shared import WAIT_S, served_station, short_settings, wait_until


@pytest.mark.parametrize(
    ("ports", "main", "expected"),
    [
        ([6501, 6502, 6503, 6504], 6501, [6502, 6503, 6504]),
        ([6501, 6502, 6503, 6504], 6503, [6504, 6501, 6502]),  # the next one, wrapping round
        ([6501], 6501, []),
        ([6501, 6502, 6503, 6504], None, [6502, 6503, 6504]),  # in process: no address
    ],
)
def test_stop_ports_are_the_others_after_the_main_one(ports, main, expected):
    assert stop_ports(ports, main) == expected


def test_inprocess_stop_link_is_a_second_socket_onto_the_same_emulator():
    with Station.load("simulated") as station:
        assert station.stop_link is not None and station.stop_link._stopper is None  # lazy
        stopper = station.sweep_stopper()
        assert isinstance(stopper, SweepStopper)
        assert stopper is not station.feedback and station.sweep_stopper() is stopper
        assert stopper._sock is not station.feedback._sock
        station.feedback.set_bias(2e-3)
        assert stopper.get_bias() == pytest.approx(2e-3)  # the same controller
        assert not stopper.bias_spectroscopy_running()
    assert station.sweep_stopper() is None  # closed with the station


# ------------------------------------------------------------------------------ over TCP
@pytest.fixture
def servers():
    from stm_andreev.simulators.transports.station import SimulatedStationServers

    config = load_station("simulated-tcp")
    with SimulatedStationServers.from_station(config, free_ports=True) as servers:
        yield servers


@pytest.mark.tcp
def test_stop_from_the_second_port_ends_a_long_sweep_early(servers):
    ports = list(servers.servers["stm"].ports)
    with served_station(servers) as station:
        stopper = station.sweep_stopper()
        assert stopper.port == ports[1]
        result: dict = {}
        # 301 points of 1 s: 5 minutes of lab time, 3 s of wall time at the 100x speed-up.
        sweep = threading.Thread(
            target=lambda: result.update(
                station.feedback.bias_spectroscopy(-1.5e-3, 1.5e-3, 301, 0.5, 0.5)
            )
        )
        sweep.start()
        try:
            assert wait_until(stopper.bias_spectroscopy_running)
            stopper.stop_bias_spectroscopy()
        finally:
            sweep.join(WAIT_S)
        assert not sweep.is_alive()
        assert 0 <= len(result["Bias (V)"]) < 301
        assert len(result["LI Demod 1 X (A)"]) == len(result["Bias (V)"])
        assert not stopper.bias_spectroscopy_running()
        assert station.feedback.get_feedback()  # the controller restored its loop
    # Closed with the station: the port (one client each) takes a new client.
    from stm_andreev.drivers.nanonis import NanonisController

    with NanonisController(port=ports[1]) as again:
        assert not again.bias_spectroscopy_running()


@pytest.mark.tcp
def test_busy_second_port_falls_back_to_the_next(servers):
    from stm_andreev.drivers.nanonis import NanonisController

    ports = list(servers.servers["stm"].ports)
    with NanonisController(port=ports[1]) as other_client, served_station(servers) as station:
        other_client.get_bias()  # holds port 2: the server hangs up on anyone else there
        assert station.sweep_stopper().port == ports[2]


@pytest.mark.tcp
def test_one_port_controller_runs_and_warns_once(servers, caplog):
    first = servers.servers["stm"].ports[0]
    with caplog.at_level(logging.WARNING), served_station(servers, [first]) as station:
        assert station.sweep_stopper() is None
        assert station.sweep_stopper() is None
        warnings = [r for r in caplog.records if r.name == "stm_andreev.station.stop_link"]
        assert len(warnings) == 1 and "no second controller port" in warnings[0].getMessage()
        settings = short_settings("controller", integration_s=0.01)
        spectrum = take_spectrum(station, 1e-9, settings, abort_requested=lambda: False)
        assert spectrum.G_S.shape == (15,) and np.all(np.isfinite(spectrum.G_S))
