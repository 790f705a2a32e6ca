"""Temperature series: Delta_c(T), where the Andreev peaks vanish, and Tc from R(T).

Tc follows the paper's definition (Fig. S1): the linear extrapolation of the resistive drop to
R = 0, taken as the tangent at the steepest point of the drop (a cubic spline through the
measured R(T) locates it between samples).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import CubicSpline

from .errors import AnalysisInputError
from .results import SpectrumResult


@dataclass(frozen=True)
class TcResult:
    """Tc (K) from R(T); ``T_steepest_K`` and ``slope_ohm_per_K`` describe the tangent used."""

    Tc_K: float
    T_steepest_K: float
    R_steepest_ohm: float
    slope_ohm_per_K: float


def tc_from_resistance(T_K: ArrayLike, R_ohm: ArrayLike) -> TcResult:
    """Tc from a resistance curve R(T) (any order of points, >= 5 distinct temperatures):
    T* - R(T*)/R'(T*) at the steepest positive slope T* below the resistance maximum."""
    T = np.asarray(T_K, dtype=float)
    R = np.asarray(R_ohm, dtype=float)
    ok = np.isfinite(T) & np.isfinite(R)
    T, R = T[ok], R[ok]
    Tu, inverse = np.unique(T, return_inverse=True)
    if Tu.size < 5:
        raise AnalysisInputError(f"R(T) needs at least 5 distinct finite temperatures, got "
                                 f"{Tu.size}")
    Ru = np.bincount(inverse, weights=R) / np.bincount(inverse)
    spline = CubicSpline(Tu, Ru)
    fine = np.linspace(Tu[0], Tu[-1], 20 * Tu.size)
    below_max = fine <= fine[np.argmax(spline(fine))]
    slope = spline(fine, 1)
    slope = np.where(below_max, slope, -np.inf)
    k = int(np.argmax(slope))
    if not slope[k] > 0:
        raise AnalysisInputError("R(T) has no resistive drop (R never falls on cooling)")
    Tm = float(fine[k])
    Rm = float(spline(Tm))
    s = float(spline(Tm, 1))
    return TcResult(Tc_K=Tm - Rm / s, T_steepest_K=Tm, R_steepest_ohm=Rm, slope_ohm_per_K=s)


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
    T_last_peaks_K: float | None
    T_first_without_K: float | None
    T_vanish_K: float | None
    Tc_K: float | None
    T_vanish_over_Tc: float | None


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
    found = np.isfinite(dc)
    last = first_without = vanish = None
    if found.any():
        k = int(np.flatnonzero(found)[-1])
        last = float(T[k])
        if k + 1 < T.size:
            first_without = float(T[k + 1])
            vanish = 0.5 * (last + first_without)
    ratio = vanish / Tc_K if (vanish is not None and Tc_K) else None
    return TemperatureSeries(T, dc, err, last, first_without, vanish, Tc_K, ratio)
