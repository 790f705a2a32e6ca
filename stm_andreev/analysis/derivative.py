"""-d2G/dV2 by a Savitzky-Golay derivative whose window adapts to point spacing and noise.

The window spans ~30 uV on clean data and grows to ~60 uV on noisy data: Andreev peaks
smeared by 65 mK and a 10-30 uV rms modulation are 30-80 uV wide, so a wider window would
shift and flatten them while a narrower one amplifies noise as 1/h^2. The window never has
fewer than 5 points (quadratic fit), so on coarse sweeps (h > 12 uV) it spans 5 points.

When the spectrum's smearing is known (``smearing_fwhm_V``: the FWHM of the thermal kernel,
3.53 k_B T, combined in quadrature with the lock-in kernel's, 2.45 Vrms), the window spans at
least ``SMEARING_WINDOW_FRACTION`` of it: no feature of a measured spectrum is narrower than
its smearing, so at 0.5 Tc of a 1.5 K film (FWHM 230 uV) a 5-point window on a 10 uV grid only
adds noise (it grows as window^-2.5) while a 13-point one moves a smeared peak by ~1 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.signal import savgol_coeffs, savgol_filter

from stm_andreev.physics.constants import K_B_EV_PER_K

from .errors import AnalysisInputError

MIN_WINDOW_V = 30e-6
MAX_WINDOW_V = 60e-6
SMEARING_WINDOW_FRACTION = 0.5
_POLYORDER = 2  # for the 2nd derivative of a centred window, order 3 gives the same result
_MIN_POINTS = 5
# Relative noise (noise / conductance range) at which the window starts to grow and at which
# it reaches MAX_WINDOW_V (log-linear in between).
_NOISE_LOW, _NOISE_HIGH = 1e-4, 1e-2


@dataclass(frozen=True)
class SecondDerivative:
    """-d2G/dV2 on a uniform bias grid.

    ``bias_V`` ascending and uniform (V); ``G`` the conductance resampled on it; ``minus_d2G``
    -d2G/dV2 in units of G per V^2; ``noise_G`` the estimated white noise of G; ``noise_d2``
    the resulting standard deviation of each -d2G/dV2 value; ``window`` in points.
    """

    bias_V: np.ndarray
    G: np.ndarray
    minus_d2G: np.ndarray
    noise_G: float
    noise_d2: float
    window: int
    step_V: float


def uniform_grid(bias_V: ArrayLike, G: ArrayLike, *, source: str = "spectrum"):
    """(V, G) sorted ascending on a uniform grid; a non-uniform sweep is interpolated linearly
    onto the same number of points. Duplicate biases (e.g. a forward and backward sweep) are
    averaged. Raises AnalysisInputError for fewer than 7 distinct points or a zero range."""
    V = np.asarray(bias_V, dtype=float).ravel()
    g = np.asarray(G, dtype=float).ravel()
    if V.shape != g.shape:
        raise AnalysisInputError(f"{source}: bias has {V.size} points but G has {g.size}")
    ok = np.isfinite(V) & np.isfinite(g)
    V, g = V[ok], g[ok]
    uniq, inverse = np.unique(V, return_inverse=True)
    if uniq.size < 2 * _MIN_POINTS - 3:
        raise AnalysisInputError(
            f"{source}: {uniq.size} distinct finite bias points; expected at least "
            f"{2 * _MIN_POINTS - 3} to take a second derivative"
        )
    if uniq.size != V.size:
        g = np.bincount(inverse, weights=g) / np.bincount(inverse)
    else:
        g = g[np.argsort(V)]
    step = (uniq[-1] - uniq[0]) / (uniq.size - 1)
    d = np.diff(uniq)
    if np.allclose(d, step, rtol=1e-6, atol=0):
        return uniq, g
    grid = uniq[0] + step * np.arange(uniq.size)
    return grid, np.interp(grid, uniq, g)


def estimate_noise(G: ArrayLike) -> float:
    """White-noise standard deviation of a smooth signal sampled with noise, in units of G.

    From the median absolute value of the second differences (var = 6 sigma^2 for white
    noise): the median ignores the few points where the signal itself curves sharply.
    """
    d2 = np.diff(np.asarray(G, dtype=float), n=2)
    if d2.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6.0))


def choose_window(step_V: float, noise_rel: float, smearing_fwhm_V: float | None = None) -> int:
    """Odd Savitzky-Golay window (points) spanning 30-60 uV, wider for noisier data, and at
    least ``SMEARING_WINDOW_FRACTION`` of the smearing FWHM when that is given.

    ``step_V`` the bias step (V); ``noise_rel`` the noise relative to the conductance range.
    """
    x = np.log10(max(noise_rel, 1e-12) / _NOISE_LOW) / np.log10(_NOISE_HIGH / _NOISE_LOW)
    span = MIN_WINDOW_V + (MAX_WINDOW_V - MIN_WINDOW_V) * float(np.clip(x, 0.0, 1.0))
    if smearing_fwhm_V is not None and np.isfinite(smearing_fwhm_V):
        span = max(span, SMEARING_WINDOW_FRACTION * float(smearing_fwhm_V))
    n = int(round(span / step_V)) + 1
    n += (n + 1) % 2  # odd
    return max(_MIN_POINTS, n)


def minus_second_derivative(
    bias_V: ArrayLike, G: ArrayLike, *, window: int | None = None, source: str = "spectrum",
    smearing_fwhm_V: float | None = None,
) -> SecondDerivative:
    """-d2G/dV2 of a spectrum (any bias order, any spacing) by Savitzky-Golay.

    ``window`` (odd, >= 5 points) overrides the adaptive choice; ``smearing_fwhm_V`` (see
    :func:`smearing_width_V`) sets its lower bound.
    """
    V, g = uniform_grid(bias_V, G, source=source)
    step = float(V[1] - V[0])
    noise = estimate_noise(g)
    span = float(np.ptp(g)) or 1.0
    if window is None:
        window = choose_window(step, noise / span, smearing_fwhm_V)
    if window < _MIN_POINTS or window % 2 == 0:
        raise ValueError(f"window must be odd and >= {_MIN_POINTS}, got {window}")
    window = min(window, V.size - (1 - V.size % 2))
    d2 = -savgol_filter(g, window, _POLYORDER, deriv=2, delta=step, mode="interp")
    coeffs = savgol_coeffs(window, _POLYORDER, deriv=2, delta=step)
    noise_d2 = noise * float(np.sqrt(np.sum(coeffs**2)))
    return SecondDerivative(V, g, d2, noise, noise_d2, window, step)


def smearing_width_V(T_K: float, Vmod_rms_V: float) -> float:
    """FWHM (V) of a spectrum's smearing: thermal (3.5255 k_B T / e) and lock-in (sqrt(6)
    Vrms) in quadrature."""
    return float(np.hypot(3.5255 * K_B_EV_PER_K * max(T_K, 0.0),
                          np.sqrt(6.0) * max(Vmod_rms_V, 0.0)))
