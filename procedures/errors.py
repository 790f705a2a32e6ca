"""What can interrupt a measurement, in the lab's words. The engine maps each to an action."""

from __future__ import annotations


class MeasurementError(Exception):
    """Base of every error a procedure raises on purpose."""

    #: event kind written to the run's event log
    kind = "error"


class InterlockError(MeasurementError):
    """The tip or the fridge needs protecting: the engine withdraws the tip and pauses."""

    kind = "interlock"


class SafeTipEvent(InterlockError):
    """The controller reported a safe-tip event (tip crash or current overflow)."""

    kind = "safe_tip"


class PreampSaturation(InterlockError):
    """The current preamplifier output is at its rails: the current is not measured."""

    kind = "saturation"


class TemperatureCeilingError(InterlockError):
    """The fridge is above the station's temperature ceiling."""

    kind = "temperature_ceiling"


class SettleTimeout(MeasurementError):
    """Something did not settle in its time (tip height or temperature): fails loudly."""

    kind = "settle_timeout"


class SweepAborted(MeasurementError):
    """A controller-run sweep was stopped because the operator aborted; its partial data are
    not a spectrum. The engine logs it and aborts the run."""

    kind = "sweep_stopped"

    def __init__(self, points_measured: int, points_planned: int) -> None:
        super().__init__(
            f"controller sweep stopped for the abort after {points_measured} of "
            f"{points_planned} points; the partial sweep is not stored"
        )
        self.points_measured = points_measured
        self.points_planned = points_planned


class RetakeNeeded(MeasurementError):
    """The spectrum just measured cannot be trusted, but nothing needs protecting: re-take it."""

    kind = "retake"


class LockInOverload(RetakeNeeded):
    """The lock-in latched an overload while the sweep was read: readings may be clipped."""

    kind = "retake"


class TemperatureExcursion(RetakeNeeded):
    """The temperature left its band while a spectrum was measured: re-take it."""

    kind = "retake"
