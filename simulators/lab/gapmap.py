"""Spatial maps of the gaps over the film: E_g(x, y) and Delta_c(x, y) at T = 0, seeded.

E_g varies strongly with tip position (200-650 ueV on the disordered InO films, Fig. 3), while
Delta_c stays nearly uniform. Each map is a stationary Gaussian random field with a Gaussian
covariance exp(-r^2 / 2 l^2), drawn as a sum of random Fourier modes (cheap to evaluate at any
point, no grid), and conditioned on its value at the origin so that the default tip position
(0, 0) shows the sample preset's E_g(0) and Delta_c(0) (InO-2: 650 ueV like Fig. S2). The
Gaussian field g is mapped to E_g = lo + (hi - lo) * Phi(g): Phi of a unit normal is uniform,
so the gaps spread over the whole range with every value about equally likely.

The spread of Delta_c (rms) and the correlation length of both fields are the sample's
(``delta_c_spread_eV``, ``gap_correlation_length_m``: station-file keys). The presets' spread
is 0: Delta_c is the film's, the same at every position (the paper's +-30 ueV "stems mainly
from the experimental accuracy"; docs/physics.md). Temperature enters
through the sample's own laws (:class:`SampleParameters`): a spot's E_g scales like the
sample's pseudogap and its Delta_c like the sample's collective gap.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from stm_andreev.physics import SampleParameters

_N_MODES = 96
_EDGE_U = 1e-4  # the conditioning target stays this far inside (0, 1) so Phi^-1 is finite


class _RandomField:
    """Unit-variance Gaussian field with covariance exp(-r^2 / 2 l^2), conditioned g(0) = g0."""

    def __init__(self, rng: np.random.Generator, correlation_length_m: float, g0: float) -> None:
        # Wave vectors drawn from the covariance's spectral density (a Gaussian of width 1/l).
        self._k = rng.normal(0.0, 1.0 / correlation_length_m, size=(_N_MODES, 2))
        self._phi = rng.uniform(0.0, 2.0 * math.pi, size=_N_MODES)
        self._l = correlation_length_m
        self._shift = g0 - self._raw(0.0, 0.0)

    def _raw(self, x: float, y: float) -> float:
        phase = self._k[:, 0] * x + self._k[:, 1] * y + self._phi
        return float(math.sqrt(2.0 / _N_MODES) * np.sum(np.cos(phase)))

    def __call__(self, x_m: float, y_m: float) -> float:
        # Kriging with a single conditioning point: add the covariance-weighted correction.
        c = math.exp(-(x_m**2 + y_m**2) / (2.0 * self._l**2))
        return self._raw(x_m, y_m) + c * self._shift


@dataclass(frozen=True)
class LocalGaps:
    """Zero-temperature gaps at one tip position (eV)."""

    Eg0_eV: float
    Delta_c0_eV: float

    @property
    def Delta_p_eV(self) -> float:
        """Pairing gap of this spot, E_g(0) - Delta_c(0) (eV)."""
        return self.Eg0_eV - self.Delta_c0_eV

    def at_temperature(self, sample: SampleParameters, T_K: float) -> tuple[float, float]:
        """(E_g, Delta_c) in eV at temperature T_K, following the sample's temperature laws."""
        if sample.plain_btk:
            g = sample.gap_eV(T_K, self.Eg0_eV)
            return g, g
        return self.Eg0_eV * sample.gap_ratio(T_K), self.Delta_c0_eV * sample.delta_c_ratio(T_K)


class GapMap:
    """Seeded E_g and Delta_c landscape of one sample (positions in m, gaps in eV)."""

    def __init__(
        self,
        sample: SampleParameters,
        seed: int = 0,
    ) -> None:
        self.sample = sample
        correlation_length_m = sample.gap_correlation_length_m
        self.correlation_length_m = correlation_length_m
        self.delta_c_spread_eV = sample.delta_c_spread_eV
        # Different films under the same seed must not share a landscape.
        entropy = [int(seed), zlib.crc32(sample.name.encode())]
        rng_eg, rng_dc = (
            np.random.default_rng(s) for s in np.random.SeedSequence(entropy).spawn(2)
        )
        self._range = sample.Eg_map_range_eV
        self._uniform = self._range is None or sample.plain_btk
        if self._uniform:
            return
        lo, hi = self._range
        u0 = min(max((sample.Eg0_eV - lo) / (hi - lo), _EDGE_U), 1.0 - _EDGE_U)
        self._eg_field = _RandomField(rng_eg, correlation_length_m, float(ndtri(u0)))
        self._dc_field = _RandomField(rng_dc, correlation_length_m, 0.0)
        # Phi(g0) misses an edge value such as 650 ueV by < 1e-4 of the range: correct it.
        self._eg_residual = sample.Eg0_eV - self._eg_from_field(0.0, 0.0)

    def _eg_from_field(self, x_m: float, y_m: float) -> float:
        lo, hi = self._range
        return lo + (hi - lo) * float(ndtr(self._eg_field(x_m, y_m)))

    def gaps_at(self, x_m: float, y_m: float) -> LocalGaps:
        """Zero-temperature E_g and Delta_c at tip position (x_m, y_m)."""
        s = self.sample
        if self._uniform:
            return LocalGaps(s.Eg0_eV, s.gap_eV(0.0) if s.plain_btk else s.Delta_c0_eV)
        lo, hi = self._range
        c = math.exp(-(x_m**2 + y_m**2) / (2.0 * self.correlation_length_m**2))
        eg = min(max(self._eg_from_field(x_m, y_m) + c * self._eg_residual, lo), hi)
        # Delta_c: the sample's spread, clipped at 2.5 sigma, always well inside E_g.
        g = min(max(self._dc_field(x_m, y_m), -2.5), 2.5)
        dc = s.Delta_c0_eV + self.delta_c_spread_eV * g
        dc = min(max(dc, 0.0), 0.9 * eg)
        return LocalGaps(eg, dc)
