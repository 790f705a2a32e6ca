"""``stm-andreev cooldown``: log the fridge and the film's R(T) while it cools; also the cooldown
steps of ``stm-andreev run``.

The readings go to their own HDF5 file, ``<stamp>_<plan>_cooldown.h5`` (beside the run file
when the plan then takes spectra). A cooldown is a time series of a few numbers every
half-minute for hours, not spectra, so it gets a file shaped for that instead of rows in the
run file: one resizable 1D dataset per quantity, written with SWMR and flushed after every
reading, a confirmed-row counter written after the rows (the run file's ledger rule: a killed
writer leaves at most one unconfirmed reading), the station and plan text, and an event log.
``/entry/readings`` is an NXdata whose signal is the film resistance against the control
thermometer, so a generic HDF5 viewer plots the paper's Fig. S1 as it grows.
See docs/run-file-example.md for the layout and :func:`read_cooldown` to read it.

On the simulated station the virtual fridge starts at base; ``--from-K`` (default 300 K)
warms it and starts its cooldown first, so the dry run logs a whole cooldown in seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from stm_andreev.redact import redact

HELP = "log fridge temperatures and the film resistance R(T) during a cooldown"
FORMAT_NAME = "stm_andreev.cooldown"
FORMAT_VERSION = 1
CHUNK_ROWS = 512
TEXT_BYTES = 64
EVENT_KIND_BYTES = 32
EVENT_MESSAGE_BYTES = 1024
DEFAULT_FROM_K = 300.0

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


# ------------------------------------------------------------------------------ running
@dataclass
class CooldownSummary:
    """What the command reports (and the notifier sends)."""

    path: str
    status: str
    reason: str = ""
    readings: int = 0
    final_K: float = math.nan
    station_time_s: float = 0.0
    wall_s: float = 0.0


def run_cooldown_steps(
    station,
    steps: list,
    path: Path,
    *,
    station_text: str,
    plan_text: str,
    metadata: dict[str, Any] | None = None,
    control=None,
    notifier=None,
    from_K: float | None = DEFAULT_FROM_K,
    progress: bool = False,
) -> CooldownSummary:
    """Run every cooldown step on ``station`` into one cooldown file at ``path``.

    ``control`` is a RunControl: ``abort`` ends the cooldown cleanly, ``pause`` stops the
    readings (not the fridge) until ``resume``. ``from_K`` warms a simulated fridge
    (``station.lab``) to that temperature and starts its cooldown first (None: leave it).
    The file's status becomes ``finished`` (target reached), ``target_not_reached``,
    ``aborted`` or ``failed``.
    """
    from stm_andreev.engine.control import AbortRequested
    from stm_andreev.engine.links import COMMAND_ERRORS, LINK_ERRORS
    from stm_andreev.procedures.cooldown import CooldownMonitor

    if not steps:
        raise ValueError("no cooldown steps to run")
    clock = station.clock
    writer: CooldownWriter | None = None
    summary = CooldownSummary(str(path), "running")

    def event(kind: str, message: str) -> None:
        log.info("%s: %s", kind, message)
        if writer is not None:
            try:
                writer.log_event(kind, message, clock.now())
            except Exception:  # the event log must never end the cooldown
                log.exception("could not write cooldown event %s", kind)

    def check() -> None:
        if control is None:
            return
        control.wait_while_paused(on_pause=lambda: event("pause", "operator pause"))
        control.check_abort()

    bar = _Progress(clock) if progress else None

    def record(reading) -> None:
        writer.append(reading)
        if bar is not None:
            bar(reading)

    start_wall, start_clock = time.perf_counter(), clock.now()
    # A refused command is not a dropped link: retrying it would only repeat the refusal.
    monitor = CooldownMonitor(
        station, record, event=event, check=check, retry_on=LINK_ERRORS, fatal=COMMAND_ERRORS
    )
    writer = CooldownWriter.create(
        path,
        monitor.columns,
        station_text=station_text,
        plan_text=plan_text,
        metadata=metadata,
    )
    status = "failed"
    try:
        if from_K is not None and getattr(station, "lab", None) is not None:
            station.lab.fridge.start_cooldown(from_K)
            event("simulated_cooldown", f"simulated fridge warmed to {from_K:g} K; cooling starts")
        result = None
        for step in steps:
            result = monitor.run(step)
            if result.reason != "target_reached":
                break
        status = "finished" if result.reason == "target_reached" else "target_not_reached"
        summary.reason = result.reason
        summary.final_K = result.final_K
    except AbortRequested:
        status = "aborted"
        event("abort", "aborted by the operator")
    except BaseException as exc:
        event("failure", f"{type(exc).__name__}: {exc}")
        _notify(notifier, "failure", f"cooldown failed: {exc}", summary)
        raise
    finally:
        if bar is not None:
            bar.finish()
        summary.status = status
        summary.readings = writer.count
        summary.station_time_s = clock.now() - start_clock
        summary.wall_s = time.perf_counter() - start_wall
        writer.close(status)
    # Not reaching the target is worth waking someone for: the plan's spectra will not start.
    kind = {"finished": "finish", "aborted": "abort"}.get(status, "failure")
    _notify(notifier, kind, f"cooldown {status.replace('_', ' ')}: {summary.final_K:.4g} K, "
            f"{summary.readings} readings", summary)
    return summary


def _notify(notifier, kind: str, message: str, summary: CooldownSummary) -> None:
    if notifier is not None and kind in notifier.kinds:
        notifier.send(kind, message, summary)


class _Progress:
    """One line on stderr: readings, control temperature, film resistance, station time."""

    def __init__(self, clock, min_interval_s: float = 0.2) -> None:
        self.clock = clock
        self.n = 0
        self.min_interval_s = min_interval_s
        self._shown = -math.inf

    def __call__(self, reading) -> None:
        self.n += 1
        # Thousands of readings in a dry run: redraw at most a few times per wall second.
        if time.perf_counter() - self._shown < self.min_interval_s:
            return
        self._shown = time.perf_counter()
        t = int(self.clock.now())
        line = (
            f"\rcooldown: {self.n} readings, {reading.control_K:.4g} K, film "
            f"{reading.film_R_ohm:.4g} ohm, station {t // 3600}h{t // 60 % 60:02d}m"
        )
        sys.stderr.write(line[:100].ljust(100))
        sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def print_summary(summary: CooldownSummary) -> None:
    print(
        "\n".join(
            [
                f"cooldown file: {summary.path}",
                f"status:        {summary.status} ({summary.reason or '-'})",
                f"readings:      {summary.readings}, last {summary.final_K:.4g} K",
                f"time taken:    {summary.wall_s:.1f} s wall, "
                f"{summary.station_time_s / 3600:.2f} h of station time",
            ]
        )
    )


# ------------------------------------------------------------------------------ command
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--station", default="simulated", help="station file or name")
    parser.add_argument("--target-K", type=float, default=0.06, help="stop at this control "
                        "temperature, K (default 0.06)")
    parser.add_argument("--interval-s", type=float, default=30.0, help="seconds between readings")
    parser.add_argument("--max-duration-s", type=float, default=2 * 86400.0,
                        help="give up after this long, s (default 2 days)")
    parser.add_argument("--from-K", type=float, default=DEFAULT_FROM_K,
                        help="simulated station only: warm the virtual fridge to this "
                        "temperature and cool it down (default 300 K)")
    parser.add_argument("--out", default=None, help="directory (default: the station's output_dir)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def run(args: argparse.Namespace) -> int:
    from stm_andreev.config import ConfigError, load_plan_text

    text = (
        "name: cooldown\nkind: cooldown\n"
        f"target_K: {args.target_K!r}\ninterval_s: {args.interval_s!r}\n"
        f"max_duration_s: {args.max_duration_s!r}\n"
    )
    try:
        plan = load_plan_text(text, "command line")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run_plan(plan, args.station, args.out, from_K=args.from_K, quiet=args.quiet)


def run_plan(plan, station_name: str, out: str | None, *, from_K: float | None,
             quiet: bool) -> int:
    """A plan of cooldown steps only, on a station file: the ``stm-andreev run`` path too."""
    from stm_andreev.config import ConfigError, load_station
    from stm_andreev.station import Station

    try:
        station_cfg = load_station(station_name)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    station = Station.from_config(station_cfg, source_text=station_cfg.source_text)
    try:
        out_dir = Path(out) if out else Path(station_cfg.output_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        summary = run_for_plan(
            station, plan, list(plan.steps), out_dir,
            station_text=station_cfg.source_text, notifier=_notifier(station_cfg),
            from_K=from_K, quiet=quiet,
        )
    finally:
        station.close()
    print_summary(summary)
    return 0 if summary.status == "finished" else 3


def cooldown_path(out_dir: Path, stamp: str, plan_name: str) -> Path:
    """Where a plan's cooldown file goes: ``<out>/<stamp>_<plan>_cooldown.h5`` (the run file of
    the same plan, if it takes spectra, is ``<out>/<stamp>_<plan>.h5``)."""
    suffix = "" if plan_name == "cooldown" else "_cooldown"
    return out_dir / f"{stamp}_{plan_name}{suffix}.h5"


def run_for_plan(station, plan, steps, out_dir: Path, *, station_text: str, notifier=None,
                 from_K: float | None = DEFAULT_FROM_K, quiet: bool = False,
                 stamp: str | None = None) -> CooldownSummary:
    """The cooldown steps of ``plan`` into ``cooldown_path(...)``, with signal handling."""
    from stm_andreev.engine import RunControl

    stamp = stamp or dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = cooldown_path(out_dir, stamp, plan.name)
    control = RunControl(path)
    control.install_signal_handlers()
    try:
        return run_cooldown_steps(
            station, steps, path,
            station_text=station_text,
            plan_text=plan.source_text or "",
            metadata={"plan": plan.name, "station": station.config.name,
                      "simulated": station.simulated},
            control=control,
            notifier=notifier,
            from_K=from_K,
            progress=not quiet,
        )
    finally:
        control.restore_signal_handlers()


def _notifier(station_cfg):
    if station_cfg.notifications is None:
        return None
    from stm_andreev.engine.notify import Notifier

    return Notifier(station_cfg.notifications)
