"""The cooldown file: fridge thermometers and the film's R(T), one reading per row.

A cooldown is a time series of a few numbers every half-minute for hours, not spectra, so it
gets a file shaped for that instead of rows in a run file: one resizable 1D dataset per
quantity, written with SWMR and flushed after every reading, a confirmed-row counter written
after the rows (the run file's ledger rule: a killed writer leaves at most one unconfirmed
reading), the station and plan text, and an event log. ``/entry/readings`` is an NXdata whose
signal is the film resistance against the control thermometer, so a generic HDF5 viewer plots
the paper's Fig. S1 as it grows. The file is ``<stamp>_<plan>_cooldown.h5``
(:func:`cooldown_path`), beside the run file when the plan then takes spectra. See
docs/run-file-example.md for the layout; :func:`read_cooldown` reads it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from stm_andreev.redact import redact

FORMAT_NAME = "stm_andreev.cooldown"
FORMAT_VERSION = 1
CHUNK_ROWS = 512
TEXT_BYTES = 64
EVENT_KIND_BYTES = 32
EVENT_MESSAGE_BYTES = 1024

log = logging.getLogger(__name__)


class CooldownFileError(Exception):
    """A cooldown file cannot be created, written or read (the message names the file)."""


# ------------------------------------------------------------------------------ the file
def _column_name(thermometer: str) -> str:
    return f"{thermometer}_K"


class CooldownWriter:
    """The single writer of one cooldown file (layout in the module docstring)."""

    def __init__(self, path: Path, f: h5py.File, thermometers: list[str]) -> None:
        self.path = path
        self._f = f
        self.thermometers = list(thermometers)
        self._readings = f["entry/readings"]
        self._events = f["entry/events"]
        self.count = 0
        self._n_events = 0

    @classmethod
    def create(
        cls,
        path: str | Path,
        thermometers: list[str],
        *,
        station_text: str = "",
        plan_text: str = "",
        metadata: dict[str, Any] | None = None,
    ) -> CooldownWriter:
        """Lay the file out (never overwrites) and switch SWMR on."""
        path = Path(path)
        if path.exists():
            raise CooldownFileError(f"{path}: exists; a cooldown file is never overwritten")
        if not path.parent.is_dir():
            raise CooldownFileError(f"{path}: directory {path.parent} does not exist")
        try:
            f = h5py.File(path, "x", libver="latest")
        except OSError as exc:
            raise CooldownFileError(f"{path}: cannot create: {exc}") from exc
        try:
            _lay_out(f, path, thermometers, station_text, plan_text, metadata or {})
            f.swmr_mode = True
        except Exception:
            f.close()
            raise
        return cls(path, f, thermometers)

    def append(self, reading) -> None:
        """Store one :class:`~stm_andreev.procedures.cooldown.CooldownReading` and flush."""
        values = {
            "time_s": reading.time_s,
            "control_K": reading.control_K,
            "film_R_ohm": reading.film_R_ohm,
            "film_time_s": reading.film_time_s,
        }
        for name in self.thermometers:
            values[_column_name(name)] = reading.temperatures_K.get(name, math.nan)
            values[f"{name}_time_s"] = reading.read_at_s.get(name, math.nan)
        n = self.count
        try:
            for key, value in values.items():
                ds = self._readings[key]
                ds.resize((n + 1,))
                ds[n] = value
            self._f.flush()
            # Rows first, then the count: a reader never sees a half-written reading.
            self._readings["count"][()] = n + 1
            self._f.flush()
        except OSError as exc:
            raise CooldownFileError(f"{self.path}: writing reading {n} failed: {exc}") from exc
        self.count = n + 1

    def log_event(self, kind: str, message: str, time_s: float) -> None:
        n = self._n_events
        ev = self._events
        for key, value in (
            ("time_s", time_s),
            ("kind", _fixed(kind, EVENT_KIND_BYTES)),
            ("message", _fixed(message, EVENT_MESSAGE_BYTES)),
        ):
            ev[key].resize((n + 1,))
            ev[key][n] = value
        self._f.flush()
        ev["count"][()] = n + 1
        self._f.flush()
        self._n_events = n + 1

    def set_status(self, status: str) -> None:
        self._f["entry/status"][()] = _fixed(status, TEXT_BYTES)
        self._f.flush()

    def close(self, status: str) -> None:
        if not self._f.id.valid:
            return
        self._f["entry/end_time"][()] = _fixed(_utc_now(), TEXT_BYTES)
        self.set_status(status)
        self._f.close()


def _fixed(text: str, size: int) -> bytes:
    data = text.encode("utf-8")
    if len(data) <= size:
        return data
    return data[: size - 3].decode("utf-8", "ignore").encode("utf-8") + "…".encode()


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


_COLUMNS: list[tuple[str, str, str]] = [
    ("time_s", "s", "time the reading cycle ended, on the station clock"),
    ("control_K", "K", "control thermometer (the loop's input) at the end of the cycle"),
    ("film_R_ohm", "ohm", "film four-terminal resistance"),
    ("film_time_s", "s", "time the film resistance was read"),
]


def _lay_out(f, path, thermometers, station_text, plan_text, metadata) -> None:
    import stm_andreev

    f.attrs.update(
        NX_class="NXroot",
        default="entry",
        creator="stm_andreev",
        creator_version=stm_andreev.__version__,
        file_name=path.name,
        file_time=_utc_now(),
        stm_andreev_format=FORMAT_NAME,
        stm_andreev_format_version=FORMAT_VERSION,
    )
    entry = f.create_group("entry")
    entry.attrs.update(NX_class="NXentry", default="readings")
    entry["start_time"] = _utc_now()
    for name in ("end_time", "status"):
        entry.create_dataset(name, data=_fixed("" if name == "end_time" else "running", TEXT_BYTES),
                             dtype=f"S{TEXT_BYTES}")
    config = entry.create_group("config")
    config.attrs["NX_class"] = "NXcollection"
    config["station_text"] = redact(station_text)  # no credentials in the file
    config["plan_text"] = plan_text
    config["metadata_json"] = json.dumps(metadata, default=str)
    config["thermometers_json"] = json.dumps(list(thermometers))
    readings = entry.create_group("readings")
    readings.attrs.update(NX_class="NXdata", signal="film_R_ohm", axes=["control_K"])
    readings.create_dataset("count", data=np.int64(0))
    readings["count"].attrs.update(units="1", long_name="confirmed readings")
    columns = list(_COLUMNS)
    for name in thermometers:
        columns.append((_column_name(name), "K", f"thermometer {name}"))
        columns.append((f"{name}_time_s", "s", f"time thermometer {name} was read"))
    for key, units, long_name in columns:
        ds = readings.create_dataset(
            key, shape=(0,), maxshape=(None,), dtype="f8", chunks=(CHUNK_ROWS,), fillvalue=np.nan
        )
        ds.attrs.update(units=units, long_name=long_name)
    events = entry.create_group("events")
    events.attrs["NX_class"] = "NXcollection"
    events.create_dataset("count", data=np.int64(0))
    for key, dtype, units in (
        ("time_s", "f8", "s"),
        ("kind", f"S{EVENT_KIND_BYTES}", ""),
        ("message", f"S{EVENT_MESSAGE_BYTES}", ""),
    ):
        ds = events.create_dataset(key, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(256,))
        ds.attrs.update(units=units, long_name=f"event {key}")


def read_cooldown(path: str | Path) -> dict[str, Any]:
    """Every confirmed reading of a cooldown file, also while it is being written (SWMR).

    Returns ``{"status", "thermometers", "readings": {column: array}, "events": [(time_s,
    kind, message)], "station_text", "plan_text", "metadata"}``.
    """
    path = Path(path)
    try:
        f = h5py.File(path, "r", libver="latest", swmr=True)
    except OSError as exc:
        raise CooldownFileError(f"{path}: cannot open: {exc}") from exc
    with f:
        if f.attrs.get("stm_andreev_format") != FORMAT_NAME:
            raise CooldownFileError(f"{path}: not a cooldown file ({FORMAT_NAME})")
        readings = f["entry/readings"]
        n = int(readings["count"][()])
        data = {
            key: np.asarray(ds[:n]) for key, ds in readings.items() if key != "count"
        }
        ev = f["entry/events"]
        m = int(ev["count"][()])
        events = [
            (float(t), k.decode("utf-8"), msg.decode("utf-8"))
            for t, k, msg in zip(ev["time_s"][:m], ev["kind"][:m], ev["message"][:m], strict=True)
        ]
        config = f["entry/config"]
        return {
            "status": f["entry/status"][()].decode("utf-8"),
            "thermometers": json.loads(config["thermometers_json"][()]),
            "readings": data,
            "events": events,
            "station_text": config["station_text"][()].decode("utf-8"),
            "plan_text": config["plan_text"][()].decode("utf-8"),
            "metadata": json.loads(config["metadata_json"][()]),
        }


def cooldown_path(out_dir: Path, stamp: str, plan_name: str) -> Path:
    """Where a plan's cooldown file goes: ``<out>/<stamp>_<plan>_cooldown.h5`` (the run file of
    the same plan, if it takes spectra, is ``<out>/<stamp>_<plan>.h5``)."""
    suffix = "" if plan_name == "cooldown" else "_cooldown"
    return out_dir / f"{stamp}_{plan_name}{suffix}.h5"


def cooldown_status(path: str | Path) -> str:
    """The status stored in a cooldown file, "" while it cannot be read (being laid out,
    damaged, or not a cooldown file): what a queue shows until the log says more."""
    try:
        return str(read_cooldown(Path(path))["status"])
    except Exception as exc:  # noqa: BLE001 - any unreadable log has no status yet
        log.debug("cooldown log %s has no status yet: %s", path, exc)
        return ""
