"""The SR830 emulator's data buffer: samples of the displays at the sample rate on the lab's
clock, read back in the manual's three formats (TRCA ASCII, TRCB IEEE float, TRCL LIA)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.emulators.srs import ESR_EXECUTION_ERROR, SR830Emulator
from stm_andreev.simulators.emulators.srs_buffer import BUFFER_POINTS, lia_word
from stm_andreev.simulators.lab import VirtualLab


def lab_at_rest() -> VirtualLab:
    lab = VirtualLab("InO-2", clock=VirtualClock(), seed=11)
    lab.feedback_on = False
    lab.bias_V = -1e-3
    lab.lockin.time_constant_s = 1e-3
    lab.lockin.sensitivity_V = 0.1  # well above the signal: no saturation
    lab.clock.advance(0.05)
    return lab


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def test_samples_arrive_at_the_sample_rate_on_the_lab_clock() -> None:
    lab = lab_at_rest()
    emulator = SR830Emulator(lab)
    emulator.handle_line("REST;SRAT 8;SEND 0;STRT")  # 16 Hz
    assert emulator.handle_line("SPTS?") == "0\n"
    lab.clock.advance(1.0)
    assert emulator.handle_line("SPTS?") == "16\n"
    emulator.handle_line("PAUS")
    lab.clock.advance(5.0)
    assert emulator.handle_line("SPTS?") == "16\n"  # paused: nothing more
    emulator.handle_line("STRT")
    lab.clock.advance(0.5)
    assert emulator.handle_line("SPTS?") == "24\n"  # resumed
    emulator.handle_line("REST")
    assert emulator.handle_line("SPTS?") == "0\n"


def test_each_stored_point_is_the_display_at_its_sample_time() -> None:
    """Twin labs, same seed: one stores, the other is read at each sample time."""
    storing, reading = lab_at_rest(), lab_at_rest()
    emulator = SR830Emulator(storing)
    emulator.handle_line("DDEF 1,1,0;DDEF 2,0,0;SRAT 13;SEND 0")  # CH1 R, CH2 Y, 512 Hz
    t0 = storing.clock.now()
    emulator.handle_line("STRT")
    storing.clock.advance(0.05)
    storing.bias_V = 0.0  # a step while storing
    storing.clock.advance(0.05)
    n = int(emulator.handle_line("SPTS?"))
    assert n == 51
    r = floats(emulator.handle_line(f"TRCA? 1,0,{n}"))
    y = floats(emulator.handle_line(f"TRCA? 2,0,{n}"))
    expected = []
    for k in range(1, n + 1):
        t = t0 + k / 512.0
        if reading.clock.now() < t0 + 0.05 <= t:
            reading.clock.advance(t0 + 0.05 - reading.clock.now())
            reading.bias_V = 0.0
        reading.clock.advance(t - reading.clock.now())
        expected.append(reading.lockin.read_xy_V())
    ex = np.array(expected)
    np.testing.assert_allclose(r, np.hypot(ex[:, 0], ex[:, 1]), rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(y, ex[:, 1], rtol=1e-5, atol=1e-12)
    assert abs(r[-1] - r[0]) > 0.1 * abs(r[0])  # the step shows


def test_trcb_and_trcl_carry_the_same_values_raw_without_terminator() -> None:
    lab = lab_at_rest()
    emulator = SR830Emulator(lab)
    emulator.handle_line("SRAT 10;STRT")
    lab.clock.advance(0.5)
    emulator.handle_line("PAUS")
    ascii_values = floats(emulator.handle_line("TRCA? 1,2,20"))
    binary = emulator.handle_line("TRCB? 1,2,20").encode("latin-1")
    assert len(binary) == 80  # 20 x 4 bytes, no header, no terminator
    np.testing.assert_allclose(np.frombuffer(binary, dtype="<f4"), ascii_values, rtol=1e-6)
    lia = emulator.handle_line("TRCL? 1,2,20").encode("latin-1")
    assert len(lia) == 80
    words = np.frombuffer(lia, dtype="<i2")
    decoded = words[::2] * 2.0 ** (words[1::2] - 124.0)  # the manual's formula
    np.testing.assert_allclose(decoded, ascii_values, rtol=1e-4)


@pytest.mark.parametrize("value", [1.0, -1.0, 3.3e-7, -2.5e-4, 0.0, 1e-12, 9.99])
def test_lia_words_decode_by_the_manuals_formula(value: float) -> None:
    mantissa, exponent = struct.unpack("<hh", lia_word(value))
    assert mantissa * 2.0 ** (exponent - 124) == pytest.approx(value, rel=1e-4, abs=0)


def test_one_shot_stops_full_and_loop_keeps_the_newest() -> None:
    lab = lab_at_rest()
    emulator = SR830Emulator(lab)
    emulator.handle_line("SRAT 13;SEND 0;STRT")
    lab.clock.advance(40.0)  # 20480 sample times
    assert emulator.handle_line("SPTS?") == f"{BUFFER_POINTS}\n"
    emulator.handle_line("REST;SEND 1;STRT")
    lab.clock.advance(40.0)
    assert emulator.handle_line("SPTS?") == f"{BUFFER_POINTS}\n"
    last = float(emulator.handle_line(f"TRCA? 1,{BUFFER_POINTS - 1},1"))
    assert last == pytest.approx(lab.lockin.read_xy_V()[0], rel=0.05)


def test_triggered_storage_takes_one_point_per_trig() -> None:
    lab = lab_at_rest()
    emulator = SR830Emulator(lab)
    emulator.handle_line("SRAT 14;TSTR 1")
    for _ in range(5):
        lab.clock.advance(0.1)
        emulator.handle_line("TRIG")
    assert emulator.handle_line("SPTS?") == "5\n"


def test_bad_buffer_commands_set_the_execution_bit_and_answer_nothing() -> None:
    lab = lab_at_rest()
    emulator = SR830Emulator(lab)
    emulator.handle_line("*CLS")
    assert emulator.handle_line("TRCA? 1,0,1") == ""  # nothing stored
    assert emulator.handle_line("SRAT 15") == ""
    assert emulator.handle_line("TRCA? 3,0,1") == ""
    assert int(emulator.handle_line("*ESR?")) & ESR_EXECUTION_ERROR
    emulator.handle_line("*CLS;DDEF 1,2,0")  # CH1 shows X noise: not emulated
    assert emulator.handle_line("STRT") == ""
    assert int(emulator.handle_line("*ESR?")) & ESR_EXECUTION_ERROR


def test_pymeasures_sr830_reads_the_buffer_in_process() -> None:
    from pymeasure.instruments.srs import SR830

    from stm_andreev.simulators.transports.inprocess import EmulatorAdapter

    lab = lab_at_rest()
    lockin = SR830(EmulatorAdapter(SR830Emulator(lab), clock=lab.clock))
    lockin.reset_buffer()
    lockin.sample_frequency = 64
    lockin.aquireOnTrigger(False)
    lockin.write("STRT")
    lab.clock.advance(1.0)
    lockin.pause_buffer()
    assert lockin.buffer_count == 64
    ch1 = lockin.values("TRCA?1,0,64")
    assert len(ch1) == 64
    assert ch1[-1] == pytest.approx(lockin.x, rel=0.05)
