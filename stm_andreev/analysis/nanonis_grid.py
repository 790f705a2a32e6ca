"""Nanonis grid-spectroscopy files (``.3ds``) as a cube (:mod:`stm_andreev.storage.cube`).

The format (docs/nanonis-grid.md says where its description comes from): a text header of
``key=value`` lines (values of lists in double quotes, items separated by ``;``) ending with a
``:HEADER_END:`` line, then big-endian float32 data, pixel after pixel in raster order (x
inner, y outer). Each pixel holds the ``# Parameters (4 byte)`` parameters (the names of
``Fixed parameters`` then ``Experiment parameters``: Sweep Start, Sweep End, X, Y, Z, ...),
then each channel of ``Channels`` in turn, ``Points`` values each.

A grid that was stopped leaves a file that ends after the last pixel measured; its missing
pixels, and pixels whose sweep parameters are NaN or zero, are NaN with ``done`` False. Every
problem raises AnalysisInputError naming the file.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from stm_andreev.storage.cube import build_cube
from stm_andreev.storage.layout import G0_S

from .errors import AnalysisInputError
from .inputs import SpectrumInput
from .io_text import (
    Table,
    check_demod1_harmonic,
    header_modulation,
    header_temperature,
    lockin_tails_negative,
    pick_conductance,
)

log = logging.getLogger(__name__)

HEADER_END = b":HEADER_END:"
# Bounds on what a header may announce, checked before anything is allocated: a damaged or
# hostile header must not make the reader allocate gigabytes.
MAX_HEADER_BYTES = 1 << 20
MAX_PIXELS = 1 << 22          # 2048 x 2048
MAX_POINTS = 1 << 20
MAX_CHANNELS = 1024
MAX_PARAMETERS = 4096
MAX_CUBE_VALUES = 1 << 27     # nx * ny * Points: 1 GiB per float64 variable


@dataclass(frozen=True)
class GridHeader:
    """What the header of a .3ds file says, checked for consistency."""

    path: str
    raw: dict[str, str]
    nx: int
    ny: int
    centre_m: tuple[float, float]
    size_m: tuple[float, float]
    rotation_deg: float
    sweep_signal: str
    parameters: tuple[str, ...]
    """Names of the per-pixel parameters (fixed, then experiment), one per parameter."""
    points: int
    channels: tuple[str, ...]
    data_offset: int
    """Byte offset of the first pixel."""

    @property
    def pixel_floats(self) -> int:
        """float32 values per pixel: the parameters, then every channel's points."""
        return len(self.parameters) + self.points * len(self.channels)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _items(value: str) -> list[str]:
    return [item.strip() for item in _unquote(value).split(";") if item.strip()]


def _int(raw: dict[str, str], key: str, path: str, low: int, high: int) -> int:
    if key not in raw:
        raise AnalysisInputError(f"{path}: the header has no {key!r} entry; expected a "
                                 "Nanonis grid file")
    try:
        value = int(_unquote(raw[key]))
    except ValueError:
        raise AnalysisInputError(f"{path}: header entry {key!r} is {raw[key]!r}, not an "
                                 "integer") from None
    if not low <= value <= high:
        raise AnalysisInputError(f"{path}: header entry {key!r} = {value} is outside "
                                 f"{low}..{high}")
    return value


def _floats(raw: dict[str, str], key: str, n: int, path: str) -> list[float]:
    items = _items(raw.get(key, ""))
    try:
        values = [float(v) for v in items]
    except ValueError:
        values = []
    if len(values) != n or not all(math.isfinite(v) for v in values):
        raise AnalysisInputError(f"{path}: header entry {key!r} is {raw.get(key)!r}; "
                                 f"expected {n} numbers separated by ';'")
    return values


def read_3ds_header(path: str | Path) -> GridHeader:
    """Parse and check the header of a .3ds file (the data are not read)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            head = f.read(MAX_HEADER_BYTES)
    except OSError as exc:
        raise AnalysisInputError(f"{p}: cannot be read: {exc}") from exc
    end = head.find(HEADER_END)
    if end < 0:
        raise AnalysisInputError(f"{p}: no {HEADER_END.decode()} line in its first "
                                 f"{MAX_HEADER_BYTES} bytes; expected a Nanonis grid (.3ds) file")
    newline = head.find(b"\n", end)
    if newline < 0:
        raise AnalysisInputError(f"{p}: the file ends at its {HEADER_END.decode()} line: no data")
    raw: dict[str, str] = {}
    last = None
    for line in head[:end].decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        key, eq, value = line.partition("=")
        if not eq:
            if last is None:
                raise AnalysisInputError(f"{p}: header line {line[:60]!r} is not key=value")
            raw[last] += "\n" + line  # a value Nanonis continued on the next line
            continue
        last = key.strip()
        raw[last] = value.strip()
    where = str(p)
    dim = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", _unquote(raw.get("Grid dim", "")))
    if dim is None:
        raise AnalysisInputError(f"{p}: header entry 'Grid dim' is {raw.get('Grid dim')!r}; "
                                 "expected \"NX x NY\"")
    nx, ny = int(dim[1]), int(dim[2])
    if not (1 <= nx and 1 <= ny and nx * ny <= MAX_PIXELS):
        raise AnalysisInputError(f"{p}: 'Grid dim' {nx} x {ny} is outside 1..{MAX_PIXELS} pixels")
    cx, cy, width, height, angle = _floats(raw, "Grid settings", 5, where)
    n_params = _int(raw, "# Parameters (4 byte)", where, 0, MAX_PARAMETERS)
    names = _items(raw.get("Fixed parameters", "")) + _items(raw.get("Experiment parameters", ""))
    if len(names) > n_params:
        raise AnalysisInputError(f"{p}: the header names {len(names)} parameters but "
                                 f"'# Parameters (4 byte)' is {n_params}")
    names += [f"parameter {k}" for k in range(len(names), n_params)]
    points = _int(raw, "Points", where, 1, MAX_POINTS)
    channels = _items(raw.get("Channels", ""))
    if not 1 <= len(channels) <= MAX_CHANNELS:
        raise AnalysisInputError(f"{p}: header entry 'Channels' is {raw.get('Channels')!r}; "
                                 f"expected 1..{MAX_CHANNELS} names separated by ';'")
    if "Experiment size (bytes)" in raw:
        size = _int(raw, "Experiment size (bytes)", where, 0, 4 * MAX_POINTS * MAX_CHANNELS)
        if size != 4 * points * len(channels):
            raise AnalysisInputError(
                f"{p}: 'Experiment size (bytes)' is {size} but {points} points x "
                f"{len(channels)} channels x 4 bytes = {4 * points * len(channels)}")
    if nx * ny * points > MAX_CUBE_VALUES:
        raise AnalysisInputError(f"{p}: {nx} x {ny} pixels x {points} points is more than "
                                 f"{MAX_CUBE_VALUES} values per channel; not read")
    return GridHeader(where, raw, nx, ny, (cx, cy), (width, height), angle,
                      _unquote(raw.get("Sweep Signal", "")), tuple(names), points,
                      tuple(channels), newline + 1)


def _param(header: GridHeader, params: np.ndarray, *names: str) -> np.ndarray | None:
    for name in names:
        if name in header.parameters:
            return params[:, header.parameters.index(name)]
    return None


def _axis(n: int, size: float) -> np.ndarray:
    # Nanonis places the first and last points of a row on the edges of the grid frame.
    return np.linspace(-size / 2, size / 2, n) if n > 1 else np.zeros(1)


def _setpoint_A(raw: dict[str, str]) -> float:
    try:
        if _unquote(raw.get("Z-Controller>Setpoint unit", "")) == "A":
            return float(_unquote(raw["Z-Controller>Setpoint"]))
    except (KeyError, ValueError):
        pass
    return math.nan


def _channel_unit(name: str) -> str:
    unit = re.search(r"\(([^()]*)\)\s*$", name)
    return unit[1].strip() if unit else ""


def read_3ds(path: str | Path, *, g_col: str | int | None = None, use: str = "X",
             sign: str = "auto") -> xr.Dataset:
    """Read a Nanonis .3ds grid into a cube (dims y, x, bias; see :mod:`.storage.cube`).

    The conductance channel is chosen by the rule of Nanonis .dat spectra
    (:func:`~.io_text.pick_conductance`: the first-harmonic lock-in X unless ``g_col`` names
    one; ``use="R"`` for R); ``sign`` as for .dat files. A lock-in channel in A is divided by
    the header's ``Lock-in>Amplitude`` to give G in S; a channel in S is taken as it is;
    otherwise G is in arbitrary units (``G_S.attrs["units"] == "arb"``, ``G_G0`` NaN), as the
    attribute ``G_unit`` says. What was chosen is listed in ``attrs["notes"]``.
    """
    header = read_3ds_header(path)
    p, raw = header.path, header.raw
    notes: list[str] = []
    n_pixels = header.nx * header.ny
    pixel_bytes = 4 * header.pixel_floats
    available = Path(p).stat().st_size - header.data_offset
    n_file = min(available // pixel_bytes, n_pixels)
    if n_file == 0:
        raise AnalysisInputError(
            f"{p}: the header announces {n_pixels} pixels of {pixel_bytes} bytes but the file "
            f"holds {max(available, 0)} bytes of data: not one whole pixel")
    if n_file < n_pixels:
        notes.append(f"the file ends after pixel {n_file} of {n_pixels} (a stopped grid): "
                     "the others are not measured")
    extra = available - n_file * pixel_bytes
    if extra and n_file == n_pixels:
        notes.append(f"{extra} bytes after the last pixel ignored")
    elif extra:
        notes.append(f"an incomplete last pixel ({extra} bytes) ignored")
    if notes:
        log.warning("%s: %s", p, "; ".join(notes))

    data = np.memmap(p, dtype=">f4", mode="r", offset=header.data_offset,
                     shape=(n_file, header.pixel_floats))
    n_params = len(header.parameters)
    params = np.asarray(data[:, :n_params], dtype=np.float64)
    start = _param(header, params, "Sweep Start")
    end = _param(header, params, "Sweep End")
    if start is None or end is None:
        raise AnalysisInputError(f"{p}: the parameters ({'; '.join(header.parameters)}) have "
                                 "no 'Sweep Start' and 'Sweep End': the bias axis is unknown")
    done_file = np.isfinite(start) & np.isfinite(end) & (start != end)
    if not done_file.any():
        raise AnalysisInputError(f"{p}: no pixel has a valid sweep (Sweep Start/End NaN or "
                                 "equal everywhere): nothing was measured")
    first = int(np.argmax(done_file))
    s0, e0 = start[first], end[first]
    tolerance = 1e-6 * abs(e0 - s0)
    differ = done_file & ((np.abs(start - s0) > tolerance) | (np.abs(end - e0) > tolerance))
    if differ.any():
        k = int(np.argmax(differ))
        raise AnalysisInputError(
            f"{p}: pixel {k} sweeps {start[k]:.6g} to {end[k]:.6g} but pixel {first} "
            f"{s0:.6g} to {e0:.6g}; a grid with one bias axis is expected")
    bias = np.linspace(s0, e0, header.points)

    table = Table(p, header.channels, np.empty((0, len(header.channels))), raw)
    sweep = header.sweep_signal
    exclude = header.channels.index(sweep) if sweep in header.channels else None
    ig, how = pick_conductance(table, g_col, exclude, use)
    name = header.channels[ig]
    check_demod1_harmonic(raw, name, p)
    notes.append(f"conductance from channel {name!r} ({how})")
    offset = n_params + ig * header.points
    G = np.full((n_pixels, header.points), np.nan)
    G[:n_file] = data[:, offset : offset + header.points]
    G[:n_file][~done_file] = np.nan
    del data
    if use == "X" and sign != "+" and (sign == "-" or lockin_tails_negative(bias, G)):
        G = -G
        notes.append("lock-in X negated (" + ("sign -" if sign == "-" else
                     "its high-bias values are negative: phase off by ~180 degrees") + ")")

    unit = _channel_unit(name)
    amplitude = None
    try:
        amplitude = float(_unquote(raw["Lock-in>Amplitude"]))
    except (KeyError, ValueError):
        pass
    if unit == "S":
        G_unit = "S"
    elif unit == "A" and amplitude is not None and math.isfinite(amplitude) and amplitude > 0:
        G = G / amplitude
        G_unit = "S"
        notes.append(f"G = {name} / Lock-in>Amplitude ({amplitude:.4g} V)")
    else:
        G_unit = "arb"
        notes.append(f"channel unit {unit or 'unknown'!r} cannot be converted to S: G in "
                     "arbitrary units, G_G0 not known")
    vmod, vmod_note = header_modulation(raw)
    if vmod_note:
        notes.append(vmod_note)

    def per_pixel(values: np.ndarray | None) -> np.ndarray:
        out = np.full(n_pixels, np.nan)
        if values is not None:
            out[:n_file] = np.where(done_file, values, np.nan)
        return out.reshape(header.ny, header.nx)

    T_param = next((n for n in header.parameters
                    if "temperature" in n.lower() and "(k)" in n.lower()), None)
    T_pix = per_pixel(_param(header, params, T_param) if T_param else None)
    done = np.zeros(n_pixels, dtype=bool)
    done[:n_file] = done_file
    T = header_temperature(raw)
    if T is None and np.isfinite(T_pix).any():
        T = float(np.nanmedian(T_pix))
    shape = (header.ny, header.nx, header.points)
    G = G.reshape(shape)
    arrays = {
        "bias": bias, "x": _axis(header.nx, header.size_m[0]),
        "y": _axis(header.ny, header.size_m[1]),
        "pos_x": per_pixel(_param(header, params, "X (m)")),
        "pos_y": per_pixel(_param(header, params, "Y (m)")),
        "G_S": G, "G_G0": G / G0_S if G_unit == "S" else np.full(shape, np.nan),
        "z": per_pixel(_param(header, params, "Z (m)")), "T_K": T_pix,
        "time_s": per_pixel(None), "done": done.reshape(header.ny, header.nx),
    }
    cube = build_cube(arrays, {
        "source": p, "sample": _unquote(raw.get("Sample", "")),
        "setpoint_A": _setpoint_A(raw), "modulation_V": math.nan if vmod is None else vmod,
        "temperature_K": math.nan if T is None else T,
        "format": "Nanonis grid (.3ds)", "channel": name, "G_unit": G_unit,
        "nx": header.nx, "ny": header.ny, "centre_x_m": header.centre_m[0],
        "centre_y_m": header.centre_m[1], "size_x_m": header.size_m[0],
        "size_y_m": header.size_m[1], "rotation_deg": header.rotation_deg,
        "notes": "\n".join(notes),
    })
    if G_unit != "S":
        cube["G_S"].attrs["units"] = "arb"
    return cube


def is_3ds(path: str | Path) -> bool:
    """A .3ds name, or a header that ends with :HEADER_END: and gives a grid size."""
    p = Path(path)
    if p.suffix.lower() == ".3ds":
        return True
    try:
        with p.open("rb") as f:
            head = f.read(65536)
    except OSError:
        return False
    return HEADER_END in head and b"Grid dim" in head


def pixel_spectra(cube: xr.Dataset) -> list[SpectrumInput]:
    """One SpectrumInput per measured pixel of a cube (raster order; ``index`` is the pixel
    number iy * nx + ix), with its temperature, position and the cube's modulation, for the
    per-spectrum analysis."""
    done = np.asarray(cube["done"].values, dtype=bool)
    G = cube["G_S"]
    unit = "S" if G.attrs.get("units") == "S" else "arb"
    bias = np.asarray(cube["bias"].values, dtype=float)
    nx = cube.sizes["x"]
    vmod = _finite(cube.attrs.get("modulation_V"))
    T_all = _finite(cube.attrs.get("temperature_K"))
    source = str(cube.attrs.get("source", ""))
    out = []
    for iy, ix in zip(*np.nonzero(done), strict=True):
        values = np.asarray(G[iy, ix].values, dtype=float)
        if np.count_nonzero(np.isfinite(values)) < 7:
            log.warning("%s: pixel (%d, %d) skipped: no usable conductance", source, iy, ix)
            continue
        T = _finite(cube["T_K"].values[iy, ix])
        out.append(SpectrumInput(
            bias_V=bias, G=values, G_unit=unit, source=source, index=int(iy * nx + ix),
            T_K=T if T is not None else T_all, Vmod_rms_V=vmod,
            tip_x_m=_finite(cube["pos_x"].values[iy, ix]),
            tip_y_m=_finite(cube["pos_y"].values[iy, ix]),
            label=f"pixel ({iy}, {ix})",
            meta={"pixel": (int(iy), int(ix)), "channel": cube.attrs.get("channel", ""),
                  "input_notes": str(cube.attrs.get("notes", "")).splitlines()},
        ))
    return out


def _finite(value: object) -> float | None:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def describe_cube(cube: xr.Dataset) -> str:
    """One paragraph on a cube: size, measured pixels, bias range, channel and notes."""
    done = int(np.count_nonzero(cube["done"].values))
    bias = np.asarray(cube["bias"].values, dtype=float)
    units = cube["G_S"].attrs.get("units", "")
    text = (f"{cube.attrs.get('source', '')}: grid of {cube.sizes['x']} x {cube.sizes['y']} "
            f"pixels, {done} measured, {bias.size} bias points from {bias[0] * 1e3:.4g} to "
            f"{bias[-1] * 1e3:.4g} mV, G in {units}")
    channel = cube.attrs.get("channel")
    if channel:
        text += f", conductance from channel {channel!r}"
    notes = str(cube.attrs.get("notes", "")).strip()
    return text + ("".join(f"\n  {n}" for n in notes.splitlines()) if notes else "")
