"""NanonisController against a scripted socket: the exact bytes of every command it sends and
of the replies it understands, plus reconnects, timeouts and error replies."""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.drivers.interfaces import FeedbackController
from stm_andreev.drivers.nanonis import (
    NanonisCommandError,
    NanonisConnectionError,
    NanonisController,
    NanonisProtocolError,
    NanonisTimeout,
    NanonisValueError,
    parse_gain_V_per_A,
)


def hx(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def name32(name: str) -> bytes:
    return name.encode("ascii").ljust(32, b"\0")


def req(name: str, body: str = "") -> bytes:
    """Request frame: name, int32 body size, uint16 flag 1, two zero bytes, body."""
    raw = hx(body)
    return name32(name) + len(raw).to_bytes(4, "big") + hx("0001 0000") + raw


def rep(name: str, body: str = "", error: bytes | None = None) -> bytes:
    """Reply frame: echo, int32 size, four zero bytes, returns, error block."""
    raw = hx(body)
    raw += hx("00000000 00000000") if error is None else (
        hx("00000001") + len(error).to_bytes(4, "big") + error
    )
    return name32(name) + len(raw).to_bytes(4, "big") + bytes(4) + raw


def strings(*items: str) -> str:
    """Hex of a string array: byte size, count, then length-prefixed items."""
    size = sum(4 + len(s) for s in items)
    out = f"{size:08x} {len(items):08x}"
    for s in items:
        out += f" {len(s):08x} {s.encode().hex()}"
    return out


class ScriptedSocket:
    """Answers each expected request with its scripted reply, a few bytes per recv."""

    def __init__(self, script: list[tuple[bytes, bytes]], chunk: int = 7) -> None:
        self.script = list(script)
        self.sent: list[bytes] = []
        self.pending = b""
        self.chunk = chunk
        self.closed = False
        self.timeouts: list[float | None] = []

    def sendall(self, data: bytes) -> None:
        self.sent.append(bytes(data))
        expected, reply = self.script.pop(0)
        assert data == expected, f"sent {data!r}\nexpected {expected!r}"
        self.pending += reply

    def recv(self, n: int) -> bytes:
        if not self.pending:
            raise TimeoutError("nothing scripted")
        out, self.pending = self.pending[: min(n, self.chunk)], self.pending[min(n, self.chunk):]
        return out

    def settimeout(self, timeout: float | None) -> None:
        self.timeouts.append(timeout)

    def close(self) -> None:
        self.closed = True


def controller(script: list[tuple[bytes, bytes]]) -> tuple[NanonisController, ScriptedSocket]:
    sock = ScriptedSocket(script)
    return NanonisController(socket_factory=lambda h, p, t: sock), sock


GAINS = strings("10^5", "10^6", "10^7", "10^8", "10^9")
FILTERS = strings("1 kHz", "10 kHz")
SIGNALS = strings("Current (A)", "Bias (V)", "Z (m)", "LI Demod 1 X (A)", "LI Demod 1 Y (A)")

CASES = [
    ("set_bias", (0.5,), [(req("Bias.Set", "3f000000"), rep("Bias.Set"))], None),
    ("get_bias", (), [(req("Bias.Get"), rep("Bias.Get", "bf000000"))], -0.5),
    ("get_current", (), [(req("Current.Get"), rep("Current.Get", "2edbe6ff"))],
     pytest.approx(1e-10)),
    ("get_current_gain", (), [(req("Current.GainsGet"),
                               rep("Current.GainsGet", f"{GAINS} 00000003 {FILTERS} 00000001"))],
     1e8),
    ("set_current_gain", (1e7,), [
        (req("Current.GainsGet"), rep("Current.GainsGet", f"{GAINS} 00000003 {FILTERS} 00000001")),
        (req("Current.GainSet", "00000002 ffffffff"), rep("Current.GainSet")),
    ], None),
    ("set_feedback", (True,), [(req("ZCtrl.OnOffSet", "00000001"), rep("ZCtrl.OnOffSet"))], None),
    ("set_feedback", (False,), [(req("ZCtrl.OnOffSet", "00000000"), rep("ZCtrl.OnOffSet"))],
     None),
    ("get_feedback", (), [(req("ZCtrl.OnOffGet"), rep("ZCtrl.OnOffGet", "00000001"))], True),
    ("set_setpoint", (1e-10,), [(req("ZCtrl.SetpntSet", "2edbe6ff"), rep("ZCtrl.SetpntSet"))],
     None),
    ("get_setpoint", (), [(req("ZCtrl.SetpntGet"), rep("ZCtrl.SetpntGet", "2f89705f"))],
     pytest.approx(2.5e-10)),
    ("get_z", (), [(req("ZCtrl.ZPosGet"), rep("ZCtrl.ZPosGet", "3089705f"))],
     pytest.approx(1e-9)),
    ("set_z", (1e-9,), [(req("ZCtrl.ZPosSet", "3089705f"), rep("ZCtrl.ZPosSet"))], None),
    ("withdraw", (2.0,), [(req("ZCtrl.Withdraw", "00000001 000007d0"), rep("ZCtrl.Withdraw"))],
     None),
    ("home", (), [(req("ZCtrl.Home"), rep("ZCtrl.Home"))], None),
    ("set_z_limits", (-1e-6, 2e-6),
     [(req("ZCtrl.LimitsSet", "360637bd b58637bd"), rep("ZCtrl.LimitsSet"))], None),
    ("get_z_limits", (), [(req("ZCtrl.LimitsGet"), rep("ZCtrl.LimitsGet", "360637bd b58637bd"))],
     (pytest.approx(-1e-6), pytest.approx(2e-6))),
    ("set_feedback_gains", (1e-11, 1e-3, 1e-8),
     [(req("ZCtrl.GainSet", "2d2febff 3a83126f 322bcc77"), rep("ZCtrl.GainSet"))], None),
    ("get_feedback_gains", (), [(req("ZCtrl.GainGet"),
                                 rep("ZCtrl.GainGet", "2d2febff 3a83126f 322bcc77"))],
     (pytest.approx(1e-11), pytest.approx(1e-3), pytest.approx(1e-8))),
    ("feedback_status", (), [(req("ZCtrl.StatusGet"), rep("ZCtrl.StatusGet", "0002"))], 2),
    ("set_tip_position", (1e-9, -2e-9), [(
        req("FolMe.XYPosSet", "3e112e0be826d695 be212e0be826d695 00000001"),
        rep("FolMe.XYPosSet"))], None),
    ("get_tip_position", (), [(req("FolMe.XYPosGet", "00000001"),
                               rep("FolMe.XYPosGet", "3e112e0be826d695 be212e0be826d695"))],
     (1e-9, -2e-9)),
    ("signal_names", (), [(req("Signals.NamesGet"), rep("Signals.NamesGet", SIGNALS))],
     ["Current (A)", "Bias (V)", "Z (m)", "LI Demod 1 X (A)", "LI Demod 1 Y (A)"]),
    ("signal_value", ("Z (m)",), [
        (req("Signals.NamesGet"), rep("Signals.NamesGet", SIGNALS)),
        (req("Signals.ValGet", "00000002 00000001"), rep("Signals.ValGet", "3089705f")),
    ], pytest.approx(1e-9)),
    ("set_modulation", (True,),
     [(req("LockIn.ModOnOffSet", "00000001 00000001"), rep("LockIn.ModOnOffSet"))], None),
    ("get_modulation", (), [(req("LockIn.ModOnOffGet", "00000001"),
                             rep("LockIn.ModOnOffGet", "00000000"))], False),
    ("set_modulation_amplitude", (1e-3,),
     [(req("LockIn.ModAmpSet", "00000001 3a83126f"), rep("LockIn.ModAmpSet"))], None),
    ("get_modulation_amplitude", (), [(req("LockIn.ModAmpGet", "00000001"),
                                       rep("LockIn.ModAmpGet", "3a83126f"))],
     pytest.approx(1e-3)),
    ("set_modulation_frequency", (973.0,), [(
        req("LockIn.ModPhasFreqSet", "00000001 408e680000000000"), rep("LockIn.ModPhasFreqSet"))],
     None),
    ("get_modulation_frequency", (), [(req("LockIn.ModPhasFreqGet", "00000001"),
                                       rep("LockIn.ModPhasFreqGet", "408e680000000000"))], 973.0),
    ("open_bias_spectroscopy", (), [(req("BiasSpectr.Open"), rep("BiasSpectr.Open"))], None),
    ("set_spectroscopy_limits", (-5e-3, 5e-3),
     [(req("BiasSpectr.LimitsSet", "bba3d70a 3ba3d70a"), rep("BiasSpectr.LimitsSet"))], None),
    ("set_spectroscopy_props", (101,), [(
        req("BiasSpectr.PropsSet", "0000 00000001 0002 00000065 00000000 0002 0002"),
        rep("BiasSpectr.PropsSet"))], None),
    ("stop_bias_spectroscopy", (), [(req("BiasSpectr.Stop"), rep("BiasSpectr.Stop"))], None),
    ("bias_spectroscopy_running", (), [(req("BiasSpectr.StatusGet"),
                                        rep("BiasSpectr.StatusGet", "00000001"))], True),
    ("get_spectroscopy_channels", (), [(req("BiasSpectr.ChsGet"), rep(
        "BiasSpectr.ChsGet", f"00000001 00000000 {strings('Current (A)')}"))], ["Current (A)"]),
]


@pytest.mark.parametrize(
    "method, args, script, expected", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES]
)
def test_exact_bytes(method, args, script, expected):
    ctl, sock = controller(script)
    assert getattr(ctl, method)(*args) == expected
    assert not sock.script, "not every scripted exchange happened"
    assert len(sock.sent) == len(script)  # one sendall per command: header and body together


TIMING_HEX = "3dcccccd 00000000 3c23d70a 3f800000 3ba3d70a 3ca3d70a 00000000 3e4ccccd"
NEW_TIMING_HEX = "3dcccccd 00000000 3c23d70a 3f800000 3c23d70a 3ca3d70a 00000000 3e4ccccd"


def test_bias_spectroscopy_runs_the_documented_sequence():
    data = "00000003 00000002 " + " ".join(  # bias, current, LI X rows; 2 points
        ["bba3d70a", "3ba3d70a", "2edbe6ff", "2f89705f", "3089705f", "3089705f"]
    )
    names = strings("Bias (V)", "Current (A)", "LI Demod 1 X (A)")
    script = [
        (req("BiasSpectr.Open"), rep("BiasSpectr.Open")),
        (req("Signals.NamesGet"), rep("Signals.NamesGet", SIGNALS)),
        (req("BiasSpectr.ChsSet", "00000002 00000000 00000003"), rep("BiasSpectr.ChsSet")),
        (req("BiasSpectr.LimitsSet", "bba3d70a 3ba3d70a"), rep("BiasSpectr.LimitsSet")),
        (req("BiasSpectr.PropsSet", "0000 00000001 0002 00000002 00000000 0002 0002"),
         rep("BiasSpectr.PropsSet")),
        (req("BiasSpectr.TimingGet"), rep("BiasSpectr.TimingGet", TIMING_HEX)),
        (req("BiasSpectr.TimingSet", NEW_TIMING_HEX), rep("BiasSpectr.TimingSet")),
        (req("BiasSpectr.TimingGet"), rep("BiasSpectr.TimingGet", NEW_TIMING_HEX)),
        (req("BiasSpectr.Start", "00000001 00000000"),
         rep("BiasSpectr.Start", f"{names} {data} 00000001 3f800000")),
    ]
    ctl, sock = controller(script)
    result = ctl.bias_spectroscopy(-5e-3, 5e-3, 2, 0.01, 0.02,
                                   channels=["Current (A)", "LI Demod 1 X (A)"])
    assert list(result) == ["Bias (V)", "Current (A)", "LI Demod 1 X (A)"]
    np.testing.assert_allclose(result["Bias (V)"], [-5e-3, 5e-3], rtol=1e-6)
    np.testing.assert_allclose(result["Current (A)"], [1e-10, 2.5e-10], rtol=1e-6)
    # The sweep's wait is the link timeout plus the controller's expected duration.
    assert sock.timeouts[-1] == pytest.approx(5.0 + 0.01 + 2 * 0.03)
    assert not sock.script


def test_bias_spectroscopy_sets_other_timing_fields_by_name():
    """initial_settling_s = 0 (was 0.01) and end_settling_s = 0.5: fields 3 and 7 change."""
    timing = "3dcccccd 00000000 00000000 3f800000 3c23d70a 3ca3d70a 3f000000 3e4ccccd"
    names = strings("Bias (V)", "Current (A)")
    script = [
        (req("BiasSpectr.Open"), rep("BiasSpectr.Open")),
        (req("Signals.NamesGet"), rep("Signals.NamesGet", SIGNALS)),
        (req("BiasSpectr.ChsSet", "00000001 00000000"), rep("BiasSpectr.ChsSet")),
        (req("BiasSpectr.LimitsSet", "bba3d70a 3ba3d70a"), rep("BiasSpectr.LimitsSet")),
        (req("BiasSpectr.PropsSet", "0000 00000001 0002 00000002 00000000 0002 0002"),
         rep("BiasSpectr.PropsSet")),
        (req("BiasSpectr.TimingGet"), rep("BiasSpectr.TimingGet", TIMING_HEX)),
        (req("BiasSpectr.TimingSet", timing), rep("BiasSpectr.TimingSet")),
        (req("BiasSpectr.TimingGet"), rep("BiasSpectr.TimingGet", timing)),
        (req("BiasSpectr.Start", "00000001 00000000"), rep(
            "BiasSpectr.Start", f"{names} 00000002 00000002 bba3d70a 3ba3d70a 2edbe6ff 2f89705f "
            "00000000")),
    ]
    ctl, sock = controller(script)
    result = ctl.bias_spectroscopy(-5e-3, 5e-3, 2, 0.01, 0.02, channels=["Current (A)"],
                                   initial_settling_s=0.0, end_settling_s=0.5)
    assert list(result) == ["Bias (V)", "Current (A)"]
    assert sock.timeouts[-1] == pytest.approx(5.0 + 0.5 + 2 * 0.03)
    assert not sock.script
    # A misspelt field is refused before anything is set.
    ctl, _ = controller([(req("BiasSpectr.TimingGet"), rep("BiasSpectr.TimingGet", TIMING_HEX))])
    with pytest.raises(NanonisValueError, match="unknown timing fields"):
        ctl.set_spectroscopy_timing(0.01, 0.02, initial_settle_s=0.0)


def test_controller_satisfies_the_feedback_interface():
    ctl, _ = controller([])
    assert isinstance(ctl, FeedbackController)


def test_error_reply_raises_command_error_and_keeps_the_link():
    script = [
        (req("ZCtrl.ZPosSet", "3089705f"), rep("ZCtrl.ZPosSet", error=b"Z controller is on")),
        (req("Bias.Get"), rep("Bias.Get", "bf000000")),
    ]
    ctl, sock = controller(script)
    with pytest.raises(NanonisCommandError, match="ZCtrl.ZPosSet: Z controller is on"):
        ctl.set_z(1e-9)
    assert ctl.get_bias() == -0.5
    assert not sock.closed


def test_wrong_echo_is_a_protocol_error_and_drops_the_link():
    sockets = [ScriptedSocket([(req("Bias.Get"), rep("Current.Get", "00000000"))]),
               ScriptedSocket([(req("Bias.Get"), rep("Bias.Get", "bf000000"))])]
    made: list[ScriptedSocket] = []

    def factory(host, port, timeout):
        made.append(sockets.pop(0))
        return made[-1]

    ctl = NanonisController(socket_factory=factory)
    with pytest.raises(NanonisProtocolError, match="echoes 'Current.Get'"):
        ctl.get_bias()
    assert made[0].closed
    assert ctl.get_bias() == -0.5  # a fresh connection for the next command


class ClosingSocket(ScriptedSocket):
    """The peer hangs up: every recv reads EOF."""

    def recv(self, n: int) -> bytes:
        return b""


def test_dropped_connection_reconnects_and_resends():
    sockets = [ClosingSocket([(req("Bias.Get"), b"")]),
               ScriptedSocket([(req("Bias.Get"), rep("Bias.Get", "bf000000"))])]
    ctl = NanonisController(socket_factory=lambda h, p, t: sockets.pop(0))
    assert ctl.get_bias() == -0.5
    assert not sockets


def test_reconnect_attempts_are_bounded():
    made = []

    def factory(host, port, timeout):
        made.append(ClosingSocket([(req("Bias.Get"), b"")] * 1))
        return made[-1]

    ctl = NanonisController(socket_factory=factory, reconnect_attempts=2)
    with pytest.raises(NanonisConnectionError, match="Bias.Get: connection to 127.0.0.1:6501 lost"):
        ctl.get_bias()
    assert len(made) == 3  # the first connection and two reconnects


def test_refused_connection_raises_connection_error():
    def factory(host, port, timeout):
        raise ConnectionRefusedError("refused")

    with pytest.raises(NanonisConnectionError, match="127.0.0.1:6501"):
        NanonisController(socket_factory=factory)


def test_silence_raises_timeout_and_drops_the_link():
    sock = ScriptedSocket([(req("Bias.Get"), b"")])
    ctl = NanonisController(socket_factory=lambda h, p, t: sock, timeout_s=0.5)
    with pytest.raises(NanonisTimeout, match="Bias.Get.*0.5 s"):
        ctl.get_bias()
    assert sock.closed


@pytest.mark.parametrize(
    "method, args",
    [
        ("set_bias", (10.5,)),
        ("set_bias", (float("nan"),)),
        ("set_setpoint", (0.0,)),
        ("set_setpoint", (1e-3,)),
        ("set_z_limits", (1e-6, -1e-6)),
        ("set_modulation", (True, 9)),
        ("set_modulation_frequency", (-1.0,)),
        ("set_spectroscopy_props", (1,)),
        ("withdraw", (0.0,)),
        ("set_tip_position", (1.0, 0.0)),
    ],
)
def test_out_of_range_arguments_raise_before_sending(method, args):
    ctl, sock = controller([])
    with pytest.raises(NanonisValueError):
        getattr(ctl, method)(*args)
    assert sock.sent == []


def test_unselectable_gain_lists_the_choices():
    script = [(req("Current.GainsGet"),
               rep("Current.GainsGet", f"{GAINS} 00000003 {FILTERS} 00000001"))]
    ctl, _ = controller(script)
    with pytest.raises(NanonisValueError, match="1e\\+05, 1e\\+06"):
        ctl.set_current_gain(3e7)


def test_unknown_signal_lists_the_names():
    ctl, _ = controller([(req("Signals.NamesGet"), rep("Signals.NamesGet", SIGNALS))])
    with pytest.raises(NanonisValueError, match="Current \\(A\\)"):
        ctl.signal_value("Frequency shift (Hz)")


@pytest.mark.parametrize(
    "label, gain", [("10^8", 1e8), ("LN 10^9", 1e9), ("HS 10^5", 1e5), ("1E7", 1e7),
                    ("2x10^6", 2e6)],
)
def test_gain_labels(label, gain):
    assert parse_gain_V_per_A(label) == pytest.approx(gain)


def test_gain_label_without_number_is_a_protocol_error():
    with pytest.raises(NanonisProtocolError):
        parse_gain_V_per_A("high")
