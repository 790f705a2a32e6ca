"""One spectrum at one setpoint: the sequence every procedure of this package is built from.

At a setpoint (V_sp, I_sp): choose the preamp gain and the lock-in range for the decade, ramp
the setpoint with the feedback on (never faster than the station's ramp rate), wait until the
tip height settles, record z, I and G_sp = I_sp/V_sp, open the feedback, sweep the bias (point
by point through the lock-in, as one controller-run sweep read by the controller's own
demodulator, as one controller-run sweep recording the lock-in's X and Y outputs, or as a
continuous walk through the grid recorded by the SR860's capture buffer with the filter
inverted: :mod:`.continuous`), return the bias to V_sp and close the feedback.

These functions only talk to the station's role interfaces (LockIn, FeedbackController,
TemperatureController), never to a model of instrument.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from stm_andreev.drivers.preamp import DEFAULT_GAINS_V_PER_A, settings_for_setpoint

from .bias_sweeps import sweep_with_controller, sweep_with_controller_lockin, sweep_with_lockin
from .continuous import sweep_continuous
from .errors import (
    PreampSaturation,
    SafeTipEvent,
    TemperatureCeilingError,
)
from .spectrum import Spectrum, SpectrumSettings

log = logging.getLogger(__name__)

SAFE_TIP_STATUS = 5
PREAMP_RAIL_V = 10.0
# The setpoint is ramped in steps no larger than this ratio, whatever the rate allows.
MAX_RAMP_RATIO = 1.25
Z_SETTLE_TOLERANCE_M = 1e-12
Z_POLL_S = 0.05


def preamp_gains(station) -> tuple[float, ...]:
    gains_of = getattr(station.feedback, "current_gains", None)
    if gains_of is not None:
        gains, _ = gains_of()
        return tuple(float(g) for g in gains)
    if station.config.preamp is not None:
        return tuple(station.config.preamp.gains_V_per_A)
    return DEFAULT_GAINS_V_PER_A


def configure_for_setpoint(station, setpoint_A: float, settings: SpectrumSettings) -> dict:
    """Preamp gain and lock-in range for this setpoint's decade; returns what was set.

    With the external lock-in (``lockin``, ``controller_lockin``) its modulation, filter and
    sensitivity are set; for ``controller_lockin`` also its outputs to X (CH1) and Y (CH2),
    which the controller records. Otherwise the controller's own modulator is set.
    """
    lockin = station.lockin
    model = "SR860" if "SR860" in type(lockin).__name__.upper() else "SR830"
    gain, chosen = settings_for_setpoint(setpoint_A, settings, preamp_gains(station), model)
    station.feedback.set_current_gain(gain)
    if settings.uses_external_lockin:
        lockin.frequency = settings.modulation_frequency_Hz
        lockin.sine_voltage = settings.modulation_Vrms * station.modulation_divider
        lockin.filter_slope = chosen.filter_slope_db
        lockin.time_constant = chosen.time_constant_s
        lockin.sensitivity = chosen.sensitivity_V
        if settings.acquisition == "controller_lockin":
            lockin.route_xy_outputs()
    else:
        fb = station.feedback
        # The controller's modulator and demodulator are both taken as rms here, as the
        # simulator implements them; check the controller manual's convention on hardware.
        fb.set_modulation_amplitude(settings.modulation_Vrms)
        fb.set_modulation_frequency(settings.modulation_frequency_Hz)
        fb.set_modulation(True)
    return {
        "preamp_gain_V_per_A": gain,
        "lockin_sensitivity_V": chosen.sensitivity_V,
        "lockin_time_constant_s": chosen.time_constant_s,
        "modulation_Vrms": settings.modulation_Vrms,
    }


def check_interlocks(station, gain_V_per_A: float | None = None) -> None:
    """Raise the interlock a safe-tip event, a saturated preamp or a hot fridge calls for."""
    status = station.feedback.feedback_status()
    if status == SAFE_TIP_STATUS:
        raise SafeTipEvent("the controller reported a safe-tip event (status 5)")
    if gain_V_per_A:
        current = abs(station.feedback.get_current())
        if current * gain_V_per_A >= 0.98 * PREAMP_RAIL_V:
            raise PreampSaturation(
                f"preamp output at its rail: |I| = {current:.3g} A at gain {gain_V_per_A:.0e} V/A"
            )


def check_temperature_ceiling(station, T_K: float) -> None:
    ceiling = station.limits.temperature_ceiling_K
    if T_K > ceiling:
        raise TemperatureCeilingError(f"fridge at {T_K:.4g} K, above the ceiling {ceiling:g} K")


def ramp_setpoint(station, target_A: float, check: Callable[[], None] | None = None) -> None:
    """Move the current setpoint to ``target_A`` with the feedback on, at most at the ramp rate.

    Steps are geometric (at most x1.25) and each is taken only once a linear ramp at
    ``limits.setpoint_ramp_A_per_s`` would have reached it, so the setpoint never runs ahead of
    that ramp: a fast jump from 1 nA to 1 uA would drive the tip into the sample before the
    loop caught up. The feedback settle after the last step is the caller's.
    """
    limit = station.limits.max_setpoint_A
    if not 0 < target_A <= limit:
        raise ValueError(
            f"setpoint {target_A:g} A outside (0, {limit:g}] A (limits.max_setpoint_A)"
        )
    fb = station.feedback
    rate = station.limits.setpoint_ramp_A_per_s
    current = abs(fb.get_setpoint()) or target_A
    if not fb.get_feedback():
        fb.set_setpoint(current)
        fb.set_feedback(True)
    while not math.isclose(current, target_A, rel_tol=1e-9):
        ratio = target_A / current
        step_ratio = min(max(ratio, 1 / MAX_RAMP_RATIO), MAX_RAMP_RATIO)
        nxt = target_A if math.isclose(step_ratio, ratio) else current * step_ratio
        station.clock.sleep(abs(nxt - current) / rate)
        if check is not None:
            check()
        fb.set_setpoint(nxt)
        current = nxt


def settle_tip_height(station, settings: SpectrumSettings, gain: float, check=None) -> float:
    """Wait the feedback settle time, then until z stops drifting; return z (m)."""
    from .timing import wait_until_stable

    station.clock.sleep(settings.feedback_settle_s)

    def guard() -> None:
        check_interlocks(station, gain)
        if check is not None:
            check()

    return wait_until_stable(
        station.clock,
        station.feedback.get_z,
        target=None,
        tolerance=Z_SETTLE_TOLERANCE_M,
        dwell_s=2 * Z_POLL_S,
        timeout_s=settings.settle_z_timeout_s,
        poll_s=Z_POLL_S,
        what="tip height z",
        check=guard,
    )


def take_spectrum(
    station,
    setpoint_A: float,
    settings: SpectrumSettings,
    *,
    check: Callable[[], None] | None = None,
    abort_requested: Callable[[], bool] | None = None,
) -> Spectrum:
    """The full sequence at one setpoint (see module docstring).

    ``check`` is called at every check point and raises to interrupt; ``abort_requested``
    (a cheap look at the operator's abort, called from a watcher thread) lets a
    controller-run sweep be stopped mid-way instead of at its end.
    """
    fb = station.feedback
    setup = configure_for_setpoint(station, setpoint_A, settings)
    gain = setup["preamp_gain_V_per_A"]
    fb.set_bias(settings.V_sp_V)
    ramp_setpoint(station, setpoint_A, check=lambda: check_interlocks(station))
    z = settle_tip_height(station, settings, gain, check)
    current = fb.get_current()
    T_before = station.mixing_chamber_K()
    check_temperature_ceiling(station, T_before)
    tip_x, tip_y = fb.get_tip_position()
    if settings.acquisition in ("controller", "controller_lockin") and abort_requested is not None:
        # Open the link that can stop a controller sweep now, with the loop still closed:
        # trying its ports may take a few timeouts, which must not pass with the tip at fixed z.
        station.sweep_stopper()
    fb.set_feedback(False)

    def interlocks() -> None:
        check_interlocks(station, gain)

    def during_sweep() -> None:
        # A crash with the loop open must stop the sweep at once: the controller has
        # already withdrawn, and the rest of the spectrum would be meaningless.
        check_interlocks(station, gain)
        if check is not None:
            check()

    G_sigma = None
    ramp_info: dict = {}
    ramp_samples = None
    try:
        if settings.acquisition == "controller":
            X, Y = sweep_with_controller(station, settings, abort_requested, interlocks)
            # The controller's demodulator reports the current's first harmonic (A rms).
            G = X / settings.modulation_Vrms
        else:
            if settings.acquisition == "lockin":
                X, Y = sweep_with_lockin(station, settings, gain, during_sweep)
            elif settings.acquisition == "continuous":
                X, Y, sigma_X, ramp_info, ramp_samples = sweep_continuous(
                    station, settings, gain, setup["lockin_sensitivity_V"], during_sweep)
                G_sigma = sigma_X / (gain * settings.modulation_Vrms)
            else:
                X, Y = sweep_with_controller_lockin(
                    station, settings, gain, setup["lockin_sensitivity_V"], abort_requested,
                    during_sweep, interlocks,
                )
            # X is the preamp output's first harmonic: gain * dI/dV * Vmod (all rms).
            G = X / (gain * settings.modulation_Vrms)
        # Checked before the loop closes again: closing it clears the safe-tip status.
        check_interlocks(station, gain)
    except SafeTipEvent:
        raise  # leave the tip where the controller put it; the engine withdraws and pauses
    except BaseException:
        _close_loop(station, settings)
        raise
    _close_loop(station, settings)
    T_after = station.mixing_chamber_K()
    record = {
        "temperature_before_K": T_before,
        "temperature_after_K": T_after,
        "setpoint_A": setpoint_A,
        "bias_setpoint_V": settings.V_sp_V,
        "G_sp_S": abs(current / settings.V_sp_V),
        "z_m": z,
        "tip_x_m": tip_x,
        "tip_y_m": tip_y,
        **setup,
    }
    return Spectrum(settings.bias_V.copy(), G, X, Y, record, G_sigma, ramp_info, ramp_samples)


def _close_loop(station, settings: SpectrumSettings) -> None:
    """Bias back to V_sp, then feedback on: the tip returns to the setpoint height."""
    station.feedback.set_bias(settings.V_sp_V)
    station.feedback.set_feedback(True)
