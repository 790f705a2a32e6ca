"""Public drivers nobody here wrote, run against the servers ``stm-andreev simulate`` starts.

Realistic sessions over loopback TCP (pyvisa-py): qcodes' SR830, SR86x and Lake Shore 372,
pymeasure's SR830 and SR860, the Lake Shore vendor package and the Nanonis vendor client,
including a buffered capture on the SR860 and the SR830 data buffer. qcodes is an optional
test dependency (the ``interop`` extra); its sessions are skipped where it is not installed.

The station runs on its wall clock sped up (as ``simulate`` does), so buffered sessions wait
real time: a few hundred milliseconds each.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from stm_andreev.simulators.transports.station import (
    SimulatedStationServers,
    default_instruments,
)

pytestmark = pytest.mark.tcp

SPEEDUP = 100.0
TIMEOUT_MS = 4000


@pytest.fixture(scope="module")
def station() -> Iterator[SimulatedStationServers]:
    instruments = default_instruments(sr860=True, ephemeral=True)
    with SimulatedStationServers.build(sample="InO-2", speedup=SPEEDUP, seed=5,
                                       instruments=instruments) as served:
        yield served


def wait_for_points(count, target: int, timeout_s: float = 20.0) -> bool:
    """Poll ``count()`` until it reaches ``target`` (bounded wall time)."""
    deadline = time.monotonic() + timeout_s
    while count() < target:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def wait_lab_s(seconds: float) -> None:
    """Let ``seconds`` of lab time pass (the station clock runs SPEEDUP x wall time)."""
    time.sleep(seconds / SPEEDUP)


# --- pymeasure --------------------------------------------------------------------------------

def test_pymeasure_sr830_session_with_the_data_buffer(station) -> None:
    from pymeasure.instruments.srs import SR830

    lockin = SR830(station.addresses()["lockin"], visa_library="@py", read_termination="\n",
                   timeout=TIMEOUT_MS)
    try:
        assert lockin.id.startswith("Stanford_Research_Systems,SR830")
        lockin.time_constant = 0.01
        lockin.sensitivity = 0.1
        lockin.sine_voltage = 0.5
        lockin.frequency = 377.0
        assert lockin.frequency == pytest.approx(377.0)
        x, y = lockin.xy
        assert isinstance(x, float) and isinstance(y, float)
        lockin.reset_buffer()
        lockin.sample_frequency = 64
        lockin.aquireOnTrigger(False)
        lockin.write("STRT")
        assert wait_for_points(lambda: lockin.buffer_count, 32)
        lockin.pause_buffer()
        n = lockin.buffer_count
        assert n >= 32
        ch1 = np.array(lockin.values(f"TRCA?1,0,{n}"))
        # TRCB: raw float32 without terminator; pymeasure reads it until its read times out
        lockin.adapter.connection.timeout = 300
        ch1_binary = lockin.get_buffer(1, 0, n)
        assert ch1.size == n and ch1_binary.size == n
        np.testing.assert_allclose(ch1_binary, ch1, rtol=1e-6)
        lockin.adapter.connection.timeout = TIMEOUT_MS
        assert lockin.ask("*OPC?").strip() == "1"  # in step after the binary reply
    finally:
        lockin.adapter.close()


def test_pymeasure_sr860_session_with_a_buffered_capture(station) -> None:
    from stm_andreev.drivers.lockin import SR860LockIn

    port = int(station.addresses()["lockin2"].split("::")[2])
    lockin = SR860LockIn.over_tcp(port, timeout_ms=TIMEOUT_MS)
    try:
        assert lockin.id.startswith("Stanford_Research_Systems,SR860")
        lockin.time_constant = 0.01
        lockin.sensitivity = 0.1
        lockin.frequency = 377.0
        assert lockin.get_signal_strength_indicator in range(5)
        lockin.capture_length_kB = 4
        lockin.capture_quantities = "XY"
        lockin.capture_rate_exponent = 2
        assert lockin.capture_rate_Hz == pytest.approx(lockin.capture_rate_max_Hz / 4)
        lockin.start_capture()
        wait_lab_s(1.0)
        lockin.stop_capture()
        data = lockin.read_capture()
        assert data["X"].size > 10 and np.all(data["X"] != 0.0)
        assert lockin.ask("*IDN?").startswith("Stanford_Research_Systems,SR860")
    finally:
        lockin.adapter.close()


# --- qcodes -----------------------------------------------------------------------------------

@pytest.fixture
def qcodes_instruments() -> Iterator[list]:
    pytest.importorskip("qcodes")
    opened: list = []
    yield opened
    for instrument in opened:
        instrument.close()


def test_qcodes_sr830_session_with_the_data_buffer(station, qcodes_instruments) -> None:
    from qcodes.instrument_drivers.stanford_research import SR830

    # qcodes' SR830 sets no terminator (GPIB ends each reply with EOI); a raw TCP socket has
    # no EOI, so a session over one names the LF the SR830 sends after each reply
    lockin = SR830("sr830_interop", station.addresses()["lockin"], visalib="@py",
                   terminator="\n", timeout=TIMEOUT_MS / 1000)
    qcodes_instruments.append(lockin)
    assert lockin.IDN()["model"] == "SR830"
    lockin.time_constant(0.01)
    lockin.sensitivity(0.1)
    lockin.frequency(377.0)
    assert lockin.frequency() == pytest.approx(377.0)
    lockin.ch1_display("X")
    lockin.ch2_display("Y")
    assert isinstance(lockin.X(), float) and isinstance(lockin.R(), float)
    lockin.buffer_reset()
    lockin.buffer_SR(64)
    lockin.buffer_acq_mode("single shot")
    lockin.buffer_trig_mode("OFF")
    lockin.buffer_start()
    assert wait_for_points(lockin.buffer_npts, 32)
    lockin.buffer_pause()
    n = lockin.buffer_npts()
    assert n >= 32
    # qcodes reads TRCL with read_raw, which over a raw socket (no GPIB end marker) ends
    # at the first LF byte or after half its timeout: read the same reply by count instead
    lockin.write(f"TRCL ? 1, 0, {n}")
    raw = lockin.visa_handle.read_bytes(4 * n)
    words = np.frombuffer(raw, dtype="<i2")
    lia = words[::2] * 2.0 ** (words[1::2] - 124)  # qcodes' own decoding
    ascii_values = np.array([float(v) for v in lockin.ask(f"TRCA? 1,0,{n}").split(",")])
    np.testing.assert_allclose(lia, ascii_values, rtol=1e-4, atol=1e-12)
    assert lockin.ask("*OPC?") == "1"


def test_qcodes_sr86x_session_with_a_buffered_capture(station, qcodes_instruments) -> None:
    from qcodes.instrument_drivers.stanford_research import SR860

    lockin = SR860("sr860_interop", station.addresses()["lockin2"], visalib="@py",
                   timeout=TIMEOUT_MS / 1000)
    qcodes_instruments.append(lockin)
    assert lockin.IDN()["model"] == "SR860"
    lockin.time_constant(0.01)
    lockin.sensitivity(0.1)
    lockin.frequency(377.0)
    assert isinstance(lockin.X(), float)
    buffer = lockin.buffer
    buffer.capture_config("X,Y")
    buffer.capture_rate(buffer.capture_rate_max() / 4)
    assert buffer.capture_rate() == pytest.approx(buffer.capture_rate_max() / 4)
    samples = 200
    buffer.set_capture_length_to_fit_samples(samples)
    buffer.start_capture("ONE", "IMM")
    deadline = time.monotonic() + 20.0
    while buffer.count_capture_bytes() < samples * 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert int(buffer.capture_status()) & 0b10  # started
    buffer.stop_capture()
    data = buffer.get_capture_data(samples)
    assert data["X"].size == samples and data["Y"].size == samples
    assert lockin.ask("*OPC?") == "1"  # in step after the binary blocks


def test_qcodes_lakeshore_372_session(station, qcodes_instruments) -> None:
    from qcodes.instrument_drivers.Lakeshore import LakeshoreModel372

    fridge = LakeshoreModel372("ls372_interop", station.addresses()["fridge"], visalib="@py",
                               timeout=TIMEOUT_MS / 1000)
    qcodes_instruments.append(fridge)
    assert "372" in fridge.IDN()["model"]
    channel = fridge.ch06
    assert channel.temperature() > 0.0
    assert channel.sensor_raw() > 0.0
    assert isinstance(channel.sensor_name(), str)
    channel.t_limit(1.5)
    assert channel.t_limit() == pytest.approx(1.5)
    assert channel.sensor_status() is not None
    assert channel.excitation_range_number() in range(1, 23)
    assert channel.range() is not None
    heater = fridge.sample_heater
    assert heater.output_range() == "off"
    assert heater.P() >= 0.0
    heater.setpoint(0.05)
    assert heater.setpoint() == pytest.approx(0.05)


# --- vendor packages (already test dependencies) -----------------------------------------------

def test_lakeshore_vendor_package_session(station) -> None:
    from lakeshore import Model372

    address = station.addresses()["fridge"]
    port = int(address.split("::")[2])
    fridge = Model372(baud_rate=None, ip_address="127.0.0.1", tcp_port=port, timeout=5.0)
    try:
        assert "MODEL372" in fridge.query("*IDN?")
        assert fridge.get_kelvin_reading(6) > 0.0
        assert fridge.get_input_setup_parameters("A").excitation_range is not None
        assert fridge.get_input_setup_parameters(6).resistance_range is not None
        assert fridge.query("INNAME? 6")
    finally:
        fridge.disconnect_tcp()


def test_nanonis_vendor_client_session(station) -> None:
    import socket

    nanonis_spm = pytest.importorskip("nanonis_spm")
    port = station.servers["stm"].ports[0]
    sock = socket.create_connection(("127.0.0.1", port), timeout=10.0)
    try:
        client = nanonis_spm.Nanonis(sock)
        client.Bias_Set(np.float32(-0.01))
        error, _raw, values = client.Bias_Get()
        assert error == "" and values[0] == pytest.approx(-0.01)
        error, _raw, values = client.ZCtrl_OnOffGet()
        assert error == ""
        error, _raw, values = client.Signals_NamesGet()
        assert error == "" and len(values[2]) > 0
    finally:
        sock.close()
