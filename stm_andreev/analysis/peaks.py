"""Andreev-peak extraction: the symmetric pair of -d2G/dV2 maxima inside the single-particle gap.

A pair is accepted only when both maxima stand out of the derivative's noise (prominence
above ``min_snr`` times the noise of -d2G/dV2 and above ``min_rel_prominence`` of the largest
structure, the coherence peaks) and their positions agree within ``symmetry_tol``. The
coherence-peak maxima at about +-E_g are excluded by searching only |V| < ``inner_fraction``
E_g, and a lone zero-bias maximum (the merged peaks near Tc) is not a pair. "No Andreev peaks"
is a normal answer: tunnelling spectra, plain-BTK films (InO-4) and spectra above Tc have none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.signal import find_peaks

from .derivative import SecondDerivative, minus_second_derivative

MIN_SNR = 8.0
MIN_REL_PROMINENCE = 0.03
INNER_FRACTION = 0.85
SYMMETRY_TOL_V = 30e-6
SYMMETRY_TOL_REL = 0.2
EDGE_SNR_FACTOR = 1.5


@dataclass(frozen=True)
class AndreevPeaks:
    """Outcome of the peak search.

    ``found``: a symmetric in-gap pair exists. Then ``delta_c_eV`` = (V+ - V-)/2 (eV) and
    ``delta_c_err_eV`` combines half the difference of |V+| and |V-| with each position's
    noise-limited uncertainty (from the peak curvature). ``gap_edge_eV``: the E_g used to bound
    the search (given, or the outermost of two or more strong symmetric pairs; None when
    there is a single pair, which alone cannot be told from the gap edge). ``pairs_eV``: the
    half-separations of every symmetric pair of prominent maxima, strongest first (seeds for
    the two-gap fit). ``reason`` says why no
    pair was accepted. ``zero_bias_peak``: a lone maximum at V = 0 (merged peaks near Tc).
    """

    found: bool
    delta_c_eV: float | None
    delta_c_err_eV: float | None
    V_plus_V: float | None
    V_minus_V: float | None
    snr: float | None
    gap_edge_eV: float | None
    zero_bias_peak: bool
    reason: str
    pairs_eV: tuple[float, ...]
    derivative: SecondDerivative


def _refine(V: np.ndarray, y: np.ndarray, i: int, noise: float) -> tuple[float, float]:
    """Sub-grid position of the maximum at index i (parabola through 3 points) and its
    noise-limited standard deviation (V)."""
    h = V[1] - V[0]
    if i <= 0 or i >= len(y) - 1:
        return float(V[i]), float(h)
    y0, y1, y2 = y[i - 1 : i + 2]
    curvature = y0 - 2 * y1 + y2  # < 0 at a maximum
    if curvature >= 0:
        return float(V[i]), float(h)
    offset = 0.5 * (y0 - y2) / curvature
    sigma = h * np.sqrt(2.0) * noise / (2.0 * abs(curvature))
    return float(V[i] + offset * h), float(min(sigma, h))


def _symmetric_pairs(V: np.ndarray, idx: list[int], prominence: dict[int, float]):
    """All (strength, i_plus, i_minus) pairs of maxima mirrored about V = 0 within tolerance,
    strongest first; each maximum is used at most once."""
    plus = [i for i in idx if V[i] > 0]
    minus = [i for i in idx if V[i] < 0]
    candidates = []
    for ip in plus:
        for im in minus:
            if abs(V[ip] + V[im]) <= max(SYMMETRY_TOL_V, SYMMETRY_TOL_REL * V[ip]):
                candidates.append((min(prominence[ip], prominence[im]), ip, im))
    candidates.sort(reverse=True)
    used: set[int] = set()
    pairs = []
    for strength, ip, im in candidates:
        if ip not in used and im not in used:
            pairs.append((strength, ip, im))
            used.update((ip, im))
    return pairs


def find_andreev_peaks(
    bias_V: ArrayLike,
    G: ArrayLike,
    *,
    E_g_eV: float | None = None,
    min_snr: float = MIN_SNR,
    min_rel_prominence: float = MIN_REL_PROMINENCE,
    inner_fraction: float = INNER_FRACTION,
    window: int | None = None,
    source: str = "spectrum",
    smearing_fwhm_V: float | None = None,
) -> AndreevPeaks:
    """Find the Andreev pair in a spectrum G(V) (any units; bias in V, any order).

    ``E_g_eV``: the single-particle gap if known (e.g. from a fit); otherwise the outermost
    prominent -d2G/dV2 maxima stand for it. Energies returned in eV (bias in V times e).
    ``smearing_fwhm_V``: the spectrum's smearing width (derivative.smearing_width_V), the
    lower bound of the derivative's window.
    """
    sd = minus_second_derivative(bias_V, G, window=window, source=source,
                                 smearing_fwhm_V=smearing_fwhm_V)
    V, y = sd.bias_V, sd.minus_d2G
    h = sd.step_V
    scale = float(np.max(np.abs(y))) or 1.0
    threshold = max(min_snr * sd.noise_d2, min_rel_prominence * scale)
    idx, props = find_peaks(y, prominence=threshold)
    prominence = dict(zip(idx.tolist(), props["prominences"].tolist(), strict=True))
    # A lone maximum within a window of V = 0 is the merged pair (near Tc), not a pair.
    exclusion = max(sd.window * h / 2.0, 2.0 * h)
    zero_bias = any(abs(V[i]) <= exclusion for i in idx)
    pairs = _symmetric_pairs(V, [i for i in idx if abs(V[i]) > exclusion], prominence)
    gap = E_g_eV
    if gap is None and len(pairs) >= 2:
        # Without a fitted E_g, the outermost strong pair stands for the coherence peaks.
        # Noise rarely makes a mirrored pair, and never a strong one.
        strong = [p for p in pairs if p[0] >= EDGE_SNR_FACTOR * threshold] or pairs
        gap = float(max(V[ip] - V[im] for _, ip, im in strong) / 2.0)

    def result(reason: str, **found) -> AndreevPeaks:
        base = dict(found=False, delta_c_eV=None, delta_c_err_eV=None, V_plus_V=None,
                    V_minus_V=None, snr=None)
        base.update(found)
        return AndreevPeaks(gap_edge_eV=gap, zero_bias_peak=zero_bias, reason=reason,
                            pairs_eV=tuple(float(V[ip] - V[im]) / 2.0 for _, ip, im in pairs),
                            derivative=sd, **base)

    if not pairs:
        return result("no symmetric pair of prominent -d2G/dV2 maxima")
    if gap is None:
        return result("a single symmetric pair: without E_g it cannot be told from the gap edge")
    inner = [p for p in pairs if (V[p[1]] - V[p[2]]) / 2.0 < inner_fraction * gap]
    if not inner:
        return result("no symmetric pair inside the single-particle gap")
    strength, ip, im = inner[0]
    vp, sp = _refine(V, y, ip, sd.noise_d2)
    vm, sm = _refine(V, y, im, sd.noise_d2)
    delta = (vp - vm) / 2.0
    asym = abs(vp + vm) / 2.0
    # Half the +/- disagreement, each position's curvature-based noise, and a floor for the
    # parabolic interpolation on a grid of step h.
    err = float(np.sqrt(asym**2 + (sp**2 + sm**2) / 4.0 + h**2 / 24.0))
    snr = strength / sd.noise_d2 if sd.noise_d2 > 0 else float("inf")
    return result("symmetric in-gap pair", found=True, delta_c_eV=float(delta),
                  delta_c_err_eV=err, V_plus_V=vp, V_minus_V=vm, snr=float(snr))
