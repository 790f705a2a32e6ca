"""Fridge temperature: set a target through the station's table, wait until it is stable."""

from __future__ import annotations

from collections.abc import Callable

from .errors import TemperatureCeilingError
from .timing import wait_until_stable

TEMPERATURE_POLL_S = 5.0


def set_temperature(station, target_K: float) -> None:
    """Setpoint, heater range and PID from the station's temperature_control bands.

    Refuses a target above the ceiling or a heater range the limits do not allow, before
    anything is sent.
    """
    limits = station.limits
    if target_K > limits.temperature_ceiling_K:
        raise TemperatureCeilingError(
            f"target {target_K:g} K is above limits.temperature_ceiling_K "
            f"({limits.temperature_ceiling_K:g} K)"
        )
    band = station.config.temperature_control.band_for(target_K)
    if band.heater_range not in limits.allowed_heater_ranges:
        raise TemperatureCeilingError(
            f"heater range {band.heater_range} for {target_K:g} K is not in "
            f"limits.allowed_heater_ranges {limits.allowed_heater_ranges}"
        )
    station.temperature.set_control(target_K, band.heater_range, tuple(band.pid))


def wait_for_temperature(
    station, target_K: float, check: Callable[[], None] | None = None
) -> float:
    """Wait until the control thermometer stays within tolerance for the dwell time.

    Fails loudly (SettleTimeout) after the station's settle timeout.
    """
    settle = station.config.temperature_control.settle
    return wait_until_stable(
        station.clock,
        station.mixing_chamber_K,
        target=target_K,
        tolerance=settle.tolerance_K,
        dwell_s=settle.dwell_s,
        timeout_s=settle.timeout_s,
        poll_s=min(TEMPERATURE_POLL_S, settle.dwell_s / 4 or TEMPERATURE_POLL_S),
        what=f"mixing-chamber temperature ({target_K:g} K)",
        check=check,
    )
