"""Thermometers of the simulated fridge: RuOx calibration curves and the Lake Shore channel map.

A RuOx chip follows a variable-range-hopping law, R(T) = R0 * exp((T0 / T)^alpha): monotonic,
steep at low temperature and invertible in closed form, which is all the Lake Shore 372's
curve lookup (KRDG?) needs. Each stage gets its own chip so that the readings differ as they
would on a real fridge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import LabValueError, UnknownSensorError

#: Lake Shore 372 measurement channel -> stage name. Channel 9 is the film's 4-terminal
#: resistance (read with RDGR?; it has no temperature curve).
CHANNEL_SENSORS: dict[int, str] = {
    1: "50K plate",
    2: "4K plate",
    3: "still",
    5: "cold plate",
    6: "mixing chamber",
    9: "film",
}

FILM_SENSOR = "film"
MIXING_CHAMBER = "mixing chamber"


@dataclass(frozen=True)
class RuOxCurve:
    """R(T) = R0_ohm * exp((T0_K / T)^alpha), valid for T in (0, 400] K."""

    R0_ohm: float
    T0_K: float
    alpha: float = 0.5

    def resistance_ohm(self, T_K: float) -> float:
        """Sensor resistance in ohm at temperature T_K (K, > 0)."""
        if not T_K > 0:
            raise LabValueError(f"RuOx temperature must be positive, got {T_K} K")
        return self.R0_ohm * math.exp((self.T0_K / T_K) ** self.alpha)

    def temperature_K(self, R_ohm: float) -> float:
        """Inverse curve: temperature in K for a resistance R_ohm (> R0_ohm)."""
        if not R_ohm > self.R0_ohm:
            raise LabValueError(
                f"RuOx resistance {R_ohm} ohm is below the curve's high-temperature limit "
                f"{self.R0_ohm} ohm"
            )
        return self.T0_K / math.log(R_ohm / self.R0_ohm) ** (1.0 / self.alpha)


# Slightly different chips per stage; R(50 mK) ~ 30 kohm for the mixing chamber, ~1 kohm warm.
RUOX_CURVES: dict[str, RuOxCurve] = {
    "50K plate": RuOxCurve(R0_ohm=990.0, T0_K=0.52),
    "4K plate": RuOxCurve(R0_ohm=1005.0, T0_K=0.55),
    "still": RuOxCurve(R0_ohm=1010.0, T0_K=0.58),
    "cold plate": RuOxCurve(R0_ohm=995.0, T0_K=0.60),
    "mixing chamber": RuOxCurve(R0_ohm=1000.0, T0_K=0.578),
}


def sensor_name(sensor: str | int) -> str:
    """Resolve a sensor given by name or Lake Shore channel number to its stage name."""
    if isinstance(sensor, int) and not isinstance(sensor, bool):
        try:
            return CHANNEL_SENSORS[sensor]
        except KeyError:
            raise UnknownSensorError(
                f"no sensor on Lake Shore channel {sensor}; channels: {sorted(CHANNEL_SENSORS)}"
            ) from None
    if sensor in CHANNEL_SENSORS.values():
        return str(sensor)
    raise UnknownSensorError(
        f"unknown sensor {sensor!r}; known: {', '.join(CHANNEL_SENSORS.values())}"
    )
