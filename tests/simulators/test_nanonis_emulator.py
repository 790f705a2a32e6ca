"""The Nanonis emulator on the wire: exact reply bytes, error blocks, lab coupling, and the
project's driver against it in-process on a virtual clock (including a Stop from a second
port while a sweep runs)."""

from __future__ import annotations

import struct
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.nanonis import (
    COMMANDS,
    NanonisCommandError,
    NanonisController,
    NanonisPreamp,
    NanonisValueError,
)
from stm_andreev.drivers.preamp import CurrentPreamp
from stm_andreev.simulators.emulators.nanonis import NanonisEmulator
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.transports.inprocess import EmulatorSocket

OK = bytes(8)


def hx(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def name32(name: str) -> bytes:
    return name.encode("ascii").ljust(32, b"\0")


def request(name: str, body: str = "", flag: int = 1) -> tuple[bytes, bytes]:
    raw = hx(body)
    return name32(name) + len(raw).to_bytes(4, "big") + flag.to_bytes(2, "big") + bytes(2), raw


def reply(name: str, body: bytes) -> bytes:
    return name32(name) + len(body).to_bytes(4, "big") + bytes(4) + body


def error_block(message: str) -> bytes:
    raw = message.encode()
    return hx("00000001") + len(raw).to_bytes(4, "big") + raw


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def lab(clock: VirtualClock) -> VirtualLab:
    return VirtualLab("InO-2", clock=clock, seed=3)


@pytest.fixture
def emulator(lab: VirtualLab) -> NanonisEmulator:
    return NanonisEmulator(lab)


def send(emulator: NanonisEmulator, name: str, body: str = "", flag: int = 1) -> bytes:
    return emulator.handle_frame(*request(name, body, flag))


# --- wire level --------------------------------------------------------------------------


def test_bias_set_and_get_exact_bytes(emulator, lab):
    assert send(emulator, "Bias.Set", "3f000000") == reply("Bias.Set", OK)
    assert lab.bias_V == pytest.approx(0.5)
    assert send(emulator, "Bias.Get") == reply("Bias.Get", hx("3f000000") + OK)


def test_no_reply_when_the_flag_is_zero_but_the_command_runs(emulator, lab):
    assert send(emulator, "Bias.Set", "bf000000", flag=0) == b""
    assert lab.bias_V == pytest.approx(-0.5)


def test_unknown_command_answers_an_error_block_naming_it(emulator):
    message = "Foo.Bar: unknown command (not supported by this server)"
    assert send(emulator, "Foo.Bar", "00000001") == reply("Foo.Bar", error_block(message))


def test_wrong_argument_size_answers_an_error_with_zeroed_returns(emulator, lab):
    out = send(emulator, "Bias.Set", "3f00")  # 2 bytes instead of a float32
    assert out[:32] == name32("Bias.Set")
    body = out[40:]
    assert body[:4] == hx("00000001")
    assert b"Bias.Set: wrong arguments" in body
    assert lab.bias_V != pytest.approx(0.5)


def test_body_shorter_than_announced_is_refused(emulator):
    header, _ = request("Bias.Set", "3f000000")
    out = emulator.handle_frame(header, hx("3f00"))
    assert b"header announces 4 body bytes, 2 received" in out


def test_malformed_header_answers_an_error(emulator):
    out = emulator.handle_frame(bytes(40), b"")
    assert b"Malformed request header" in out


def test_z_position_is_refused_while_the_controller_is_on(emulator, lab):
    assert send(emulator, "ZCtrl.OnOffSet", "00000001") == reply("ZCtrl.OnOffSet", OK)
    assert lab.feedback_on
    out = send(emulator, "ZCtrl.ZPosSet", "3089705f")
    message = "ZCtrl.ZPosSet: the Z controller is on; switch it off before setting Z"
    assert out == reply("ZCtrl.ZPosSet", error_block(message))
    send(emulator, "ZCtrl.OnOffSet", "00000000")
    z_before = lab.z_m
    target = np.float32(z_before + 1e-11)
    assert send(emulator, "ZCtrl.ZPosSet", struct.pack(">f", target).hex()) == reply(
        "ZCtrl.ZPosSet", OK
    )
    assert lab.z_m == pytest.approx(float(target), abs=1e-15)


def test_signal_names_exact_bytes(emulator):
    out = send(emulator, "Signals.NamesGet")
    names = emulator.signal_names
    expected = sum(4 + len(n) for n in names).to_bytes(4, "big") + len(names).to_bytes(4, "big")
    for n in names:
        expected += len(n).to_bytes(4, "big") + n.encode()
    assert out == reply("Signals.NamesGet", expected + OK)
    assert names[:3] == ("Current (A)", "Bias (V)", "Z (m)")


def test_gain_index_reaches_the_lab(emulator, lab):
    out = send(emulator, "Current.GainSet", "00000001 ffffffff")
    assert out == reply("Current.GainSet", OK)
    assert lab.preamp_gain_index == 1
    out = send(emulator, "Current.GainSet", "00000009 ffffffff")
    assert b"gain index 9 outside 0-4" in out


def test_modulation_amplitude_sets_the_junction_modulation(emulator, lab):
    send(emulator, "LockIn.ModOnOffSet", "00000001 00000001")
    send(emulator, "LockIn.ModAmpSet", "00000001 3a83126f")  # 1 mV
    assert lab.lockin.amplitude_Vrms * lab.lockin.divider == pytest.approx(1e-3, rel=1e-6)
    assert send(emulator, "LockIn.ModAmpGet", "00000001") == reply(
        "LockIn.ModAmpGet", hx("3a83126f") + OK
    )


def test_status_get_reports_lab_feedback_codes(emulator, lab):
    lab.feedback_on = False
    assert send(emulator, "ZCtrl.StatusGet") == reply("ZCtrl.StatusGet", hx("0001") + OK)
    lab.feedback_on = True
    assert send(emulator, "ZCtrl.StatusGet") == reply("ZCtrl.StatusGet", hx("0002") + OK)


def test_start_without_open_is_refused(emulator):
    out = send(emulator, "BiasSpectr.Start", "00000001 00000000")
    assert b"not open" in out


def test_a_refused_start_returns_a_0_by_0_data_array_as_the_controller_does(emulator):
    out = send(emulator, "BiasSpectr.Start", "00000001 00000000")
    body = out[40:]
    # channel names: 0 bytes, 0 names; data: 0 rows, 0 columns; parameters: 0 floats
    assert body[:8] == bytes(8)
    assert body[8:16] == bytes(8), f"data array header {body[8:16].hex()}"
    assert body[16:20] == bytes(4)
    assert body[20:24] == hx("00000001")  # then the error block


def test_reset_forgets_settings(emulator):
    send(emulator, "BiasSpectr.LimitsSet", "bba3d70a 3c23d70a")
    emulator.reset()
    assert send(emulator, "BiasSpectr.LimitsGet") == reply(
        "BiasSpectr.LimitsGet", hx("bba3d70a 3ba3d70a") + OK
    )


# --- the driver in-process ---------------------------------------------------------------


@pytest.fixture
def ctl(emulator, clock) -> NanonisController:
    return NanonisController(socket_factory=EmulatorSocket.factory(emulator, clock=clock))


def test_driver_round_trips_through_the_emulator(ctl, lab):
    ctl.set_bias(0.01)
    assert ctl.get_bias() == pytest.approx(0.01)
    ctl.set_setpoint(1e-10)
    assert ctl.get_setpoint() == pytest.approx(1e-10)
    ctl.set_current_gain(1e8)
    assert ctl.get_current_gain() == pytest.approx(1e8)
    ctl.set_feedback(True)
    assert ctl.get_feedback() and ctl.feedback_status() == 2
    with pytest.raises(NanonisCommandError, match="ZCtrl.ZPosSet"):
        ctl.set_z(1e-9)
    ctl.set_tip_position(5e-9, -5e-9)
    assert ctl.get_tip_position() == pytest.approx((5e-9, -5e-9))
    ctl.set_feedback_gains(1e-11, 1e-3, 1e-8)
    assert ctl.get_feedback_gains() == pytest.approx((1e-11, 1e-3, 1e-8), rel=1e-6)
    ctl.withdraw(timeout_s=5.0)
    assert not ctl.get_feedback()
    assert ctl.get_z() == pytest.approx(lab.z_limits_m[1], rel=1e-6)
    assert ctl.signal_value("Bias (V)") == pytest.approx(0.01)


def test_feedback_settles_the_current_on_the_setpoint(ctl, lab, clock):
    ctl.set_bias(0.01)
    ctl.set_setpoint(1e-10)
    ctl.set_feedback(True)
    clock.advance(5.0)
    assert ctl.get_current() == pytest.approx(1e-10, rel=0.2)


def _gap_spectrum(ctl, lab, clock, span_V):
    ctl.set_bias(0.01)
    ctl.set_setpoint(1e-10)
    ctl.set_feedback(True)
    clock.advance(5.0)
    ctl.set_modulation(True)
    ctl.set_modulation_amplitude(20e-6)
    return ctl.bias_spectroscopy(-span_V, span_V, 161, 0.005, 0.02)


def test_bias_spectroscopy_shows_the_gap_at_the_tip(ctl, lab, clock):
    truth = lab.junction_state()
    gap_V = truth["Eg_eV"]
    t0 = clock.now()
    data = _gap_spectrum(ctl, lab, clock, 3 * gap_V)
    assert list(data) == ["Bias (V)", "Current (A)", "LI Demod 1 X (A)", "LI Demod 1 Y (A)",
                          "Z (m)"]
    bias, x = data["Bias (V)"], data["LI Demod 1 X (A)"]
    assert bias.shape == x.shape == (161,)
    positive = bias > 0
    peak_V = bias[positive][np.argmax(x[positive])]
    assert peak_V == pytest.approx(gap_V, rel=0.25)
    assert x[np.argmin(abs(bias))] < 0.5 * x.max()
    assert np.ptp(data["Z (m)"]) == 0.0  # Z held during the sweep
    # The controller's own timing ran on the lab's clock.
    assert clock.now() - t0 >= 161 * 0.025
    # Bias and feedback restored afterwards.
    assert ctl.get_bias() == pytest.approx(0.01) and ctl.get_feedback()


class GatedClock(VirtualClock):
    """A virtual clock whose sleeps block (bounded) once armed, so a test can act mid-sweep."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.sleeping = threading.Event()
        self.release = threading.Event()

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.armed:
            self.sleeping.set()
            assert self.release.wait(timeout=10.0), "test never released the sweep"


def test_stop_from_another_port_ends_the_sweep_early():
    clock = GatedClock()
    lab = VirtualLab("InO-2", clock=clock, seed=1)
    emulator = NanonisEmulator(lab)
    factory = EmulatorSocket.factory(emulator, clock=clock)
    sweeper = NanonisController(port=6501, socket_factory=factory)
    other = NanonisController(port=6502, socket_factory=factory)
    sweeper.open_bias_spectroscopy()
    sweeper.set_spectroscopy_channels(["Current (A)"])
    sweeper.set_spectroscopy_limits(-0.01, 0.01)
    sweeper.set_spectroscopy_props(100)
    sweeper.set_spectroscopy_timing(0.01, 0.01)
    result: dict = {}
    clock.armed = True
    worker = threading.Thread(
        target=lambda: result.update(sweeper.start_bias_spectroscopy(timeout_s=1000.0))
    )
    worker.start()
    try:
        assert clock.sleeping.wait(timeout=10.0)
        assert other.bias_spectroscopy_running()
        other.stop_bias_spectroscopy()
    finally:
        clock.armed = False
        clock.release.set()
        worker.join(timeout=10.0)
    assert not worker.is_alive()
    assert not other.bias_spectroscopy_running()
    assert 0 <= len(result["Bias (V)"]) < 100
    assert len(result["Current (A)"]) == len(result["Bias (V)"])


# --- robustness --------------------------------------------------------------------------

_FUZZ_LAB = VirtualLab("InO-1", clock=VirtualClock(), seed=11)
_FUZZ_EMULATOR = NanonisEmulator(_FUZZ_LAB)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(COMMANDS)), body=st.binary(max_size=64))
def test_random_request_bodies_always_get_a_well_formed_reply(name, body):
    header, _ = request(name)
    header = header[:32] + len(body).to_bytes(4, "big") + header[36:]
    out = _FUZZ_EMULATOR.handle_frame(header, body)
    try:
        COMMANDS[name].decode_reply(out)
    except NanonisCommandError as exc:
        assert exc.command == name and exc.message.startswith(name)


@settings(max_examples=200, deadline=None)
@given(header=st.binary(min_size=40, max_size=40), body=st.binary(max_size=32))
def test_random_frames_never_raise(header, body):
    out = _FUZZ_EMULATOR.handle_frame(header, body)
    assert out == b"" or len(out) >= 48


@pytest.mark.parametrize(
    "name, body, complaint",
    [
        ("BiasSpectr.PropsSet", "0000 00000001 0000 7fffffff 00000000 0000 0000", "points"),
        ("BiasSpectr.PropsSet", "0000 00000001 0003 00000010 00000000 0000 0000", "flag 3"),
        ("BiasSpectr.TimingSet", "7fc00000" * 8, "timing value"),  # NaN
        ("BiasSpectr.ChsSet", "00000001 00000063", r"channel indexes \[99\]"),
        ("LockIn.ModAmpSet", "00000009 3a83126f", "modulator 9"),
        ("Signals.ValGet", "00000063 00000000", "signal index 99"),
        ("FolMe.XYPosSet", "3ff0000000000000 0000000000000000 00000001", "outside"),
        ("Bias.Set", "41300000", "outside"),  # 11 V
    ],
)
def test_out_of_range_arguments_get_error_blocks(emulator, name, body, complaint):
    with pytest.raises(NanonisCommandError, match=complaint) as info:
        COMMANDS[name].decode_reply(send(emulator, name, body))
    assert str(info.value).count(name) == 1


def test_lockin_channel_is_the_model_conductance_times_the_modulation(ctl, lab, clock):
    vmod_V = 20e-6
    data = _gap_spectrum(ctl, lab, clock, 2e-3)
    bias = data["Bias (V)"]
    assert lab.lockin.modulation_Vrms == pytest.approx(vmod_V, rel=1e-6)
    ctl.set_feedback(False)  # freeze the junction as it was during the sweep (Z held)
    expected_A = lab.true_dIdV_S(bias) * vmod_V
    noise_A = np.std(data["LI Demod 1 Y (A)"])
    np.testing.assert_allclose(data["LI Demod 1 X (A)"], expected_A,
                               atol=6 * noise_A + 1e-3 * expected_A.max())


def test_snapshot_reports_the_settings(ctl, lab):
    ctl.set_bias(-2e-3)
    ctl.set_modulation_amplitude(30e-6)
    snap = ctl.snapshot()
    assert snap["bias_V"] == pytest.approx(-2e-3)
    assert snap["modulation_V"] == pytest.approx(30e-6)
    assert snap["current_gain_V_per_A"] == pytest.approx(1e8)
    assert snap["z_limits_m"] == pytest.approx(lab.z_limits_m, rel=1e-6)
    assert snap["feedback_on"] is True


def test_preamp_adapter_sets_the_lab_gain(ctl, lab):
    preamp = NanonisPreamp(ctl)
    assert isinstance(preamp, CurrentPreamp)
    assert preamp.gains == (1e5, 1e6, 1e7, 1e8, 1e9)
    preamp.set_gain(1e9)
    assert preamp.gain == 1e9 and lab.preamp_gain_index == 4
    with pytest.raises(NanonisValueError, match="not selectable"):
        preamp.set_gain(2e9)


def test_backward_sweeps_and_averaging(ctl, lab, clock):
    ctl.set_feedback(False)
    ctl.open_bias_spectroscopy()
    ctl.set_spectroscopy_channels(["Bias (V)", "Current (A)"])
    ctl.set_spectroscopy_limits(-2e-3, 2e-3)
    ctl.set_spectroscopy_props(21, n_sweeps=3, backward=True)
    ctl.set_spectroscopy_timing(0.001, 0.004, initial_settling_s=0.0, end_settling_s=0.0)
    t0 = clock.now()
    reply = ctl.query("BiasSpectr.Start", 1, "")
    assert clock.now() - t0 == pytest.approx(3 * 2 * 21 * 0.005)
    names = reply["channel_names"]
    assert names == ["Bias (V)", "Bias (V)", "Current (A)", "Bias [bwd] (V)", "Current [bwd] (A)"]
    data = reply["data"]
    np.testing.assert_allclose(data[1], data[0], atol=1e-7)  # recorded bias = swept bias
    np.testing.assert_allclose(data[3], data[0], atol=1e-7)  # backward stored in forward order
    # Forward and backward currents agree (Z held, no hysteresis) within the noise.
    np.testing.assert_allclose(data[4], data[2], atol=0.05 * np.abs(data[2]).max())
    assert reply["parameters"][-1] == 3.0  # sweeps completed
