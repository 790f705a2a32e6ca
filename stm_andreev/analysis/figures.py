"""The paper's figures from analysed spectra (matplotlib, Agg canvas, no global backend).

Each function takes :class:`~stm_andreev.analysis.pipeline.Analysis` objects and returns a
matplotlib Figure (or None when there is nothing to draw); :func:`save` writes PNGs. Figures
never switch matplotlib's global backend, so they are safe inside the Qt GUI process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from stm_andreev.physics import G0_S, R0_OHM

from .pipeline import Analysis
from .positions import PositionPoint, position_points
from .series import TcResult, TemperatureSeries

MV = 1e3  # V -> mV on plot axes
UEV = 1e6  # eV -> ueV on plot axes


def _figure(width: float = 5.0, height: float = 6.0) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _absolute(a: Analysis) -> np.ndarray | None:
    """G in units of 2e^2/h, or None when the input has no absolute scale."""
    G_S = a.spectrum.G_S
    if G_S is None:
        return None
    V = np.asarray(a.spectrum.bias_V, dtype=float)
    order = np.argsort(V)
    return np.asarray(G_S)[order] / G0_S


def _offset_step(curves: Sequence[np.ndarray]) -> float:
    spans = [float(np.nanmax(c) - np.nanmin(c)) for c in curves]
    return 0.6 * (float(np.median(spans)) if spans else 1.0)


MAX_CURVES = 10


def _spread(items: list[Analysis], n: int) -> list[Analysis]:
    """At most n items evenly spread over the (sorted) list, always keeping both ends."""
    if len(items) <= n:
        return items
    keep = np.unique(np.round(np.linspace(0, len(items) - 1, n)).astype(int))
    return [items[k] for k in keep]


def fig1_setpoint_series(analyses: Sequence[Analysis]) -> Figure | None:
    """Fig. 1: G(V) in 2e^2/h for increasing setpoint conductance, offset for clarity (at most
    10 spectra, spread evenly over the conductance range)."""
    items = sorted((a for a in analyses if _absolute(a) is not None),
                   key=lambda a: a.result.G_N_S or 0.0)
    absolute = bool(items)
    if not absolute:
        items = sorted(analyses, key=lambda a: a.result.Z or 0.0, reverse=True)
    if not items:
        return None
    items = _spread(items, MAX_CURVES)
    curves = [_absolute(a) if absolute else a.g for a in items]
    # In 2e^2/h the setpoints span decades: a logarithmic axis without offsets keeps the
    # tunnelling curves' shape visible next to the contacts (points at G <= 0, noise in a
    # closed gap, are not drawn). Normalised curves are offset instead.
    step = 0.0 if absolute else 0.15 * float(np.max([np.nanmax(c) for c in curves]))
    fig = _figure(6.5, 6.0)
    ax = fig.add_subplot()
    for k, (a, c) in enumerate(zip(items, curves, strict=True)):
        label = (f"G_N = {a.result.G_N_G0:.3g} G0" if a.result.G_N_G0 is not None
                 else f"Z = {a.result.Z:.2g}" if a.result.Z is not None else a.result.label)
        y = np.where(c > 0, c, np.nan) if absolute else c + k * step
        ax.plot(a.bias_V * MV, y, lw=1, label=label)
    if absolute:
        ax.set_yscale("log")
    ax.set_xlabel("bias V (mV)")
    ax.set_ylabel("G (2e²/h, logarithmic)" if absolute else "G / G_N (offset)")
    ax.set_title("Fig. 1: tunnelling to Andreev spectroscopy")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _T_axis(analyses: Sequence[Analysis], Tc_K: float | None) -> tuple[np.ndarray, str]:
    T = np.array([a.result.T_K for a in analyses])
    if Tc_K:
        return T / Tc_K, "T / Tc"
    return T, "T (K)"


def fig2a_temperature_series(analyses: Sequence[Analysis], Tc_K: float | None = None):
    """Fig. 2a: G(V) of one contact at several temperatures, offset; Tc dashed if known."""
    if len(analyses) < 2:
        return None
    items = sorted(analyses, key=lambda a: a.result.T_K)
    absolute = all(_absolute(a) is not None for a in items)
    curves = [_absolute(a) if absolute else a.g for a in items]
    step = _offset_step(curves) * 0.5
    fig = _figure(6.5, 6.0)
    ax = fig.add_subplot()
    closest = int(np.argmin([abs(a.result.T_K - Tc_K) for a in items])) if Tc_K else -1
    # One colour per temperature from a sequential map (the default cycle repeats after 10
    # curves), one legend entry per temperature (repeated spectra share it).
    temps = sorted({round(a.result.T_K, 4) for a in items})
    cmap = matplotlib.colormaps["plasma"]
    colour = {t: cmap(0.85 * k / max(len(temps) - 1, 1)) for k, t in enumerate(temps)}
    labelled: set[float] = set()
    for k, (a, c) in enumerate(zip(items, curves, strict=True)):
        t = round(a.result.T_K, 4)
        style = dict(color="k", ls="--") if k == closest else dict(color=colour[t])
        label = None if t in labelled else f"{a.result.T_K:.3g} K"
        labelled.add(t)
        ax.plot(a.bias_V * MV, c + k * step, lw=1, label=label, **style)
    ax.set_xlabel("bias V (mV)")
    ax.set_ylabel("G (2e²/h, offset)" if absolute else "G / G_N (offset)")
    ax.set_title("Fig. 2a: temperature dependence")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def fig2b_d2G_map(analyses: Sequence[Analysis], Tc_K: float | None = None):
    """Fig. 2b: colour map of -d2G/dV2 (each temperature scaled to its own maximum) versus
    bias and T/Tc, with a colour bar."""
    if len(analyses) < 2:
        return None
    items = sorted(analyses, key=lambda a: a.result.T_K)
    lo = max(float(a.peaks.derivative.bias_V[0]) for a in items)
    hi = min(float(a.peaks.derivative.bias_V[-1]) for a in items)
    n = max(len(a.peaks.derivative.bias_V) for a in items)
    grid = np.linspace(lo, hi, n)
    rows = []
    for a in items:
        d = a.peaks.derivative
        # Each spectrum in units of its own G_N, so that rows are comparable.
        rows.append(np.interp(grid, d.bias_V, d.minus_d2G))
    image = np.array(rows)
    # Each temperature scaled to its own largest |-d2G/dV2| (as the GUI's map): the Andreev
    # pair fades with T, and on one common scale it would vanish from view long before Tc.
    image /= np.maximum(np.nanmax(np.abs(image), axis=1, keepdims=True), 1e-300)
    T, label = _T_axis(items, Tc_K)
    fig = _figure(6.0, 4.5)
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(grid * MV, T, np.clip(image, -1, 1), shading="nearest", cmap="RdBu_r",
                         vmin=-1, vmax=1)
    cbar = fig.colorbar(mesh, ax=ax)
    cbar.set_label("-d²G/dV² / its maximum at that T")
    ax.set_xlabel("bias V (mV)")
    ax.set_ylabel(label)
    ax.set_title("Fig. 2b: -d²G/dV² versus bias and temperature")
    return fig


def fig2c_delta_c_vs_T(series: TemperatureSeries) -> Figure | None:
    """Delta_c(T) of a temperature series (ueV versus T/Tc or T): from the Andreev peaks
    (filled, with error bars) and from the two-gap fit (open), Tc and the temperature where
    the peaks vanish marked."""
    if series.T_K.size < 2 or not np.any(np.isfinite(series.delta_c_fit_eV)
                                         | np.isfinite(series.delta_c_eV)):
        return None
    x = series.T_K / series.Tc_K if series.Tc_K else series.T_K
    fig = _figure(5.0, 4.0)
    ax = fig.add_subplot()
    ax.plot(x, series.delta_c_fit_eV * UEV, "o", mfc="none", label="two-gap fit")
    ax.errorbar(x, series.delta_c_eV * UEV, yerr=series.delta_c_err_eV * UEV, fmt="o", ms=4,
                capsize=2, label="Andreev peaks")
    if series.Tc_K:
        ax.axvline(1.0, color="k", lw=1, label="Tc")
    if series.T_vanish_K is not None:
        xv = series.T_vanish_K / series.Tc_K if series.Tc_K else series.T_vanish_K
        ax.axvline(xv, color="gray", ls="--", lw=1, label="peaks vanish")
    ax.set_xlabel("T / Tc" if series.Tc_K else "T (K)")
    ax.set_ylabel("collective gap Δ_c (µeV)")
    ax.set_ylim(0, None)
    ax.set_title("Fig. 2c: Δc versus temperature")
    ax.legend(fontsize=7)
    return fig


def fig3_delta_c_vs_E_g(analyses: Sequence[Analysis]) -> Figure | None:
    """Fig. 3: Delta_c versus E_g (ueV) with error bars, one point per tip position (E_g from
    the tunnelling spectra there, Delta_c from the contact spectra), one colour per sample;
    the dashed line is the mean Delta_c."""
    pts = position_points(analyses)
    if not pts:
        return None
    fig = _figure(5.0, 4.0)
    ax = fig.add_subplot()
    groups: dict[str, list[PositionPoint]] = {}
    for p in pts:
        groups.setdefault(p.sample or Path(p.source).name, []).append(p)
    for name, group in groups.items():
        ax.errorbar([p.E_g_eV * UEV for p in group], [p.delta_c_eV * UEV for p in group],
                    xerr=[p.E_g_err_eV * UEV for p in group],
                    yerr=[p.delta_c_err_eV * UEV for p in group],
                    fmt="o", ms=4, capsize=2, label=name)
    mean = float(np.mean([p.delta_c_eV for p in pts])) * UEV
    ax.axhline(mean, ls="--", color="gray", lw=1, label=f"mean Δc = {mean:.0f} µeV")
    ax.set_xlabel("single-particle gap E_g (µeV)")
    ax.set_ylabel("collective gap Δ_c (µeV)")
    # Both axes from zero, as in the paper, with room for the largest point and its bar.
    ax.set_xlim(0, 1.15 * max(p.E_g_eV + p.E_g_err_eV for p in pts) * UEV)
    ax.set_ylim(0, 1.4 * max(p.delta_c_eV + p.delta_c_err_eV for p in pts) * UEV)
    ax.set_title("Fig. 3: collective gap versus spectral gap")
    ax.legend(fontsize=7)
    return fig


_MODEL_NAMES = {"dynes": "Dynes", "btk": "BTK", "two_gap": "two-gap"}


def figS2_dynes_fit(analysis: Analysis) -> Figure:
    """Fig. S2: a tunnelling spectrum (G/G_N, points) with its Dynes fit (line)."""
    a = analysis
    # Divide by the fitted scale: the axis is then G over the fitted G_N, not over the
    # high-bias estimate (which the coherence-peak tails lift).
    scale = a.fit.params["scale"] if a.fit is not None else 1.0
    fig = _figure(5.0, 4.0)
    ax = fig.add_subplot()
    ax.plot(a.bias_V * MV, a.g / scale, ".", ms=3, color="k", label="data")
    r = a.result
    if a.fit is not None:
        ax.plot(a.bias_V * MV, a.fit.curve(a.bias_V) / scale, "r-", lw=1.2,
                label=f"{_MODEL_NAMES[a.fit.model]} fit: E_g = {r.E_g_eV * UEV:.0f} µeV, Γ = {r.gamma_eV * UEV:.0f} µeV")
    ax.set_xlabel("bias V (mV)")
    ax.set_ylabel("G / G_N")
    ax.set_title("Fig. S2: tunnelling density of states")
    ax.legend(fontsize=7)
    return fig


def figS5_btk_fits(analyses: Sequence[Analysis]) -> Figure | None:
    """Fig. S5: contact spectra without Andreev peaks (InO-4 type) with plain-BTK fits."""
    items = sorted((a for a in analyses if a.fit is not None and a.fit.model == "btk"
                    and a.result.regime == "contact"),
                   key=lambda a: a.result.Z or 0.0, reverse=True)
    if not items:
        return None
    step = _offset_step([a.g for a in items]) * 0.6
    fig = _figure()
    ax = fig.add_subplot()
    for k, a in enumerate(items):
        scale = a.fit.params["scale"]
        ax.plot(a.bias_V * MV, a.g / scale + k * step, ".", ms=2, color="k")
        ax.plot(a.bias_V * MV, a.fit.curve(a.bias_V) / scale + k * step, "-", lw=1,
                label=f"BTK Z = {a.result.Z:.2f}" if a.result.Z is not None else None)
    ax.set_xlabel("bias V (mV)")
    ax.set_ylabel("G / G_N (offset)")
    ax.set_title("Fig. S5: plain BTK fits")
    ax.legend(fontsize=7, loc="upper right")
    return fig


def figS1_resistance(T_K: np.ndarray, R_ohm: np.ndarray, tc: TcResult) -> Figure:
    """Fig. S1: R(T) near the transition with the straight line through the drop extrapolated
    to R = 0 (the fitted window drawn thick) and Tc marked."""
    fig = _figure(5.0, 4.0)
    ax = fig.add_subplot()
    T, R = np.asarray(T_K, float), np.asarray(R_ohm, float)
    # The transition, a few widths of the fitted straight part on each side.
    span = max(tc.window_K[1] - tc.Tc_K, 1e-3 * tc.Tc_K)
    near = (T > tc.Tc_K - 4 * span) & (T < max(tc.T_max_K, tc.Tc_K + 6 * span) + 2 * span)
    ax.plot(T[near], R[near], ".", ms=2, color="k", label="R(T)")
    lo, hi = tc.window_K
    line_T = np.linspace(tc.Tc_K, hi + 0.3 * (hi - tc.Tc_K), 20)
    ax.plot(line_T, tc.slope_ohm_per_K * (line_T - tc.Tc_K), "r-", lw=1,
            label="straight part, extrapolated")
    win = np.array([lo, hi])
    ax.plot(win, tc.slope_ohm_per_K * (win - tc.Tc_K), "r-", lw=3, alpha=0.5,
            label="fitted window")
    ax.axvline(tc.Tc_K, color="gray", ls="--", lw=1,
               label=f"Tc = {tc.Tc_K:.4f} K ± {tc.Tc_err_K * 1e3:.1f} mK")
    ax.set_xlabel("T (K)")
    ax.set_ylabel("R (Ω)")
    ax.set_ylim(bottom=min(0.0, float(np.nanmin(R[near])) if near.any() else 0.0))
    ax.set_title("Fig. S1: Tc from the resistive transition")
    ax.legend(fontsize=7)
    return fig


def fig4_resistance_and_gaps(T_K: np.ndarray, R_ohm: np.ndarray, Tc_K: float,
                             analyses: Sequence[Analysis]) -> Figure:
    """Fig. 4: R(T) in units of h/4e^2 versus T/Tc, with the ranges of Delta_c/k_B and
    E_g/k_B (well-fitted spectra only) marked as bands on the T/Tc axis."""
    from stm_andreev.physics import K_B_EV_PER_K

    fig = _figure(5.5, 4.0)
    ax = fig.add_subplot()
    R_Q = 0.5 * R0_OHM  # h/4e^2 = 6453 ohm
    T, R = np.asarray(T_K, float), np.asarray(R_ohm, float)
    ax.plot(T / Tc_K, R / R_Q, "k-", lw=1, label="R(T)")
    good = [a.result for a in analyses if a.result.quality == "good"]
    for values, colour, name in (
            ([r.delta_c_eV for r in good if r.delta_c_eV is not None], "tab:blue", "Δc/k_B"),
            ([r.E_g_eV for r in good if r.E_g_eV is not None], "tab:orange", "E_g/k_B")):
        if values:
            lo, hi = min(values) / K_B_EV_PER_K / Tc_K, max(values) / K_B_EV_PER_K / Tc_K
            ax.axvspan(lo, max(hi, lo * 1.01), color=colour, alpha=0.3,
                       label=f"{name}: {lo:.2g}-{hi:.2g} Tc")
    ax.set_xlim(0, None)
    ax.set_xlabel("T / Tc")
    ax.set_ylabel("R (h/4e²)")
    ax.set_title("Fig. 4: resistance and gap energy scales")
    ax.legend(fontsize=7)
    return fig


def figS3_setpoint_d2G(analyses: Sequence[Analysis]) -> Figure | None:
    """Fig. S3: a setpoint series of contact spectra, G/G_N (left) and -d2G/dV2 (right, each
    scaled to its maximum) side by side, offset by increasing G_N, +-Delta_c marked (mean of
    the well-fitted spectra with Andreev peaks)."""
    items = sorted((a for a in analyses if a.result.regime == "contact"),
                   key=lambda a: a.result.G_N_S or 0.0)
    if len(items) < 2:
        return None
    items = _spread(items, MAX_CURVES)
    fig = _figure(9.0, 5.5)
    left, right = fig.subplots(1, 2)
    for k, a in enumerate(items):
        d = a.peaks.derivative
        scale = float(np.max(np.abs(d.minus_d2G))) or 1.0
        label = (f"G_N = {a.result.G_N_G0:.3g} G0" if a.result.G_N_G0 is not None
                 else a.result.label or f"#{a.result.index}")
        line, = left.plot(a.bias_V * MV, a.g + 0.3 * k, lw=1, label=label)
        right.plot(d.bias_V * MV, d.minus_d2G / scale + 1.2 * k, lw=1, color=line.get_color())
    dcs = [a.result.delta_c_eV for a in items
           if a.result.delta_c_eV is not None and a.result.quality == "good"]
    if dcs:
        dc = float(np.mean(dcs)) * MV
        for ax in (left, right):
            for sign in (-1, 1):
                ax.axvline(sign * dc, color="r", lw=0.8, ls=":")
        right.text(0.02, 0.98, f"±Δc = ±{dc * 1e3:.0f} µeV", transform=right.transAxes,
                   va="top", fontsize=7, color="r")
    left.set_xlabel("bias V (mV)")
    left.set_ylabel("G / G_N (offset)")
    right.set_xlabel("bias V (mV)")
    right.set_ylabel("-d²G/dV² / its maximum (offset)")
    left.legend(fontsize=6, loc="upper left")
    fig.suptitle("Fig. S3: setpoint series, G and -d²G/dV²")
    return fig


def figS4_tunnelling_map(analyses: Sequence[Analysis], Tc_K: float | None = None):
    """Fig. S4: colour map of tunnelling G/G_N (scaled by the fitted G_N) versus bias and
    T/Tc (or T) for one sample's tunnelling spectra at >= 3 temperatures."""
    items = sorted((a for a in analyses if a.result.regime == "tunnelling"),
                   key=lambda a: a.result.T_K)
    if len({round(a.result.T_K, 4) for a in items}) < 3:
        return None
    lo = max(float(a.bias_V[0]) for a in items)
    hi = min(float(a.bias_V[-1]) for a in items)
    grid = np.linspace(lo, hi, max(len(a.bias_V) for a in items))
    scale = [a.fit.params["scale"] if a.fit is not None else 1.0 for a in items]
    image = np.array([np.interp(grid, a.bias_V, a.g) / s for a, s in zip(items, scale,
                                                                         strict=True)])
    T, label = _T_axis(items, Tc_K)
    fig = _figure(6.0, 4.5)
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(grid * MV, T, image, shading="nearest", cmap="viridis")
    fig.colorbar(mesh, ax=ax).set_label("G / G_N")
    ax.set_xlabel("bias V (mV)")
    ax.set_ylabel(label)
    ax.set_title("Fig. S4: tunnelling spectra versus temperature")
    return fig


def save(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write a figure as PNG and return its path."""
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return path
