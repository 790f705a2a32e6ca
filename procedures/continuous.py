"""``acquisition: continuous``: the bias walks through the grid faster than the lock-in filter
settles while the SR860's capture buffer records X and Y; G on the grid is recovered by
inverting the known filter (:mod:`.ramp_estimator`, docs/continuous.md).

The lock-in is set as in ``lockin`` mode. The bias is set to each grid value in turn (one
``Bias.Set`` per point, on a schedule kept against the station clock so query latency does
not accumulate), spending ``ramp_dwell_fraction`` of the filter's settle time at each; the
first and last points are held one settle time longer so they are as well determined as the
rest. With ``ramp_directions: forward_backward`` the walk goes up the grid and back down, and
both passes are estimated jointly (one value per grid point). Sample times follow from the capture start and the capture rate; the times the bias
reached each grid value are recorded as it is set.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stm_andreev.drivers.lockin_filter import enbw_Hz, filter_stages, settle_time_s
from stm_andreev.storage.ramp_samples import RampSamples

from .errors import LockInOverload
from .ramp_estimator import estimate, estimator_text, resolution_limit_V
from .spectrum import SpectrumSettings

log = logging.getLogger(__name__)

#: Capture buffer limits of the SR860 (kB) and bytes per sample with X and Y (two float32).
MAX_CAPTURE_KB = 4096
BYTES_PER_XY_SAMPLE = 8
#: Extra buffer beyond the planned samples (latency of the last Bias.Set, the stop).
CAPTURE_MARGIN = 1.1
#: Settle fraction the dwell is a fraction of: the point-by-point wait's.
SETTLE_FRACTION = 1e-3
#: Extra holds at the first and last point, in filter settle times.
END_HOLD_SETTLES = 1.0


class ContinuousUnsupported(ValueError):
    """The station cannot take continuous spectra (no capture buffer on its lock-in)."""


@dataclass(frozen=True)
class RampPlan:
    """When the bias reaches each grid point, relative to the first (s), and the total."""

    offsets_s: np.ndarray
    total_s: float
    dwell_s: float
    settle_s: float


def ramp_plan(n_bias: int, time_constant_s: float, slope_db: int,
              dwell_fraction: float, noise_ratio: float | None = None) -> RampPlan:
    """The schedule of one continuous sweep (the plan estimate uses the same). The dwell per
    point is ``dwell_fraction`` of the filter's settle time, or, with ``noise_ratio``, the
    time 1 / (2 ENBW noise_ratio^2) that gives that noise per point at full grid resolution
    relative to one settled reading (docs/continuous.md)."""
    settle = settle_time_s(time_constant_s, slope_db, SETTLE_FRACTION)
    if noise_ratio is not None:
        dwell = 1.0 / (2.0 * enbw_Hz(time_constant_s, slope_db) * noise_ratio ** 2)
    else:
        dwell = dwell_fraction * settle
    hold = END_HOLD_SETTLES * settle
    offsets = hold + dwell * np.arange(n_bias, dtype=float)
    offsets[0] = 0.0
    return RampPlan(offsets, float(offsets[-1] + dwell + hold), dwell, settle)


def grid_walk(n_bias: int, directions: str) -> np.ndarray:
    """The grid index of each bias step: up the grid, or up and back down."""
    if directions not in ("forward", "forward_backward"):
        raise ValueError(f"ramp directions must be forward or forward_backward, got "
                         f"{directions!r}")
    up = np.arange(n_bias)
    return up if directions == "forward" else np.concatenate([up, up[-2::-1]])


def continuous_sweep_time_s(n_bias: int, time_constant_s: float, slope_db: int,
                            dwell_fraction: float, directions: str = "forward",
                            noise_ratio: float | None = None) -> float:
    """Station time of one continuous sweep, s."""
    steps = grid_walk(n_bias, directions).size
    return ramp_plan(steps, time_constant_s, slope_db, dwell_fraction, noise_ratio).total_s


def sweep_continuous(station, settings: SpectrumSettings, gain: float,
                     sensitivity_V: float, check: Callable[[], None] | None = None):
    """Ramp through ``settings.bias_V`` recording the capture buffer; returns
    (X, Y, sigma_X, info, samples): X, Y in V rms on the grid, sigma_X one standard deviation
    of X, info a dict of scalars for the spectrum's record, samples the raw capture and the
    bias walk (:class:`~stm_andreev.storage.ramp_samples.RampSamples`, times from the capture
    start) that the estimate came from."""
    fb, lockin, clock = station.feedback, station.lockin, station.clock
    if not hasattr(lockin, "start_capture"):
        raise ContinuousUnsupported(
            f"acquisition: continuous needs a lock-in with a capture buffer (SR860); the "
            f"station's lock-in is {type(lockin).__name__}")
    tau, slope = float(lockin.time_constant), int(lockin.filter_slope)
    bias = np.asarray(settings.bias_V, dtype=float)
    walk = grid_walk(bias.size, settings.ramp_directions)
    plan = ramp_plan(walk.size, tau, slope, settings.ramp_dwell_fraction,
                     settings.ramp_noise_ratio)
    lockin.capture_quantities = "XY"
    lockin.capture_rate_exponent = 0
    rate = float(lockin.capture_rate_Hz)
    n_expected = plan.total_s * rate * CAPTURE_MARGIN + 16
    length_kB = math.ceil(n_expected * BYTES_PER_XY_SAMPLE / 1024)
    if length_kB > MAX_CAPTURE_KB:
        raise ContinuousUnsupported(
            f"a {plan.total_s:.4g} s ramp at {rate:.4g} Hz needs {length_kB} kB of capture "
            f"buffer, more than the SR860's {MAX_CAPTURE_KB} kB: take fewer points or a "
            f"shorter time constant")
    lockin.capture_length_kB = max(1, length_kB)
    lockin.status_bits()  # clear what latched before the sweep (e.g. during the ramp)
    lockin.start_capture()
    t_capture = clock.now()
    step_t = np.empty(walk.size)
    for i, value in enumerate(bias[walk]):
        wait = t_capture + plan.offsets_s[i] - clock.now()
        if wait > 0:
            clock.sleep(wait)
        fb.set_bias(float(value))
        step_t[i] = clock.now()
        if check is not None and i % 32 == 31:
            check()
    wait = t_capture + plan.total_s - clock.now()
    if wait > 0:
        clock.sleep(wait)
    lockin.stop_capture()
    data = lockin.read_capture()
    X_s, Y_s = data["X"], data["Y"]
    # sample k (from 0) is taken one period after the previous, the first one period after
    # the start (docs/continuous.md: on hardware the start is known to one query's latency)
    sample_t = t_capture + (np.arange(X_s.size) + 1.0) / rate
    clipped = bool(X_s.size) and float(max(np.max(np.abs(X_s)), np.max(np.abs(Y_s)))) \
        >= sensitivity_V
    if lockin.overloaded() or clipped:
        if check is not None:
            check()  # a saturated preamp or a tip crash explains an overload: its interlock wins
        raise LockInOverload(
            f"lock-in overload during the continuous ramp at gain {gain:.0e} V/A"
            f"{' (captured outputs at full scale)' if clipped else ''}")
    result = estimate(sample_t, np.column_stack([X_s, Y_s]), step_t, tau, slope,
                      grid_index=walk)
    step_V = abs(float(bias[1] - bias[0])) if bias.size > 1 else 0.0
    rate_V_per_s = step_V / plan.dwell_s
    info = {
        "ramp_time_s": plan.total_s,
        "ramp_directions": settings.ramp_directions,
        "ramp_dwell_s": plan.dwell_s,
        "capture_rate_Hz": rate,
        "capture_samples": int(X_s.size),
        "ramp_regularisation": result.lam,
        "ramp_width_points_median": float(np.median(result.width_points)),
        "ramp_resolution_V": max(step_V, resolution_limit_V(rate_V_per_s, tau, slope)),
        "ramp_noise_rms_V": float(result.noise_rms[0]),
        # the run file's ramp columns (storage.layout.RAMP_COLUMNS)
        "ramp_rate_V_per_s": rate_V_per_s,
        "ramp_passes": 2 if settings.ramp_directions == "forward_backward" else 1,
        "ramp_filter_delay_s": filter_stages(slope) * tau,
        "ramp_estimator": estimator_text(),
    }
    log.info("continuous ramp: %d samples over %.3g s, lam %.3g, width %.2f points",
             X_s.size, plan.total_s, result.lam, info["ramp_width_points_median"])
    samples = RampSamples(sample_t - t_capture, np.asarray(X_s), np.asarray(Y_s),
                          step_t - t_capture, bias[walk], tau, slope)
    return result.values[:, 0], result.values[:, 1], result.sigma[:, 0], info, samples
