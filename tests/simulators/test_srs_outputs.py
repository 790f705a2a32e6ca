"""The CH1/CH2 analog outputs: routing commands on the SR830/SR860 emulators, and the voltages
the lab puts on them (what the Nanonis emulator's ``Input 1 (V)``/``Input 2 (V)`` record).

Over the real :class:`VirtualLab` in virtual time: at one clock instant the lab's lock-in gives
one reading (noise included), so an output voltage can be compared exactly with X and Y.
"""

from __future__ import annotations

import math

import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.lockin import SR830LockIn, SR860LockIn
from stm_andreev.simulators.emulators.srs import (
    ESR_COMMAND_ERROR,
    ESR_EXECUTION_ERROR,
    SR830Emulator,
    SR860Emulator,
)
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.lab.electronics import ANALOG_OUTPUT_LIMIT_V
from stm_andreev.simulators.transports.inprocess import EmulatorAdapter


@pytest.fixture
def lab() -> VirtualLab:
    clock = VirtualClock()
    lab = VirtualLab("InO-2", clock=clock, seed=5)
    # A tunnelling junction with the loop open: a real X, well above the noise.
    lab.preamp_gain_index = 3  # 1e8 V/A
    lab.bias_V, lab.setpoint_A, lab.feedback_on = -3e-3, 1e-8, True
    clock.sleep(30.0)
    lab.feedback_on = False
    lab.lockin.modulation_Vrms = 20e-6
    lab.lockin.time_constant_s = 0.03
    lab.lockin.sensitivity_V = 1e-2
    clock.sleep(1.0)
    return lab


def test_sr830_fpop_routes_the_outputs_and_answers_its_query(lab) -> None:
    sr830 = SR830Emulator(lab)
    assert sr830.handle_line("FPOP? 1;FPOP?2") == "0\n0\n"  # power-on: the displays (X, Y)
    assert lab.lockin.output_sources == ("X", "Y")
    sr830.handle_line("DDEF 1,1,0;DDEF 2,1,0")  # displays R and theta: the outputs follow
    assert lab.lockin.output_sources == ("R", "THETA")
    sr830.handle_line("FPOP 1,1;FPOP 2,1")  # X and Y whatever the displays show
    assert sr830.handle_line("FPOP? 1;FPOP? 2") == "1\n1\n"
    assert lab.lockin.output_sources == ("X", "Y")
    sr830.handle_line("FPOP 2,0")
    assert lab.lockin.output_sources == ("X", "THETA")
    sr830.handle_line("*RST")
    assert lab.lockin.output_sources == ("X", "Y")
    assert sr830.handle_line("FPOP? 1;DDEF? 2") == "0\n0,0\n"


@pytest.mark.parametrize("line", ["COUT OCH1, RTHeta", "COUT 0,1", "cout och1,rth",
                                  "COUT OCH1,RTHETA", "COUT 0, RTHe"])
def test_sr860_cout_takes_tokens_or_numbers(lab, line) -> None:
    sr860 = SR860Emulator(lab)
    assert sr860.handle_line("COUT? OCH1;COUT? 1") == "0\n0\n"  # power-on: X and Y
    sr860.handle_line(line)
    assert sr860.command_errors == type(sr860.command_errors)()
    assert sr860.handle_line("COUT? OCH1;COUT? 0;COUT? OCH2") == "1\n1\n0\n"
    assert lab.lockin.output_sources == ("R", "Y")
    sr860.handle_line("COUT OCH2, RTHeta")
    assert lab.lockin.output_sources == ("R", "THETA")
    sr860.reset()
    assert lab.lockin.output_sources == ("X", "Y")


@pytest.mark.parametrize(("line", "bit"), [
    ("COUT OCH3, XY", ESR_EXECUTION_ERROR),  # no third output
    ("COUT 2,0", ESR_EXECUTION_ERROR),
    ("COUT OCH1, RT", ESR_EXECUTION_ERROR),  # shorter than the token's capitalised prefix
    ("COUT OCH1, XY, 1", ESR_EXECUTION_ERROR),
    ("COUT? ", ESR_EXECUTION_ERROR),
    ("FPOP 1,2", ESR_EXECUTION_ERROR),
    ("COUT 0,0", ESR_COMMAND_ERROR),  # an SR860 command: unknown to the SR830
])
def test_bad_routing_commands_set_error_bits_and_change_nothing(lab, line, bit) -> None:
    emulator = (SR860Emulator if "OCH" in line or line.startswith(("COUT 2", "COUT?"))
                else SR830Emulator)(lab)
    assert emulator.handle_line(line) == ""
    assert int(emulator.handle_line("*ESR?")) & bit
    assert lab.lockin.output_sources == ("X", "Y")


@pytest.mark.parametrize(("driver", "emulator", "elsewhere"), [
    (SR830LockIn, SR830Emulator, "DDEF 1,1,0;DDEF 2,1,0"),  # FPOP i,0: the displays, R, theta
    (SR860LockIn, SR860Emulator, "COUT 0,1;COUT 1,1"),
])
def test_drivers_route_x_and_y_on_the_emulators(lab, driver, emulator, elsewhere) -> None:
    emulator = emulator(lab)
    emulator.handle_line(elsewhere)
    assert lab.lockin.output_sources == ("R", "THETA")
    lockin = driver(EmulatorAdapter(emulator, clock=lab.clock))
    assert not lockin.xy_outputs_routed()
    lockin.route_xy_outputs()
    assert lockin.xy_outputs_routed()
    assert lab.lockin.output_sources == ("X", "Y")


def test_outputs_are_x_and_y_over_the_sensitivity_times_10_V_at_one_instant(lab) -> None:
    lockin = lab.lockin
    for _ in range(3):
        ch1, ch2 = lockin.analog_outputs_V()
        x, y = lockin.read_xy_V()  # same instant: the same filtered noise
        assert (ch1, ch2) == pytest.approx((x / 1e-2 * 10.0, y / 1e-2 * 10.0), rel=1e-12)
        assert 1.0 < ch1 < 10.0 and ch2 != 0.0
        lab.clock.sleep(0.5)
    lockin.output_sources = ("R", "THETA")
    ch1, ch2 = lockin.analog_outputs_V()
    x, y = lockin.read_xy_V()
    assert ch1 == pytest.approx(math.hypot(x, y) / 1e-2 * 10.0, rel=1e-12)
    assert ch2 == pytest.approx(math.degrees(math.atan2(y, x)) / 18.0, rel=1e-12)
    lockin.output_sources = ("XNOISE", "AUXIN3")  # not emulated: 0 V
    assert lockin.analog_outputs_V() == (0.0, 0.0)


def test_outputs_clip_at_10_9_V_and_the_overload_latches_in_the_emulator(lab) -> None:
    sr830 = SR830Emulator(lab)
    sr830.handle_line("LIAS?")
    x, _ = lab.lockin.read_xy_V()
    lab.lockin.sensitivity_V = 1e-4  # X is ~20 x full scale now
    lab.clock.sleep(1.0)
    ch1, _ = lab.lockin.analog_outputs_V()
    assert ANALOG_OUTPUT_LIMIT_V == pytest.approx(10.9)
    assert ch1 == ANALOG_OUTPUT_LIMIT_V and x / 1e-4 * 10.0 > 2 * ANALOG_OUTPUT_LIMIT_V
    lab.lockin.sensitivity_V = 1e-2  # back in range before the emulator is asked
    lab.clock.sleep(1.0)
    # The overload seen through the outputs latched: LIAS? reports it once, then clears.
    assert int(sr830.handle_line("LIAS?")) & 0b100
    assert sr830.handle_line("LIAS?") == "0\n"
    lab.lockin.output_sources = ("X", "Y")
    lab.lockin.analog_outputs_V()
    assert lab.lockin.take_latched_overloads() == 0
