"""The SR860 capture buffer: what the emulator captures, and the driver that reads it back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.lockin import SR860LockIn
from stm_andreev.drivers.lockin_capture import CaptureReadError
from stm_andreev.simulators.emulators.srs import ESR_EXECUTION_ERROR, SR860Emulator
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.transports.inprocess import EmulatorAdapter
from stm_andreev.simulators.transports.tcp import LineServer

TAU_S = 1e-3
STEP_AT_S = 0.02


def quiet_lab() -> VirtualLab:
    """A lab held still (loop open, fridge at base) with a 1 ms, 6 dB/oct lock-in filter."""
    lab = VirtualLab("InO-2", clock=VirtualClock(), seed=3)
    lab.feedback_on = False
    lab.bias_V = -1e-3
    lab.lockin.amplitude_Vrms = 0.02
    lab.lockin.filter_slope_db = 6
    lab.lockin.time_constant_s = TAU_S
    lab.lockin.sensitivity_V = 1e-3
    lab.clock.advance(30 * TAU_S)  # the filter settles on the state just set
    return lab


def captured_sweep(emulator: SR860Emulator, lab: VirtualLab, duration_s: float) -> None:
    """Capture X Y from now, step the bias at STEP_AT_S, let ``duration_s`` pass in pieces."""
    emulator.handle_line("CAPTURELEN 4;CAPTURECFG 1;CAPTURERATE 0;CAPTURESTART 0,0")
    lab.clock.advance(STEP_AT_S)
    lab.bias_V = 0.0
    lab.clock.advance(duration_s - STEP_AT_S)


def test_each_sample_is_what_a_reading_at_that_instant_gives() -> None:
    """Twin labs, same seed: one captures, the other is read at every sample time."""
    capturing, reading = quiet_lab(), quiet_lab()
    emulator = SR860Emulator(capturing)
    rate = float(emulator.handle_line("CAPTURERATEMAX?"))
    t0 = capturing.clock.now()
    captured_sweep(emulator, capturing, 0.05)
    n = int(emulator.handle_line("CAPTUREBYTES?")) // 8
    assert n == math.floor(0.05 * rate)
    emulator.handle_line("CAPTURESTOP")
    block = emulator.handle_line(f"CAPTUREGET? 0,{4}").encode("latin-1")
    assert block.startswith(b"#44096") and len(block) == 6 + 4096  # no terminator
    xy = np.frombuffer(block[6:], dtype="<f4").reshape(-1, 2)[:n]

    expected = []
    for k in range(1, n + 1):
        t = t0 + k / rate
        if reading.clock.now() < t0 + STEP_AT_S <= t:
            reading.clock.advance(t0 + STEP_AT_S - reading.clock.now())
            reading.bias_V = 0.0
        reading.clock.advance(t - reading.clock.now())
        expected.append(reading.lockin.read_xy_V())
    np.testing.assert_allclose(xy, np.array(expected, dtype="<f4"), rtol=1e-5, atol=1e-12)


def test_the_filter_step_response_shows_in_the_capture() -> None:
    lab = quiet_lab()
    emulator = SR860Emulator(lab)
    rate = float(emulator.handle_line("CAPTURERATEMAX?"))
    before = lab.lockin.read_xy_V()[0]
    captured_sweep(emulator, lab, 0.05)
    after = lab.lockin.read_xy_V()[0]  # 30 tau later: settled
    n = int(emulator.handle_line("CAPTUREBYTES?")) // 8
    emulator.handle_line("CAPTURESTOP")
    x = np.frombuffer(emulator.handle_line("CAPTUREGET? 0,4").encode("latin-1")[6:],
                      dtype="<f4")[0:2 * n:2]
    t = np.arange(1, n + 1) / rate - STEP_AT_S
    model = np.where(t < 0, before, after + (before - after) * np.exp(-np.clip(t, 0, None)
                                                                      / TAU_S))
    settled = x[t > 10 * TAU_S]
    sigma = float(np.std(settled))  # the lab's filtered noise
    assert abs(before - after) > 10 * sigma
    # the 6 dB/oct response to the bias step, within the lab's noise, point by point
    assert np.max(np.abs(x - model)) < 5 * sigma
    one_tau = np.argmin(np.abs(t - TAU_S))
    assert x[one_tau] == pytest.approx(model[one_tau], abs=5 * sigma)
    # and not the instantaneous value: a tau after the step the output is still 1/e away
    assert abs(x[one_tau] - after) > 0.25 * abs(before - after)


def test_one_shot_stops_when_full_and_continuous_wraps() -> None:
    lab = quiet_lab()
    emulator = SR860Emulator(lab)
    emulator.handle_line("CAPTURELEN 1;CAPTURECFG 0;CAPTURESTART 0,0")  # 256 samples of X
    lab.clock.advance(10.0)
    assert emulator.handle_line("CAPTUREBYTES?;CAPTUREPROG?") == "1024\n1\n"
    emulator.handle_line("CAPTURESTART 1,0")
    lab.clock.advance(10.0)
    assert emulator.handle_line("CAPTUREBYTES?") == "1024\n"  # full, still running
    assert emulator._capture.buffer.samples > 256


def test_bad_capture_commands_set_the_error_bit_and_send_nothing() -> None:
    lab = quiet_lab()
    emulator = SR860Emulator(lab)
    emulator.handle_line("*ESR?")
    assert emulator.handle_line("CAPTUREGET? 0,1") == ""  # nothing captured yet
    emulator.handle_line("CAPTURELEN 2;CAPTURESTART 0,0")
    assert emulator.handle_line("CAPTUREGET? 0,1") == ""  # still recording: range error
    assert emulator.handle_line("CAPTURELEN 4") == ""  # not while running
    assert int(emulator.handle_line("*ESR?")) & ESR_EXECUTION_ERROR
    assert emulator.handle_line("CAPTURELEN?") == "2\n"
    emulator.handle_line("CAPTURESTOP")
    assert emulator.handle_line("CAPTUREGET? 2,1") == ""  # offset beyond the 2 kB buffer
    emulator.handle_line("CAPTURELEN 4")
    assert emulator.handle_line("CAPTURELEN?") == "4\n"


def test_a_restart_forgets_the_capture() -> None:
    lab = quiet_lab()
    emulator = SR860Emulator(lab)
    emulator.handle_line("CAPTURELEN 8;CAPTURESTART 1,0")
    lab.clock.advance(0.01)
    emulator.reset()
    assert emulator.handle_line("CAPTUREBYTES?;CAPTURELEN?") == "0\n256\n"
    assert lab.lockin.capture_status() is None


def read_back(lockin: SR860LockIn, lab: VirtualLab) -> dict[str, np.ndarray]:
    lockin.capture_length_kB = 8
    lockin.capture_quantities = "XYRT"
    lockin.capture_rate_exponent = 1
    lockin.start_capture()
    lab.clock.advance(0.3)
    lockin.stop_capture()
    return lockin.read_capture()


def test_driver_reads_the_capture_in_process() -> None:
    lab = quiet_lab()
    emulator = SR860Emulator(lab)
    lockin = SR860LockIn(EmulatorAdapter(emulator, clock=lab.clock))
    rate = lockin.capture_rate_max_Hz / 2
    data = read_back(lockin, lab)
    n = math.floor(0.3 * rate)
    assert set(data) == {"X", "Y", "R", "THETA"} and data["X"].size == n
    np.testing.assert_allclose(data["R"], np.hypot(data["X"], data["Y"]), rtol=1e-5)
    x_now, _ = lockin.snap_xy()
    assert data["X"][-1] == pytest.approx(x_now, rel=0.05)  # settled, noise apart


def test_driver_reads_the_capture_over_tcp() -> None:
    """Blocks hold LF bytes: the driver must read by length, not by line."""
    lab = quiet_lab()
    with LineServer(SR860Emulator(lab)) as server:
        lockin = SR860LockIn.over_tcp(server.port, timeout_ms=5000)
        try:
            data = read_back(lockin, lab)
            raw = lockin.capture_block(0, 8)
        finally:
            lockin.adapter.close()
    assert b"\n" in raw  # the case the test is about
    assert data["X"].size > 0
    np.testing.assert_array_equal(
        np.frombuffer(raw, dtype="<f4")[: 4 * data["X"].size:4].astype(float), data["X"])


def test_driver_refuses_a_garbled_block() -> None:
    from pymeasure.test import expected_protocol

    with expected_protocol(SR860LockIn, [(b"CAPTUREGET? 0,1", b"#41O24")]) as lockin, \
            pytest.raises(CaptureReadError, match="CAPTUREGET\\? 0,1"):
        lockin.capture_block(0, 1)
