"""The layout of a run file: every group and dataset, with units and long names, in tables.

One HDF5 file per run, everything created before SWMR writing starts (SWMR forbids creating
objects later). ``docs/storage-layout.md`` describes the same layout for people; this module is
the single source of truth for code (writer and reader both walk these tables).

    /                         NXroot; default=entry, creator, file_name, stm_andreev_format
    /entry                    NXentry; default=data
        start_time, end_time  ISO 8601 UTC text (end_time "" while running)
        status                "running" | "finished" | "aborted" | ... (fixed 64 bytes)
        program_name          "stm_andreev", @version
        software_version      stm_andreev.__version__
        n_bias, n_planned     run dimensions
        ledger[N]             point index of each confirmed row, in write order
        config/               NXcollection: station_text, plan_text, snapshot_json, metadata_json
        data/                 NXdata: bias_V, G_S, G_G0, lockin_X_V, lockin_Y_V [N, n_bias],
                              bias_axis_V [n_bias] (plot axis), signal=G_G0, point_index
                              (hard link to points/point_index)
                              G_sigma_S [N, n_bias] only in runs with continuous spectra
        definition, instrument/, user/, ...  NXsts fields (storage/nexus.py)
        points/               NXcollection: one 1D dataset [N] per per-spectrum column (the
                              ramp_* / capture_* columns only in runs with continuous spectra)
        events/               NXcollection: time_s, point_index, kind, message [M]
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import h5py
import numpy as np

from .errors import RecordFieldError
from .grid_layout import GridGeometry, create_grid_layout
from .nexus import lay_out_nxsts

# Conductance quantum 2e^2/h in siemens (exact since the 2019 SI redefinition, rounded to 10
# significant digits). Kept here so the storage layer has no import-time dependency on physics.
G0_S = 7.748091729e-5

FORMAT_NAME = "stm_andreev.run"
FORMAT_VERSION = 1

ENTRY = "entry"
DATA = "entry/data"
POINTS = "entry/points"
EVENTS = "entry/events"
CONFIG = "entry/config"
LEDGER = "entry/ledger"
STATUS = "entry/status"
START_TIME = "entry/start_time"
END_TIME = "entry/end_time"
BIAS_AXIS = "entry/data/bias_axis_V"

# Text that changes or grows after SWMR starts is fixed-length: a SWMR reader cannot follow
# variable-length data (it lives in the global heap, and a reader that opened earlier fails with
# "address of object past end of allocation"; tests/storage/test_storage_swmr_live.py).
STATUS_BYTES = 64
STATUS_TEXT_BYTES = 256
EVENT_KIND_BYTES = 32
EVENT_MESSAGE_BYTES = 1024
TRUNCATION_MARK = "\u2026"
SPECTRUM_CHUNK_ROWS = 1  # one spectrum per chunk: a crash touches at most the row in flight
# Small chunks: a fixed-width text column (256-1024 B a row) would otherwise cost its whole
# first chunk (up to 1 MiB) in every run file, however short the run.
TABLE_CHUNK_ROWS = 64
EVENT_CHUNK_ROWS = 64

ColumnKind = Literal["float", "int", "text"]


@dataclass(frozen=True)
class Column:
    """One dataset of the run file: name, kind of values, unit and human label."""

    name: str
    kind: ColumnKind
    units: str
    long_name: str
    max_bytes: int = 0
    """For text columns: fixed size in UTF-8 bytes (see the SWMR note in the module doc)."""

    @property
    def dtype(self) -> Any:
        """The HDF5 storage type: float64, int64 or fixed-length UTF-8 text."""
        if self.kind == "text":
            return h5py.string_dtype("utf-8", self.max_bytes)
        return {"float": np.float64, "int": np.int64}[self.kind]

    @property
    def fill(self) -> float | int | str:
        """Value stored when a record does not give this column (NaN, -1 or "")."""
        return {"float": math.nan, "int": -1, "text": ""}[self.kind]


# 2D datasets [row, bias point] in /entry/data, keyed by the append_spectrum argument name.
SPECTRUM_DATASETS: tuple[tuple[str, Column], ...] = (
    ("bias_V", Column("bias_V", "float", "V", "sample bias of each point of the spectrum")),
    ("G_S", Column("G_S", "float", "S", "differential conductance dI/dV")),
    ("G_G0", Column("G_G0", "float", "2e^2/h",
                    "differential conductance dI/dV in units of G0 = 2e^2/h")),
    ("X_V", Column("lockin_X_V", "float", "V", "lock-in in-phase output X")),
    ("Y_V", Column("lockin_Y_V", "float", "V", "lock-in quadrature output Y")),
)

# Standard per-spectrum columns in /entry/points. point_index is written from the
# append_spectrum argument; the rest come from the record dict (missing ones get their fill).
POINT_COLUMNS: tuple[Column, ...] = (
    Column("point_index", "int", "1", "index of the point in the plan"),
    Column("time_s", "float", "s", "time the spectrum finished, on the run clock"),
    Column("temperature_before_K", "float", "K", "mixing-chamber temperature before the spectrum"),
    Column("temperature_after_K", "float", "K", "mixing-chamber temperature after the spectrum"),
    Column("setpoint_A", "float", "A", "tunnel-current setpoint of the feedback"),
    Column("bias_setpoint_V", "float", "V", "bias at which the feedback set the tip height"),
    Column("G_sp_S", "float", "S", "setpoint junction conductance I_sp / V_sp"),
    Column("z_m", "float", "m", "tip height when the feedback was opened"),
    Column("tip_x_m", "float", "m", "tip x position"),
    Column("tip_y_m", "float", "m", "tip y position"),
    Column("preamp_gain_V_per_A", "float", "V/A", "current preamplifier gain"),
    Column("lockin_sensitivity_V", "float", "V", "lock-in full-scale sensitivity"),
    Column("lockin_time_constant_s", "float", "s", "lock-in time constant"),
    Column("modulation_Vrms", "float", "V", "bias modulation amplitude (rms)"),
    Column("status_code", "int", "1", "0 = good spectrum; other codes explained by status_text"),
    Column("status_text", "text", "", "status of the spectrum in words", STATUS_TEXT_BYTES),
    Column("retake_count", "int", "1", "how many times the spectrum was retaken"),
)

# Continuous spectra (docs/continuous.md) also store, created only in runs that take them: the
# per-point uncertainty of G (2D, [row, bias point]; NaN in rows of other modes) and how each
# ramp was taken and estimated (per-spectrum columns).
SIGMA_DATASET = ("G_sigma_S", Column(
    "G_sigma_S", "float", "S",
    "one standard deviation of each point of G_S where the mode estimates it (continuous "
    "spectra: the estimator's posterior); NaN where not estimated"))
RAMP_ESTIMATOR_BYTES = 160
RAMP_COLUMNS: tuple[Column, ...] = (
    Column("ramp_time_s", "float", "s", "duration of the continuous bias ramp (capture)"),
    Column("ramp_dwell_s", "float", "s", "time per bias point of the ramp"),
    Column("ramp_rate_V_per_s", "float", "V/s", "bias ramp rate (grid step / dwell)"),
    Column("ramp_passes", "int", "1",
           "passes over the grid: 1 forward, 2 forward and backward (estimated jointly)"),
    Column("capture_rate_Hz", "float", "Hz", "lock-in capture sample rate"),
    Column("capture_samples", "int", "1", "lock-in samples captured during the ramp"),
    Column("ramp_filter_delay_s", "float", "s",
           "mean delay of the lock-in output filter (n tau); the estimator models the filter, "
           "so each value belongs to its grid bias and no shift of the bias axis is applied"),
    Column("ramp_regularisation", "float", "1",
           "regularisation strength chosen by GCV (relative to trace(A'A) / trace(D'D))"),
    Column("ramp_width_points_median", "float", "1",
           "median averaging width of the estimate, in grid points (1 = full resolution)"),
    Column("ramp_resolution_V", "float", "V", "bias resolution of the estimate at this rate"),
    Column("ramp_noise_rms_V", "float", "V",
           "rms noise of the captured X samples, from the estimate's residuals"),
    Column("ramp_G_sigma_median_S", "float", "S", "median over the grid of G_sigma_S"),
    Column("ramp_estimator", "text", "", "estimator and its settings",
           RAMP_ESTIMATOR_BYTES),
)
STANDARD_COLUMN_NAMES = frozenset(c.name for c in POINT_COLUMNS + RAMP_COLUMNS)

EVENT_COLUMNS: tuple[Column, ...] = (
    Column("time_s", "float", "s", "time of the event, on the run clock"),
    Column("point_index", "int", "1", "point the event belongs to; -1 for none"),
    Column("kind", "text", "", "kind of event (e.g. start, pause, retake, interlock, resume)",
           EVENT_KIND_BYTES),
    Column("message", "text", "", "what happened, in words", EVENT_MESSAGE_BYTES),
)

# Unit suffixes recognised in the names of extra per-spectrum columns (longest match wins).
_UNIT_SUFFIXES: dict[str, str] = {
    "V_per_A": "V/A", "Vrms": "V", "Ohm": "Ohm", "deg": "deg", "rad": "rad", "Hz": "Hz",
    "Pa": "Pa", "K": "K", "V": "V", "A": "A", "S": "S", "s": "s", "m": "m", "T": "T", "W": "W",
}
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def units_from_name(name: str) -> str:
    """Unit of a column named ``quantity_UNIT`` (``heater_power_W`` -> ``W``); "1" if none."""
    for suffix in sorted(_UNIT_SUFFIXES, key=len, reverse=True):
        if name.endswith("_" + suffix):
            return _UNIT_SUFFIXES[suffix]
    return "1"


def extra_columns(point_keys: Sequence[str] | None) -> tuple[Column, ...]:
    """Float columns for the caller's extra per-spectrum keys; unit taken from the name suffix."""
    columns: list[Column] = []
    seen: set[str] = set()
    for key in point_keys or ():
        if not isinstance(key, str) or not _NAME_RE.match(key):
            raise RecordFieldError(f"extra point key {key!r} is not an identifier-like name")
        if key in STANDARD_COLUMN_NAMES:
            raise RecordFieldError(f"extra point key {key!r} duplicates a standard column")
        if key in seen:
            raise RecordFieldError(f"extra point key {key!r} is given twice")
        seen.add(key)
        columns.append(Column(key, "float", units_from_name(key), key.replace("_", " ")))
    return tuple(columns)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: Any, what: str) -> str:
    """Serialise ``value`` to JSON (numpy values allowed); ``what`` names it on error."""
    try:
        return json.dumps(value, default=_json_default, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise RecordFieldError(f"{what} cannot be stored as JSON: {exc}") from exc


def _label(obj: h5py.HLObject, column: Column) -> None:
    obj.attrs["units"] = column.units
    obj.attrs["long_name"] = column.long_name


def _text(group: h5py.Group, name: str, value: str, long_name: str) -> h5py.Dataset:
    ds = group.create_dataset(name, data=value, dtype=h5py.string_dtype("utf-8"))
    _label(ds, Column(name, "text", "", long_name))
    return ds


def _fixed_text(group: h5py.Group, name: str, value: str, long_name: str) -> h5py.Dataset:
    ds = group.create_dataset(
        name, shape=(), dtype=h5py.string_dtype("utf-8", STATUS_BYTES)
    )
    ds[()] = encode_fixed(value, name)
    _label(ds, Column(name, "text", "", long_name))
    return ds


def encode_fixed(value: str, what: str, max_bytes: int = STATUS_BYTES) -> bytes:
    """UTF-8 bytes of ``value`` for a fixed-length text dataset; error if over ``max_bytes``."""
    raw = value.encode("utf-8")
    if len(raw) > max_bytes:
        raise RecordFieldError(f"{what} {value!r} is longer than {max_bytes} UTF-8 bytes")
    return raw


def encode_truncated(value: str, max_bytes: int) -> tuple[bytes, bool]:
    """UTF-8 bytes of ``value`` cut to ``max_bytes`` at a character boundary, marked with an
    ellipsis when cut; returns (bytes, was_cut). For free text such as log messages, which must
    never stop a run."""
    raw = value.encode("utf-8")
    if len(raw) <= max_bytes:
        return raw, False
    mark = TRUNCATION_MARK.encode("utf-8")
    head = raw[: max_bytes - len(mark)].decode("utf-8", errors="ignore").encode("utf-8")
    return head + mark, True


def _growing(group: h5py.Group, column: Column, chunk_rows: int) -> h5py.Dataset:
    ds = group.create_dataset(
        column.name, shape=(0,), maxshape=(None,), chunks=(chunk_rows,), dtype=column.dtype,
        fletcher32=True,
    )
    _label(ds, column)
    return ds


def create_layout(
    f: h5py.File,
    *,
    n_bias: int,
    n_planned: int,
    metadata: Mapping[str, Any],
    station_text: str,
    plan_text: str,
    snapshot: Mapping[str, Any],
    columns: Sequence[Column],
    software_version: str,
    start_time: str,
    file_name: str,
    spectrum_sigma: bool = False,
    grid: GridGeometry | None = None,
) -> None:
    """Create every group and dataset of an empty run file (call before enabling SWMR).

    ``file_name`` is the run file's own name (the file may be laid out under another one).
    ``spectrum_sigma``: also the 2D dataset of per-point uncertainties (continuous spectra).
    """
    f.attrs["NX_class"] = "NXroot"
    f.attrs["default"] = "entry"
    f.attrs["creator"] = "stm_andreev"
    f.attrs["creator_version"] = software_version
    f.attrs["file_name"] = file_name
    f.attrs["file_time"] = start_time
    f.attrs["stm_andreev_format"] = FORMAT_NAME
    f.attrs["stm_andreev_format_version"] = FORMAT_VERSION

    entry = f.create_group(ENTRY)
    entry.attrs["NX_class"] = "NXentry"
    entry.attrs["default"] = "data"
    _text(entry, "start_time", start_time, "run start, ISO 8601 UTC")
    _fixed_text(entry, "end_time", "", "run end, ISO 8601 UTC; empty while the run is open")
    _fixed_text(entry, "status", "running", "run status")
    program = _text(entry, "program_name", "stm_andreev", "acquisition software")
    program.attrs["version"] = software_version
    _text(entry, "software_version", software_version, "stm_andreev version that wrote the run")
    for name, value, long_name in (
        ("n_bias", n_bias, "number of bias points per spectrum"),
        ("n_planned", n_planned, "number of points in the plan"),
    ):
        ds = entry.create_dataset(name, data=np.int64(value))
        _label(ds, Column(name, "int", "1", long_name))
    ledger = _growing(
        entry,
        Column("ledger", "int", "1",
               "point index of each confirmed row, in write order (source of truth for resume)"),
        TABLE_CHUNK_ROWS,
    )
    ledger.attrs["description"] = (
        "Row k of data/ and points/ is valid only if k < len(ledger); ledger[k] is its point."
    )

    config = entry.create_group("config")
    config.attrs["NX_class"] = "NXcollection"
    _text(config, "station_text", station_text, "station file the run used")
    _text(config, "plan_text", plan_text, "sweep plan file the run used")
    _text(config, "snapshot_json", to_json(dict(snapshot), "snapshot"),
          "snapshot of every instrument setting at run start (JSON)")
    _text(config, "metadata_json", to_json(dict(metadata), "metadata"), "run metadata (JSON)")
    for key, value in metadata.items():
        # Scalars also as attributes so generic HDF5 browsers show them at a glance.
        if isinstance(value, str | int | float | bool | np.generic) and len(str(value)) < 4096:
            config.attrs[str(key)] = value

    data = entry.create_group("data")
    data.attrs["NX_class"] = "NXdata"
    data.attrs["signal"] = "G_G0"
    # point_index: the per-spectrum column, hard-linked here by lay_out_nxsts (an axis for
    # the row dimension; "." would do in NeXus, but punx rejects it).
    data.attrs["axes"] = ["point_index", "bias_axis_V"]
    data.attrs["point_index_indices"] = 0
    data.attrs["bias_axis_V_indices"] = 1
    data.attrs["bias_V_indices"] = [0, 1]
    for _, column in SPECTRUM_DATASETS + ((SIGMA_DATASET,) if spectrum_sigma else ()):
        ds = data.create_dataset(
            column.name,
            shape=(0, n_bias),
            maxshape=(None, n_bias),
            chunks=(SPECTRUM_CHUNK_ROWS, n_bias),
            dtype=np.float64,
            # A checksum per chunk (= per spectrum): a flipped bit in stored data is an error
            # on read, never a plausible wrong number.
            fletcher32=True,
        )
        _label(ds, column)
    data["G_G0"].attrs["interpretation"] = "spectrum"
    data["G_G0"].attrs["G0_S"] = G0_S
    # Written (as NaN) now so that its storage exists before SWMR starts: a contiguous dataset
    # whose storage is allocated later (at the first spectrum) lies past the end of file that a
    # SWMR reader attached earlier knows, and HDF5 then refuses to open it ("invalid dataset
    # size, likely file corruption"; tests/storage/test_storage_swmr_live.py). After SWMR
    # starts only its values change, in place.
    axis = data.create_dataset(
        "bias_axis_V", data=np.full(n_bias, math.nan), dtype=np.float64, fillvalue=math.nan
    )
    _label(axis, Column("bias_axis_V", "float", "V",
                        "sample bias (grid of the first spectrum; exact per row in bias_V)"))

    points = entry.create_group("points")
    points.attrs["NX_class"] = "NXcollection"
    points.attrs["columns"] = [c.name for c in columns]
    for column in columns:
        _growing(points, column, TABLE_CHUNK_ROWS)

    events = entry.create_group("events")
    events.attrs["NX_class"] = "NXcollection"
    for column in EVENT_COLUMNS:
        _growing(events, column, EVENT_CHUNK_ROWS)

    create_grid_layout(f, grid)  # /entry/grid of a map (storage/grid_layout.py)
    # Last, after every group it may refer to (a grid's default plot): docs/nexus.md.
    lay_out_nxsts(f, n_bias=n_bias, metadata=metadata, software_version=software_version)


def estimated_size_bytes(n_bias: int, n_planned: int, n_columns: int, text_bytes: int,
                         n_spectrum_datasets: int = len(SPECTRUM_DATASETS)) -> int:
    """Upper estimate of a finished run file's size in bytes, for the free-space check."""
    per_spectrum = n_spectrum_datasets * n_bias * 8 + (n_columns + 1) * 8
    # chunk index entries and B-tree nodes; generous so a full disk is caught up front
    per_spectrum += 64 * n_spectrum_datasets + 256
    events_reserve = 4 * 1024 * 1024
    return n_planned * per_spectrum + 2 * text_bytes + events_reserve + 1024 * 1024
