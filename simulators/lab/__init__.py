"""The simulated world: sample, tip, STM controller, electronics and dilution fridge.

``VirtualLab`` is the one object the instrument emulators share; see :mod:`.lab`.
"""

from .drift import Surface, ThermalDrift
from .errors import FeedbackError, LabError, LabValueError, UnknownSensorError
from .fridge import RECOMMENDED_HEATER_SETTINGS, HeaterBand, recommended_heater_settings
from .lab import VirtualLab

__all__ = [
    "RECOMMENDED_HEATER_SETTINGS",
    "Surface",
    "ThermalDrift",
    "FeedbackError",
    "HeaterBand",
    "LabError",
    "LabValueError",
    "UnknownSensorError",
    "VirtualLab",
    "recommended_heater_settings",
]
