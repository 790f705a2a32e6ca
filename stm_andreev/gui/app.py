"""Building the GUI from a station file, and the ``--screenshot`` mode (what ``stm-andreev gui``
calls)."""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PyQt5 import QtCore, QtWidgets

from stm_andreev.service.launcher import RunLauncher
from stm_andreev.service.queue_store import DEFAULT_QUEUE_PATH, RunQueue

from .browse import BrowseWidget
from .cooldown import (
    AlarmBand,
    FridgeConnection,
    SimulatedCooldown,
    StationSampler,
)
from .dashboard import CooldownDashboard
from .main_window import MainWindow, dashboard_placeholder
from .runfile import FINAL_STATUSES
from .spectra_view import LiveSpectraWidget

log = logging.getLogger(__name__)

#: Fridge time per dashboard tick with the simulated station (s).
SIMULATED_SECONDS_PER_TICK = 60.0
#: Dashboard tick period (ms): the simulated cooldown at 5 Hz, a real fridge every second (a
#: scanner channel settles in >= 4 s, so reading faster gains nothing).
SIMULATED_INTERVAL_MS = 200
REAL_INTERVAL_MS = 1000
#: In --screenshot mode the simulated cooldown runs this far before the picture (s).
SCREENSHOT_FRIDGE_S = 9 * 3600.0
SCREENSHOT_SECONDS_PER_TICK = 600.0
#: A followed run counts as "arrived" once no new spectrum came for this long (s, wall).
SCREENSHOT_QUIET_S = 1.5


@dataclass
class GuiOptions:
    station: str = "simulated"
    attach: str | None = None
    screenshot: str | None = None
    queue: str | None = None
    runs: str | None = None
    timeout_s: float = 120.0


@dataclass
class Gui:
    """The window and what it owns (closed by :meth:`close`)."""

    window: MainWindow
    dashboard_source: object | None = None

    def close(self) -> None:
        self.window.shutdown()
        source = self.dashboard_source
        if source is not None and hasattr(source, "close"):
            source.close()


def build_dashboard(config, *, seconds_per_tick: float = SIMULATED_SECONDS_PER_TICK,
                    interval_ms: int | None = None) -> tuple[QtWidgets.QWidget, object | None]:
    """The Cooldown tab for a station config: a simulated cooldown for the in-process
    simulated station, live Lake Shore readings otherwise, or a placeholder saying why not."""
    from stm_andreev.station import Station

    options = config.instruments[config.roles.temperature].options
    control = options.control_channel
    bands = {control: AlarmBand(control, high=config.limits.temperature_ceiling_K)}
    sim = config.simulation
    try:
        if sim is not None and sim.transport == "inprocess" and sim.clock == "virtual":
            station = Station.from_config(config)
            source = SimulatedCooldown(station, seconds_per_tick=seconds_per_tick)
            owner = station
            simulated = True
        else:
            fridge = FridgeConnection.from_config(config)
            source = StationSampler(fridge)
            owner = fridge
            simulated = False
    except Exception as exc:  # no fridge is no reason to refuse the rest of the GUI
        log.warning("cooldown dashboard unavailable: %s", exc)
        return dashboard_placeholder(f"{type(exc).__name__}: {exc}"), None
    if interval_ms is None:
        interval_ms = SIMULATED_INTERVAL_MS if simulated else REAL_INTERVAL_MS
    dashboard = CooldownDashboard(source, control_name=control, bands=bands,
                                  interval_ms=interval_ms, run_when_hidden=not simulated,
                                  threaded=True)
    return dashboard, owner


def build_gui(options: GuiOptions) -> Gui:
    """Every widget with its collaborators, wired into the main window."""
    from stm_andreev.config import load_station

    config = load_station(options.station)
    runs = Path(options.runs or config.output_dir)
    screenshot = options.screenshot is not None
    dashboard, owner = build_dashboard(
        config,
        seconds_per_tick=SCREENSHOT_SECONDS_PER_TICK if screenshot else SIMULATED_SECONDS_PER_TICK,
        interval_ms=0 if screenshot else None,
    )
    from .run_control import RunControlWidget

    queue = RunQueue(options.queue or os.environ.get("STM_ANDREEV_QUEUE", DEFAULT_QUEUE_PATH))
    run_control = RunControlWidget(queue, RunLauncher(), station=options.station, runs_dir=runs)
    window = MainWindow(run_control, LiveSpectraWidget(), dashboard, BrowseWidget(runs),
                        title=f"stm-andreev — {config.name}")
    if options.attach:
        window.attach(options.attach)
    if isinstance(dashboard, CooldownDashboard):
        dashboard.start()
    return Gui(window, owner)


class ScreenshotTaker(QtCore.QObject):
    """Saves the window once the data are in (or at the timeout), then quits the app."""

    def __init__(self, gui: Gui, path: str, timeout_s: float) -> None:
        super().__init__()
        self.gui = gui
        self.path = path
        self.deadline = time.monotonic() + timeout_s
        self.ok = False
        self._last_n = -1
        self._quiet_since = time.monotonic()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._check)
        self.timer.start()

    def ready(self) -> bool:
        w = self.gui.window
        if w.spectra.follower is not None:
            n = w.spectra.model.n
            if n != self._last_n:
                self._last_n, self._quiet_since = n, time.monotonic()
            final = w.spectra.follower.status in FINAL_STATUSES
            quiet = time.monotonic() - self._quiet_since > SCREENSHOT_QUIET_S
            return n > 0 and (final or quiet) and w.spectra._analysis_done()
        if isinstance(w.dashboard, CooldownDashboard):
            history = w.dashboard.history
            times = [ts[-1] - ts[0] for ts, _ in history.series.values() if ts]
            return bool(times) and max(times) >= SCREENSHOT_FRIDGE_S
        return True

    def _check(self) -> None:
        timed_out = time.monotonic() > self.deadline
        if not (self.ready() or timed_out):
            return
        self.timer.stop()
        w = self.gui.window
        if w.spectra.follower is not None:
            w.spectra.update_views()
        w.grab().save(self.path)
        self.ok = not timed_out
        if timed_out:
            log.warning("screenshot taken at the %s timeout before all data arrived", self.path)
        QtWidgets.QApplication.instance().quit()


def run_gui(options: GuiOptions) -> int:
    """Open the GUI (blocking until it closes); 0 on a normal exit."""
    if options.screenshot and "QT_QPA_PLATFORM" not in os.environ and not os.environ.get(
            "DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["stm-andreev"])
    gui = build_gui(options)
    window = gui.window
    taker = None
    if options.screenshot:
        window.show_tab("Live spectra" if options.attach else "Cooldown")
        taker = ScreenshotTaker(gui, options.screenshot, options.timeout_s
                                if math.isfinite(options.timeout_s) else 120.0)
    window.show()
    try:
        app.exec_()
    finally:
        gui.close()
    if taker is not None:
        return 0 if taker.ok else 1
    return 0
