"""One look for every view: a light theme, readable fonts, shared colours and plot helpers."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtGui, QtWidgets

FONT_PT = 10
TITLE_PT = 11
LINE_COLOURS = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
)
BANNER_STYLES = {
    "interlock": "background:#c62828;color:white;font-weight:bold;padding:6px;",
    "pause": "background:#f9a825;color:black;font-weight:bold;padding:6px;",
    "warning": "background:#fff3e0;color:#e65100;font-weight:bold;padding:6px;",
    "alarm": "background:#c62828;color:white;font-weight:bold;padding:4px;",
    "ok": "background:#e8f5e9;color:#1b5e20;padding:4px;",
}
#: Sequential colour map for setpoint colouring and the -d2G/dV2 map.
COLORMAP_NAME = "viridis"

_configured = False


def configure() -> None:
    """Global pyqtgraph options (idempotent): white background, antialiasing."""
    global _configured
    if _configured:
        return
    pg.setConfigOptions(background="w", foreground="#202020", antialias=True,
                        imageAxisOrder="row-major")
    _configured = True


def app_font() -> QtGui.QFont:
    font = QtWidgets.QApplication.font()
    font.setPointSize(FONT_PT)
    return font


def style_plot(plot: pg.PlotItem, title: str, *, left: tuple[str, str | None],
               bottom: tuple[str, str | None]) -> pg.PlotItem:
    """Title, axis labels with SI units (pyqtgraph adds the prefixes), grid, fonts."""
    plot.setTitle(title, size=f"{TITLE_PT}pt", bold=True)
    tick_font = QtGui.QFont()
    tick_font.setPointSize(FONT_PT - 1)
    for side, (label, units) in (("left", left), ("bottom", bottom)):
        axis = plot.getAxis(side)
        axis.setLabel(label, units=units, **{"font-size": f"{FONT_PT}pt"})
        axis.setTickFont(tick_font)
    plot.showGrid(x=True, y=True, alpha=0.25)
    return plot


def colormap() -> pg.ColorMap:
    return pg.colormap.get(COLORMAP_NAME)


def colours_for(values: np.ndarray, *, log: bool = False) -> list[QtGui.QColor]:
    """One colour per value along the shared colour map (log scale for setpoints)."""
    v = np.asarray(values, dtype=float)
    if log:
        v = np.log10(np.clip(v, 1e-30, None))
    lo, hi = (float(np.nanmin(v)), float(np.nanmax(v))) if v.size else (0.0, 1.0)
    x = (v - lo) / (hi - lo) if hi > lo else np.full_like(v, 0.5)
    # Stop short of the map's pale top end: yellow on white is unreadable.
    return [colormap().mapToQColor(0.9 * float(xi)) for xi in x]
