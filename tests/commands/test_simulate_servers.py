"""SimulatedStationServers and the simulate command's plumbing, on test-double emulators.

The real emulators on a real VirtualLab are exercised in test_simulate_station.py.
"""

from __future__ import annotations

import argparse
import io
import re
import struct
import threading

import pytest

from stm_andreev.clock import ScaledClock
from stm_andreev.commands import simulate
from stm_andreev.simulators.faults import FaultConfigError, FaultPlan
from stm_andreev.simulators.transports import station as station_module
from stm_andreev.simulators.transports.errors import ServerError
from stm_andreev.simulators.transports.station import (
    ServedInstrument,
    SimulatedStationServers,
    StationServerError,
    default_instruments,
)
from tests.simulators.test_transport_doubles import (
    EchoFrameEmulator,
    EchoLineEmulator,
    parse_reply,
    request_frame,
)
from tests.simulators.test_transport_tcp import connect, recv_frame, recv_until

pytestmark = pytest.mark.tcp


class FakeLab:
    def __init__(self) -> None:
        self.clock = ScaledClock(10.0)
        self.sample = "InO-2"
        self.tip_changes = 0

    def tip_change(self) -> None:
        self.tip_changes += 1


@pytest.fixture
def doubles(monkeypatch):
    """Every driver gets a test-double emulator (frame echo for the Nanonis)."""

    def emulator_class(driver: str):
        return (lambda lab: EchoFrameEmulator()) if driver == "nanonis" else (
            lambda lab: EchoLineEmulator())

    monkeypatch.setattr(station_module, "emulator_class", emulator_class)


def test_served_instrument_validates_driver_and_ports():
    with pytest.raises(StationServerError, match="no emulator"):
        ServedInstrument("x", "keithley2400", (0,))
    with pytest.raises(StationServerError, match="1 to 1 port"):
        ServedInstrument("lockin", "sr830", (1, 2))
    with pytest.raises(StationServerError, match="1 to 4 port"):
        ServedInstrument("stm", "nanonis", (0,) * 5)


def test_default_instruments():
    names = [(i.name, i.driver, i.ports) for i in default_instruments()]
    assert names == [("lockin", "sr830", (5025,)), ("fridge", "lakeshore372", (7777,)),
                     ("stm", "nanonis", (6501, 6502, 6503, 6504))]
    free = default_instruments(sr860=True, ephemeral=True)
    assert [i.driver for i in free] == ["sr830", "sr860", "lakeshore372", "nanonis"]
    assert all(p == 0 for i in free for p in i.ports)


def test_station_serves_every_instrument_and_shuts_down(doubles):
    before = set(threading.enumerate())
    lab = FakeLab()
    with SimulatedStationServers(lab, default_instruments(ephemeral=True)) as station:
        addresses = station.addresses()
        assert re.fullmatch(r"TCPIP::127\.0\.0\.1::\d+::SOCKET", addresses["lockin"])
        assert re.fullmatch(r"127\.0\.0\.1:\d+(,\d+){3}|127\.0\.0\.1:\d+-\d+",
                            addresses["stm"])
        assert "lakeshore372" in station.describe()
        with connect(station.servers["lockin"].address) as sock:
            sock.sendall(b"VAL?\n")
            assert recv_until(sock, b"\n") == b"0\n"
        port = station.servers["stm"].ports[3]
        with connect(("127.0.0.1", port)) as sock:
            sock.sendall(request_frame("Bias.Get"))
            assert parse_reply(recv_frame(sock))[0] == "Bias.Get"
    assert set(threading.enumerate()) <= before


def test_consecutive_nanonis_ports_print_as_a_range(doubles):
    station = SimulatedStationServers(FakeLab(), [ServedInstrument("stm", "nanonis", (0,))])
    with station:
        port = station.servers["stm"].ports[0]
    # a range needs four consecutive ports: find some free ones near the ephemeral one
    for base in range(port + 10, port + 200, 7):
        try:
            station = SimulatedStationServers(
                FakeLab(), [ServedInstrument("stm", "nanonis", tuple(range(base, base + 4)))])
            with station:
                assert station.address_of("stm") == f"127.0.0.1:{base}-{base + 3}"
            return
        except ServerError:  # one of them is taken: try further on
            continue
    pytest.skip("no four consecutive free ports found")


def test_faults_reach_the_served_instruments(doubles):
    lab = FakeLab()
    plan = FaultPlan.from_config([
        {"kind": "garble", "instrument": "lockin", "after_commands": 0},
        {"kind": "tip_change", "after_commands": 1},
    ])
    with SimulatedStationServers(lab, default_instruments(ephemeral=True),
                                 faults=plan) as station:
        assert station.describe().splitlines()[-2:] == [
            "fault: garble lockin after 0 commands", "fault: tip_change lab after 1 commands"]
        with connect(station.servers["lockin"].address) as sock:
            sock.sendall(b"VAL?\n")
            assert recv_until(sock, b"\n") != b"0\n"
            sock.sendall(b"VAL?\n")
            assert recv_until(sock, b"\n") == b"0\n"
    assert lab.tip_changes == 1


def test_faults_for_an_unknown_instrument_are_refused(doubles):
    plan = FaultPlan.from_config([{"kind": "stall", "instrument": "lokin", "after_commands": 0}])
    with pytest.raises(FaultConfigError, match="lokin"):
        SimulatedStationServers(FakeLab(), default_instruments(ephemeral=True), faults=plan)


def test_duplicate_names_are_refused(doubles):
    with pytest.raises(StationServerError, match="unique"):
        SimulatedStationServers(FakeLab(), [ServedInstrument("a", "sr830", (0,))] * 2)


def test_a_busy_port_fails_the_whole_start_and_leaves_nothing_running(doubles):
    with SimulatedStationServers(FakeLab(), [ServedInstrument("a", "sr830", (0,))]) as first:
        busy = first.servers["a"].port
        second = SimulatedStationServers(
            FakeLab(), [ServedInstrument("b", "sr830", (0,)), ServedInstrument("c", "sr830",
                                                                               (busy,))])
        with pytest.raises(ServerError, match="cannot listen"):
            second.start()
        assert not [t for s in second.servers.values() for t in s.threads if t.is_alive()]


def test_missing_emulator_is_a_clear_error(monkeypatch):
    import dataclasses

    broken = dataclasses.replace(station_module.SIMULATED["sr830"], emulator="nowhere:Nothing")
    monkeypatch.setitem(station_module.SIMULATED, "sr830", broken)
    with pytest.raises(StationServerError, match="not available"):
        station_module.emulator_class("sr830")


# ---- the command --------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    return parser.parse_args(argv)


class WatchedOutput(io.StringIO):
    """Captures the command's output and signals when the servers are up."""

    def __init__(self) -> None:
        super().__init__()
        self.serving = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "serving" in self.getvalue():
            self.serving.set()
        return written


def test_serve_prints_addresses_and_stops_cleanly(doubles, monkeypatch):
    monkeypatch.setattr(simulate, "build_station", lambda args: SimulatedStationServers(
        FakeLab(), default_instruments(ephemeral=True)))
    stop = threading.Event()
    out = WatchedOutput()
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(
        simulate.serve(parse(["--free-ports"]), stop, out)))
    worker.start()
    try:
        assert out.serving.wait(30), out.getvalue()
        text = out.getvalue()
        visa = re.search(r"lockin\s+sr830\s+TCPIP::127\.0\.0\.1::(\d+)::SOCKET", text)
        assert visa, text
        with connect(("127.0.0.1", int(visa.group(1)))) as sock:
            sock.sendall(b"*IDN?\n")
            assert recv_until(sock, b"\n") == b"TEST,ECHO,0,1.0\n"
    finally:
        stop.set()
        worker.join(10)
    assert result == [0]
    assert out.getvalue().rstrip().endswith("stopped")


def test_serve_with_duration_returns_by_itself(doubles, monkeypatch):
    monkeypatch.setattr(simulate, "build_station", lambda args: SimulatedStationServers(
        FakeLab(), default_instruments(ephemeral=True)))
    assert simulate.serve(parse(["--duration", "0.01"]), threading.Event(), io.StringIO()) == 0


def test_bad_speedup_and_bad_station_file_exit_2(tmp_path, capsys):
    assert simulate.serve(parse(["--speedup", "0"]), threading.Event(), io.StringIO()) == 2
    bad = tmp_path / "station.yaml"
    bad.write_text("name: x\ninstruments: {}\n")
    assert simulate.serve(parse([str(bad)]), threading.Event(), io.StringIO()) == 2
    assert "error" in capsys.readouterr().err


def test_nanonis_frame_exact_bytes_through_the_station(doubles):
    with SimulatedStationServers(FakeLab(), [ServedInstrument("stm", "nanonis", (0, 0))]) as st:
        with connect(("127.0.0.1", st.servers["stm"].ports[1])) as sock:
            sock.sendall(request_frame("Bias.Set", struct.pack(">f", 0.5)))
            assert recv_frame(sock) == (b"Bias.Set".ljust(32, b"\0")
                                        + bytes.fromhex("0000000c 00000000 3f000000")
                                        + bytes(8))
