"""What the map panel draws, computed from a grid cube and its map results (Qt-free).

A map is a [ny, nx] array of one quantity with, per pixel, a state: not measured yet (blank),
graded good / poor / failed, or not applicable (e.g. Delta_c of a tunnelling pixel). Colours
come from the chosen colour scale over the pixels whose value can be trusted to be drawn
(good and poor; failed pixels are grey whatever their number, so they never set the scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stm_andreev.storage import G0_S

from .map_source import RESULT_QUANTITIES

GOOD, POOR, FAILED, NOT_APPLICABLE = 0, 1, 2, 3
#: Pixel state codes beyond the grades: not measured yet; measured, no fit grade (topography).
NOT_MEASURED, UNGRADED = -1, -2

#: RGBA of the pixels that carry no colour-scale value.
FAILED_RGBA = (150, 150, 150, 255)
NOT_APPLICABLE_RGBA = (228, 228, 228, 255)
NOT_MEASURED_RGBA = (255, 255, 255, 0)

SCALE_MODES = ("auto", "percentile", "manual")
DEFAULT_PERCENTILES = (2.0, 98.0)


@dataclass(frozen=True)
class Quantity:
    """One choice of the quantity menu: ``key`` (results variable or cube quantity), the
    label, where it comes from ("cube" or "results"), display scale and unit."""

    key: str
    label: str
    source: str
    scale: float
    unit: str
    sigma: bool = False

    @property
    def title(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


_RESULT_DISPLAY = {
    "E_g": ("E_g", 1e6, "µeV"),
    "Delta_c": ("Δc", 1e6, "µeV"),
    "Gamma": ("Γ", 1e6, "µeV"),
    "Z": ("Z", 1.0, ""),
    "G_N": ("G_N", 1.0 / G0_S, "2e²/h"),
}

QUANTITIES: tuple[Quantity, ...] = (
    Quantity("z", "z (topography)", "cube", 1e9, "nm"),
    Quantity("G_at_bias", "G at the chosen bias", "cube", 1.0, "2e²/h"),
    *(Quantity(q, _RESULT_DISPLAY[q][0], "results", *_RESULT_DISPLAY[q][1:])
      for q in RESULT_QUANTITIES),
    *(Quantity(f"{q}_sigma", f"σ({_RESULT_DISPLAY[q][0]})", "results", *_RESULT_DISPLAY[q][1:],
               sigma=True) for q in RESULT_QUANTITIES),
)


def quantity(key: str) -> Quantity:
    return next(q for q in QUANTITIES if q.key == key)


@dataclass(frozen=True)
class MapData:
    """``values`` [ny, nx] in display units (NaN where none), ``state`` [ny, nx] (grade codes
    0-3, NOT_MEASURED, UNGRADED), ``quantity``."""

    values: np.ndarray
    state: np.ndarray
    quantity: Quantity

    @property
    def drawable(self) -> np.ndarray:
        """Pixels whose value is drawn in colour (and sets the colour scale)."""
        ok = np.isin(self.state, (GOOD, POOR, UNGRADED))
        return ok & np.isfinite(self.values)


def _done(cube, results, shape) -> np.ndarray:
    if cube is not None and "done" in cube:
        return np.asarray(cube["done"].values).astype(bool)
    if results is not None and "done" in results:
        return np.asarray(results["done"].values).astype(bool)
    return np.ones(shape, dtype=bool)


def map_data(q: Quantity, cube=None, results=None, bias_index: int = 0) -> MapData | None:
    """The map of quantity ``q`` from the cube or the results (None if that source is not
    there). Pixels not done are NOT_MEASURED whatever the stored numbers say."""
    if q.source == "cube":
        if cube is None:
            return None
        if q.key == "z":
            raw = np.asarray(cube["z"].values, dtype=float)
        else:
            k = int(np.clip(bias_index, 0, cube.sizes["bias"] - 1))
            raw = np.asarray(cube["G_G0"].isel(bias=k).values, dtype=float)
        done = _done(cube, None, raw.shape)
        state = np.where(done, UNGRADED, NOT_MEASURED)
        return MapData(np.where(done, raw * q.scale, np.nan), state, q)
    if results is None or q.key not in results:
        return None
    raw = np.asarray(results[q.key].values, dtype=float)
    base = q.key.removesuffix("_sigma")
    grade_var = f"{base}_grade"
    if grade_var in results:
        grades = np.asarray(results[grade_var].values).astype(int)
    else:  # results without grades cannot be shown as trusted numbers
        grades = np.full(raw.shape, POOR)
    done = _done(cube, results, raw.shape)
    if done.shape != raw.shape:
        done = np.ones(raw.shape, dtype=bool)
    state = np.where(done, grades, NOT_MEASURED)
    # A not-applicable grade with no value, or a failed one, has no colour-scale value.
    values = np.where(np.isin(state, (GOOD, POOR)), raw * q.scale, np.nan)
    return MapData(values, state, q)


def colour_levels(data: MapData, mode: str = "auto",
                  percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
                  manual: tuple[float, float] | None = None) -> tuple[float, float]:
    """(low, high) of the colour scale in display units: min-max of the drawable pixels,
    their percentiles, or the manual limits."""
    if mode not in SCALE_MODES:
        raise ValueError(f"colour scale mode must be one of {SCALE_MODES}, got {mode!r}")
    if mode == "manual":
        if manual is None or not all(np.isfinite(manual)) or manual[0] == manual[1]:
            raise ValueError(f"manual colour limits must be two different numbers, got {manual}")
        return (float(min(manual)), float(max(manual)))
    v = data.values[data.drawable]
    if v.size == 0:
        return (0.0, 1.0)
    lo, hi = (float(v.min()), float(v.max())) if mode == "auto" else \
        tuple(float(p) for p in np.percentile(v, percentiles))
    if hi <= lo:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    return lo, hi


def rgba(data: MapData, levels: tuple[float, float], lut: np.ndarray) -> np.ndarray:
    """[ny, nx, 4] uint8: drawable pixels through ``lut`` ([n, 3 or 4] uint8) between
    ``levels`` (clipped), failed grey, not applicable pale grey, not measured transparent."""
    ny, nx = data.values.shape
    out = np.zeros((ny, nx, 4), dtype=np.uint8)
    out[...] = NOT_MEASURED_RGBA
    out[data.state == FAILED] = FAILED_RGBA
    out[data.state == NOT_APPLICABLE] = NOT_APPLICABLE_RGBA
    lo, hi = levels
    ok = data.drawable
    x = np.clip((data.values[ok] - lo) / (hi - lo), 0.0, 1.0)
    idx = np.round(x * (lut.shape[0] - 1)).astype(int)
    out[ok, :3] = lut[idx, :3]
    out[ok, 3] = 255
    return out


def pixel_at(x: float, y: float, x_coords: np.ndarray, y_coords: np.ndarray) -> tuple[int, int] | None:
    """(iy, ix) of the pixel whose centre is nearest (x, y) in the map's coordinates, None
    outside the map (half a pixel beyond the outer centres)."""
    out = []
    for value, coords in ((y, y_coords), (x, x_coords)):
        c = np.asarray(coords, dtype=float)
        step = abs(float(c[1] - c[0])) if c.size > 1 else 1.0
        i = int(np.argmin(np.abs(c - value)))
        if abs(c[i] - value) > 0.5 * step + 1e-12 * step:
            return None
        out.append(i)
    return out[0], out[1]


def axis_coords(cube, results, n: int, dim: str) -> np.ndarray:
    """The map's coordinates along ``dim`` ("x" or "y", m), or pixel numbers if unknown."""
    for source in (cube, results):
        if source is not None and dim in source.coords:
            c = np.asarray(source[dim].values, dtype=float)
            if c.size == n and np.all(np.isfinite(c)):
                return c
    return np.arange(n, dtype=float)


def fit_G_N_G0(analysis) -> float | None:
    """G_N of a pixel's fit in 2e^2/h, the unit the panel draws spectra in. The pipeline's
    ``G_N`` is in its input's unit: siemens when the pixel came from a cube's G_S (the map
    analysis's ``fit_pixel``), 2e^2/h from G_G0; None for a unit with no conversion ("GN",
    "arb": the fit cannot be drawn over the spectrum in 2e^2/h)."""
    unit = analysis.spectrum.G_unit
    if unit == "S":
        return float(analysis.G_N) / G0_S
    if unit == "G0":
        return float(analysis.G_N)
    return None
