"""The map panel of a spectroscopy grid: a quantity per pixel, its colour scale, and the
spectrum and fit of a clicked pixel.

Quantities: the topography z and G at a chosen bias come from the grid cube itself and fill
in while the grid runs; E_g, Delta_c, Gamma, Z, G_N and their sigmas come from the map
results, each pixel with its grade (MAPS contract 4). Pixels not yet measured are blank
(transparent), failed fits grey with a cross, poor fits marked with a ring, quantities that do
not apply to a pixel (Delta_c where no Andreev channel) pale grey. A click on a pixel shows its
spectrum and the pipeline's fit of it (run in a worker thread: a fit takes seconds), every
number with its uncertainty and grade.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtWidgets

from . import map_source, theme
from .fit_worker import FitRunner
from .grades import result_html, value_html
from .map_model import (
    DEFAULT_PERCENTILES,
    FAILED,
    NOT_APPLICABLE,
    NOT_MEASURED,
    POOR,
    QUANTITIES,
    MapData,
    axis_coords,
    colour_levels,
    fit_G_N_G0,
    map_data,
    pixel_at,
    quantity,
    rgba,
)

log = logging.getLogger(__name__)

Loader = Callable[[], Any]
Fitter = Callable[[Any, int, int], Any]
#: Poll period while following a grid (ms): a pixel takes seconds, so 1 Hz shows each one.
POLL_MS = 1000
LEGEND = ("blank: not measured yet · grey with ×: fit failed · ○: poor fit · "
          "pale grey: does not apply to the pixel (e.g. Δc without Andreev channel)")


class MapPanel(QtWidgets.QWidget):
    """Maps of one grid.

    :param fitter: ``fit_pixel(cube, iy, ix) -> Analysis`` (default
        :func:`.map_source.fit_pixel`).
    :param interval_ms: poll period while following a source.

    Sources are set by :meth:`follow_run` (a run file with a grid), :meth:`open_results`
    (a map results file) or :meth:`set_sources` (any loaders: tests, notebooks).
    """

    pixel_selected = QtCore.pyqtSignal(int, int)
    fit_shown = QtCore.pyqtSignal(int, int)

    def __init__(self, *, fitter: Fitter = map_source.fit_pixel, interval_ms: int = POLL_MS,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        theme.configure()
        self.fitter = fitter
        self.cube_loader: Loader | None = None
        self.results_loader: Loader | None = None
        self.cube = None
        self.results = None
        self.data: MapData | None = None
        self.levels = (0.0, 1.0)
        self.selected: tuple[int, int] | None = None
        self.analysis = None
        self.fits = FitRunner(self)
        self.fits.finished.connect(self._fit_done)
        self._x = self._y = np.zeros(0)
        self._lut = theme.colormap().getLookupTable(nPts=256, alpha=False)
        self._build()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.poll)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        layout = QtWidgets.QHBoxLayout(self)
        left = QtWidgets.QVBoxLayout()
        self.title = QtWidgets.QLabel("no grid open")
        self.title.setTextFormat(QtCore.Qt.RichText)
        left.addWidget(self.title)
        controls = QtWidgets.QHBoxLayout()
        self.quantity_box = QtWidgets.QComboBox()
        for q in QUANTITIES:
            self.quantity_box.addItem(q.title, q.key)
        self.quantity_box.currentIndexChanged.connect(lambda _i: self.redraw())
        controls.addWidget(QtWidgets.QLabel("Quantity"))
        controls.addWidget(self.quantity_box)
        self.bias_slider = QtWidgets.QSlider(QtCore.Qt.Horizontal)
        self.bias_slider.setMinimumWidth(120)
        self.bias_slider.valueChanged.connect(lambda _v: self.redraw())
        self.bias_label = QtWidgets.QLabel("")
        controls.addWidget(self.bias_slider)
        controls.addWidget(self.bias_label)
        controls.addStretch(1)
        left.addLayout(controls)

        scale = QtWidgets.QHBoxLayout()
        self.scale_box = QtWidgets.QComboBox()
        for mode, text in (("auto", "auto (min-max)"), ("percentile", "percentile"),
                           ("manual", "manual")):
            self.scale_box.addItem(text, mode)
        self.scale_box.currentIndexChanged.connect(self._scale_mode_changed)
        scale.addWidget(QtWidgets.QLabel("Colour scale"))
        scale.addWidget(self.scale_box)
        self.p_low, self.p_high = QtWidgets.QDoubleSpinBox(), QtWidgets.QDoubleSpinBox()
        for box, value in ((self.p_low, DEFAULT_PERCENTILES[0]),
                           (self.p_high, DEFAULT_PERCENTILES[1])):
            box.setRange(0.0, 100.0)
            box.setDecimals(1)
            box.setSuffix(" %")
            box.setValue(value)
            box.valueChanged.connect(lambda _v: self.redraw())
            scale.addWidget(box)
        self.low_edit, self.high_edit = QtWidgets.QLineEdit(), QtWidgets.QLineEdit()
        for edit, tip in ((self.low_edit, "lower limit"), (self.high_edit, "upper limit")):
            edit.setPlaceholderText(tip)
            edit.setMaximumWidth(90)
            edit.editingFinished.connect(self.redraw)
            scale.addWidget(edit)
        scale.addStretch(1)
        left.addLayout(scale)

        self.graphics = pg.GraphicsLayoutWidget()
        self.map_plot = theme.style_plot(self.graphics.addPlot(row=0, col=0), "Map",
                                         left=("y", "m"), bottom=("x", "m"))
        self.map_plot.setAspectLocked(True)
        self.map_plot.invertY(False)
        self.image = pg.ImageItem()
        self.map_plot.addItem(self.image)
        self.failed_marks = pg.ScatterPlotItem(symbol="x", size=9, pen=None,
                                               brush=pg.mkBrush("#424242"))
        self.poor_marks = pg.ScatterPlotItem(symbol="o", size=8, brush=None,
                                             pen=pg.mkPen("#202020", width=1.2))
        self.cursor = pg.ScatterPlotItem(symbol="s", size=14, brush=None,
                                         pen=pg.mkPen("#d50000", width=2))
        for item in (self.failed_marks, self.poor_marks, self.cursor):
            self.map_plot.addItem(item)
        self.colour_bar = pg.ColorBarItem(values=(0, 1), colorMap=theme.colormap(), width=14,
                                          interactive=False)
        self.graphics.addItem(self.colour_bar, row=0, col=1)
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        left.addWidget(self.graphics, stretch=1)
        self.legend = QtWidgets.QLabel(LEGEND)
        self.legend.setWordWrap(True)
        left.addWidget(self.legend)
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        left.addWidget(self.status)
        holder = QtWidgets.QWidget()
        holder.setLayout(left)
        layout.addWidget(holder, stretch=3)

        right = QtWidgets.QVBoxLayout()
        self.pixel_graphics = pg.GraphicsLayoutWidget()
        self.pixel_plot = theme.style_plot(self.pixel_graphics.addPlot(), "Pixel spectrum",
                                           left=("G", "2e²/h"), bottom=("Bias", "V"))
        self.pixel_plot.getAxis("left").enableAutoSIPrefix(False)
        self.pixel_plot.addLegend(offset=(-10, 10), labelTextSize="9pt")
        self.spectrum_curve = self.pixel_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2),
                                                   name="measured")
        self.fit_curve = self.pixel_plot.plot([], [], pen=pg.mkPen("#d62728", width=2,
                                                                  style=QtCore.Qt.DashLine),
                                              name="fit")
        right.addWidget(self.pixel_graphics, stretch=2)
        self.pixel_text = QtWidgets.QLabel("click a pixel to see its spectrum and fit")
        self.pixel_text.setTextFormat(QtCore.Qt.RichText)
        self.pixel_text.setWordWrap(True)
        self.pixel_text.setAlignment(QtCore.Qt.AlignTop)
        self.pixel_text.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        right.addWidget(self.pixel_text, stretch=1)
        holder = QtWidgets.QWidget()
        holder.setLayout(right)
        layout.addWidget(holder, stretch=2)
        self._scale_mode_changed()

    def _scale_mode_changed(self) -> None:
        mode = self.scale_box.currentData()
        for box in (self.p_low, self.p_high):
            box.setVisible(mode == "percentile")
        for edit in (self.low_edit, self.high_edit):
            edit.setVisible(mode == "manual")
        if mode == "manual" and not self.low_edit.text() and self.data is not None:
            # start from what is shown, so the user edits limits rather than typing both
            self.low_edit.setText(f"{self.levels[0]:.4g}")
            self.high_edit.setText(f"{self.levels[1]:.4g}")
        self.redraw()

    # ------------------------------------------------------------------ sources
    def set_sources(self, cube_loader: Loader | None, results_loader: Loader | None = None,
                    *, title: str = "", live: bool = False) -> None:
        """Show the grid given by ``cube_loader()`` (an xarray cube, or None) and
        ``results_loader()`` (map results, or None); ``live``: poll them every interval."""
        self.timer.stop()
        self.cube_loader, self.results_loader = cube_loader, results_loader
        self.cube = self.results = None
        self.selected = None
        self.analysis = None
        self.fits.cancel()
        self.cursor.setData([], [])
        self.spectrum_curve.setData([], [])
        self.fit_curve.setData([], [])
        self.pixel_text.setText("click a pixel to see its spectrum and fit")
        self.title.setText(title or "grid")
        self.poll()
        if live:
            self.timer.start()

    def follow_run(self, path: str | os.PathLike[str]) -> None:
        """Follow the grid of a run file (still being written or finished)."""
        path = Path(path)

        def results():
            return map_source.load_map_results(path) if map_source.has_map_results(path) \
                else None

        self.set_sources(lambda: map_source.load_grid(path), results, live=True,
                         title=f"<b>{html.escape(path.name)}</b>: grid")

    def open_results(self, path: str | os.PathLike[str], cube_loader: Loader | None = None) -> None:
        """Show a map results file (and the cube, if a loader is given: spectra on click)."""
        path = Path(path)
        self.set_sources(cube_loader, lambda: map_source.load_map_results(path),
                         title=f"<b>{html.escape(path.name)}</b>: map results")

    def stop(self) -> None:
        """Stop polling and wait for a pixel fit in flight."""
        self.timer.stop()
        self.fits.stop()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # A fit in flight must not answer into a closing panel.
        self.stop()
        super().closeEvent(event)

    def poll(self) -> None:
        """Read the sources again and redraw (a live grid gains pixels)."""
        errors = []
        for name, loader in (("cube", self.cube_loader), ("results", self.results_loader)):
            if loader is None:
                continue
            try:
                setattr(self, name, loader())
            except map_source.MapSourceError as exc:
                errors.append(str(exc))
        self._update_axes()
        self.redraw()
        n_done = self._count_done()
        text = f"{n_done[0]} of {n_done[1]} pixels measured" if n_done else ""
        if self.results is None and self.results_loader is not None and not errors:
            text += "; no map results yet (fitted maps appear once the grid is analysed)"
        self.status.setText("; ".join([t for t in (text, *errors) if t]))
        if self.selected is not None and self.cube is not None:
            self._show_pixel_data(*self.selected)

    def _count_done(self) -> tuple[int, int] | None:
        source = self.cube if self.cube is not None else self.results
        if source is None or "done" not in source:
            return None
        done = np.asarray(source["done"].values).astype(bool)
        return int(done.sum()), int(done.size)

    def _update_axes(self) -> None:
        source = self.cube if self.cube is not None else self.results
        if source is None:
            return
        ny, nx = int(source.sizes["y"]), int(source.sizes["x"])
        self._x = axis_coords(self.cube, self.results, nx, "x")
        self._y = axis_coords(self.cube, self.results, ny, "y")
        if self.cube is not None:
            n_bias = int(self.cube.sizes["bias"])
            if self.bias_slider.maximum() != n_bias - 1:
                self.bias_slider.blockSignals(True)
                self.bias_slider.setRange(0, n_bias - 1)
                self.bias_slider.setValue(n_bias // 2)
                self.bias_slider.blockSignals(False)

    # ------------------------------------------------------------------ drawing
    def current_quantity(self):
        return quantity(self.quantity_box.currentData())

    def manual_limits(self) -> tuple[float, float] | None:
        try:
            return float(self.low_edit.text()), float(self.high_edit.text())
        except ValueError:
            return None

    def redraw(self) -> None:
        q = self.current_quantity()
        uses_bias = q.key == "G_at_bias"
        self.bias_slider.setVisible(uses_bias)
        self.bias_label.setVisible(uses_bias)
        if uses_bias and self.cube is not None:
            V = float(self.cube["bias"].values[self.bias_slider.value()])
            self.bias_label.setText(f"V = {V * 1e3:.3f} mV")
        data = map_data(q, self.cube, self.results, self.bias_slider.value())
        self.data = data
        if data is None:
            self.image.clear()
            for item in (self.failed_marks, self.poor_marks):
                item.setData([], [])
            why = "no grid cube" if q.source == "cube" else "no map results (not analysed yet)"
            self.map_plot.setTitle(f"{q.title}: {why}", size=f"{theme.TITLE_PT}pt")
            return
        mode = self.scale_box.currentData()
        try:
            self.levels = colour_levels(data, mode, (self.p_low.value(), self.p_high.value()),
                                        self.manual_limits())
        except ValueError as exc:
            self.status.setText(str(exc))
            self.levels = colour_levels(data, "auto")
        self.image.setImage(rgba(data, self.levels, self._lut), autoLevels=False,
                            levels=(0, 255))
        x, y = self._x, self._y
        dx = float(x[1] - x[0]) if x.size > 1 else None
        dy = float(y[1] - y[0]) if y.size > 1 else None
        # a single row or column takes the other axis's pixel size (or 1 if both are single)
        dx = dx if dx is not None else (dy if dy is not None else 1.0)
        dy = dy if dy is not None else dx
        self.image.setRect(QtCore.QRectF(x[0] - dx / 2, y[0] - dy / 2, dx * x.size,
                                         dy * y.size))
        yy, xx = np.meshgrid(y, x, indexing="ij")
        for item, code in ((self.failed_marks, FAILED), (self.poor_marks, POOR)):
            mask = data.state == code
            item.setData(xx[mask], yy[mask])
        self.colour_bar.setLevels(self.levels)
        counts = {name: int(np.sum(data.state == code)) for name, code in
                  (("failed", FAILED), ("poor", POOR), ("n/a", NOT_APPLICABLE),
                   ("not measured", NOT_MEASURED))}
        tally = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        self.map_plot.setTitle(f"{q.title}" + (f" ({tally})" if tally else ""),
                               size=f"{theme.TITLE_PT}pt")

    # ------------------------------------------------------------------ pixels
    def _clicked(self, event) -> None:
        if event.double() or self.data is None or self._x.size == 0:
            return  # a double click's first click has selected the pixel already
        pos = event.scenePos()
        if not self.map_plot.sceneBoundingRect().contains(pos):
            return
        point = self.map_plot.vb.mapSceneToView(pos)
        hit = pixel_at(point.x(), point.y(), self._x, self._y)
        if hit is not None:
            self.select_pixel(*hit)

    def pixel_scene_pos(self, iy: int, ix: int) -> QtCore.QPointF:
        """Where pixel (iy, ix)'s centre is in the scene (for tests and tools)."""
        return self.map_plot.vb.mapViewToScene(QtCore.QPointF(self._x[ix], self._y[iy]))

    def select_pixel(self, iy: int, ix: int) -> None:
        """Show pixel (iy, ix): its spectrum, its map results, and (in a worker) its fit."""
        self.selected = (iy, ix)
        self.analysis = None
        self.fit_curve.setData([], [])
        self.cursor.setData([self._x[ix]], [self._y[iy]])
        self._show_pixel_data(iy, ix)
        self.pixel_selected.emit(iy, ix)
        if self.cube is None:
            return
        _bias, _G, done = map_source.pixel_spectrum(self.cube, iy, ix)
        if not done:
            return
        fitter, cube = self.fitter, self.cube
        self.fits.submit(lambda: fitter(cube, iy, ix))

    def _results_html(self, iy: int, ix: int) -> str:
        if self.results is None:
            return ""
        rows = []
        for q in (q for q in QUANTITIES if q.source == "results" and not q.sigma):
            if q.key not in self.results:
                continue
            px = self.results.isel(y=iy, x=ix)
            value = float(px[q.key].values)
            sigma = float(px[f"{q.key}_sigma"].values) if f"{q.key}_sigma" in px else None
            grade = int(px[f"{q.key}_grade"].values) if f"{q.key}_grade" in px else None
            rows.append(f"{q.label} = " + value_html(value, sigma, grade, scale=q.scale,
                                                      unit=q.unit))
        extra = []
        for name in ("model", "reason"):
            if name in self.results and str(self.results[name].values[iy, ix]):
                extra.append(f"{name}: {html.escape(str(self.results[name].values[iy, ix]))}")
        return "<b>Map results</b><br>" + "<br>".join(rows + extra)

    def _show_pixel_data(self, iy: int, ix: int) -> None:
        head = f"<b>Pixel (iy={iy}, ix={ix})</b>"
        if self._x.size:
            head += f", x = {self._x[ix] * 1e9:.2f} nm, y = {self._y[iy] * 1e9:.2f} nm" \
                if self.cube is not None and "x" in self.cube.coords else ""
        parts = [head]
        if self.cube is None:
            self.spectrum_curve.setData([], [])
            parts.append("spectrum not available: the grid's data are not open")
        else:
            bias, G, done = map_source.pixel_spectrum(self.cube, iy, ix)
            if not done:
                self.spectrum_curve.setData([], [])
                parts.append("not measured yet")
            else:
                self.spectrum_curve.setData(bias, G)
                if "z" in self.cube:
                    z = float(self.cube["z"].values[iy, ix])
                    parts.append(f"z = {z * 1e9:.4g} nm (topography, not a fit)")
                if self.analysis is None:
                    parts.append("<i>fitting this pixel…</i>")
        results = self._results_html(iy, ix)
        if results:
            parts.append(results)
        if self.analysis is not None:
            parts.append("<b>Fit of this spectrum</b> (pipeline)<br>"
                         + result_html(self.analysis.result))
        self.pixel_text.setText("<br>".join(parts))

    def _fit_done(self, analysis, error: str) -> None:
        if self.selected is None:
            return
        iy, ix = self.selected
        if analysis is None:
            self._show_pixel_data(iy, ix)
            self.pixel_text.setText(self.pixel_text.text().replace(
                "<i>fitting this pixel…</i>",
                f"<span style='color:#c62828'>fit failed: {html.escape(error)}</span>"))
            return
        self.analysis = analysis
        fit = analysis.fit
        G_N = fit_G_N_G0(analysis)
        if fit is not None and G_N is not None:
            # the fit is of G/G_N: drawn in the spectrum's units, 2e^2/h
            self.fit_curve.setData(analysis.bias_V, fit.curve(analysis.bias_V) * G_N)
        elif fit is not None:
            log.info("pixel (%d, %d): fit not drawn, conductance in %s", iy, ix,
                     analysis.spectrum.G_unit)
        self._show_pixel_data(iy, ix)
        self.fit_shown.emit(iy, ix)
