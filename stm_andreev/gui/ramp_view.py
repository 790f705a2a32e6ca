"""The raw lock-in samples of a continuous spectrum next to the curve recovered from them.

Left: the captured X output against time since the capture start (converted to conductance,
X / (gain Vmod), so it shares the recovered curve's units) above the bias the controller
applied at that time. Right: the same samples against the applied bias, where the filter's
lag shows as a trace dragged behind the steps, and the G(V) the estimator recovered on the
grid (docs/continuous.md). The samples are the ones kept beside the run file
(:mod:`stm_andreev.storage.ramp_samples`).
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtWidgets

from stm_andreev.storage import G0_S
from stm_andreev.storage.ramp_samples import RampSamples

from . import theme

#: At most this many raw samples are drawn per curve (evenly picked): a 4 MB capture holds
#: half a million, far more than a screen has pixels.
MAX_DRAWN_SAMPLES = 20_000


def _thin(n: int) -> np.ndarray:
    if n <= MAX_DRAWN_SAMPLES:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_DRAWN_SAMPLES).round().astype(int))


class RampSamplesView(QtWidgets.QWidget):
    """Raw samples and recovered curve of one continuous spectrum (:meth:`show_spectrum`)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        theme.configure()
        layout = QtWidgets.QVBoxLayout(self)
        self.title = QtWidgets.QLabel("no continuous spectrum shown")
        self.title.setTextFormat(QtCore.Qt.RichText)
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        g = pg.GraphicsLayoutWidget()
        self.graphics = g
        layout.addWidget(g, stretch=1)
        self.time_plot = theme.style_plot(
            g.addPlot(row=0, col=0), "Raw lock-in X vs time",
            left=("X / (gain·Vmod)", "2e²/h"), bottom=("Time since capture start", "s"))
        self.time_plot.getAxis("left").enableAutoSIPrefix(False)
        self.raw_time_curve = self.time_plot.plot([], [], pen=pg.mkPen("#555555", width=1))
        self.bias_plot = theme.style_plot(
            g.addPlot(row=1, col=0), "Applied bias vs time",
            left=("Bias", "V"), bottom=("Time since capture start", "s"))
        self.bias_plot.setXLink(self.time_plot)
        self.bias_curve = self.bias_plot.plot([], [], pen=pg.mkPen("#2ca02c", width=1.5),
                                              stepMode="left")
        self.bias_vs_plot = theme.style_plot(
            g.addPlot(row=0, col=1, rowspan=2), "Raw samples vs applied bias, and G(V) recovered",
            left=("G", "2e²/h"), bottom=("Bias", "V"))
        self.bias_vs_plot.getAxis("left").enableAutoSIPrefix(False)
        legend = self.bias_vs_plot.addLegend(labelTextSize="9pt")
        legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        # top centre: between the coherence peaks of a gapped spectrum, where no data are
        legend.anchor(itemPos=(0.5, 0), parentPos=(0.5, 0), offset=(0, 10))
        self.raw_bias_curve = self.bias_vs_plot.plot(
            [], [], pen=pg.mkPen(150, 150, 150, 160, width=1),
            name="raw samples (filter lag included)")
        self.recovered_curve = self.bias_vs_plot.plot(
            [], [], pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=4,
            symbolBrush="#1f77b4", symbolPen=None, name="recovered on the grid")
        g.ci.layout.setRowStretchFactor(0, 3)
        g.ci.layout.setRowStretchFactor(1, 1)
        g.ci.layout.setColumnStretchFactor(0, 1)
        g.ci.layout.setColumnStretchFactor(1, 1)

    def clear(self, reason: str) -> None:
        for curve in (self.raw_time_curve, self.bias_curve, self.raw_bias_curve,
                      self.recovered_curve):
            curve.setData([], [])
        self.title.setText(html.escape(reason))

    def show_spectrum(self, samples: RampSamples, bias_V: np.ndarray, G_G0: np.ndarray, *,
                      gain_V_per_A: float, modulation_Vrms: float, label: str = "") -> None:
        """Draw ``samples`` and the recovered ``G_G0`` on ``bias_V`` (2e^2/h)."""
        to_G0 = 1.0 / (gain_V_per_A * modulation_Vrms * G0_S)
        pick = _thin(samples.time_s.size)
        t = samples.time_s[pick]
        raw = samples.X_V[pick] * to_G0
        self.raw_time_curve.setData(t, raw)
        end = max(float(samples.time_s[-1]), float(samples.step_time_s[-1])) \
            if samples.time_s.size else float(samples.step_time_s[-1])
        self.bias_curve.setData(np.append(samples.step_time_s, end),
                                np.append(samples.step_bias_V, samples.step_bias_V[-1]))
        applied = samples.bias_at(t)
        ok = np.isfinite(applied)
        self.raw_bias_curve.setData(applied[ok], raw[ok])
        self.recovered_curve.setData(bias_V, G_G0)
        self.title.setText(
            f"{html.escape(label)}: {samples.time_s.size} samples over "
            f"{samples.time_s[-1] if samples.time_s.size else 0:.3g} s, "
            f"{samples.step_bias_V.size} bias steps, filter τ = "
            f"{samples.time_constant_s * 1e3:.3g} ms, {samples.filter_slope_db} dB/oct "
            "<small>(raw X converted with the preamp gain and modulation of the spectrum)"
            "</small>")
