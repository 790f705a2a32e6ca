"""Cooldown dashboard: fridge thermometers and film resistance on log axes, heater, rate, alarms."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Protocol

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtCore, QtWidgets

from . import theme
from .cooldown import AlarmBand, CooldownHistory, Sample
from .runfile import format_duration

log = logging.getLogger(__name__)

#: Film resistance below this (ohm) is drawn at it: zero (superconducting) has no logarithm.
FILM_FLOOR_OHM = 1e-2
SECONDS_PER_HOUR = 3600.0
#: |R| below this (ohm) is the bridge's noise floor: the film is superconducting.
SUPERCONDUCTING_OHM = 0.05
#: Longest wait for the sampler thread to finish its current tick when stopping (ms).
WORKER_STOP_MS = 5000


class Sampler(Protocol):
    """What the dashboard reads: a list of new samples per tick and the thermometer names."""

    thermometer_names: list[str]

    def tick(self) -> list[Sample]: ...


_UNITS = {"film": "Ω", "heater": "%"}


def _pretty(name: str) -> str:
    return name.replace("_", " ")


class _SamplerWorker(QtCore.QObject):
    """Calls ``sampler.tick()`` in a worker thread; hands the samples back by a signal."""

    done = QtCore.pyqtSignal(list, str)

    def __init__(self, sampler: Sampler) -> None:
        super().__init__()
        self.sampler = sampler

    @QtCore.pyqtSlot()
    def tick(self) -> None:
        try:
            self.done.emit(list(self.sampler.tick()), "")
        except Exception as exc:  # shown on the dashboard, never lost in the thread
            self.done.emit([], f"{type(exc).__name__}: {exc}")


class CooldownDashboard(QtWidgets.QWidget):
    """Live fridge view.

    Emits nothing; its timer asks the sampler for new readings (``tick()``) and redraws.

    :param sampler: gives new :class:`~.cooldown.Sample` s at each tick (a
        :class:`~.cooldown.StationSampler` on hardware, a :class:`~.cooldown.SimulatedCooldown`
        for the simulated station, or anything with ``tick()`` and ``thermometer_names``).
    :param control_name: the thermometer for the cooling rate and time to base (default: the
        first one).
    :param base_K: base temperature aimed at (K).
    :param bands: alarm bands by series name (thermometer names, ``film``, ``heater``).
    :param interval_ms: tick period of the timer (ms); :meth:`start` starts it.
    :param threaded: call the sampler in a worker thread (a slow or hung instrument, or the
        fridge simulation, then never freezes the window); False: in the GUI thread.
    :param run_when_hidden: keep sampling while the widget is not on screen (a real fridge's
        history must not have holes); False for a simulated cooldown, which is a
        demonstration and costs CPU that a dry run in another process could use.
    """

    _request_tick = QtCore.pyqtSignal()

    def __init__(
        self,
        sampler: Sampler,
        *,
        control_name: str | None = None,
        base_K: float = 0.06,
        bands: Mapping[str, AlarmBand] | None = None,
        interval_ms: int = 200,
        threaded: bool = False,
        run_when_hidden: bool = True,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        theme.configure()
        self.sampler = sampler
        self.threaded = threaded
        self.run_when_hidden = run_when_hidden
        self._worker_thread: QtCore.QThread | None = None
        self._worker: _SamplerWorker | None = None
        self._in_flight = False
        names = list(sampler.thermometer_names)
        self.control_name = control_name or (names[0] if names else "")
        self.history = CooldownHistory(self.control_name, base_K=base_K, bands=bands)
        self._t0: float | None = None
        self._build(names)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._on_timer)

    # ------------------------------------------------------------------ layout
    def _build(self, names: list[str]) -> None:
        layout = QtWidgets.QHBoxLayout(self)
        plots = pg.GraphicsLayoutWidget()
        self.plots = plots
        self.temperature_plot = theme.style_plot(
            plots.addPlot(row=0, col=0), "Fridge temperatures",
            left=("Temperature", "K"), bottom=("Time since start", "h"))
        self.film_plot = theme.style_plot(
            plots.addPlot(row=0, col=1), "Film four-terminal resistance",
            left=("R", "Ω"), bottom=("Time since start", "h"))
        self.heater_plot = theme.style_plot(
            plots.addPlot(row=1, col=0, colspan=2), "Sample heater output",
            left=("Heater", "%"), bottom=("Time since start", "h"))
        plots.ci.layout.setRowStretchFactor(0, 3)
        plots.ci.layout.setRowStretchFactor(1, 1)
        for plot in (self.temperature_plot, self.film_plot):
            plot.setLogMode(x=False, y=True)
        for plot in (self.temperature_plot, self.film_plot, self.heater_plot):
            plot.getAxis("bottom").enableAutoSIPrefix(False)
            plot.getAxis("left").enableAutoSIPrefix(False)
        self.heater_plot.setYRange(0, 100)
        legend = self.temperature_plot.addLegend(offset=(-10, 10), labelTextSize="9pt")
        legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.curves: dict[str, pg.PlotDataItem] = {}
        for i, name in enumerate(names):
            colour = theme.LINE_COLOURS[i % len(theme.LINE_COLOURS)]
            self.curves[name] = self.temperature_plot.plot(
                [], [], pen=pg.mkPen(colour, width=2), name=_pretty(name))
        self.curves["film"] = self.film_plot.plot([], [], pen=pg.mkPen("#6a1b9a", width=2))
        self.curves["heater"] = self.heater_plot.plot(
            [], [], pen=pg.mkPen("#e65100", width=2), fillLevel=0,
            brush=pg.mkBrush(230, 81, 0, 50))
        self._band_lines: list[pg.InfiniteLine] = []
        for name, band in self.history.bands.items():
            plot = {"film": self.film_plot, "heater": self.heater_plot}.get(
                name, self.temperature_plot)
            for value in (band.low, band.high):
                if math.isfinite(value) and value > 0:
                    y = math.log10(value) if plot is not self.heater_plot else value
                    line = pg.InfiniteLine(
                        pos=y, angle=0, pen=pg.mkPen("#c62828", width=1, style=QtCore.Qt.DashLine),
                        label=f"{_pretty(name)} limit {value:g} {_UNITS.get(name, 'K')}",
                        labelOpts={"position": 0.45, "color": "#c62828",
                                   "anchors": [(0.5, 1), (0.5, 1)]})
                    plot.addItem(line)
                    self._band_lines.append(line)
        layout.addWidget(plots, stretch=4)

        side = QtWidgets.QVBoxLayout()
        box = QtWidgets.QGroupBox("Now")
        form = QtWidgets.QFormLayout(box)
        self.value_labels: dict[str, QtWidgets.QLabel] = {}
        for name in [*names, "film", "heater", "rate", "to base", "station time"]:
            label = QtWidgets.QLabel("--")
            label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
            label.setWordWrap(True)
            self.value_labels[name] = label
            title = {"film": "film R", "rate": "cooling rate", "to base": "to base (est.)",
                     "heater": "heater"}.get(name, _pretty(name))
            form.addRow(f"{title}:", label)
        side.addWidget(box)
        self.alarm_label = QtWidgets.QLabel("no alarm")
        self.alarm_label.setWordWrap(True)
        self.alarm_label.setStyleSheet(theme.BANNER_STYLES["ok"])
        side.addWidget(self.alarm_label)
        side.addStretch(1)
        holder = QtWidgets.QWidget()
        holder.setLayout(side)
        holder.setMinimumWidth(420)
        layout.addWidget(holder, stretch=1)

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        """Stop sampling (and the worker thread, if threaded)."""
        self.timer.stop()
        if self._worker_thread is not None:
            self._worker_thread.quit()
            self._worker_thread.wait(WORKER_STOP_MS)
            self._worker_thread = None

    def _on_timer(self) -> None:
        if not (self.run_when_hidden or self.isVisible()):
            return
        if not self.threaded:
            self.tick_once()
        elif not self._in_flight:
            self._ensure_worker()
            self._in_flight = True
            self._request_tick.emit()

    def _ensure_worker(self) -> None:
        if self._worker_thread is not None:
            return
        self._worker_thread = QtCore.QThread(self)
        self._worker = _SamplerWorker(self.sampler)
        self._worker.moveToThread(self._worker_thread)
        self._request_tick.connect(self._worker.tick)
        self._worker.done.connect(self._on_samples)
        self._worker_thread.finished.connect(self._worker.deleteLater)
        self._worker_thread.start()

    def _on_samples(self, samples: list, error: str) -> None:
        self._in_flight = False
        self._take(samples, error)

    def tick_once(self) -> None:
        """Read the sampler once, in this thread, and redraw."""
        try:
            samples, error = self.sampler.tick(), ""
        except Exception as exc:  # an unreachable fridge is shown, not fatal
            samples, error = [], f"{type(exc).__name__}: {exc}"
        self._take(samples, error)

    def _take(self, samples: list[Sample], error: str) -> None:
        if error:
            log.warning("dashboard sampler failed: %s", error)
            self.history.errors["sampler"] = error
        else:
            self.history.errors.pop("sampler", None)
        for sample in samples:
            if self._t0 is None:
                self._t0 = sample.time_s
            self.history.add(sample)
        self.redraw()

    def redraw(self) -> None:
        t0 = self._t0 or 0.0
        h = self.history
        for name, curve in self.curves.items():
            t, v = h.arrays(name)
            if name == "film":
                v = np.clip(np.abs(v), FILM_FLOOR_OHM, None)
            elif name != "heater":
                keep = v > 0
                t, v = t[keep], v[keep]
            curve.setData((t - t0) / SECONDS_PER_HOUR, v)
        for name, label in self.value_labels.items():
            label.setText(self._value_text(name))
        self._show_alarms()

    def _value_text(self, name: str) -> str:
        h = self.history
        if name == "rate":
            rate = h.cooling_rate_K_per_min()
            return "--" if not math.isfinite(rate) else pg.siFormat(rate, suffix="K/min")
        if name == "to base":
            eta = h.time_to_base_s()
            return f"{format_duration(eta)} to {h.base_K * 1e3:.0f} mK"
        if name == "station time":
            t = [ts[-1] for ts, _ in h.series.values() if ts]
            return format_duration(max(t) - (self._t0 or 0.0)) if t else "--"
        value = h.latest(name)
        if value is None:
            return h.errors.get(name, "--")[:40]
        if name == "film":
            if abs(value) < SUPERCONDUCTING_OHM:
                return "≈ 0 Ω: superconducting"
            return pg.siFormat(value, suffix="Ω", precision=4)
        if name == "heater":
            return f"{value:.1f} %"
        return pg.siFormat(value, suffix="K", precision=4)

    def _show_alarms(self) -> None:
        h = self.history
        lines = list(h.alarms.values()) + [f"{k}: {v}" for k, v in h.errors.items()]
        if lines:
            self.alarm_label.setText("ALARM: " + "; ".join(lines))
            self.alarm_label.setStyleSheet(theme.BANNER_STYLES["alarm"])
        else:
            self.alarm_label.setText("no alarm: every value within its band")
            self.alarm_label.setStyleSheet(theme.BANNER_STYLES["ok"])
