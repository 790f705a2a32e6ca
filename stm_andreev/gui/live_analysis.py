"""In-line analysis for the live views: -d2G/dV2 per spectrum, Delta_c and E_g.

Cheap per spectrum (a Savitzky-Golay derivative and a peak search, ~2 ms), so it runs in the
GUI process as spectra arrive. It uses :mod:`stm_andreev.analysis` (adaptive Savitzky-Golay
-d2G/dV2 and the symmetric Andreev-pair search); without that package it falls back to a
fixed 30 uV Savitzky-Golay window and the symmetric maxima of -d2G/dV2, and says so in the
``method`` text. The full fits (Dynes/BTK/two-gap, seconds per spectrum) are not run here
for every spectrum: they belong to ``stm-andreev analyze`` and would compete with the
acquisition for the CPU. These are estimates, not fits, and carry no fit grade: the live view
says so next to each number and fits one spectrum (graded) when asked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks, savgol_filter

log = logging.getLogger(__name__)

try:  # the analysis package is optional for the GUI (written in parallel)
    from stm_andreev.analysis.derivative import minus_second_derivative
    from stm_andreev.analysis.peaks import find_andreev_peaks

    HAVE_ANALYSIS = True
except ImportError:  # pragma: no cover - exercised only without stm_andreev.analysis
    HAVE_ANALYSIS = False

FALLBACK_WINDOW_V = 30e-6


@dataclass(frozen=True)
class LiveResult:
    """What the live view shows for one spectrum.

    ``bias_V`` ascending (V) and ``minus_d2G`` (-d2G/dV2 in G0 per V^2) on it; ``delta_c_eV``
    (collective gap from the symmetric -d2G/dV2 maxima inside the gap, eV, None if no pair);
    ``E_g_eV`` (single-particle gap: the outermost symmetric -d2G/dV2 pair, i.e. the
    coherence-peak edge, eV, None if not found); ``method`` says how they were obtained;
    ``delta_c_err_eV`` the noise-limited 1-sigma of Delta_c from the peak curvature (None
    where not estimated: the fallback method, and E_g always).
    """

    bias_V: np.ndarray
    minus_d2G: np.ndarray
    delta_c_eV: float | None
    E_g_eV: float | None
    method: str
    delta_c_err_eV: float | None = None


def _fallback_derivative(V: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(V)
    V, G = V[order], G[order]
    step = float(np.mean(np.diff(V))) if V.size > 1 else 1.0
    window = max(5, int(round(FALLBACK_WINDOW_V / abs(step))) | 1)
    window = min(window, V.size - (1 - V.size % 2))
    if window < 3:
        return V, np.zeros_like(G)
    return V, -savgol_filter(G, window, 2, deriv=2, delta=step, mode="interp")


def _symmetric_maxima(V: np.ndarray, y: np.ndarray) -> list[float]:
    """Half-separations (V) of mirrored pairs of prominent maxima of y, outermost last."""
    scale = float(np.max(np.abs(y))) or 1.0
    idx, _ = find_peaks(y, prominence=0.05 * scale)
    plus = [V[i] for i in idx if V[i] > 0]
    minus = [-V[i] for i in idx if V[i] < 0]
    out = []
    for p in plus:
        close = [m for m in minus if abs(m - p) <= max(30e-6, 0.2 * p)]
        if close:
            m = min(close, key=lambda m: abs(m - p))
            out.append(0.5 * (p + m))
    return sorted(out)


def analyze_live(
    bias_V: np.ndarray, G_G0: np.ndarray, *, tunnelling: bool = False
) -> LiveResult:
    """-d2G/dV2, Delta_c and E_g of one spectrum (bias in V, G in units of 2e^2/h).

    ``tunnelling``: the junction is in tunnelling (G_sp < 0.1 G0), where the one symmetric
    pair of maxima is the coherence-peak edge E_g; in contact a lone pair is Delta_c.
    """
    V = np.asarray(bias_V, dtype=float)
    G = np.asarray(G_G0, dtype=float)
    ok = np.isfinite(V) & np.isfinite(G)
    V, G = V[ok], G[ok]
    if V.size < 7:
        return LiveResult(V, np.full_like(V, np.nan), None, None, "too few points")
    if HAVE_ANALYSIS:
        try:
            peaks = find_andreev_peaks(V, G, source="live")
        except (ValueError, ArithmeticError) as exc:
            log.debug("live analysis failed: %s", exc)
        else:
            sd = peaks.derivative
            E_g = peaks.gap_edge_eV
            if tunnelling and peaks.pairs_eV:
                # Tunnelling sees E_g only: the outermost pair is the coherence-peak edge.
                E_g = max(peaks.pairs_eV)
            shown = peaks.found and not tunnelling
            return LiveResult(
                sd.bias_V,
                sd.minus_d2G,
                peaks.delta_c_eV if shown else None,
                E_g,
                "-d2G/dV2 maxima (stm_andreev.analysis)",
                peaks.delta_c_err_eV if shown else None,
            )
    Vs, d2 = _fallback_derivative(V, G)
    pairs = _symmetric_maxima(Vs, d2)
    E_g = pairs[-1] if pairs and (tunnelling or len(pairs) >= 2) else None
    delta_c = None if tunnelling else (pairs[-2] if len(pairs) >= 2 else
                                        pairs[0] if pairs else None)
    return LiveResult(Vs, d2, delta_c, E_g, "symmetric -d2G/dV2 maxima (Savitzky-Golay 30 uV)")


def minus_d2G(bias_V: np.ndarray, G_G0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bias ascending, -d2G/dV2) for the colour map (adaptive window when available)."""
    if HAVE_ANALYSIS:
        try:
            sd = minus_second_derivative(bias_V, G_G0, source="live")
            return sd.bias_V, sd.minus_d2G
        except (ValueError, ArithmeticError) as exc:
            log.debug("derivative failed: %s", exc)
    return _fallback_derivative(np.asarray(bias_V, float), np.asarray(G_G0, float))
