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
    """Tc (K) from R(T) by the paper's method (Fig. S1): the straight line R = slope (T - Tc)
    through the steepest part of the resistive drop, extrapolated to R = 0.

    ``Tc_err_K``: 1 sigma, the line's own uncertainty (from the scatter of the points about
    it) combined with how far Tc moves when the fitted window is narrowed or widened (the
    drop's curvature). ``window_K``: the temperatures of the first and last fitted point;
    ``n_points`` of them. ``R_max_ohm`` (at ``T_max_K``): the resistance maximum above the
    drop. ``warnings``: why the number may not be what the paper's method means (few points,
    a window-dependent Tc); empty when there is nothing to say."""

    Tc_K: float
    slope_ohm_per_K: float
    R_max_ohm: float
    T_max_K: float
    n_points: int
    Tc_err_K: float = float("nan")
    window_K: tuple[float, float] = (float("nan"), float("nan"))
    warnings: tuple[str, ...] = ()


# The line is fitted to the points with R within +-HALF_BAND R_max of a centre level; the
# centre is moved over CENTRES and the steepest line is kept (the straight part of the drop).
HALF_BAND = 0.15
CENTRES = np.arange(0.3, 0.71, 0.05)
MIN_POINTS = 4
WINDOW_SPREAD_WARN = 0.02  # Tc moving by more than this fraction with the window: warn


def _line(T: np.ndarray, R: np.ndarray):
    """(slope, intercept, Tc, Tc_err) of a least-squares line, Tc where it reaches R = 0."""
    A = np.column_stack([T, np.ones_like(T)])
    coef, *_ = np.linalg.lstsq(A, R, rcond=None)
    slope, intercept = float(coef[0]), float(coef[1])
    dof = T.size - 2
    if slope <= 0:
        return slope, intercept, float("nan"), float("inf")
    Tc = -intercept / slope
    if dof <= 0:
        return slope, intercept, Tc, 0.0
    s2 = float(np.sum((A @ coef - R) ** 2) / dof)
    cov = np.linalg.inv(A.T @ A) * s2
    # Tc = -b/a: gradient (b/a^2, -1/a)
    grad = np.array([intercept / slope**2, -1.0 / slope])
    return slope, intercept, Tc, float(np.sqrt(max(grad @ cov @ grad, 0.0)))


def _steepest(T, R, below, R_max, half):
    """The steepest line among the windows of half-width ``half`` R_max (None if none has
    MIN_POINTS points)."""
    best = None
    for c in CENTRES:
        sel = below & (R >= (c - half) * R_max) & (R <= (c + half) * R_max)
        if sel.sum() < MIN_POINTS or np.ptp(T[sel]) <= 0:
            continue
        fit = _line(T[sel], R[sel])
        if np.isfinite(fit[2]) and (best is None or fit[0] > best[0][0]):
            best = (fit, sel)
    return best


def tc_from_resistance(T_K: ArrayLike, R_ohm: ArrayLike) -> TcResult:
    """Tc by linear extrapolation of the resistive drop to R = 0 (the paper's Fig. S1).

    The drop is the part of R(T) below the temperature of the resistance maximum (found on a
    5-point running median, so one noisy reading cannot fake it). Lines are fitted to the
    points within +-0.15 R_max of levels 0.3 ... 0.7 R_max, and the steepest is kept: the
    straight part of the drop, wherever a broad top or a fluctuation tail leaves it (the
    tangent at the inflection of a symmetric drop). Windows of +-0.10 and +-0.25 R_max give
    the systematic part of the uncertainty. With too few points for any window (a transition
    sharper than the sampling) the line runs through the two readings bracketing half the
    maximum, with a warning. Needs >= 5 finite points; raises AnalysisInputError when there
    is no drop.
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
    warnings: list[str] = []
    best = _steepest(T, R, below, R_max, HALF_BAND)
    if best is None:
        half = 0.5 * R_max
        up = np.flatnonzero(below[:-1] & (R[:-1] < half) & (R[1:] >= half))
        if up.size == 0:
            raise AnalysisInputError("R(T) has no resistive drop (R never falls below half "
                                     "its maximum on cooling)")
        i = int(up[-1])
        slope = (R[i + 1] - R[i]) / (T[i + 1] - T[i])
        if not slope > 0:
            raise AnalysisInputError("R(T) has no resistive drop (R does not rise with T "
                                     "below its maximum)")
        Tc = float(T[i] - R[i] / slope)
        warnings.append(f"fewer than {MIN_POINTS} readings on the drop: the line runs through "
                        "the two readings around R_max/2; sample the transition more densely")
        return TcResult(Tc, float(slope), R_max, T_max, 2, float(T[i + 1] - T[i]),
                        (float(T[i]), float(T[i + 1])), tuple(warnings))
    (slope, _, Tc, stat), sel = best
    others = [b[0][2] for h in (0.10, 0.25) if (b := _steepest(T, R, below, R_max, h))]
    spread = max((abs(x - Tc) for x in others), default=0.0)
    err = float(np.hypot(stat, spread))
    if spread > WINDOW_SPREAD_WARN * Tc:
        warnings.append(f"Tc moves by {spread * 1e3:.0f} mK ({spread / Tc:.1%}) when the fitted "
                        "window changes: the drop has no straight part")
    if int(sel.sum()) < 6:
        warnings.append(f"only {int(sel.sum())} readings in the fitted window")
    if not 0 < Tc < T_max:
        raise AnalysisInputError(f"R(T): the drop's line reaches R = 0 at {Tc:.3g} K, outside "
                                 f"0 ... {T_max:.3g} K (no usable drop)")
    return TcResult(float(Tc), float(slope), R_max, T_max, int(sel.sum()), err,
                    (float(T[sel].min()), float(T[sel].max())), tuple(warnings))


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
