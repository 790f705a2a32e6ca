"""Temperature series: Delta_c(T), where the Andreev peaks vanish, and Tc from R(T).

Tc follows the paper's definition (Fig. S1): the linear extrapolation of the resistive drop to
R = 0, a straight line fitted through the middle of the drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .errors import AnalysisInputError
from .results import SpectrumResult


@dataclass(frozen=True)
class TcResult:
    """Tc (K) from R(T): the line R = slope (T - Tc) along the drop, from ``n_points``
    measured points of it, and the peak resistance ``R_max_ohm`` (reached at ``T_max_K``)."""

    Tc_K: float
    slope_ohm_per_K: float
    R_max_ohm: float
    T_max_K: float
    n_points: int


DROP_BAND = (0.3, 0.7)
WIDE_BAND = (0.1, 0.9)


def tc_from_resistance(T_K: ArrayLike, R_ohm: ArrayLike, *,
                       band: tuple[float, float] = DROP_BAND) -> TcResult:
    """Tc by linear extrapolation of the resistive drop to R = 0 (the paper's Fig. S1).

    The drop is the part of R(T) below the temperature of the resistance maximum (found on
    a 5-point running median, so one noisy reading cannot fake it); the line is fitted to
    the points between ``band`` = (0.3, 0.7) of that maximum, where the drop is straightest;
    with 8 or more points between 0.1 and 0.9 of it, a cubic through those gives the tangent
    at the steepest point instead (exact for the presets' R(T)).
    With fewer than two points there (a transition sharper than the sampling), the line runs
    through the two readings bracketing half the maximum. Needs >= 5 finite points; raises
    AnalysisInputError when there is no drop.
    """
    T = np.asarray(T_K, dtype=float).ravel()
    R = np.asarray(R_ohm, dtype=float).ravel()
    ok = np.isfinite(T) & np.isfinite(R)
    order = np.argsort(T[ok], kind="stable")
    T, R = T[ok][order], R[ok][order]
    if T.size < 5:
        raise AnalysisInputError(f"R(T) needs at least 5 finite points, got {T.size}")
    padded = np.pad(R, 2, mode="edge")
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
    k = int(np.argmax(smooth))
    R_max, T_max = float(smooth[k]), float(T[k])
    below = T <= T_max
    lo, hi = band
    inside = below & (R >= lo * R_max) & (R <= hi * R_max)
    wide = below & (R >= WIDE_BAND[0] * R_max) & (R <= WIDE_BAND[1] * R_max)
    if wide.sum() >= 8:
        # Enough points to see the drop's curvature: the tangent at its inflection (the
        # steepest point) of a cubic through the wider band; a straight line through the
        # band would be 5 % shallower on a tanh-like drop and move Tc by a few mK.
        t0 = float(np.mean(T[wide]))
        c3, c2, c1, c0 = np.polyfit(T[wide] - t0, R[wide], 3)
        x = float(np.clip(-c2 / (3 * c3), np.min(T[wide]) - t0, np.max(T[wide]) - t0)) \
            if c3 != 0 else 0.0
        slope = 3 * c3 * x**2 + 2 * c2 * x + c1
        intercept = (c3 * x**3 + c2 * x**2 + c1 * x + c0) - slope * (x + t0)
        n = int(wide.sum())
    elif inside.sum() >= 2 and np.ptp(T[inside]) > 0:
        slope, intercept = np.polyfit(T[inside], R[inside], 1)
        n = int(inside.sum())
    else:
        # The last crossing of R_max/2 on the way up to the maximum.
        half = 0.5 * R_max
        up = np.flatnonzero(below[:-1] & (R[:-1] < half) & (R[1:] >= half))
        if up.size == 0:
            raise AnalysisInputError("R(T) has no resistive drop (R never falls below half "
                                     "its maximum on cooling)")
        i = int(up[-1])
        slope = (R[i + 1] - R[i]) / (T[i + 1] - T[i])
        intercept = R[i] - slope * T[i]
        n = 2
    if not slope > 0:
        raise AnalysisInputError("R(T) has no resistive drop (R does not rise with T below "
                                 "its maximum)")
    return TcResult(Tc_K=float(-intercept / slope), slope_ohm_per_K=float(slope),
                    R_max_ohm=R_max, T_max_K=T_max, n_points=n)


@dataclass(frozen=True)
class TemperatureSeries:
    """Delta_c versus T for one contact, sorted by T.

    ``T_vanish_K``: midway between the last temperature with Andreev peaks and the first one
    above it without (None if they never vanish in the series, or are never seen).
    ``T_vanish_over_Tc``: the same over Tc when Tc is known.
    """

    T_K: np.ndarray
    delta_c_eV: np.ndarray  # NaN where no peaks
    delta_c_err_eV: np.ndarray
    delta_c_fit_eV: np.ndarray  # two-gap fit's Delta_c, NaN where that model was not used
    T_last_peaks_K: float | None
    T_first_without_K: float | None
    T_vanish_K: float | None
    Tc_K: float | None
    T_vanish_over_Tc: float | None
    # Where the two-gap fit's Delta_c closes (the Andreev signal itself, peaks merged or not):
    # midway between the last temperature with a fitted Delta_c > 0 and the next one.
    T_fit_vanish_K: float | None = None
    T_fit_vanish_over_Tc: float | None = None


def temperature_series(results: Sequence[SpectrumResult], *,
                       Tc_K: float | None = None) -> TemperatureSeries:
    """Collect Delta_c(T) from per-spectrum results and find where the peaks vanish."""
    if not results:
        raise AnalysisInputError("temperature series: no spectra")
    order = sorted(range(len(results)), key=lambda i: results[i].T_K)
    T = np.array([results[i].T_K for i in order])
    dc = np.array([np.nan if results[i].delta_c_eV is None else results[i].delta_c_eV
                   for i in order])
    err = np.array([np.nan if results[i].delta_c_err_eV is None else results[i].delta_c_err_eV
                    for i in order])
    fit = np.array([np.nan if results[i].delta_c_fit_eV is None else results[i].delta_c_fit_eV
                    for i in order])
    found = np.isfinite(dc)
    last = first_without = vanish = None
    if found.any():
        k = int(np.flatnonzero(found)[-1])
        last = float(T[k])
        if k + 1 < T.size:
            first_without = float(T[k + 1])
            vanish = 0.5 * (last + first_without)
    ratio = vanish / Tc_K if (vanish is not None and Tc_K) else None
    fit_vanish = None
    fitted = np.isfinite(fit) & (np.nan_to_num(fit) > 0)
    if fitted.any():
        k = int(np.flatnonzero(fitted)[-1])
        if k + 1 < T.size:
            fit_vanish = 0.5 * (float(T[k]) + float(T[k + 1]))
    fit_ratio = fit_vanish / Tc_K if (fit_vanish is not None and Tc_K) else None
    return TemperatureSeries(T, dc, err, fit, last, first_without, vanish, Tc_K, ratio,
                             fit_vanish, fit_ratio)
