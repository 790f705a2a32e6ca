"""Measurement procedures: the spectrum sequence, temperature control and the sweep plans."""

from .errors import (
    InterlockError,
    MeasurementError,
    PreampSaturation,
    SafeTipEvent,
    SettleTimeout,
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
    "MeasurementError",
    "OvernightGrid",
    "Point",
    "PositionSurvey",
    "PreampSaturation",
    "SafeTipEvent",
    "SetpointSweep",
    "SettleTimeout",
    "SingleSpectrum",
    "Spectrum",
    "SpectrumSettings",
    "TemperatureCeilingError",
    "TemperatureExcursion",
    "TemperatureSweep",
    "plan_points",
    "take_spectrum",
]
