"""The Lake Shore 372 emulator on the wire: exact replies, ESR bits, scanner timing, heater.

Everything runs on a VirtualClock: time moves only when a test advances it.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.emulator import LineEmulator
from stm_andreev.simulators.emulators.lakeshore372 import LakeShore372Emulator
from stm_andreev.simulators.lab import VirtualLab

NUMBER = re.compile(r"[+-]\d\.\d{5}E[+-]\d{2}")
SETTLE_S = 13.0  # default pause 3 s + dwell 10 s


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def lab(clock: VirtualClock) -> VirtualLab:
    return VirtualLab("InO-2", clock=clock, seed=1)


@pytest.fixture
def ls(lab: VirtualLab) -> LakeShore372Emulator:
    emulator = LakeShore372Emulator(lab, seed=3, scan_channel=1)
    emulator.handle_line("*ESR?")  # clear the power-on bit
    return emulator


def ask(ls: LakeShore372Emulator, line: str) -> str:
    reply = ls.handle_line(line)
    assert reply.endswith("\r\n"), f"{line!r} -> {reply!r}"
    return reply[:-2]


def number(text: str) -> float:
    assert NUMBER.fullmatch(text), text
    return float(text)


# ---------------------------------------------------------------------------- framing


def test_is_a_line_emulator(ls: LakeShore372Emulator) -> None:
    assert isinstance(ls, LineEmulator)


def test_identity_and_power_on_bit(lab: VirtualLab) -> None:
    ls = LakeShore372Emulator(lab, serial="LSA0042", firmware="2.0")
    assert ls.handle_line("*IDN?;*ESR?") == "LSCI,MODEL372,LSA0042,2.0;128\r\n"
    assert ls.handle_line("*ESR?") == "0\r\n"


@pytest.mark.parametrize("line", ["", "   ", ";", ";;", " ; ; ", ":"])
def test_blank_lines_and_segments_are_silent(ls: LakeShore372Emulator, line: str) -> None:
    assert ls.handle_line(line) == ""
    assert ls.handle_line("*ESR?") == "0\r\n"


def test_set_commands_are_silent_and_replies_join(ls: LakeShore372Emulator) -> None:
    assert ls.handle_line("SETP 0,0.1") == ""
    assert ls.handle_line("SETP? 0;*OPC?;*ESR?") == "+1.00000E-01;1;0\r\n"


def test_vendor_style_line(ls: LakeShore372Emulator) -> None:
    # lakeshore.Model372 joins with ";:" and appends ";*ESR?" to everything.
    assert ls.handle_line("SETP 0,0.25;*ESR?") == "0\r\n"
    assert ls.handle_line("SETP? 0;:RANGE? 0;*ESR?") == "+2.50000E-01;0;0\r\n"


@pytest.mark.parametrize(
    "line,reply",
    [
        ("SETP 0 0.5;SETP? 0", "+5.00000E-01"),
        ("setp 0, 0.5;setp? 0", "+5.00000E-01"),
        ("PID 0 50 10 0;PID? 0", "+5.00000E+01,+1.00000E+01,+0.00000E+00"),
        ("RAMP 0,1,2.5;RAMP? 0", "1,+2.50000E+00"),
        ("EMUL 0;EMUL?", "0"),
    ],
)
def test_argument_separators_and_case(ls: LakeShore372Emulator, line: str, reply: str) -> None:
    assert ask(ls, line) == reply


def test_rdgk_is_an_alias_of_krdg(ls: LakeShore372Emulator) -> None:
    kelvin, alias = ask(ls, "KRDG? A;RDGK? A").split(";")
    assert abs(number(kelvin) - number(alias)) < 1e-3


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "line,esr",
    [
        ("FOO", 32),
        ("KRDG", 32),  # the query mnemonic without "?" is not a command
        ("RDGR? 17", 4),
        ("RDGR? B", 4),
        ("RDGR?", 4),
        ("SETP? 3", 4),
        ("SETP 0,500", 16),
        ("SETP 0,abc", 16),
        ("SETP 0", 16),
        ("RANGE 0,9", 16),
        ("RANGE 1,2", 16),
        ("PID 0,1001,0,0", 16),
        ("RAMP 0,1,0", 16),
        ("MOUT 0,101", 16),
        ("INSET 6,1,0,3,6,1", 16),
        ("INSET 6,1,10,3,6", 16),
        ("SCAN 0,0", 16),
        ("SCAN 17,0", 16),
        ("OUTMODE 0,5,4,0,0,0,1", 16),  # no thermometer on channel 4 to close the loop
        ("OUTMODE 0,7,A,0,0,0,1", 16),
        ("EMUL 1", 16),
        ("SETP 0,nan", 16),
        ("SETP 0,500;FOO;KRDG? 20", 16 | 32 | 4),
    ],
)
def test_bad_commands_set_esr_bits_and_stay_silent(
    ls: LakeShore372Emulator, line: str, esr: int
) -> None:
    assert ls.handle_line(line) == ""
    assert ls.handle_line("*ESR?") == f"{esr}\r\n"
    assert ls.handle_line("*ESR?") == "0\r\n"  # read-and-clear


def test_failed_query_leaves_no_reply_item(ls: LakeShore372Emulator) -> None:
    assert ls.handle_line("KRDG? 17;*ESR?") == "4\r\n"


def test_refused_setting_is_not_applied(ls: LakeShore372Emulator, lab: VirtualLab) -> None:
    ls.handle_line("SETP 0,0.1")
    ls.handle_line("SETP 0,500")
    assert lab.fridge.setpoint_K == pytest.approx(0.1)


def test_cls_clears_esr(ls: LakeShore372Emulator) -> None:
    ls.handle_line("FOO;*CLS")
    assert ls.handle_line("*ESR?") == "0\r\n"


# ---------------------------------------------------------------------------- readings


def test_control_input_is_live(ls: LakeShore372Emulator, lab: VirtualLab) -> None:
    kelvin, ohms, status = ask(ls, "KRDG? A;RDGR? A;RDGST? A").split(";")
    assert status == "000"
    true_K = lab.fridge.temperature_K("mixing chamber")
    assert number(kelvin) == pytest.approx(true_K, rel=1e-3)
    assert number(ohms) == pytest.approx(
        lab.fridge.sensor_resistance_ohm("mixing chamber"), rel=1e-3
    )


def test_never_measured_channel_reads_zero_flagged(ls: LakeShore372Emulator) -> None:
    assert ask(ls, "KRDG? 6;RDGR? 6;RDGST? 6") == "+0.00000E+00;+0.00000E+00;160"


def test_scanned_channel_valid_after_pause_plus_dwell(
    ls: LakeShore372Emulator, clock: VirtualClock, lab: VirtualLab
) -> None:
    ls.handle_line("SCAN 6,0")
    clock.advance(SETTLE_S - 0.1)
    assert ask(ls, "RDGST? 6") == "160"
    clock.advance(0.1)
    kelvin, status = ask(ls, "KRDG? 6;RDGST? 6").split(";")
    assert status == "000"
    assert number(kelvin) == pytest.approx(lab.fridge.temperature_K(6), rel=1e-3)


def test_inset_pause_and_dwell_set_the_settling(
    ls: LakeShore372Emulator, clock: VirtualClock
) -> None:
    assert ls.handle_line("INSET 5,1,1,5,5,1;INSET? 5") == "1,1,5,5,1\r\n"
    ls.handle_line("SCAN 5,0")
    clock.advance(5.9)
    assert ask(ls, "RDGST? 5") == "160"
    clock.advance(0.1)
    assert ask(ls, "RDGST? 5") == "000"


def test_leaving_a_channel_holds_its_last_reading(
    ls: LakeShore372Emulator, clock: VirtualClock
) -> None:
    ls.handle_line("SCAN 6,0")
    clock.advance(SETTLE_S)
    live = {ask(ls, "RDGR? 6") for _ in range(3)}
    assert len(live) == 3  # noisy: the scanned channel is measured at every query
    ls.handle_line("SCAN 5,0")
    clock.advance(1.0)
    held = {ask(ls, "RDGR? 6") for _ in range(3)}
    assert len(held) == 1
    assert ask(ls, "RDGST? 6") == "000"


def test_rescanning_serves_the_old_value_until_settled(
    ls: LakeShore372Emulator, clock: VirtualClock
) -> None:
    ls.handle_line("SCAN 6,0")
    clock.advance(SETTLE_S)
    ls.handle_line("SCAN 5,0")
    held = ask(ls, "RDGR? 6")
    ls.handle_line("SCAN 6,0")
    clock.advance(SETTLE_S - 1)
    assert ask(ls, "RDGR? 6") == held
    clock.advance(1)
    assert ask(ls, "RDGR? 6") != held


def test_autoscan_steps_through_enabled_channels(
    ls: LakeShore372Emulator, clock: VirtualClock
) -> None:
    ls.handle_line("SCAN 1,1")
    clock.advance(SETTLE_S + 0.5)
    assert ask(ls, "SCAN?") == "02,1"
    assert ask(ls, "RDGST? 1;RDGST? 2") == "000;160"
    clock.advance(SETTLE_S)
    assert ask(ls, "SCAN?") == "03,1"
    clock.advance(SETTLE_S)
    assert ask(ls, "SCAN?") == "05,1"  # channel 4 has no sensor: disabled, skipped


def test_autoscan_over_a_day_reads_every_channel(
    ls: LakeShore372Emulator, clock: VirtualClock, lab: VirtualLab
) -> None:
    ls.handle_line("SCAN 1,1")
    clock.advance(86400.0 + 5.0)
    statuses = ask(ls, ";".join(f"RDGST? {ch}" for ch in lab.fridge.channels)).split(";")
    film = list(lab.fridge.channels).index(9)
    assert statuses.pop(film) == "192"  # no curve on the film
    assert set(statuses) == {"000"}
    channel = int(ask(ls, "SCAN?").split(",")[0])
    assert channel in lab.fridge.channels


def test_film_channel_reads_resistance_without_curve(
    ls: LakeShore372Emulator, clock: VirtualClock, lab: VirtualLab
) -> None:
    lab.fridge.start_cooldown(from_K=10.0)  # above Tc: the film is resistive
    ls.handle_line("SCAN 9,0")
    clock.advance(SETTLE_S)
    ohms, kelvin, status = ask(ls, "RDGR? 9;KRDG? 9;RDGST? 9").split(";")
    assert number(ohms) == pytest.approx(lab.fridge.sensor_resistance_ohm("film"), rel=1e-3)
    assert number(ohms) > 0
    assert kelvin == "+0.00000E+00"
    assert status == "192"


def test_curve_zero_gives_no_kelvin(ls: LakeShore372Emulator, clock: VirtualClock) -> None:
    ls.handle_line("INSET 6,1,10,3,0,1;SCAN 6,0")
    clock.advance(SETTLE_S)
    kelvin, ohms, status = ask(ls, "KRDG? 6;RDGR? 6;RDGST? 6").split(";")
    assert kelvin == "+0.00000E+00"
    assert number(ohms) > 1000
    assert status == "192"


def test_excitation_power_and_quadrature(ls: LakeShore372Emulator, clock: VirtualClock) -> None:
    ls.handle_line("SCAN 6,0")
    clock.advance(SETTLE_S)
    ohms = number(ask(ls, "RDGR? 6"))
    # Default measurement excitation: voltage range 3 = 20 uV, so P = V^2 / R.
    assert number(ask(ls, "RDGPWR? 6")) == pytest.approx((20e-6) ** 2 / ohms, rel=1e-3)
    assert number(ask(ls, "QRDG? 6")) == pytest.approx(1e-3 * ohms, rel=0.01)
    ls.handle_line("INTYPE 6,1,13,0,22,0,1")  # current range 13 = 1 uA: P = I^2 R
    assert number(ask(ls, "RDGPWR? 6")) == pytest.approx((1e-6) ** 2 * ohms, rel=1e-3)
    control_ohms = number(ask(ls, "RDGR? A"))
    # Control input default: current range 2 = 1 nA.
    assert number(ask(ls, "RDGPWR? A")) == pytest.approx((1e-9) ** 2 * control_ohms, rel=0.01)
    assert ls.handle_line("QRDG? A;*ESR?") == "4\r\n"


def test_unconnected_channel_overloads(ls: LakeShore372Emulator, clock: VirtualClock) -> None:
    ls.handle_line("SCAN 4,0")
    clock.advance(SETTLE_S)
    assert ask(ls, "RDGST? 4") == "017"


def test_hot_sensor_off_its_curve_sets_t_over(
    ls: LakeShore372Emulator, lab: VirtualLab
) -> None:
    lab.fridge.start_cooldown(from_K=300.0)
    statuses = {ask(ls, "RDGST? A") for _ in range(20)}
    # At 300 K a RuOx sits at its R0 plateau: noise puts it on or below the curve's end.
    assert statuses <= {"000", "064"}


# ---------------------------------------------------------------------------- outputs


def test_sample_heater_settings_drive_the_fridge(
    ls: LakeShore372Emulator, lab: VirtualLab
) -> None:
    line = "OUTMODE 0,5,6,1,0,1,2;PID 0,150,40,0;RAMP 0,1,0.5;SETP 0,0.3;RANGE 0,5;MOUT 0,12"
    assert ls.handle_line(line + ";*ESR?") == "0\r\n"
    fridge = lab.fridge
    assert fridge.output_mode == 5
    assert fridge.control_channel == 6
    assert fridge.pid == (150.0, 40.0, 0.0)
    assert fridge.ramp == (True, 0.5)
    assert fridge.setpoint_K == pytest.approx(0.3)
    assert fridge.heater_range == 5
    assert fridge.manual_output_pct == pytest.approx(12.0)
    assert ask(ls, "OUTMODE? 0;RANGE? 0") == "5,6,1,0,1,2;5"


def test_queries_follow_the_fridge(ls: LakeShore372Emulator, lab: VirtualLab) -> None:
    lab.fridge.heater_range = 7
    lab.fridge.control_channel = "A"
    lab.fridge.setpoint_K = 1.5
    assert ask(ls, "RANGE? 0;SETP? 0") == "7;+1.50000E+00"
    assert ask(ls, "OUTMODE? 0").split(",")[1] == "A"


def test_heater_output_and_ramp_status(
    ls: LakeShore372Emulator, clock: VirtualClock, lab: VirtualLab
) -> None:
    ls.handle_line("OUTMODE 0,5,A,0,0,0,1;PID 0,150,40,0;RAMP 0,1,0.1;SETP 0,0.3;RANGE 0,5")
    clock.advance(30.0)
    assert ask(ls, "RAMPST? 0") == "1"
    heater = number(ask(ls, "HTR?"))
    assert heater == pytest.approx(lab.fridge.heater_output_pct(), abs=1e-4)
    assert number(ask(ls, "HTR? 0")) == pytest.approx(heater, abs=1e-4)
    clock.advance(600.0)
    assert ask(ls, "RAMPST? 0") == "0"


def test_closed_loop_reaches_the_setpoint(
    ls: LakeShore372Emulator, clock: VirtualClock
) -> None:
    ls.handle_line("OUTMODE 0,5,A,0,0,0,1;PID 0,150,40,0;SETP 0,0.3;RANGE 0,5")
    start = number(ask(ls, "KRDG? A"))
    assert start < 0.1
    clock.advance(1800.0)
    assert number(ask(ls, "KRDG? A")) == pytest.approx(0.3, abs=0.01)
    assert number(ask(ls, "HTR?")) > 0.0


def test_intype_round_trip_and_limits(ls: LakeShore372Emulator) -> None:
    # input A: the range holding its sensor (16: 63.2 kohm), never 0 (not in the manual's table)
    assert ask(ls, "INTYPE? A;INTYPE? 6") == "1,2,0,16,0,1;0,3,1,22,0,1"
    assert ls.handle_line("INTYPE 6,1,20,0,15,0,2;*ESR?") == "0\r\n"
    assert ask(ls, "INTYPE? 6") == "1,20,0,15,0,2"
    assert ls.handle_line("INTYPE 6,1,23,0,15,0,2;*ESR?") == "16\r\n"


def test_setpoint_in_ohms_when_the_control_input_reads_ohms(
    ls: LakeShore372Emulator, lab: VirtualLab
) -> None:
    ls.handle_line("OUTMODE 0,5,6,0,0,0,1;SETP 0,0.3")
    ls.handle_line("INTYPE 6,0,3,1,22,0,2")
    setpoint_ohm = number(ask(ls, "SETP? 0"))
    # The curve at 0.3 K, through the lab's own inverse: consistent both ways.
    assert lab.fridge.calibration_temperature_K(6, setpoint_ohm) == pytest.approx(0.3, rel=1e-5)
    ls.handle_line(f"SETP 0,{setpoint_ohm * 1.2:.6g}")
    assert lab.fridge.setpoint_K < 0.3
    assert number(ask(ls, "SETP? 0")) == pytest.approx(setpoint_ohm * 1.2, rel=1e-5)
    assert ls.handle_line("OUTMODE 0,5,9,0,0,0,1;INTYPE 9,0,3,1,22,0,2;SETP 0,100;*ESR?") == (
        "16\r\n"  # the film has no curve: an ohm setpoint on it cannot be turned into K
    )


def test_aux_outputs_keep_their_settings(ls: LakeShore372Emulator) -> None:
    line = "OUTMODE 2,2,0,0,0,0,1;RANGE 2,1;MOUT 2,30;SETP 2,4;PID 2,1,2,3;RAMP 2,1,5"
    assert ls.handle_line(line + ";*ESR?") == "0\r\n"
    replies = ask(ls, "OUTMODE? 2;RANGE? 2;MOUT? 2;AOUT? 2;SETP? 2;RAMP? 2;RAMPST? 2")
    assert replies == (
        "2,0,0,0,0,1;1;+3.00000E+01;+3.00000E+01;+4.00000E+00;1,+5.00000E+00;0"
    )
    assert ask(ls, "PID? 2") == "+1.00000E+00,+2.00000E+00,+3.00000E+00"
    assert ask(ls, "AOUT? 1") == "+0.00000E+00"


# ---------------------------------------------------------------------------- power cycle


@pytest.mark.parametrize("how", ["reset", "*RST"])
def test_power_cycle_loses_settings(
    ls: LakeShore372Emulator, lab: VirtualLab, clock: VirtualClock, how: str
) -> None:
    ls.handle_line("INSET 6,1,1,5,0,2;SCAN 6,1;SETP 0,0.3;RANGE 0,5;RANGE 1,1;MOUT 1,10")
    clock.advance(SETTLE_S)
    if how == "reset":
        ls.reset()
    else:
        ls.handle_line("*RST")
    assert ask(ls, "*ESR?") == "128"
    assert ask(ls, "INSET? 6;SCAN?;RANGE? 0;RANGE? 1;MOUT? 1") == (
        "1,10,3,6,1;01,0;0;0;+0.00000E+00"
    )
    assert lab.fridge.heater_range == 0
    assert ask(ls, "RDGST? 6") == "160"  # readings are gone too


def test_attaching_keeps_the_fridge_state(lab: VirtualLab) -> None:
    lab.fridge.heater_range = 4
    lab.fridge.setpoint_K = 0.15
    ls = LakeShore372Emulator(lab)
    assert ask(ls, "RANGE? 0;SETP? 0") == "4;+1.50000E-01"


def test_attaching_finds_the_scanner_settled(lab: VirtualLab) -> None:
    ls = LakeShore372Emulator(lab)  # default: sitting on the mixing chamber, channel 6
    kelvin, status = ask(ls, "KRDG? 6;RDGST? 6").split(";")
    assert status == "000"
    assert number(kelvin) == pytest.approx(lab.fridge.temperature_K(6), rel=1e-3)
    assert ask(ls, "SCAN?") == "06,0"
    ls.reset()  # a power cycle: scanner on channel 1, settling from now
    assert ask(ls, "SCAN?;RDGST? 1;RDGST? 6") == "01,0;160;160"
    with pytest.raises(ValueError, match="scan_channel"):
        LakeShore372Emulator(lab, scan_channel=17)


def test_connected_counts_clients(ls: LakeShore372Emulator) -> None:
    ls.connected()
    ls.connected()
    assert ls.connections == 2


# ---------------------------------------------------------------------------- fuzz

segments = st.one_of(
    st.sampled_from(["KRDG? 6", "RDGR? A", "SETP 0,0.1", "*ESR?", "SCAN 3,1", "RANGE 0,2",
                     "INSET 2,1,5,3,2,1", "OUTMODE 0,5,A,0,0,0,1", "HTR?", "FOO", ""]),
    st.text(alphabet="ABCDEFGHIKMNOPRSTUVWXYZ?*0123456789 ,.+-:", max_size=20),
)


@pytest.fixture(scope="module")
def fuzz_ls() -> LakeShore372Emulator:
    return LakeShore372Emulator(VirtualLab("InO-2", clock=VirtualClock(), seed=0))


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(segments, max_size=6))
def test_any_line_gives_a_clean_reply(fuzz_ls: LakeShore372Emulator, parts: list[str]) -> None:
    ls = fuzz_ls
    ls.reset()  # a power cycle between examples: no state leaks from one to the next
    reply = ls.handle_line(";".join(parts))
    assert reply == "" or (reply.endswith("\r\n") and "\n" not in reply[:-2])
    assert "\r" not in reply[:-2]
    assert re.fullmatch(r"\d+\r\n", ls.handle_line("*ESR?"))


def test_temperature_spike_is_seen_on_the_control_input(
    ls: LakeShore372Emulator, lab: VirtualLab, clock: VirtualClock
) -> None:
    before = number(ask(ls, "KRDG? A"))
    lab.fridge.spike(0.2, 60.0)
    during = number(ask(ls, "KRDG? A"))
    assert during == pytest.approx(before + 0.2, abs=0.01)
    clock.advance(61.0)  # past the spike's end first: see the report on Fridge.advance_to
    ask(ls, "KRDG? A")
    clock.advance(3600.0)
    assert number(ask(ls, "KRDG? A")) == pytest.approx(before, abs=0.005)


def test_concurrent_clients_and_clock(ls: LakeShore372Emulator, clock: VirtualClock) -> None:
    """Two clients and a clock mover at once: every reply stays whole, nothing raises."""
    import threading

    errors: list[BaseException] = []
    replies: list[str] = []

    def client(line: str) -> None:
        try:
            for _ in range(200):
                replies.append(ls.handle_line(line))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def mover() -> None:
        for _ in range(200):
            clock.advance(1.0)

    threads = [threading.Thread(target=client, args=("KRDG? A;RDGST? A;SCAN 6,0;*ESR?",)),
               threading.Thread(target=client, args=("SETP 0,0.1;SETP? 0;HTR?;KRDG? 6",)),
               threading.Thread(target=mover)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert len(replies) == 400
    for reply in replies:
        assert reply.endswith("\r\n") and len(reply[:-2].split(";")) in (3, 4)
