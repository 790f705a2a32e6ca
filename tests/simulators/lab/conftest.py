"""Shared fixtures: a VirtualLab on a virtual clock, and a helper to settle the feedback."""

from __future__ import annotations

import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.lab import VirtualLab

V_SP = -3e-3


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def lab(clock: VirtualClock) -> VirtualLab:
    return VirtualLab("InO-2", clock=clock, seed=0)


def gain_index_for(lab: VirtualLab, current_A: float) -> int:
    """Highest gain that keeps the preamp output below 5 V at this current."""
    ok = [i for i, g in enumerate(lab.preamp_gains_V_per_A) if g * abs(current_A) < 5.0]
    return max(ok)


def settle(lab: VirtualLab, clock: VirtualClock, setpoint_A: float, timeout_s: float = 5.0,
           V_sp: float = V_SP) -> float:
    """Approach a setpoint at V_sp (-3 mV) with the feedback on; returns the virtual time it
    took."""
    lab.preamp_gain_index = gain_index_for(lab, setpoint_A)
    lab.bias_V = V_sp
    lab.setpoint_A = setpoint_A
    lab.feedback_on = True
    t0 = clock.now()
    while clock.now() - t0 < timeout_s:
        clock.advance(0.01)
        I = abs(lab.measured_current_A())
        if abs(I / setpoint_A - 1) < 0.02:
            clock.advance(1.0)  # let the loop finish its exponential tail
            return clock.now() - t0
    raise AssertionError(f"feedback did not reach {setpoint_A} A within {timeout_s} s")
