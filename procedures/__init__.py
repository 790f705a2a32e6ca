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
from .spectroscopy import Spectrum, SpectrumSettings, take_spectrum
from .sweeps import (
    PROCEDURES,
    OvernightGrid,
    Point,
    PositionSurvey,
    SetpointSweep,
    SingleSpectrum,
    TemperatureSweep,
    plan_points,
)

__all__ = [
    "PROCEDURES",
    "InterlockError",
    "LockInOverload",
    "MeasurementError",
    "OvernightGrid",
    "Point",
    "PositionSurvey",
    "PreampSaturation",
    "RetakeNeeded",
    "SafeTipEvent",
    "SetpointSweep",
    "SettleTimeout",
    "SingleSpectrum",
    "Spectrum",
    "SpectrumSettings",
    "SweepAborted",
    "TemperatureCeilingError",
    "TemperatureExcursion",
    "TemperatureSweep",
    "plan_points",
    "take_spectrum",
]
