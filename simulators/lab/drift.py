"""Where the sample is under the tip: surface topography and thermal drift, both seeded.

The piezo puts the tip at a commanded lab-frame position; the sample under it has drifted by
``d(t)`` since the lab started (thermal expansion of the STM body as the fridge and the
piezo settle), so the tip sits over the sample point ``commanded - d_xy(t)``, and the surface
has moved up by ``d_z(t)``. Gaps (:mod:`.gapmap`) and topography are looked up at that sample
point. The drift is a constant velocity plus a slow seeded wander (a sine of random phase per
axis), both zero unless the station file's ``simulation.drift`` gives them.

The topography is a smooth Gaussian random field of rms ``rms_m`` and correlation length
``correlation_length_m`` (the same random-mode construction as the gap map): something for a
drift reference line to recognise. Flat unless ``simulation.surface`` gives it.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from .gapmap import _RandomField

#: The lab re-reads the gaps under the tip when the drift has moved the sample this far
#: laterally (m): finer steps change nothing a spectrum can see and would defeat the model
#: caches. The surface height under the tip (topography plus vertical drift) follows in steps
#: of at most VERTICAL_STEP_M: the tunnel current goes as exp(-2 kappa z), so a 0.2 pm step
#: is a 0.4 % step of G while the loop is open.
LATERAL_STEP_M = 0.1e-9
VERTICAL_STEP_M = 0.2e-12


@dataclass(frozen=True)
class ThermalDrift:
    """Drift of the sample relative to the piezo's frame, m, as a function of station time."""

    velocity_m_per_s: tuple[float, float, float] = (0.0, 0.0, 0.0)
    wander_m: float = 0.0
    wander_period_s: float = 3600.0
    seed: int = 0
    start_s: float = 0.0

    def _phases(self) -> np.ndarray:
        rng = np.random.default_rng([int(self.seed), zlib.crc32(b"drift")])
        return rng.uniform(0.0, 2.0 * math.pi, size=3)

    def offset_m(self, t_s: float) -> tuple[float, float, float]:
        """(dx, dy, dz) at station time ``t_s``; zero at ``start_s``."""
        dt = t_s - self.start_s
        out = [v * dt for v in self.velocity_m_per_s]
        if self.wander_m:
            w = 2.0 * math.pi / self.wander_period_s
            for i, phi in enumerate(self._phases()):
                out[i] += self.wander_m * (math.sin(w * dt + phi) - math.sin(phi))
        return out[0], out[1], out[2]

    @property
    def active(self) -> bool:
        return any(self.velocity_m_per_s) or self.wander_m > 0


class Surface:
    """Seeded topography h(x, y) of the sample, m (flat when ``rms_m`` is 0)."""

    def __init__(self, rms_m: float = 0.0, correlation_length_m: float = 3e-9,
                 seed: int = 0) -> None:
        self.rms_m = float(rms_m)
        self.correlation_length_m = float(correlation_length_m)
        rng = np.random.default_rng([int(seed), zlib.crc32(b"surface")])
        self._field = _RandomField(rng, self.correlation_length_m, 0.0) if self.rms_m else None

    def height_m(self, x_m: float, y_m: float) -> float:
        """Surface height at sample point (x, y), m."""
        if self._field is None:
            return 0.0
        return self.rms_m * self._field(x_m, y_m)
