"""The SRS emulators' parse and reply caches change nothing on the wire.

The emulator reuses the parsed segments of a line it has seen (SNAP? parameters resolved), a
formatted output reply while the values it was formatted from are unchanged, and, on the
VirtualLab, a whole SNAP? line's reply while the clock, the lab's raw lock-in state and the
settings are unchanged. Each test compares the warm emulator's reply
with the reply the same emulator gives with both caches dropped (a cold start), after
changing one input at the same instant, and replays a whole session on the VirtualLab with
and without the caches.
"""

from __future__ import annotations

import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.emulators.srs import (
    PLAN_CACHE_MAX_LINE,
    PLAN_CACHE_SIZE,
    REPLY_CACHE_SIZE,
    SR830Emulator,
    SR860Emulator,
)
from stm_andreev.simulators.lab import VirtualLab
from tests.simulators.test_srs_parser import ScriptedLab

QUERIES = {
    SR830Emulator: ["SNAP? 1,2", "SNAP?1,2,3,4,5,6", "SNAP? 5,6,7,8,9", "SNAP? 10,11",
                    "OUTP? 1", "OUTP? 2;OUTP? 3;OUTP? 4"],
    SR860Emulator: ["SNAP? 0,1", "SNAP? 0,1,2", "SNAP? OUT1,OUT2,PHASE", "SNAP? SAMP,LEV,FINT",
                    "SNAPD?", "OUTP? 0",
                    "OUTP? 1;OUTP? 2;OUTP? 3"],
}


def cold(emulator, line: str) -> str:
    emulator._plans.clear()
    emulator._replies.clear()
    emulator._line_replies.clear()
    return emulator.handle_line(line)


def _set(attribute, value):
    return lambda lab, em: setattr(lab.lockin, attribute, value)


def _xy(x, y):
    return lambda lab, em: setattr(lab.lockin, "xy", (x, y))


def _send(line):
    return lambda lab, em: em.handle_line(line)


CHANGES = {
    "x": _xy(1.5e-3, 2e-3),
    "y": _xy(1e-3, -2e-3),
    "x to +0": _xy(0.0, 2e-3),
    "y to -0": _xy(1e-3, -0.0),
    "x saturates": _xy(5.0, 2e-3),
    "sensitivity": _set("sensitivity_V", 2e-3),
    "phase 0 to -0": _set("phase_deg", -0.0),
    "phase": _set("phase_deg", 12.5),
    "sine": _set("amplitude_Vrms", 0.25),
    "frequency": _set("frequency_Hz", 77.0),
    "displays": _send("DDEF 1,1,0;DDEF 2,1,0;CDSP 0,3;CDSP 1,2"),
    "aux outputs": _send("AUXV 1,1.5;AUXV 2,-2"),
    "reset": _send("*RST"),
}


@pytest.mark.parametrize("emulator_cls", [SR830Emulator, SR860Emulator],
                         ids=lambda c: c.__name__)
@pytest.mark.parametrize("change", list(CHANGES), ids=str)
def test_a_change_at_the_same_instant_is_in_the_next_reply(emulator_cls, change) -> None:
    lab = ScriptedLab()
    lab.lockin.xy = (1e-3, 2e-3)
    emulator = emulator_cls(lab)
    for query in QUERIES[emulator_cls]:
        emulator.handle_line(query)
        emulator.handle_line(query)  # served from the caches
    CHANGES[change](lab, emulator)
    queries = QUERIES[emulator_cls]
    warm = [emulator.handle_line(query) for query in queries]
    assert warm == [cold(emulator, query) for query in queries]  # (cold drops all entries)
    assert [emulator.handle_line(query) for query in queries] == warm


def test_signed_zeros_print_as_the_lab_gives_them() -> None:
    lab = ScriptedLab()
    emulator = SR830Emulator(lab)
    replies = []
    for xy in [(0.0, -0.0), (-0.0, 0.0), (0.0, -0.0)]:
        lab.lockin.xy = xy
        replies.append(emulator.handle_line("SNAP? 1,2"))
    assert replies == ["0.000000e+00,-0.000000e+00\n", "-0.000000e+00,0.000000e+00\n",
                       "0.000000e+00,-0.000000e+00\n"]


def test_a_bad_segment_counts_every_time_it_is_sent() -> None:
    emulator = SR830Emulator(ScriptedLab())
    for line in ["FOO?", "FOO?", "SNAP?", "SNAP?", "OUTP? 9", "OUTP? 9", "IDN?"]:
        assert emulator.handle_line(line) == ""
    assert len(emulator.command_errors) == 7
    assert emulator.handle_line("*ESR?") == str((1 << 4) | (1 << 5)) + "\n"


def test_more_distinct_lines_than_the_caches_hold() -> None:
    lab = ScriptedLab()
    emulator = SR830Emulator(lab)
    for i in range(max(PLAN_CACHE_SIZE, REPLY_CACHE_SIZE) + 10):
        level = 0.004 + i * 1e-3
        assert emulator.handle_line(f"SLVL {level:.3f};SLVL?") == f"{level:.3f}\n"
        assert len(emulator._plans) <= PLAN_CACHE_SIZE
    for n in range(2, 7):  # every SNAP? parameter list is a reply cache entry
        for first in range(1, 12 - n):
            query = "SNAP? " + ",".join(str(p) for p in range(first, first + n))
            assert emulator.handle_line(query) == cold(emulator, query)
    assert len(emulator._replies) <= REPLY_CACHE_SIZE
    long_line = ";".join(["SNAP? 1,2"] * 30)
    assert len(long_line) > PLAN_CACHE_MAX_LINE
    assert emulator.handle_line(long_line) == emulator.handle_line("SNAP? 1,2") * 30
    assert long_line not in emulator._plans  # garbage lines up to 1 MB must not pile up


def _same_instant_changes(lab: VirtualLab) -> list:
    """Lab changes made between two polls at one instant (each followed by polls)."""
    bias = lab.bias_V

    def z_closer() -> None:
        lab.feedback_on = False
        lab.z_m = lab.z_m - 5e-12

    return [
        lambda: setattr(lab, "bias_V", 2e-3),
        lambda: setattr(lab, "bias_V", bias),  # back: the first reading's state again
        lambda: setattr(lab, "preamp_gain_index", lab.preamp_gain_index - 1),
        lambda: lab.move_tip(2e-8, 1e-8),
        z_closer,
        lambda: lab.fridge.spike(0.05, 60.0),
        lambda: setattr(lab.lockin, "amplitude_Vrms", 0.2),
        lambda: setattr(lab.lockin, "amplitude_Vrms", 0.1),  # equal settings, new object
        lambda: setattr(lab.lockin, "filter_slope_db", 6),
        lambda: setattr(lab.lockin, "filter_slope_db", 24),
        lab.tip_change,
        lambda: setattr(lab, "setpoint_A", 2e-9),  # nothing moves before the clock does
        lab.withdraw,
    ]


def _session(emulator: SR830Emulator, lab: VirtualLab, drop_caches: bool) -> list[str]:
    """A driver-like session: polls at one instant, settling, setting and state changes."""
    send = (lambda line: cold(emulator, line)) if drop_caches else emulator.handle_line
    transcript = []
    script = (["SNAP? 1,2"] * 3 + ["OUTP? 3", "SENS 18", "SNAP? 1,2", "SNAP? 1,2"]
              + ["PHAS 30", "SNAP?1,2,3,4", "SNAP?1,2,3,4", "LIAS?", "SENS 0", "SNAP? 1,2",
                 "LIAS?", "LIAS? 2", "SNAP? 1,2", "LIAS? 2", "SENS 22", "OFLT 6", "SNAP? 1,2"])
    for step, line in enumerate(script):
        transcript.append(send(line))
        if step % 4 == 3:
            lab.clock.advance(0.05)
        if step == 8:
            lab.bias_V = 2e-3  # at the same instant as the next query
    for _ in range(20):
        lab.clock.advance(0.01)
        transcript += [send("SNAP? 1,2"), send("SNAP? 1,2")]
    for change in _same_instant_changes(lab):
        lab.clock.advance(0.02)
        transcript += [send("SNAP? 1,2"), send("SNAP?1,2,3,4;SNAP? 1,2")]
        change()
        transcript += [send("SNAP? 1,2"), send("SNAP?1,2,3,4;SNAP? 1,2"), send("LIAS?"),
                       send("SNAP? 1,2")]
    return transcript


def test_a_session_on_the_virtual_lab_is_the_same_with_and_without_caches() -> None:
    transcripts = []
    for drop_caches in (False, True):
        lab = VirtualLab("InO-2", clock=VirtualClock(), seed=3)
        lab.bias_V = 1e-3
        lab.lockin.amplitude_Vrms = 0.1
        emulator = SR830Emulator(lab)
        transcripts.append(_session(emulator, lab, drop_caches))
        if not drop_caches:
            assert emulator._line_replies  # the session did use the line cache
    assert transcripts[0] == transcripts[1]
    assert len(set(transcripts[0][20:80])) > 10  # the noise moves with the clock
    assert transcripts[0][13] == "6\n"  # the status path saw overloads (2 nV full scale)


def test_a_cached_line_latches_the_output_overload_again() -> None:
    """A scripted lab that offers the line cache's key: X beyond full scale, no lab bits."""
    lab = ScriptedLab()
    lab.clock = VirtualClock()
    lab._lockin_raw_state = lambda: ("unchanged",)
    lab.lockin.settings = object()
    lab.lockin.xy = (2.0, 1e-3)  # 2 V on the 1 V scale: only the X output bit latches
    emulator = SR830Emulator(lab)
    first = emulator.handle_line("SNAP? 1,2")
    assert emulator.handle_line("LIAS?") == "4\n"
    assert emulator.handle_line("LIAS?") == "0\n"
    lab.lockin.xy = (5.0, 5.0)  # not read: same instant, same key
    assert emulator.handle_line("SNAP? 1,2") == first  # from the line cache ...
    assert emulator.handle_line("LIAS?") == "4\n"  # ... latching as the reading did
    lab.clock.advance(1.0)
    assert emulator.handle_line("SNAP? 1,2") != first  # a new instant is read
