"""The fridge's rest shortcut: a proven fixed point is skipped, bit for bit as if stepped.

At rest (no PID, ramp, spike or cooldown; the full step moves nothing) ``advance_to`` only
moves the time. A twin fridge with the shortcut disabled steps through the same schedule of
small and large advances and setting changes; every state along the way must be identical.
"""

from __future__ import annotations

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.lab import recommended_heater_settings
from stm_andreev.simulators.lab.fridge import MODE_CLOSED_LOOP, MODE_OPEN_LOOP, Fridge


def _state(fridge: Fridge) -> tuple:
    return (fridge._t, fridge._T_mc, fridge._T_film, fridge._output_pct, fridge._integral_Ks,
            fridge._prev_control_K, fridge._ramp_setpoint_K)


def _small_steps(clock: VirtualClock, fridge: Fridge, n: int) -> list[tuple]:
    states = []
    for i in range(n):
        clock.advance(1e-3 * (1 + i % 7))
        fridge.temperature_K("mixing chamber")
        states.append(_state(fridge))
    return states


def _schedule(fridge: Fridge, clock: VirtualClock) -> tuple[list[tuple], int]:
    """Run a schedule; return every state seen and how many advances found the fridge at rest."""
    states: list[tuple] = []
    rests = 0

    def settle(seconds: float) -> None:
        nonlocal rests
        clock.advance(seconds)
        fridge.temperature_K("film")
        states.append(_state(fridge))
        for state in _small_steps(clock, fridge, 40):
            states.append(state)
            rests += fridge._rest is not None and fridge._rest == fridge._rest_key()

    settle(0.0)  # heater off at base
    settle(3600.0)
    fridge.output_mode = MODE_OPEN_LOOP
    fridge.manual_output_pct = 20.0
    fridge.heater_range = 3
    settle(1.0)  # warming: not at rest
    settle(4 * 3600.0)  # a new equilibrium with a constant heater power
    fridge.output_mode = MODE_CLOSED_LOOP  # PID on: never at rest
    band = recommended_heater_settings(0.1)
    fridge.pid = (band.P, band.I_s, band.D_s)
    fridge.heater_range = band.heater_range
    fridge.setpoint_K = 0.1
    settle(600.0)
    fridge.heater_range = 0  # off again: cools back to base
    settle(5.0)
    settle(12 * 3600.0)
    fridge.spike(0.02, 30.0)
    settle(0.5)
    settle(3600.0)
    return states, rests


def test_the_rest_shortcut_changes_no_state() -> None:
    results = []
    for shortcut in (True, False):
        clock = VirtualClock()
        fridge = Fridge(clock, film_resistance_ohm=lambda T: 1000.0 * T)
        if not shortcut:
            fridge._settles_at_rest = lambda *args: False
        results.append(_schedule(fridge, clock))
    (with_rest, rests), (without, none) = results
    assert with_rest == without
    # Taken at base before any heating; after a temperature change the jump to the end of a
    # stationary stretch leaves the film ~1e-10 K off the MC, so the state is no fixed point.
    assert rests >= 80 and none == 0
