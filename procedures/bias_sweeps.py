"""The bias sweep of one spectrum, with the feedback open, in each acquisition mode.

``lockin``: point by point, the bias set by the controller and the external lock-in read
after its filter settles; ``controller``: one controller-run sweep read by the controller's own
demodulator; ``controller_lockin``: one controller-run sweep recording the external lock-in's
analog outputs. :func:`~.spectroscopy.take_spectrum` picks one; each returns (X, Y).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

import numpy as np

from stm_andreev.config.plan import CONTROLLER_SETTLING_S
from stm_andreev.drivers.lockin_filter import SETTLE_FRACTION, settle_time_s
from stm_andreev.drivers.srs_tables import ANALOG_OUTPUT_FULL_SCALE_V

from .abort_watch import StopOnAbort
from .errors import LockInOverload, RetakeNeeded, SweepAborted
from .spectrum import SpectrumSettings

log = logging.getLogger(__name__)

# After a failed sweep call: how long to wait (wall s) for the stopped sweep to end, polling
# its status every STOP_POLL_S (a human-scale wait; the controller stops within a point).
STOP_WAIT_S = 5.0
STOP_POLL_S = 0.05

# Fraction of a step the lock-in output must settle within before it is read (the plan
# estimate predicts the waits with the same fraction).
LOCKIN_SETTLE_FRACTION = SETTLE_FRACTION


# ------------------------------------------------------------------ timing (the estimate's too)
def filter_settle_s(time_constant_s: float, slope_db: int) -> float:
    """How long the lock-in's filter takes to settle to :data:`LOCKIN_SETTLE_FRACTION`, s
    (what the lock-in driver's ``settle_time`` computes for its present filter)."""
    return settle_time_s(time_constant_s, slope_db, LOCKIN_SETTLE_FRACTION)


def point_wait_s(settle_s: float, filter_s: float) -> float:
    """The wait at each bias point with the external lock-in, s. Reading before the filter
    settles gives the previous point's value filtered: wait the filter's settle time
    ``filter_s``, at least the plan's ``settle_s``."""
    return max(settle_s, filter_s)


def sweep_time_s(acquisition: str, n_bias: int, wait_s: float, integration_s: float) -> float:
    """Station time of one bias sweep as the sweeps below take it, s.

    ``wait_s`` is the wait per point: :func:`point_wait_s` with the external lock-in, the
    plan's ``settle_s`` for the controller's own demodulator. Point by point (``lockin``) one
    reading follows each wait; a controller-run sweep integrates ``integration_s`` after it
    and adds the initial and end settling it is sent (:data:`CONTROLLER_SETTLING_S`).
    """
    if acquisition == "continuous":
        raise ValueError("a continuous sweep is timed by continuous.continuous_sweep_time_s")
    if acquisition == "lockin":
        return n_bias * wait_s
    return n_bias * (wait_s + integration_s) + sum(CONTROLLER_SETTLING_S.values())


# ------------------------------------------------------------------ the sweeps
def _lockin_wait_s(lockin, settings: SpectrumSettings) -> float:
    return point_wait_s(settings.settle_s, lockin.settle_time(LOCKIN_SETTLE_FRACTION))


def sweep_with_lockin(station, settings: SpectrumSettings, gain: float, check=None):
    """Point-by-point bias sweep read through the lock-in; returns (X, Y) arrays in V."""
    fb, lockin, clock = station.feedback, station.lockin, station.clock
    wait = _lockin_wait_s(lockin, settings)
    lockin.status_bits()  # clear what latched before the sweep (e.g. during the ramp)
    n = settings.bias_V.size
    X = np.empty(n)
    Y = np.empty(n)
    for i, bias in enumerate(settings.bias_V):
        fb.set_bias(float(bias))
        clock.sleep(wait)
        X[i], Y[i] = lockin.snap_xy()
        if check is not None and i % 32 == 31:
            check()
    if lockin.overloaded():
        if check is not None:
            check()  # a saturated preamp or a tip crash explains an overload: its interlock wins
        # Clipped readings look like a plausible spectrum: never store them as one.
        raise LockInOverload(f"lock-in overload during the sweep at gain {gain:.0e} V/A")
    return X, Y


def controller_sweep(
    station,
    settings: SpectrumSettings,
    settle_s: float,
    abort_requested: Callable[[], bool] | None = None,
    interlocks: Callable[[], None] | None = None,
    **options,
) -> dict[str, np.ndarray]:
    """One controller-run bias sweep over ``settings.bias_V``: channel name -> values.

    ``settle_s`` per point, then ``settings.integration_s``; ``options`` go to the driver's
    ``bias_spectroscopy`` (channels, other timing). The sweep blocks this thread until it
    ends. With ``abort_requested``, a watcher stops it on the controller's second link once
    that returns true, and :class:`SweepAborted` is raised (without the link the abort waits
    for the sweep's end). A sweep stopped on the controller by anyone else is incomplete:
    re-taken. Either way ``interlocks`` runs first: a tip crash also ends a sweep early, and
    its safe-tip event (tip left withdrawn, run paused) must win over a re-take. If the
    sweep call itself fails (a link error), the sweep is stopped on the second link, so the
    controller does not go on sweeping, and later restore its pre-sweep loop state, under
    the safe state the caller then sets.
    """
    n = int(settings.bias_V.size)
    stopper = station.sweep_stopper() if abort_requested is not None else None
    watch = StopOnAbort(abort_requested, stopper.stop_bias_spectroscopy) if stopper else None
    try:
        with watch or contextlib.nullcontext():
            data = station.feedback.bias_spectroscopy(
                float(settings.bias_V[0]),
                float(settings.bias_V[-1]),
                n,
                settle_s,
                settings.integration_s,
                **options,
            )
    except BaseException:  # a link error, or a second Ctrl-C while the sweep runs
        if stopper is not None:
            _stop_and_wait(stopper)
        raise
    measured = min(len(values) for values in data.values())
    if measured < n:
        # A stopped controller returns the points measured so far: never a spectrum.
        if interlocks is not None:
            interlocks()
        if watch is not None and watch.fired:
            raise SweepAborted(measured, n)
        raise RetakeNeeded(f"the controller's sweep stopped after {measured} of {n} points")
    return data


def _stop_and_wait(stopper, timeout_s: float = STOP_WAIT_S) -> None:
    """Stop a sweep the main link lost track of and wait (wall time, bounded) until it ends."""
    deadline = time.monotonic() + timeout_s
    try:
        stopper.stop_bias_spectroscopy()
        while stopper.bias_spectroscopy_running():
            if time.monotonic() > deadline:
                log.warning("the controller's sweep still runs %g s after a Stop", timeout_s)
                return
            time.sleep(STOP_POLL_S)
    except Exception as exc:  # noqa: BLE001 - the original failure is what the caller raises
        log.warning("could not stop the controller's sweep after a failure: %s", exc)


def sweep_with_controller(
    station,
    settings: SpectrumSettings,
    abort_requested: Callable[[], bool] | None = None,
    interlocks: Callable[[], None] | None = None,
):
    """Controller-run sweep read by the controller's own demodulator; returns (X, Y) as
    currents in A (see :func:`controller_sweep` for the abort and the interlocks)."""
    data = controller_sweep(station, settings, settings.settle_s, abort_requested, interlocks,
                            **CONTROLLER_SETTLING_S)
    x_key = next(k for k in data if k.startswith("LI Demod 1 X"))
    y_key = next(k for k in data if k.startswith("LI Demod 1 Y"))
    return np.asarray(data[x_key], dtype=float), np.asarray(data[y_key], dtype=float)


def sweep_with_controller_lockin(
    station,
    settings: SpectrumSettings,
    gain: float,
    sensitivity_V: float,
    abort_requested: Callable[[], bool] | None = None,
    check: Callable[[], None] | None = None,
    interlocks: Callable[[], None] | None = None,
):
    """Controller-run sweep recording the lock-in's X and Y outputs; returns (X, Y) in V rms.

    The controller settles at each point as long as :func:`sweep_with_lockin` waits (the
    filter's settle time, at least ``settle_s``), then averages ``integration_s``; the
    lock-in's outputs give 10 V at its full scale ``sensitivity_V``. A reading at or beyond
    full scale (where the lock-in flags an output overload, further up its outputs clip, and
    a controller input with a +-10 V range may rail) or an overload latched during the sweep
    raises :class:`LockInOverload` (see :func:`controller_sweep` for the abort).
    """
    lockin = station.lockin
    signals = station.lockin_output_signals
    wait = _lockin_wait_s(lockin, settings)
    lockin.status_bits()  # clear what latched before the sweep (e.g. during the ramp)
    data = controller_sweep(station, settings, wait, abort_requested, interlocks,
                            channels=list(signals), **CONTROLLER_SETTLING_S)
    V_x, V_y = (np.asarray(data[signal], dtype=float) for signal in signals)
    largest_V = float(max(np.max(np.abs(V_x)), np.max(np.abs(V_y))))
    overloaded = lockin.overloaded()
    if overloaded or largest_V >= ANALOG_OUTPUT_FULL_SCALE_V:
        if check is not None:
            check()  # a saturated preamp or a tip crash explains an overload: its interlock wins
        # Clipped readings look like a plausible spectrum: never store them as one.
        raise LockInOverload(
            f"lock-in overload during the controller's sweep at gain {gain:.0e} V/A "
            f"(outputs up to {largest_V:.3g} V of {ANALOG_OUTPUT_FULL_SCALE_V:g} V full scale"
            f"{', status latched' if overloaded else ''})"
        )
    to_V_rms = sensitivity_V / ANALOG_OUTPUT_FULL_SCALE_V
    return V_x * to_V_rms, V_y * to_V_rms
