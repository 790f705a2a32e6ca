"""The lab's lock-in snapshot cache: every state change is seen by the very next reading.

The lab reuses its last lock-in snapshot while the raw state it was built from is unchanged
(one SNAP? asks for it several times at one instant). Each case below reads the lock-in (which
fills the caches), changes one thing at the SAME clock time (or advances the clock), and
checks that the snapshot and input the lock-in now uses are those a cold cache would build.
"""

from __future__ import annotations

import pytest

from stm_andreev.simulators.lab.electronics import OVERLOAD_INPUT


def _fresh_snapshot(lab):
    """The snapshot built from scratch (caches dropped) for the lab's present state."""
    lab._snapshot_cache = None
    lab._last_input = None
    return lab._lockin_snapshot()


def _set_z(lab) -> None:
    lab.feedback_on = False
    lab.z_m = lab.z_m + 2e-11


def _new_setpoint_then_wait(lab, clock) -> None:
    lab.setpoint_A = 2e-9  # the tip has not moved yet: same snapshot at this instant
    assert lab._lockin_snapshot() == _fresh_snapshot(lab)
    clock.advance(0.05)  # the feedback moves the tip


CHANGES = {
    "bias": lambda lab, clock: setattr(lab, "bias_V", 2e-3),
    "gain": lambda lab, clock: setattr(lab, "preamp_gain_index", 1),
    "modulation": lambda lab, clock: setattr(lab.lockin, "amplitude_Vrms", 0.05),
    "feedback_z": lambda lab, clock: _set_z(lab),
    "withdraw": lambda lab, clock: lab.withdraw(),
    "tip_position": lambda lab, clock: lab.move_tip(3e-7, -2e-7),
    "temperature": lambda lab, clock: lab.fridge.start_cooldown(4.0),
    "time": lambda lab, clock: _new_setpoint_then_wait(lab, clock),
    "tip_change": lambda lab, clock: lab.tip_change(),
    "reset": lambda lab, clock: lab.lockin.reset_settings(),
}
# Lab setters mark a new lock-in segment at once; the fridge jump (start_cooldown) and the
# feedback's motion over time are picked up by the next reading without one.
MARKED = {"bias", "gain", "modulation", "feedback_z", "withdraw", "tip_position", "tip_change",
          "reset"}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_next_reading_sees_the_change(lab, clock, change: str) -> None:
    lab.lockin.amplitude_Vrms = 0.02
    lab.lockin.time_constant_s = 0.01
    lab.lockin.read_xy_V()
    lab.lockin.overload_bits()
    before = lab._lockin_snapshot()
    assert lab._lockin_snapshot() is before  # the cache is in use

    CHANGES[change](lab, clock)

    harmonic = lab.lockin.harmonic
    lab.advance()  # a reading first brings the lab up to the clock, then takes the snapshot
    used = lab._lockin_snapshot()  # through the caches, as the next reading does
    used_input = lab._lockin_input(used, harmonic)
    lab.lockin.read_xy_V()
    fresh = _fresh_snapshot(lab)
    assert used != before, "the change should alter the lock-in's input state"
    assert used == fresh
    assert used_input == lab._compute_lockin_input(fresh, harmonic)
    if change in MARKED:
        assert lab.lockin._segments[-1][1] == fresh


def test_overload_bit_follows_a_gain_change_at_the_same_instant(lab) -> None:
    lab.bias_V = 5e-3
    lab.feedback_on = False
    lab.preamp_gain_index = 0
    assert not lab.lockin.overload_bits() & OVERLOAD_INPUT
    lab.z_m = lab.z_m - 3e-10  # closer: more current, still far from contact
    lab.preamp_gain_index = len(lab.preamp_gains_V_per_A) - 1
    assert lab.lockin.overload_bits() & OVERLOAD_INPUT
    lab.preamp_gain_index = 0
    assert not lab.lockin.overload_bits() & OVERLOAD_INPUT


def test_repeated_queries_at_one_instant_agree(lab) -> None:
    lab.lockin.amplitude_Vrms = 0.02
    first = (lab.lockin.read_xy_V(), lab.lockin.overload_bits())
    for _ in range(5):
        assert (lab.lockin.read_xy_V(), lab.lockin.overload_bits()) == first
