"""Lake Shore's own ``lakeshore.Model372``, unmodified, over loopback TCP to the emulator.

Also the project's driver through pyvisa-py on the same kind of socket. The servers bind
127.0.0.1 on an ephemeral port and are closed by their fixtures; every client has a bounded
timeout. Simulated time moves only when the test advances the VirtualClock. (The vendor
client itself sleeps 0.1 s of wall time after connecting to drain stale input; that is its
code, not a wait of this test.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lakeshore import Model372, Model372HeaterOutputSettings
from lakeshore.generic_instrument import InstrumentException

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.lakeshore372 import LakeShore372, Scanner
from stm_andreev.simulators.emulators.lakeshore372 import LakeShore372Emulator
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.transports.tcp import LineServer

pytestmark = pytest.mark.tcp

TIMEOUT_S = 2.0
SETTLE_S = 13.0


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def lab(clock: VirtualClock) -> VirtualLab:
    return VirtualLab("InO-2", clock=clock)


@pytest.fixture
def server(lab: VirtualLab) -> Iterator[LineServer]:
    # Entering the context starts the server; leaving it closes sockets and joins threads.
    with LineServer(LakeShore372Emulator(lab, seed=11), port=0, max_clients=2) as srv:
        yield srv


@pytest.fixture
def vendor(server: LineServer) -> Iterator[Model372]:
    client = Model372(baud_rate=None, ip_address="127.0.0.1", tcp_port=server.port,
                      timeout=TIMEOUT_S)
    yield client
    client.disconnect_tcp()


def test_vendor_connects_and_identifies(vendor: Model372) -> None:
    assert vendor.model_number == "MODEL372"
    assert vendor.serial_number == "LSA372SIM"
    assert vendor.firmware_version == "1.5"


def test_vendor_reads_kelvin_and_resistance(
    vendor: Model372, lab: VirtualLab, clock: VirtualClock
) -> None:
    true_K = lab.fridge.temperature_K("mixing chamber")
    assert vendor.get_kelvin_reading("A") == pytest.approx(true_K, rel=1e-3)
    vendor.set_scanner_status(6, False)
    assert vendor.get_scanner_status() == {"input_channel": 6, "status": False}
    clock.advance(SETTLE_S)
    assert vendor.get_resistance_reading(6) == pytest.approx(
        lab.fridge.sensor_resistance_ohm(6), rel=1e-3
    )
    assert vendor.get_kelvin_reading(6) == pytest.approx(true_K, rel=1e-3)
    status = vendor.get_reading_status(6)
    assert not any(vars(status).values())
    readings = vendor.get_all_input_readings(6)
    assert set(readings) == {"kelvin", "resistance", "power", "quadrature"}
    assert readings["kelvin"] == pytest.approx(true_K, rel=1e-3)
    assert readings["power"] > 0
    settings = vendor.get_input_channel_parameters(6)
    assert (settings.enable, settings.dwell_time, settings.pause_time) == (True, 10, 3)


def test_vendor_closed_loop_moves_toward_setpoint(
    vendor: Model372, lab: VirtualLab, clock: VirtualClock
) -> None:
    vendor.configure_heater(0, Model372HeaterOutputSettings(
        output_mode=Model372.OutputMode.CLOSED_LOOP,
        input_channel="A",
        powerup_enable=False,
        reading_filter=False,
        delay=1,
        polarity=Model372.Polarity.UNIPOLAR,
    ))
    vendor.set_heater_pid(0, 150, 40, 0)
    vendor.set_setpoint_kelvin(0, 0.3)
    vendor.set_heater_output_range(0, Model372.SampleHeaterOutputRange.RANGE_3_POINT_16_MILLI_AMPS)
    assert vendor.get_heater_pid(0) == {"gain": 150.0, "integral": 40.0, "derivative": 0.0}
    assert vendor.get_setpoint_kelvin(0) == pytest.approx(0.3)
    assert (vendor.get_heater_output_range(0)
            is Model372.SampleHeaterOutputRange.RANGE_3_POINT_16_MILLI_AMPS)
    assert lab.fridge.heater_range == 5

    start = vendor.get_kelvin_reading("A")
    readings = [start]
    for _ in range(6):
        clock.advance(300.0)
        readings.append(vendor.get_kelvin_reading("A"))
    assert start < 0.1
    assert readings[1] > start
    assert readings[-1] == pytest.approx(0.3, abs=0.01)
    assert vendor.get_heater_output(0) > 0.0
    vendor.all_off()
    assert lab.fridge.heater_range == 0


def test_vendor_sees_instrument_errors(vendor: Model372) -> None:
    with pytest.raises(InstrumentException, match="Command Error"):
        vendor.query("FOO?")
    with pytest.raises(InstrumentException, match="Execution Error"):
        vendor.set_setpoint_kelvin(0, 500)
    with pytest.raises(InstrumentException, match="Query Error"):
        vendor.get_kelvin_reading(17)
    assert vendor.query("*ESR?", check_errors=False) == "0"


def test_two_clients_share_the_instrument(server: LineServer, vendor: Model372) -> None:
    driver = LakeShore372(LakeShore372.tcp_resource("127.0.0.1", server.port),
                          visa_library="@py", timeout=int(TIMEOUT_S * 1000))
    try:
        assert driver.identity.serial == "LSA372SIM"
        vendor.set_setpoint_kelvin(0, 0.2)
        assert driver.sample_heater.setpoint == pytest.approx(0.2)
        driver.scanner = Scanner(5, True)
        assert vendor.get_scanner_status() == {"input_channel": 5, "status": True}
    finally:
        driver.adapter.close()
