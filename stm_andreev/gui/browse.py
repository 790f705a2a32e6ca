"""Browse past run files in a directory and open one in the live views."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PyQt5 import QtCore, QtWidgets

from stm_andreev.storage import RunReader, StorageError

log = logging.getLogger(__name__)

COLUMNS = ("run file", "plan", "status", "spectra", "started")
#: Changes in the folder within this many ms make one re-scan (a run writes its file under a
#: staging name and links it into place: several events for one new run).
RESCAN_DELAY_MS = 300
#: Re-scan at least this often even without a change notice (file systems where inotify does
#: not see other machines' writes, e.g. a network share).
RESCAN_INTERVAL_MS = 10_000
#: ``stm_andreev_format`` of the cooldown logs of ``stm-andreev cooldown``.
COOLDOWN_FORMAT = "stm_andreev.cooldown"


def describe_run(path: Path) -> tuple[str, str, str, str, str]:
    """(name, plan, status, "done/planned", start time) of a run file (or of a cooldown log:
    "N readings"); errors say why."""
    if is_cooldown_file(path):
        return _describe_cooldown(path)
    try:
        with RunReader(path) as reader:
            meta = reader.metadata
            return (
                str(path.name),
                str(meta.get("plan", "")),
                reader.status,
                f"{reader.n_spectra}/{meta.get('n_planned', '?')}",
                str(meta.get("start_time", ""))[:19],
            )
    except (StorageError, OSError, KeyError, ValueError) as exc:
        return (str(path.name), "", f"unreadable: {exc}"[:80], "", "")


def file_format(path: Path) -> str | None:
    """The ``stm_andreev_format`` of an HDF5 file (``stm_andreev.run``,
    ``stm_andreev.cooldown``), or None while it cannot be read (e.g. still being laid out)."""
    import h5py

    try:
        with h5py.File(path, "r", libver="latest", swmr=True) as f:
            value = f.attrs.get("stm_andreev_format")
    except (OSError, ValueError):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return None if value is None else str(value)


def is_cooldown_file(path: Path) -> bool:
    """Whether ``path`` is a cooldown log (``stm-andreev cooldown``) rather than a run file."""
    return file_format(path) == COOLDOWN_FORMAT


def _describe_cooldown(path: Path) -> tuple[str, str, str, str, str]:
    from stm_andreev.storage.cooldown_file import read_cooldown

    try:
        data = read_cooldown(path)
    except Exception as exc:  # shown in the table, never fatal for the listing
        return (str(path.name), "cooldown", f"unreadable: {exc}"[:80], "", "")
    n = len(data["readings"].get("time_s", ()))
    return (str(path.name), str(data["metadata"].get("plan", "cooldown")), data["status"],
            f"{n} readings", "")


class BrowseWidget(QtWidgets.QWidget):
    """A table of the run files (``*.h5``, searched recursively) under a directory.

    :param directory: where to look (changeable in the widget).

    Emits :attr:`open_requested` with a run file's path on double-click or "Open", or
    :attr:`open_cooldown_requested` for a cooldown log.
    """

    open_requested = QtCore.pyqtSignal(str)
    open_cooldown_requested = QtCore.pyqtSignal(str)

    def __init__(
        self, directory: str | os.PathLike[str] = "runs", parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.paths: list[Path] = []
        layout = QtWidgets.QVBoxLayout(self)
        row = QtWidgets.QHBoxLayout()
        self.dir_edit = QtWidgets.QLineEdit(str(directory))
        row.addWidget(QtWidgets.QLabel("Directory"))
        row.addWidget(self.dir_edit, stretch=1)
        choose = QtWidgets.QPushButton("Choose...")
        choose.clicked.connect(self._choose)
        row.addWidget(choose)
        refresh = QtWidgets.QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        row.addWidget(refresh)
        layout.addLayout(row)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.cellDoubleClicked.connect(lambda r, _c: self.open_row(r))
        layout.addWidget(self.table, stretch=1)
        open_button = QtWidgets.QPushButton("Open (run files: live spectra; cooldown logs: "
                                            "cooldown view)")
        open_button.clicked.connect(self._open_selected)
        layout.addWidget(open_button)
        # New runs appear by themselves: the folder (and its sub-folders) is watched, and
        # re-scanned every RESCAN_INTERVAL_MS in case a change notice never comes.
        self._rescan = QtCore.QTimer(self)
        self._rescan.setSingleShot(True)
        self._rescan.setInterval(RESCAN_DELAY_MS)
        self._rescan.timeout.connect(self.refresh)
        self._watcher = QtCore.QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(lambda _path: self._rescan.start())
        self._poll = QtCore.QTimer(self)
        self._poll.setInterval(RESCAN_INTERVAL_MS)
        self._poll.timeout.connect(self.refresh)
        self._poll.start()
        self.dir_edit.editingFinished.connect(self.refresh)
        self.refresh()

    def _choose(self) -> None:
        chosen = QtWidgets.QFileDialog.getExistingDirectory(self, "Run directory",
                                                            self.dir_edit.text())
        if chosen:
            self.dir_edit.setText(chosen)
            self.refresh()

    def refresh(self) -> None:
        """Re-scan the directory, newest run first."""
        folder = Path(self.dir_edit.text())
        found = list(folder.rglob("*.h5")) if folder.is_dir() else []
        self._watch(folder)
        self.paths = sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
        self.table.setRowCount(len(self.paths))
        for row, path in enumerate(self.paths):
            for col, text in enumerate(describe_run(path)):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(str(path))
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()

    def _watch(self, folder: Path) -> None:
        """Watch ``folder`` and its sub-folders (QFileSystemWatcher is not recursive)."""
        wanted = {str(folder)} if folder.is_dir() else set()
        if wanted:
            wanted.update(str(p) for p in folder.rglob("*") if p.is_dir())
        watched = set(self._watcher.directories())
        if watched - wanted:
            self._watcher.removePaths(sorted(watched - wanted))
        if wanted - watched:
            self._watcher.addPaths(sorted(wanted - watched))

    def _open_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        if rows:
            self.open_row(rows[0])

    def open_row(self, row: int) -> None:
        path = self.paths[row]
        if is_cooldown_file(path):
            self.open_cooldown_requested.emit(str(path))
        else:
            self.open_requested.emit(str(path))
