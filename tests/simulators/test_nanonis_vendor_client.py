"""The vendor's own client, ``nanonis_spm.Nanonis``, unmodified, against the emulator over real
TCP on 127.0.0.1 (ephemeral ports, bounded timeouts, servers closed)."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.nanonis import NanonisController
from stm_andreev.simulators.emulators.nanonis import NanonisEmulator
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.transports.tcp import FrameServer

from .test_nanonis_emulator import GatedClock

nanonis_spm = pytest.importorskip("nanonis_spm")

pytestmark = pytest.mark.tcp

TIP_XY_M = (40e-9, -25e-9)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def lab(clock) -> VirtualLab:
    return VirtualLab("InO-2", clock=clock, seed=7)


@pytest.fixture
def server(lab):
    with FrameServer(NanonisEmulator(lab), ports=(0, 0)) as srv:
        yield srv


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10.0)
    sock.settimeout(10.0)
    return sock


@pytest.fixture
def vendor(server):
    sock = connect(server.ports[0])
    client = nanonis_spm.Nanonis(sock)
    yield client
    sock.close()


def values(result: tuple) -> list:
    """The vendor client returns (error string, raw body, decoded values)."""
    error, _raw, decoded = result
    assert error == "", f"controller reported: {error}"
    return decoded


def test_vendor_client_sets_and_reads_bias(vendor, lab):
    values(vendor.Bias_Set(0.25))
    assert lab.bias_V == pytest.approx(0.25)
    assert values(vendor.Bias_Get())[0] == pytest.approx(0.25)


def test_vendor_client_sets_setpoint_and_switches_feedback(vendor, lab):
    values(vendor.ZCtrl_SetpntSet(2e-10))
    assert lab.setpoint_A == pytest.approx(2e-10)
    assert values(vendor.ZCtrl_SetpntGet())[0] == pytest.approx(2e-10)
    values(vendor.ZCtrl_OnOffSet(1))
    assert lab.feedback_on
    assert values(vendor.ZCtrl_OnOffGet())[0] == 1
    values(vendor.ZCtrl_OnOffSet(0))
    assert not lab.feedback_on


def test_vendor_client_sees_error_blocks(vendor, lab):
    values(vendor.ZCtrl_OnOffSet(1))
    error, _raw, _ = vendor.ZCtrl_ZPosSet(1e-9)
    assert "Z controller is on" in error


def test_vendor_client_reads_gains_and_signals(vendor, lab):
    decoded = values(vendor.Current_GainsGet())
    assert decoded[2] == ["10^5", "10^6", "10^7", "10^8", "10^9"]
    assert decoded[3] == lab.preamp_gain_index
    names = values(vendor.Signals_NamesGet())[2]
    assert names[0] == "Current (A)"


def test_vendor_client_runs_a_bias_spectrum_showing_the_gap(vendor, lab, clock):
    values(vendor.FolMe_XYPosSet(*TIP_XY_M, 1))
    x_m, y_m = values(vendor.FolMe_XYPosGet(1))
    assert (x_m, y_m) == pytest.approx(TIP_XY_M)
    values(vendor.Bias_Set(0.01))
    values(vendor.ZCtrl_SetpntSet(1e-10))
    values(vendor.ZCtrl_OnOffSet(1))
    clock.advance(5.0)
    values(vendor.LockIn_ModOnOffSet(1, 1))
    values(vendor.LockIn_ModAmpSet(1, 20e-6))

    gap_V = lab.junction_state()["Eg_eV"]  # the truth at this tip position
    names = values(vendor.Signals_NamesGet())[2]
    channels = [names.index("Current (A)"), names.index("LI Demod 1 X (A)")]
    values(vendor.BiasSpectr_Open())
    values(vendor.BiasSpectr_ChsSet(channels))
    values(vendor.BiasSpectr_LimitsSet(-3 * gap_V, 3 * gap_V))
    values(vendor.BiasSpectr_PropsSet(0, 1, 2, 121, 0.0, 2, 2))
    values(vendor.BiasSpectr_TimingSet(0.1, 0.0, 0.01, 1.0, 0.005, 0.02, 0.0, 0.2))
    decoded = values(vendor.BiasSpectr_Start(1, ""))

    channel_names, data = decoded[2], decoded[5]
    assert channel_names == ["Bias (V)", "Current (A)", "LI Demod 1 X (A)"]
    assert data.shape == (3, 121)
    bias, lockin_x = data[0], data[2]
    positive = bias > 0
    peak_V = bias[positive][np.argmax(lockin_x[positive])]
    assert peak_V == pytest.approx(gap_V, rel=0.25)
    assert lockin_x[np.argmin(abs(bias))] < 0.5 * lockin_x.max()
    assert len(decoded[7]) == decoded[6]  # parameters array, count first


def test_vendor_client_and_driver_share_the_controller(server, vendor, lab):
    ctl = NanonisController(port=server.ports[1], timeout_s=5.0)
    try:
        values(vendor.Bias_Set(-0.1))
        assert ctl.get_bias() == pytest.approx(-0.1)
        ctl.set_setpoint(3e-10)
        assert values(vendor.ZCtrl_SetpntGet())[0] == pytest.approx(3e-10)
    finally:
        ctl.close()


def test_vendor_stop_on_a_second_port_ends_a_running_sweep():
    clock = GatedClock()
    lab = VirtualLab("InO-2", clock=clock, seed=2)
    with FrameServer(NanonisEmulator(lab), ports=(0, 0)) as srv:
        first, second = connect(srv.ports[0]), connect(srv.ports[1])
        try:
            sweeper, stopper = nanonis_spm.Nanonis(first), nanonis_spm.Nanonis(second)
            values(sweeper.BiasSpectr_Open())
            values(sweeper.BiasSpectr_PropsSet(0, 1, 2, 200, 0.0, 2, 2))
            result: dict = {}
            clock.armed = True
            worker = threading.Thread(
                target=lambda: result.update(reply=sweeper.BiasSpectr_Start(1, "stopped"))
            )
            worker.start()
            try:
                assert clock.sleeping.wait(timeout=10.0)
                values(stopper.BiasSpectr_Stop())
            finally:
                clock.armed = False
                clock.release.set()
                worker.join(timeout=10.0)
            assert not worker.is_alive()
            decoded = values(result["reply"])
            assert decoded[3] == 2  # bias and current rows
            assert decoded[4] < 200  # ended early
        finally:
            first.close()
            second.close()
