"""Figures of a map's results: one panel per quantity (value and grade), histograms, and the
paper's Fig. 3 built from the pixels (Delta_c versus E_g with error bars and grades).

Colour scales run over the 2nd-98th percentile of the pixels graded good (a few poor fits at
a bound must not wash out the map); pixels graded poor are drawn with their value and marked
with a dot, failed and not-measured pixels are grey. Energies in ueV, G_N in 2e^2/h.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from stm_andreev.physics import G0_S

from .figures import _figure, save
from .maps_histogram import map_histograms
from .maps_pixels import FAILED, GOOD, NOT_APPLICABLE, POOR, QUANTITIES

_SHOW = {  # quantity: (factor to plot units, label)
    "E_g": (1e6, "E_g (µeV)"),
    "Delta_c": (1e6, "Δ_c (µeV)"),
    "Gamma": (1e6, "Γ (µeV)"),
    "Z": (1.0, "Z"),
    "G_N": (1 / G0_S, "G_N (2e²/h)"),
}
_GRADE_COLOURS = ("#2ca02c", "#ff7f0e", "#d62728", "#bbbbbb")
_GRADE_NAMES = ("good", "poor", "failed", "not applicable")
NM = 1e9


def _extent(results) -> list[float] | None:
    """imshow extent in nm from the x, y coordinates (pixel centres), or None."""
    if "x" not in results.coords or "y" not in results.coords:
        return None
    x, y = results["x"].values * NM, results["y"].values * NM
    if x.size < 2 or y.size < 2:
        return None
    dx, dy = (x[-1] - x[0]) / (x.size - 1), (y[-1] - y[0]) / (y.size - 1)
    return [x[0] - dx / 2, x[-1] + dx / 2, y[0] - dy / 2, y[-1] + dy / 2]


def colour_limits(results, q: str) -> tuple[float, float] | None:
    """The colour range of quantity ``q`` (its own units): 2nd-98th percentile of the good
    pixels, else of the poor ones; None when no pixel has a usable value."""
    value = np.asarray(results[q].values, dtype=float)
    grade = np.asarray(results[f"{q}_grade"].values)
    for code in (GOOD, POOR):
        sel = np.isfinite(value) & (grade == code)
        if sel.any():
            lo, hi = np.percentile(value[sel], [2, 98])
            if hi <= lo:
                lo, hi = lo - 0.01 * abs(lo or 1), hi + 0.01 * abs(hi or 1)
            return float(lo), float(hi)
    return None


def map_panel(results, q: str) -> Figure | None:
    """Quantity ``q``: its map (good and poor values; poor dotted) beside its grade map."""
    limits = colour_limits(results, q)
    if limits is None:
        return None
    factor, label = _SHOW[q]
    value = np.asarray(results[q].values, dtype=float) * factor
    grade = np.asarray(results[f"{q}_grade"].values)
    shown = np.where((grade == GOOD) | (grade == POOR), value, np.nan)
    extent = _extent(results)
    fig = _figure(9.0, 4.0)
    ax, axg = fig.subplots(1, 2)
    cm = matplotlib.colormaps["viridis"].with_extremes(bad="#bbbbbb")
    im = ax.imshow(shown, origin="lower", extent=extent, cmap=cm,
                   vmin=limits[0] * factor, vmax=limits[1] * factor, interpolation="nearest")
    fig.colorbar(im, ax=ax, label=label)
    poor = np.argwhere(grade == POOR)
    if poor.size:
        ny, nx = grade.shape
        if extent is None:
            xs, ys = poor[:, 1], poor[:, 0]
        else:
            xs = extent[0] + (poor[:, 1] + 0.5) * (extent[1] - extent[0]) / nx
            ys = extent[2] + (poor[:, 0] + 0.5) * (extent[3] - extent[2]) / ny
        ax.plot(xs, ys, "w.", ms=2)
    good = int(np.count_nonzero(grade == GOOD))
    ax.set_title(f"{label.split(' (')[0]}: {good} good, {poor.shape[0]} poor (dotted)",
                 fontsize=9)
    axg.imshow(grade, origin="lower", extent=extent, interpolation="nearest",
               cmap=ListedColormap(_GRADE_COLOURS), vmin=-0.5, vmax=NOT_APPLICABLE + 0.5)
    counts = np.bincount(grade.ravel().astype(int), minlength=4)
    axg.legend(handles=[Patch(color=c, label=f"{n} ({counts[k]})")
                        for k, (c, n) in enumerate(zip(_GRADE_COLOURS, _GRADE_NAMES,
                                                       strict=True))],
               fontsize=7, loc="upper right", framealpha=0.8)
    axg.set_title("grade", fontsize=9)
    for a in (ax, axg):
        a.set_xlabel("x (nm)" if extent else "x (pixel)")
        a.set_ylabel("y (nm)" if extent else "y (pixel)")
    return fig


def histogram_figure(results) -> Figure:
    """One histogram per quantity, good and poor pixels stacked."""
    hists = map_histograms(results)
    fig = _figure(11.0, 3.2)
    axes = fig.subplots(1, len(QUANTITIES))
    for ax, q in zip(axes, QUANTITIES, strict=True):
        h = hists[q]
        factor, label = _SHOW[q]
        edges = h["edges"] * factor
        width = np.diff(edges)
        ax.bar(edges[:-1], h["good"], width, align="edge", color=_GRADE_COLOURS[GOOD],
               label="good")
        ax.bar(edges[:-1], h["poor"], width, bottom=h["good"], align="edge",
               color=_GRADE_COLOURS[POOR], label="poor")
        ax.set_xlabel(label)
        ax.set_title(f"failed {h['n_failed']}, n/a {h['n_not_applicable']}", fontsize=8)
    axes[0].set_ylabel("pixels")
    axes[0].legend(fontsize=7)
    return fig


def fig3_from_map(results) -> Figure | None:
    """Fig. 3 from a map: Delta_c versus E_g of every pixel with both (ueV, 1-sigma bars);
    good pixels filled, poor ones open; the dashed line is the mean Delta_c of the good
    pixels. None when no pixel has both gaps."""
    Eg, Dc = (np.asarray(results[q].values, float).ravel() for q in ("E_g", "Delta_c"))
    Eg_s, Dc_s = (np.asarray(results[f"{q}_sigma"].values, float).ravel()
                  for q in ("E_g", "Delta_c"))
    grade = np.maximum(np.asarray(results["E_g_grade"].values).ravel(),
                       np.asarray(results["Delta_c_grade"].values).ravel())
    both = np.isfinite(Eg) & np.isfinite(Dc) & (grade <= POOR)
    if not both.any():
        return None
    fig = _figure(5.5, 4.2)
    ax = fig.add_subplot()
    for code, face in ((POOR, "none"), (GOOD, _GRADE_COLOURS[GOOD])):
        sel = both & (grade == code)
        if sel.any():
            ax.errorbar(Eg[sel] * 1e6, Dc[sel] * 1e6, xerr=Eg_s[sel] * 1e6,
                        yerr=Dc_s[sel] * 1e6, fmt="o", ms=3, mfc=face,
                        mec=_GRADE_COLOURS[code], ecolor=_GRADE_COLOURS[code], elinewidth=0.5,
                        alpha=0.8, label=f"{_GRADE_NAMES[code]} ({int(sel.sum())} pixels)")
    good = both & (grade == GOOD)
    if good.any():
        mean, spread = float(np.mean(Dc[good])), float(np.std(Dc[good]))
        ax.axhline(mean * 1e6, ls="--", color="gray", lw=1,
                   label=f"mean Δc (good) = {mean * 1e6:.0f} ± {spread * 1e6:.0f} µeV")
    ax.set_xlim(0, 1.15 * np.nanmax(Eg[both] + Eg_s[both]) * 1e6)
    ax.set_ylim(0, 1.4 * np.nanmax(Dc[both] + np.nan_to_num(Dc_s[both])) * 1e6)
    ax.set_xlabel("single-particle gap E_g (µeV)")
    ax.set_ylabel("collective gap Δ_c (µeV)")
    ax.set_title("Fig. 3 from the map: Δc versus E_g, one point per pixel", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def map_summary(results) -> dict:
    """Per quantity: grade counts and the median and spread (std) of the good pixels."""
    out: dict[str, object] = {"n_pixels": int(results.sizes["y"] * results.sizes["x"])}
    for q in QUANTITIES:
        value = np.asarray(results[q].values, float).ravel()
        grade = np.asarray(results[f"{q}_grade"].values).ravel()
        good = value[(grade == GOOD) & np.isfinite(value)]
        out[q] = {"good": int(np.count_nonzero(grade == GOOD)),
                  "poor": int(np.count_nonzero(grade == POOR)),
                  "failed": int(np.count_nonzero(grade == FAILED)),
                  "not_applicable": int(np.count_nonzero(grade == NOT_APPLICABLE)),
                  "median_good": float(np.median(good)) if good.size else None,
                  "spread_good": float(np.std(good)) if good.size else None}
    return out


def write_map_figures(results, out_dir: str | Path, prefix: str = "map") -> list[Path]:
    """PNG files of every panel, the histograms and Fig. 3 from the map, and
    ``<prefix>_summary.json``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = {f"{prefix}_{q}.png": map_panel(results, q) for q in QUANTITIES}
    figures[f"{prefix}_histograms.png"] = histogram_figure(results)
    figures[f"fig3_{prefix}_delta_c_vs_E_g.png"] = fig3_from_map(results)
    written = [save(fig, out / name) for name, fig in figures.items() if fig is not None]
    summary = out / f"{prefix}_summary.json"
    summary.write_text(json.dumps({**map_summary(results),
                                   "figures": [p.name for p in written]}, indent=1) + "\n",
                       encoding="utf-8")
    return [*written, summary]
