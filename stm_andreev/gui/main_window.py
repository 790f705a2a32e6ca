"""The main window: run control, live spectra, cooldown dashboard, the run browser and (for a
spectroscopy grid) the map panel in tabs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PyQt5 import QtCore, QtWidgets

from stm_andreev.storage.ramp_samples import read_ramp_samples

from . import map_source, theme
from .browse import BrowseWidget, file_format
from .cooldown import CooldownFileSampler, SamplerError
from .dashboard import CooldownDashboard
from .map_view import MapPanel
from .ramp_view import RampSamplesView
from .run_control import RunControlWidget
from .spectra_view import LiveSpectraWidget

log = logging.getLogger(__name__)

TAB_NAMES = ("Run control", "Live spectra", "Cooldown", "Browse runs", "Map", "Ramp samples")
#: ``stm_andreev_format`` of run files (a map results sibling file is not one).
RUN_FORMAT = "stm_andreev.run"


class MainWindow(QtWidgets.QMainWindow):
    """Holds the views (built by the caller) and wires them together.

    A run file picked in the browser or started/attached in run control opens in the live
    spectra tab; if it holds a spectroscopy grid (``/entry/grid``) or map results, the Map tab
    appears and shows it (following a running grid live); if it kept the raw samples of
    continuous spectra, the "Ramp samples" tab shows those of the current spectrum. Closing
    the window stops the timers and closes the readers only: runs go on.

    :param dashboard: the cooldown dashboard, or a widget explaining why there is none.
    :param maps: the map panel (default: a new :class:`~.map_view.MapPanel`).
    """

    def __init__(
        self,
        run_control: RunControlWidget,
        spectra: LiveSpectraWidget,
        dashboard: QtWidgets.QWidget,
        browse: BrowseWidget,
        *,
        title: str = "stm-andreev",
        maps: MapPanel | None = None,
    ) -> None:
        super().__init__()
        theme.configure()
        self.setWindowTitle(title)
        self.setFont(theme.app_font())
        self.run_control = run_control
        self.spectra = spectra
        self.dashboard = dashboard
        self.browse = browse
        self.maps = maps or MapPanel()
        self.ramp = RampSamplesView()
        self.run_path: Path | None = None
        self.cooldown_logs: list[CooldownDashboard] = []
        self.tabs = QtWidgets.QTabWidget()
        views = (run_control, spectra, dashboard, browse, self.maps, self.ramp)
        for name, widget in zip(TAB_NAMES, views, strict=True):
            self.tabs.addTab(widget, name)
        for name in ("Map", "Ramp samples"):  # until a run that has them is opened
            self.tabs.setTabVisible(TAB_NAMES.index(name), False)
        spectra.row_shown.connect(self.show_ramp_samples)
        self.setCentralWidget(self.tabs)
        run_control.run_file_changed.connect(self.open_run)
        run_control.cooldown_file_changed.connect(self.open_cooldown)
        browse.open_requested.connect(self.open_run)
        browse.open_cooldown_requested.connect(self.open_cooldown)
        self.resize(1600, 950)

    @QtCore.pyqtSlot(str)
    def open_run(self, path: str) -> None:
        """Show ``path`` in the live spectra tab, and in the Map tab if it holds a grid or
        map results (then the Map tab is the one shown)."""
        grid, results = map_source.has_grid(path), map_source.has_map_results(path)
        run_file = file_format(Path(path)) == RUN_FORMAT or not (grid or results)
        self.run_path = Path(path) if run_file else None
        self.tabs.setTabVisible(TAB_NAMES.index("Ramp samples"), False)
        self.ramp.clear("no continuous spectrum shown")
        if run_file:
            self.spectra.follow(path)
            self.tabs.setCurrentWidget(self.spectra)
        if grid:
            self.maps.follow_run(path)
        elif results:
            self.maps.open_results(path)
        else:
            self.maps.stop()
        self.tabs.setTabVisible(TAB_NAMES.index("Map"), grid or results)
        if grid or results:
            self.tabs.setCurrentWidget(self.maps)

    @QtCore.pyqtSlot(int)
    def show_ramp_samples(self, row: int) -> None:
        """Show the raw samples of the live view's current spectrum, if the run kept them
        (the tab appears with the first continuous spectrum of a run)."""
        if self.run_path is None:
            return
        m = self.spectra.model
        point = m.column("point_index")[row]
        samples = read_ramp_samples(self.run_path, int(point)) if np.isfinite(point) else None
        tab = TAB_NAMES.index("Ramp samples")
        if samples is None:
            self.ramp.clear(f"row {row}: no raw samples (not a continuous spectrum)")
            return
        self.tabs.setTabVisible(tab, True)
        self.ramp.show_spectrum(
            samples, m.bias_V[row], m.G_G0[row],
            gain_V_per_A=float(m.column("preamp_gain_V_per_A")[row]),
            modulation_Vrms=float(m.column("modulation_Vrms")[row]),
            label=f"row {row} (point {int(point)})")

    @QtCore.pyqtSlot(str)
    def open_cooldown(self, path: str) -> None:
        """Show a cooldown log (finished or still growing) in a Cooldown tab of its own."""
        try:
            sampler = CooldownFileSampler(path)
        except SamplerError as exc:
            QtWidgets.QMessageBox.warning(self, "Cooldown log", str(exc))
            return
        board = CooldownDashboard(sampler, interval_ms=1000)
        board.tick_once()
        board.start()
        self.cooldown_logs.append(board)
        index = self.tabs.addTab(board, f"Cooldown log: {Path(path).name}")
        self.tabs.setCurrentIndex(index)

    def attach(self, run_path: str | Path) -> None:
        """Reattach to a run (e.g. after a GUI restart): progress, events, spectra."""
        self.run_control.attach(run_path)

    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentIndex(TAB_NAMES.index(name))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop timers and close readers; never touches the runs themselves."""
        self.run_control.release_queue()
        if self.run_control.follower is not None:
            self.run_control.follower.close()
        self.spectra.close_run()
        self.maps.stop()
        for board in [self.dashboard, *self.cooldown_logs]:
            if isinstance(board, CooldownDashboard):
                board.stop()


def dashboard_placeholder(reason: str) -> QtWidgets.QWidget:
    """What the Cooldown tab shows when the fridge cannot be read."""
    label = QtWidgets.QLabel(f"Cooldown dashboard unavailable:\n{reason}")
    label.setWordWrap(True)
    label.setAlignment(QtCore.Qt.AlignCenter)
    return label
