"""The SR860 emulator's capture commands as the manual gives them: tokens, status bits, values,
a block without terminator, and full samples from the first one on a running clock."""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.lockin import SR860LockIn
from stm_andreev.simulators.emulators.srs import SR860Emulator
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.transports.tcp import LineServer


class TickingClock(VirtualClock):
    """Virtual time that moves on by ``tick_s`` at every reading, like a running clock whose
    time passes between any two looks at it (``simulate --speed 100``), but deterministic."""

    def __init__(self, tick_s: float) -> None:
        super().__init__()
        self.tick_s = tick_s

    def now(self) -> float:
        self.advance(self.tick_s)
        return super().now()


def lab_with(clock: VirtualClock, tau_s: float = 1e-3) -> VirtualLab:
    lab = VirtualLab("InO-2", clock=clock, seed=5)
    lab.feedback_on = False
    lab.bias_V = -1e-3
    lab.lockin.time_constant_s = tau_s
    lab.lockin.sensitivity_V = 1e-3
    return lab


@pytest.fixture
def sr860() -> tuple[SR860Emulator, VirtualLab]:
    lab = lab_with(VirtualClock())
    lab.clock.advance(0.05)
    return SR860Emulator(lab), lab


@pytest.mark.parametrize("arguments", [
    "0,0", "1,0", "ONE,IMM", "ONE, IMM", "CONT,IMM", "ONESHOT,IMMEDIATE", "cont,imm",
    "CONTINUOUS, IMMEDIATE",
])
def test_capturestart_accepts_the_manual_forms_and_starts(sr860, arguments) -> None:
    emulator, lab = sr860
    emulator.handle_line("*CLS")
    assert emulator.handle_line(f"CAPTURELEN 2;CAPTURESTART {arguments}") == ""
    assert emulator.handle_line("*ESR?") == "0\n"
    lab.clock.advance(0.01)
    assert int(emulator.handle_line("CAPTUREBYTES?")) > 0
    assert emulator.handle_line("CAPTURESTAT?") == "3\n"  # recording and started


@pytest.mark.parametrize("arguments", ["ONE,TRIG", "CONT,TRIGSTART", "ONE,SAMP", "1,2", "0,1"])
def test_a_triggered_capture_waits_armed_and_empty(sr860, arguments) -> None:
    emulator, lab = sr860
    emulator.handle_line(f"CAPTURESTART {arguments}")
    assert emulator.handle_line("*ESR?") == "0\n"
    lab.clock.advance(0.1)
    # no trigger input in the simulated lab: all three bits stay 0 (the manual's armed state)
    assert emulator.handle_line("CAPTURESTAT?;CAPTUREBYTES?") == "0\n0\n"


@pytest.mark.parametrize("arguments", ["2,0", "0,3", "ONCE,IMM", "ONE", "ONE,IMM,1", "ON,IMM"])
def test_capturestart_refuses_other_forms_with_the_execution_bit(sr860, arguments) -> None:
    emulator, _ = sr860
    emulator.handle_line("*CLS")
    assert emulator.handle_line(f"CAPTURESTART {arguments}") == ""
    assert int(emulator.handle_line("*ESR?")) & 0b1_0000


def test_capturestat_bits_through_a_one_shot_and_a_continuous_capture(sr860) -> None:
    emulator, lab = sr860
    assert emulator.handle_line("CAPTURESTAT?") == "0\n"
    emulator.handle_line("CAPTURELEN 1;CAPTURECFG 0;CAPTURESTART ONE,IMM")  # 256 samples
    assert emulator.handle_line("CAPTURESTAT?") == "3\n"
    lab.clock.advance(10.0)
    assert emulator.handle_line("CAPTURESTAT?") == "6\n"  # full: stopped, wrapped
    emulator.handle_line("CAPTURECFG 1")  # resets the capture system
    assert emulator.handle_line("CAPTURESTAT?") == "0\n"
    emulator.handle_line("CAPTURESTART CONT,IMM")
    lab.clock.advance(10.0)
    assert emulator.handle_line("CAPTURESTAT?") == "7\n"  # recording, started, overwriting
    emulator.handle_line("CAPTURESTOP")
    assert emulator.handle_line("CAPTURESTAT?") == "6\n"
    assert emulator.handle_line("CAPTUREPROG?") == "1\n"  # wrapped: the buffer length


def test_captureprog_counts_in_two_kilobyte_steps(sr860) -> None:
    emulator, lab = sr860
    emulator.handle_line("CAPTURELEN 8;CAPTURECFG 0;CAPTURERATE 0")
    rate = float(emulator.handle_line("CAPTURERATEMAX?"))
    emulator.handle_line("CAPTURESTART ONE,IMM")
    lab.clock.advance(1250.5 / rate)  # the manual's example: 1250 samples of X, 5000 bytes
    emulator.handle_line("CAPTURESTOP")
    assert emulator.handle_line("CAPTUREBYTES?;CAPTUREPROG?") == "5000\n6\n"
    value = [float(v) for v in emulator.handle_line("CAPTUREVAL? 1249").split(",")]
    assert len(value) == 1 and value[0] != 0.0
    assert float(emulator.handle_line("CAPTUREVAL? 1250")) == 0.0  # not captured: zero


def test_capturegets_block_has_no_terminator_and_capturevals_match_it(sr860) -> None:
    emulator, lab = sr860
    emulator.handle_line("CAPTURELEN 2;CAPTURECFG XYRT;CAPTURESTART ONE,IMM")
    lab.clock.advance(0.05)
    emulator.handle_line("CAPTURESTOP")
    n = int(emulator.handle_line("CAPTUREBYTES?")) // 16
    reply = emulator.handle_line("CAPTUREGET? 0,2").encode("latin-1")
    assert reply[:6] == b"#42048" and len(reply) == 6 + 2048  # nothing after the data
    table = np.frombuffer(reply[6:], dtype="<f4").reshape(-1, 4)
    for index in (0, 1, n // 2, n - 1):
        text = emulator.handle_line(f"CAPTUREVAL? {index}")
        assert text.endswith("\n") and text.count(",") == 3
        np.testing.assert_allclose([float(v) for v in text.split(",")], table[index],
                                   rtol=1e-6)


def test_capturege_past_the_end_wraps_to_the_start(sr860) -> None:
    emulator, lab = sr860
    emulator.handle_line("CAPTURELEN 2;CAPTURECFG X;CAPTURESTART ONE,IMM")
    lab.clock.advance(10.0)
    whole = emulator.handle_line("CAPTUREGET? 0,2").encode("latin-1")[6:]
    wrapped = emulator.handle_line("CAPTUREGET? 1,2").encode("latin-1")
    assert wrapped[:6] == b"#42048"
    assert wrapped[6:] == whole[1024:] + whole[:1024]


@pytest.mark.parametrize("tick_s", [1e-7, 2e-6, 2e-5])
def test_a_capture_on_a_running_clock_holds_n_valid_samples_from_the_first(tick_s) -> None:
    """Time passes between the emulator's look at the clock and the lab arming the buffer:
    the old buffer kept zeros for the samples due in between."""
    lab = lab_with(TickingClock(tick_s), tau_s=1e-5)  # fastest rate 312.5 kHz
    lab.clock.advance(0.05)
    emulator = SR860Emulator(lab)
    emulator.handle_line("CAPTURELEN 8;CAPTURECFG XY;CAPTURERATE 0")
    emulator.handle_line("CAPTURESTART ONE,IMM")
    lab.clock.advance(0.002)
    emulator.handle_line("CAPTURESTOP")
    n = int(emulator.handle_line("CAPTUREBYTES?")) // 8
    assert n > 100
    xy = np.frombuffer(emulator.handle_line("CAPTUREGET? 0,8").encode("latin-1")[6:],
                       dtype="<f4").reshape(-1, 2)
    assert np.all(xy[:n] != 0.0), f"{np.sum(np.any(xy[:n] == 0, axis=1))} of {n} zero"
    assert np.all(xy[n:] == 0.0)


def test_after_a_block_over_tcp_every_reply_is_in_step() -> None:
    """pyvisa over TCP: a block, then plain queries: each gets its own answer.

    (pyvisa-py ends a read of a block without terminator when no more bytes come for half its
    timeout: the manual's framing costs that wait per block on a raw socket.)"""
    lab = lab_with(VirtualClock())
    with LineServer(SR860Emulator(lab)) as server:
        lockin = SR860LockIn.over_tcp(server.port, timeout_ms=3000)
        try:
            # *OPC? waits for the server to run the line before the clock moves on
            lockin.ask("CAPTURELEN 2;CAPTURECFG X;CAPTURESTART ONE,IMM;*OPC?")
            lab.clock.advance(0.05)
            lockin.write("CAPTURESTOP")
            visa = lockin.adapter.connection
            values = visa.query_binary_values("CAPTUREGET? 0,2", datatype="f",
                                              is_big_endian=False, expect_termination=False)
            answers = [lockin.ask(q).strip() for q in ("CAPTURELEN?", "CAPTURECFG?", "*OPC?")]
            raw = lockin.capture_block(0, 2)
            after = lockin.ask("CAPTURESTAT?").strip()
        finally:
            lockin.adapter.close()
    assert len(values) == 512
    assert answers == ["2", "0", "1"]
    np.testing.assert_array_equal(np.frombuffer(raw, dtype="<f4"), np.float32(values))
    assert after == "2"  # started, stopped before the buffer was full
