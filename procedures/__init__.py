"""Measurement procedures: the spectrum sequence, temperature control and the sweep plans."""

from .errors import (
    InterlockError,
    LockInOverload,
    MeasurementError,
    PreampSaturation,
    RetakeNeeded,
    SafeTipEvent,
    SettleTimeout,
    SweepAborted,
    TemperatureCeilingError,
    TemperatureExcursion,
)
from .plan import Point, plan_points, spectrum_settings
from .spectroscopy import take_spectrum
from .spectrum import Spectrum, SpectrumSettings

__all__ = [
    "InterlockError",
    "LockInOverload",
    "MeasurementError",
    "Point",
    "PreampSaturation",
    "RetakeNeeded",
    "SafeTipEvent",
    "SettleTimeout",
    "Spectrum",
    "SpectrumSettings",
    "SweepAborted",
    "TemperatureCeilingError",
    "TemperatureExcursion",
    "plan_points",
    "spectrum_settings",
    "take_spectrum",
]
