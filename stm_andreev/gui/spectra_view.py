"""Live spectra: the current G(V), the setpoint waterfall (Fig. 1), the -d2G/dV2 map versus bias
and temperature (Fig. 2b), z and G_sp versus setpoint, and Delta_c / E_g in line.

Plot items are created once; a QTimer (10 Hz) polls the run file and updates them with
``setData``/``setImage``, whatever the data rate.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtWidgets

from stm_andreev.storage import G0_S

from . import theme
from .fit_worker import FitRunner
from .grades import result_html, value_html
from .runfile import RunFollower, RunFollowError
from .spectra_model import SpectraModel

log = logging.getLogger(__name__)

FollowerFactory = Callable[[Path], RunFollower]
#: Rows read per poll when attaching to a long run (the rest follow on the next polls).
ROWS_PER_POLL = 2000
#: Time allowed per redraw for the in-line analysis of rows not yet analysed (s).
ANALYSIS_BUDGET_S = 0.015
#: Waterfall curves labelled with their setpoint (every n-th).
LABEL_EVERY = 5
#: The summary views (waterfall, map, setpoint and gap plots) are redrawn at most this often
#: (s, wall); the current spectrum follows every new spectrum. A dry run delivers several
#: spectra a second and the GUI must not take the CPU from the acquisition.
SUMMARY_REDRAW_S = 2.0
#: The current spectrum is redrawn at most this often (s, wall): the newest one is shown.
CURRENT_REDRAW_S = 0.5


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _si(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "--"
    return pg.siFormat(value, suffix=unit, precision=3)


class LiveSpectraWidget(QtWidgets.QWidget):
    """The live views of one run file.

    :param follower_factory: opens a :class:`~.runfile.RunFollower` on a path (tests and the
        browser pass their own; default: a live SWMR reader).
    :param interval_ms: poll and redraw period (ms), 50-200 for 5-20 Hz.

    Emits :attr:`row_shown` with the row number each time the current spectrum changes.
    """

    row_shown = QtCore.pyqtSignal(int)

    def __init__(
        self,
        follower_factory: FollowerFactory = RunFollower,
        *,
        interval_ms: int = 200,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        theme.configure()
        self.follower_factory = follower_factory
        self.follower: RunFollower | None = None
        self.model = SpectraModel()
        self.redraw_times_s: list[float] = []
        self._summary_due = 0.0
        self._summary_pending = False
        self._current_due = 0.0
        self._current_pending = False
        self._waterfall_key: tuple = ()
        #: (bias, curve) drawn by each waterfall item, to skip re-setting unchanged curves
        self._waterfall_shown: list[tuple[np.ndarray, np.ndarray]] = []
        self._map_key: tuple = ()
        self._shown_row: int | None = None
        self.fit_row: int | None = None
        self.fits = FitRunner(self)
        self.fits.finished.connect(self._fit_done)
        self._build()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.update_views)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        layout = QtWidgets.QVBoxLayout(self)
        self.title = QtWidgets.QLabel("no run file")
        self.title.setTextFormat(QtCore.Qt.RichText)
        layout.addWidget(self.title)
        self.gap_text = QtWidgets.QLabel("")
        self.gap_text.setTextFormat(QtCore.Qt.RichText)
        # Wrapped and never wider than the window: unwrapped, this line's width set the
        # window's minimum width, so the plots grew wider than the window (more to paint) and
        # every change of its length re-laid out and repainted all six plots. Room for three
        # lines: two-line texts differ in height by a pixel (sub- and superscripts), which
        # was enough to resize and repaint the plots.
        self.gap_text.setWordWrap(True)
        self.gap_text.setSizePolicy(QtWidgets.QSizePolicy.Ignored,
                                    QtWidgets.QSizePolicy.Preferred)
        self.gap_text.setMinimumHeight(3 * self.gap_text.fontMetrics().lineSpacing() + 4)
        layout.addWidget(self.gap_text)
        fit_row = QtWidgets.QHBoxLayout()
        self.fit_button = QtWidgets.QPushButton("Fit this spectrum (graded)")
        self.fit_button.setToolTip("Dynes, BTK and two-gap fits of the current spectrum, the "
                                   "model chosen by evidence, every value with its "
                                   "uncertainty and grade (a few seconds)")
        self.fit_button.clicked.connect(self.fit_current)
        fit_row.addWidget(self.fit_button)
        self.fit_text = QtWidgets.QLabel("")
        self.fit_text.setTextFormat(QtCore.Qt.RichText)
        self.fit_text.setWordWrap(True)
        self.fit_text.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        fit_row.addWidget(self.fit_text, stretch=1)
        layout.addLayout(fit_row)
        g = pg.GraphicsLayoutWidget()
        self.graphics = g
        layout.addWidget(g, stretch=1)

        self.current_plot = theme.style_plot(
            g.addPlot(row=0, col=0), "Current spectrum",
            left=("G", "2e²/h"), bottom=("Bias", "V"))
        self.current_plot.getAxis("left").enableAutoSIPrefix(False)
        self.current_curve = self.current_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2))
        self.fit_curve = self.current_plot.plot(
            [], [], pen=pg.mkPen("#d62728", width=1.5, style=QtCore.Qt.DashLine))
        self.gap_lines: dict[str, list[pg.InfiniteLine]] = {}
        for key, colour in (("delta_c", "#c62828"), ("E_g", "#555555")):
            style = QtCore.Qt.DashLine if key == "delta_c" else QtCore.Qt.DotLine
            lines = [pg.InfiniteLine(angle=90, pen=pg.mkPen(colour, width=1.5, style=style))
                     for _ in range(2)]
            for line in lines:
                line.hide()
                self.current_plot.addItem(line)
            self.gap_lines[key] = lines

        self.waterfall_plot = theme.style_plot(
            g.addPlot(row=0, col=1), "Setpoint sweep (Fig. 1)",
            left=("G / G(|V|max) + offset", None), bottom=("Bias", "V"))
        self.waterfall_curves: list[pg.PlotDataItem] = []
        self.waterfall_labels: list[pg.TextItem] = []

        self.map_plot = theme.style_plot(
            g.addPlot(row=0, col=2), "-d²G/dV² vs bias and temperature (Fig. 2b)",
            left=("Temperature", "K"), bottom=("Bias", "V"))
        self.map_image = pg.ImageItem()
        self.map_plot.addItem(self.map_image)
        self.map_bar = pg.ColorBarItem(
            values=(-1, 1), colorMap=pg.colormap.get("CET-D1"), width=14, interactive=False)
        self.map_bar.setImageItem(self.map_image, insert_in=self.map_plot)
        bar_axis = self.map_bar.getAxis("right")
        bar_axis.setTickFont(self.map_plot.getAxis("left").style["tickFont"])
        bar_axis.setLabel("-d²G/dV², normalised per temperature",
                          **{"font-size": f"{theme.FONT_PT}pt"})
        self.map_points = pg.ScatterPlotItem(size=5, brush=pg.mkBrush("k"), pen=None,
                                             symbol="t1")

        self.z_plot = theme.style_plot(
            g.addPlot(row=1, col=0), "Tip height vs setpoint",
            left=("z", "m"), bottom=("Setpoint current", "A"))
        self.z_plot.setLogMode(x=True, y=False)
        self.z_points = self.z_plot.plot([], [], pen=None, symbol="o", symbolSize=6,
                                         symbolBrush="#2ca02c", symbolPen=None)
        self.gsp_plot = theme.style_plot(
            g.addPlot(row=1, col=1), "Setpoint conductance vs setpoint",
            left=("G_sp = I_sp/V_sp", "2e²/h"), bottom=("Setpoint current", "A"))
        self.gsp_plot.setLogMode(x=True, y=True)
        self.gsp_plot.getAxis("left").enableAutoSIPrefix(False)
        self.gsp_points = self.gsp_plot.plot([], [], pen=None, symbol="s", symbolSize=6,
                                             symbolBrush="#9467bd", symbolPen=None)
        self.gaps_plot = theme.style_plot(
            g.addPlot(row=1, col=2), "Gaps vs temperature (in line)",
            left=("Energy", "eV"), bottom=("Temperature", "K"))
        legend = self.gaps_plot.addLegend(offset=(-10, -10), labelTextSize="9pt")
        legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.delta_points = self.gaps_plot.plot(
            [], [], pen=None, symbol="o", symbolBrush="#c62828", symbolPen=None, symbolSize=7,
            name="Δc (-d²G/dV² maxima, ±1σ; in line, ungraded)")
        self.delta_errors = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0),
                                            pen=pg.mkPen("#c62828", width=1), beam=0.0)
        self.gaps_plot.addItem(self.delta_errors)
        self.eg_points = self.gaps_plot.plot(
            [], [], pen=None, symbol="s", symbolBrush="#555555", symbolPen=None, symbolSize=7,
            name="E_g (gap edge; in line, uncertainty unknown)")
        # Every temperature of the sweep appears: where the analysis finds no in-gap pair
        # (near Tc the Andreev peaks merge into one zero-bias maximum) an open marker on the
        # axis says so, rather than the temperature silently missing.
        self.unresolved_points = self.gaps_plot.plot(
            [], [], pen=None, symbol="o", symbolBrush=None, symbolPen=pg.mkPen("#c62828"),
            symbolSize=7, name="Δc not resolved (no in-gap pair)")
        for plot in (self.current_plot, self.waterfall_plot, self.map_plot, self.z_plot,
                     self.gsp_plot, self.gaps_plot):
            # The left axis grows for wider tick labels but does not shrink back: measured in
            # the paint, each change of its width re-laid out the row and painted it again
            # (a new spectrum's range changes the labels nearly every time).
            plot.getAxis("left").setStyle(autoReduceTextSpace=False)
        g.ci.layout.setRowStretchFactor(0, 3)
        g.ci.layout.setRowStretchFactor(1, 2)
        self.status = QtWidgets.QLabel("")
        layout.addWidget(self.status)

    # ------------------------------------------------------------------ following
    def follow(self, path: str | os.PathLike[str]) -> None:
        """Show run file ``path`` (still being written or finished) and start the timer."""
        if self.follower is not None:
            self.follower.close()
        self.model.clear()
        self._waterfall_key = self._map_key = ()
        self._waterfall_shown = []
        self._summary_due = self._current_due = 0.0
        for curve in self.waterfall_curves:
            curve.setData([], [])
        for label in self.waterfall_labels:
            label.setText("")
        self.follower = self.follower_factory(Path(path))
        path = Path(path)
        self.model.source = str(path)
        self.fits.cancel()
        self.fit_row = self._shown_row = None
        self.fit_text.setText("")
        self.fit_curve.setData([], [])
        self.title.setText(f"<b>{path.name}</b> <span style='color:#666'>in {path.parent}</span>")
        self.update_views()
        self.timer.start()

    def close_run(self) -> None:
        self.timer.stop()
        self.fits.stop()
        if self.follower is not None:
            self.follower.close()
            self.follower = None

    def update_views(self) -> None:
        """Timer: read new spectra (if any) and redraw."""
        if self.follower is None:
            return
        start = time.perf_counter()
        try:
            block = self.follower.poll(max_rows=ROWS_PER_POLL, read_events=False)
        except RunFollowError as exc:
            self.status.setText(str(exc))
            return
        if block is not None:
            self.model.add(block)
            self._summary_pending = self._current_pending = True
        drawn = False
        if self._current_pending and time.perf_counter() >= self._current_due:
            self._redraw_current()
            drawn = True
        if self.model.n and not self._analysis_done():
            # the lazy in-line analysis of a long run goes on between spectra, bounded per tick
            self.model.analyse_pending(self.model.temperature_rows(), ANALYSIS_BUDGET_S)
            self._summary_pending = True
        if self._summary_pending and time.perf_counter() >= self._summary_due:
            self._redraw_summary()
            drawn = True
        if drawn:
            self._settle()
        if block is not None:
            self.redraw_times_s.append(time.perf_counter() - start)
        f = self.follower
        self.status.setText(
            f"{f.status or 'waiting for the file'}: {self.model.n} spectra"
            + (f" of {f.metadata.get('n_planned')}" if f.metadata else "")
        )

    def _analysis_done(self) -> bool:
        rows = self.model.temperature_rows()
        return all(self.model.has_result(int(r)) for r in rows)

    # ------------------------------------------------------------------ drawing
    def _redraw(self) -> None:
        """Redraw everything now (used after attaching and for screenshots)."""
        self._redraw_current()
        self._redraw_summary()
        self._settle()

    def _settle(self) -> None:
        """Let the plots take their new ranges now, not during Qt's next paint.

        pyqtgraph defers a view's auto-range (and the text items' transforms) to the scene's
        "prepare for paint", which runs inside the paint: the new range then changes the axes,
        which lie outside the region being painted, and Qt paints a second time for them (two
        paints per redraw, measured). Settled here, one paint covers the data and the axes."""
        self.graphics.scene().prepareForPaint()

    def _redraw_current(self) -> None:
        m = self.model
        self._current_pending = False
        self._current_due = time.perf_counter() + CURRENT_REDRAW_S
        if m.n == 0:
            return
        last = m.n - 1
        self.current_curve.setData(m.bias_V[last], m.G_G0[last])
        self._show_gaps(m.result(last), last)

    def _redraw_summary(self) -> None:
        m = self.model
        self._summary_pending = False
        self._summary_due = time.perf_counter() + SUMMARY_REDRAW_S
        if m.n == 0:
            return
        self._draw_waterfall()
        self._draw_map()
        I_sp, z, G_sp = m.setpoint_dependence()
        ok = np.isfinite(I_sp) & (I_sp > 0)
        self.z_points.setData(I_sp[ok & np.isfinite(z)], z[ok & np.isfinite(z)])
        ok_g = ok & np.isfinite(G_sp) & (G_sp > 0)
        self.gsp_points.setData(I_sp[ok_g], G_sp[ok_g])
        T, dc, eg = m.gaps_vs_temperature()
        self.delta_points.setData(T[np.isfinite(dc)], dc[np.isfinite(dc)])
        err = m.delta_c_errors()
        bars = np.isfinite(dc) & np.isfinite(err)
        self.delta_errors.setData(x=T[bars], y=dc[bars], height=2 * err[bars])
        self.eg_points.setData(T[np.isfinite(eg)], eg[np.isfinite(eg)])
        self.unresolved_points.setData(T[~np.isfinite(dc)], np.zeros(int(np.sum(~np.isfinite(dc)))))

    def _show_gaps(self, result, row: int) -> None:
        for key, value in (("delta_c", result.delta_c_eV), ("E_g", result.E_g_eV)):
            for sign, line in zip((-1, 1), self.gap_lines[key], strict=True):
                if value is None:
                    line.hide()
                else:
                    line.setValue(sign * value)
                    line.show()
        m = self.model
        T = m.temperatures_K()[row]
        I_sp = m.column("setpoint_A")[row]
        G_sp = m.column("G_sp_S")[row] / G0_S
        changed = row != self._shown_row
        self._shown_row = row
        # In-line estimates, not fits: each carries its uncertainty (or says it is unknown)
        # and "ungraded"; the fit button gives graded values.
        dc = ("none found" if result.delta_c_eV is None else
              value_html(result.delta_c_eV, result.delta_c_err_eV, "ungraded", scale=1e6,
                         unit="µeV"))
        eg = ("none found" if result.E_g_eV is None else
              value_html(result.E_g_eV, None, "ungraded", scale=1e6, unit="µeV"))
        self.gap_text.setText(
            f"Current spectrum: <b>row {row}</b>, I<sub>sp</sub> = {_si(I_sp, 'A')}, "
            f"G<sub>sp</sub> = {G_sp:.3g} × 2e²/h, T = {_si(T, 'K')} &nbsp;|&nbsp; "
            f"<b style='color:#c62828'>Δ<sub>c</sub></b> = {dc}"
            f" &nbsp; <b>E<sub>g</sub></b> = {eg} &nbsp; "
            f"<small>(in-line estimates from {result.method}, not fits; dashed red: "
            f"±Δ<sub>c</sub>, dotted grey: ±E<sub>g</sub>)</small>"
        )
        if changed:
            self.row_shown.emit(row)

    # ------------------------------------------------------------------ graded fit
    def fit_current(self) -> None:
        """Fit the spectrum shown (in a worker thread): the pipeline's graded result."""
        row = self._shown_row
        if row is None:
            self.fit_text.setText("no spectrum to fit yet")
            return
        from stm_andreev.analysis.pipeline import analyze_spectrum

        spec = self.model.spectrum_input(row)
        self.fit_row = row
        self.fit_curve.setData([], [])
        self.fit_text.setText(f"<i>fitting row {row}…</i>")
        self.fits.submit(lambda: analyze_spectrum(spec))

    def _fit_done(self, analysis, error: str) -> None:
        row = self.fit_row
        if analysis is None:
            self.fit_text.setText(f"<span style='color:#c62828'>row {row}: fit failed: "
                                  f"{error}</span>")
            return
        self.fit_text.setText(f"Row {row}: " + result_html(analysis.result, sep=" &nbsp;· "))
        if analysis.fit is not None:
            self.fit_curve.setData(analysis.bias_V,
                                   analysis.fit.curve(analysis.bias_V) * analysis.G_N)

    def _draw_waterfall(self) -> None:
        rows = self.model.setpoint_rows()
        key = (rows.size, int(rows[0]), int(rows[-1])) if rows.size else (0,)
        if key == self._waterfall_key:
            return  # no new setpoint-sweep spectrum: leave the curves alone
        self._waterfall_key = key
        curves = self.model.waterfall()
        while len(self.waterfall_curves) < len(curves):
            # up to 40 thin curves: antialiasing would double the paint time for no visible gain
            self.waterfall_curves.append(self.waterfall_plot.plot([], [], antialias=False))
            label = pg.TextItem("", anchor=(0, 0.5), color="#202020")
            # not in the auto-range: a text item's extent in data units follows the view's
            # scale, so each range change moved its bounds and asked for yet another range
            # (and paint); the x range is set below, with room for the labels
            self.waterfall_plot.addItem(label, ignoreBounds=True)
            self.waterfall_labels.append(label)
        colours = theme.colours_for(np.array([c[2] for c in curves]), log=True)
        for k, curve_item in enumerate(self.waterfall_curves):
            label = self.waterfall_labels[k]
            if k >= len(curves):
                curve_item.setData([], [])
                label.setText("")
                continue
            V, g, I_sp = curves[k]
            pen = pg.mkPen(colours[k], width=1.5)
            shown = self._waterfall_shown[k] if k < len(self._waterfall_shown) else None
            if shown is not None and _same(shown[0], V) and _same(shown[1], g):
                # the same spectrum at the same place: only its colour may have moved along the
                # colour map (the setpoint range grew); setData would recompute it all
                curve_item.setPen(pen)
            else:
                curve_item.setData(V, g, pen=pen)
            if k % LABEL_EVERY == 0 or k == len(curves) - 1:
                label.setText(_si(I_sp, "A"))
                label.setColor(colours[k])
                label.setPos(float(np.nanmax(V)), float(g[np.nanargmax(V)]))
            else:
                label.setText("")
        self._waterfall_shown = [(c[0], c[1]) for c in curves]
        if curves:
            V = curves[0][0]
            lo, hi = float(np.nanmin(V)), float(np.nanmax(V))
            # room on the right for the setpoint labels
            self.waterfall_plot.setXRange(lo, hi + 0.22 * (hi - lo), padding=0.02)

    def _draw_map(self) -> None:
        image = self.model.map_image(budget_s=ANALYSIS_BUDGET_S)
        if image is None:
            return
        key = (image.measured_T_K.size, float(image.measured_T_K[-1]), image.bias_V.size)
        if key == self._map_key:
            return
        self._map_key = key
        # Each temperature scaled to its own largest |value|: the peaks shrink by orders of
        # magnitude towards Tc and would vanish on a common scale.
        data = image.image
        with np.errstate(invalid="ignore", divide="ignore"):
            peak = np.nanmax(np.abs(data), axis=1, keepdims=True)
            data = np.where(peak > 0, data / peak, 0.0)
        span = 1.0
        self.map_image.setImage(data, autoLevels=False)
        V, T = image.bias_V, image.T_K
        dV = (V[-1] - V[0]) / max(V.size - 1, 1)
        dT = (T[-1] - T[0]) / max(T.size - 1, 1)
        self.map_image.setRect(QtCore.QRectF(V[0] - dV / 2, T[0] - dT / 2,
                                             V[-1] - V[0] + dV, T[-1] - T[0] + dT))
        self.map_bar.setLevels((-span, span))
