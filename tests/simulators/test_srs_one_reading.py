"""An output-only SRS line reads the VirtualLab's lock-in once (overload latch and X/Y together).

The emulator latches the lab's overload bits before every line; for a line of output queries
it takes X and Y from the same lab reading (``LockIn.read``), so the lab advances once per
SNAP? instead of twice. On a stopped clock both ways give the same values: a session replayed
with the lab's combined read hidden is the same transcript.
"""

from __future__ import annotations

import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.emulators.srs import SR830Emulator, SR860Emulator
from stm_andreev.simulators.lab import VirtualLab
from tests.simulators.test_srs_reply_cache import _session


def _lab() -> VirtualLab:
    lab = VirtualLab("InO-2", clock=VirtualClock(), seed=3)
    lab.bias_V = 1e-3
    lab.lockin.amplitude_Vrms = 0.1
    return lab


def test_a_session_is_the_same_with_separate_reads() -> None:
    transcripts = []
    for combined in (True, False):
        lab = _lab()
        if not combined:
            lab.lockin.read = None  # the emulator falls back to overload_bits + read_xy_V
        transcripts.append(_session(SR830Emulator(lab), lab, drop_caches=False))
    assert transcripts[0] == transcripts[1]


@pytest.mark.parametrize("emulator_cls, line, combined, separate", [
    (SR830Emulator, "SNAP? 1,2", 1, 0),
    (SR830Emulator, "SNAP? 1,2;SNAP? 3,4", 1, 1),  # the second query reads again
    (SR830Emulator, "SENS 20;SNAP? 1,2", 0, 1),  # a setting first: latch, then read
    (SR860Emulator, "SNAP? 0,1", 1, 0),
])
def test_lab_reads_per_line(emulator_cls, line: str, combined: int, separate: int) -> None:
    lab = _lab()
    emulator = emulator_cls(lab)
    calls = {"read": 0, "read_xy_V": 0}

    def counting(name: str):
        original = getattr(lab.lockin, name)

        def counted():
            calls[name] += 1
            return original()
        return counted

    for name in calls:
        setattr(lab.lockin, name, counting(name))
    lab.clock.advance(0.1)
    emulator.handle_line(line)
    assert calls == {"read": combined, "read_xy_V": separate}


def test_the_reply_is_the_reading_of_the_latch_instant() -> None:
    lab = _lab()
    twin = _lab()
    emulator = SR830Emulator(lab)
    for clock_lab in (lab, twin):
        clock_lab.clock.advance(0.3)
    x, y = twin.lockin.read_xy_V()
    assert emulator.handle_line("SNAP? 1,2") == f"{x:.6e},{y:.6e}\n"
    assert emulator._pending_xy is None  # used by the line's query, never by a later line
