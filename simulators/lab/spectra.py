"""Cached model spectra: G/G_N, I/G_N and the feedback's current-versus-barrier table.

The junction model is evaluated on a fixed bias grid (:data:`BIAS_GRID_V`, -6..6 mV at 2 uV)
once per *state* and interpolated per reading, so a bias sweep at a frozen tip costs one model
evaluation. A state is the key (T, E_g, Delta_c, Z, Gamma, Gamma_c) rounded to T 0.1 mK, energies
0.01 ueV, Z 4 significant digits; the lock-in smearing adds V_mod (rounded to 1 nV). The model
is evaluated at the rounded values, so a cached table is exactly the table of its key.

The DC current is the integral of the thermally smeared conductance from 0 (never G_N * V):
cumulative Simpson on the grid, beyond it the edge conductance continues linearly. The Z
controller needs I(V_bias) as a function of the barrier: :class:`BarrierTable` holds
ln|I/G_N| on 40 values of ln Z (0.02-1000), computed in one batched model call and splined;
beyond Z = 1000 the junction is in the tunnelling limit and the table is flat.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from scipy.integrate import cumulative_simpson, simpson
from scipy.interpolate import CubicSpline

from stm_andreev.physics import conductance

BIAS_HALF_RANGE_V = 6e-3
BIAS_STEP_V = 2e-6
BIAS_GRID_V = np.linspace(
    -BIAS_HALF_RANGE_V, BIAS_HALF_RANGE_V, int(round(2 * BIAS_HALF_RANGE_V / BIAS_STEP_V)) + 1
)
_ZERO_INDEX = (BIAS_GRID_V.size - 1) // 2

BARRIER_MIN, BARRIER_MAX = 0.02, 1000.0
_N_BARRIERS = 40
_FEEDBACK_STEP_V = 10e-6  # Simpson on 10 uV steps matches current_A to ~1e-9 (see tests)
_DENSE_BARRIERS = 2000


@dataclass(frozen=True)
class SpectrumKey:
    """Rounded model state of the junction (everything but G_N and the bias)."""

    T_K: float
    Eg_eV: float
    Dc_eV: float
    Z: float
    gamma_eV: float
    gamma_c_eV: float

    @classmethod
    def make(
        cls,
        T_K: float,
        Eg_eV: float,
        Dc_eV: float,
        Z: float,
        gamma_eV: float,
        gamma_c_eV: float | None = None,
    ) -> SpectrumKey:
        z = min(max(Z, BARRIER_MIN), BARRIER_MAX)
        gc = gamma_eV if gamma_c_eV is None else gamma_c_eV
        return cls(
            round(T_K, 4),
            round(Eg_eV, 8),
            round(Dc_eV, 8),
            float(f"{z:.4g}"),
            round(gamma_eV, 8),
            round(gc, 8),
        )

    @property
    def gapless(self) -> bool:
        """Both gaps closed: G/G_N = 1 exactly (BTK with D = 0), no model needed."""
        return self.Eg_eV == 0.0 and self.Dc_eV == 0.0


def _interp_extrapolated(V: np.ndarray, values: np.ndarray, slope_edges: tuple[float, float]):
    out = np.interp(V, BIAS_GRID_V, values)
    if V.ndim == 0 and BIAS_GRID_V[0] <= V <= BIAS_GRID_V[-1]:
        return out  # the common case (one reading inside the grid) without the masking
    lo, hi = BIAS_GRID_V[0], BIAS_GRID_V[-1]
    out = np.where(V < lo, values[0] + slope_edges[0] * (V - lo), out)
    return np.where(V > hi, values[-1] + slope_edges[1] * (V - hi), out)


_GRID_LIST = BIAS_GRID_V.tolist()


def interp_scalar(x: float, values: list[float], grid: list[float] = _GRID_LIST) -> float:
    """``float(np.interp(x, grid, values))`` for one point, bit for bit, in Python.

    np.interp on a 0-d array costs ~4 us of call overhead, paid for every new lock-in input
    state and ~20 times per lab advance in the feedback's root search; this is the same
    search (the last grid point at or below x), the same edge and on-grid cases and the same
    expression ``slope * (x - x_j) + y_j`` (no NaN handling: the tables are finite).
    ``grid`` defaults to the bias grid of the spectrum tables.
    """
    j = bisect_right(grid, x) - 1
    if j < 0:
        return values[0]
    if j >= len(grid) - 1:
        return values[-1]
    xj = grid[j]
    if xj == x:
        return values[j]
    slope = (values[j + 1] - values[j]) / (grid[j + 1] - xj)
    return slope * (x - xj) + values[j]


class Spectrum:
    """Model tables of one :class:`SpectrumKey` (normalised to G_N)."""

    def __init__(
        self, key: SpectrumKey, count: Callable[[], None], vmod_rms_V: float = 0.0
    ) -> None:
        self.key = key
        self._count = count
        self._lockin: dict[float, np.ndarray] = {}
        # The tables as float lists for interp_scalar, made on first use.
        self._lockin_lists: dict[float, list[float]] = {}
        self._current_list: list[float] | None = None
        vmod = round(vmod_rms_V, 9)
        if vmod > 0.0 and not key.gapless:
            # The unsmeared table (for the DC current) and the one at the present modulation
            # come from one batched model call: a new state costs one evaluation, not two.
            self._count()
            both = conductance(
                BIAS_GRID_V,
                Eg_eV=key.Eg_eV,
                Dc_eV=key.Dc_eV,
                Z=key.Z,
                gamma_eV=key.gamma_eV,
                T_K=key.T_K,
                Vmod_rms_V=np.array([[0.0], [vmod]]),
                gamma_c_eV=key.gamma_c_eV,
            )
            self.g0, self._lockin[vmod] = both[0], both[1]
        else:
            self.g0 = self._evaluate(0.0)
        current = cumulative_simpson(self.g0, x=BIAS_GRID_V, initial=0.0)
        self.current_norm = current - current[_ZERO_INDEX]

    def _evaluate(self, vmod_rms_V: float) -> np.ndarray:
        k = self.key
        if k.gapless:
            return np.ones_like(BIAS_GRID_V)
        self._count()
        g = conductance(
            BIAS_GRID_V,
            Eg_eV=k.Eg_eV,
            Dc_eV=k.Dc_eV,
            Z=k.Z,
            gamma_eV=k.gamma_eV,
            T_K=k.T_K,
            Vmod_rms_V=vmod_rms_V,
            gamma_c_eV=k.gamma_c_eV,
        )
        return np.reshape(g, BIAS_GRID_V.shape)

    def g_lockin(self, vmod_rms_V: float) -> np.ndarray:
        """G/G_N on the grid with lock-in smearing at vmod_rms_V (V rms, rounded to 1 nV)."""
        vmod = round(vmod_rms_V, 9)
        if vmod == 0.0:
            return self.g0
        if vmod not in self._lockin:
            self._lockin[vmod] = self._evaluate(vmod)
        return self._lockin[vmod]

    def conductance_norm(self, V: np.ndarray, vmod_rms_V: float) -> np.ndarray:
        """G/G_N at biases V (V), constant beyond the grid."""
        return np.interp(V, BIAS_GRID_V, self.g_lockin(vmod_rms_V))

    def current_norm_at(self, V: np.ndarray) -> np.ndarray:
        """I/G_N (V) at biases V: the integral of G/G_N from 0 to V."""
        return _interp_extrapolated(V, self.current_norm, (self.g0[0], self.g0[-1]))

    def current_norm_scalar(self, V: float) -> float:
        """``float(current_norm_at(np.array(V)))`` for one bias (same value, no numpy call)."""
        if not _GRID_LIST[0] <= V <= _GRID_LIST[-1]:
            return float(self.current_norm_at(np.array(V)))
        if self._current_list is None:
            self._current_list = self.current_norm.tolist()
        return interp_scalar(V, self._current_list)

    def g_lockin_scalar(self, V: float, vmod_rms_V: float) -> float:
        """``float(np.interp(V, BIAS_GRID_V, g_lockin(vmod_rms_V)))`` (same value)."""
        vmod = round(vmod_rms_V, 9)
        values = self._lockin_lists.get(vmod)
        if values is None:
            values = self._lockin_lists[vmod] = self.g_lockin(vmod).tolist()
        return interp_scalar(V, values)


@dataclass(frozen=True)
class BarrierKey:
    """State for the feedback's table: everything but Z and G_N, plus the bias."""

    T_K: float
    Eg_eV: float
    Dc_eV: float
    gamma_eV: float
    gamma_c_eV: float
    bias_V: float


class BarrierTable:
    """ln|I(V_bias)/G_N| versus ln Z for the Z controller (one batched model evaluation)."""

    def __init__(self, key: BarrierKey, count: Callable[[], None]) -> None:
        V = key.bias_V
        inside = min(max(V, -BIAS_HALF_RANGE_V), BIAS_HALF_RANGE_V)
        ln_Z = np.linspace(math.log(BARRIER_MIN), math.log(BARRIER_MAX), _N_BARRIERS)
        if V == 0.0:
            ln_j = np.full_like(ln_Z, -np.inf)
        elif key.Eg_eV == 0.0 and key.Dc_eV == 0.0:
            ln_j = np.full_like(ln_Z, math.log(abs(V)))
        else:
            count()
            n = max(21, int(math.ceil(abs(inside) / _FEEDBACK_STEP_V)) + 1) | 1
            grid = np.linspace(min(0.0, inside), max(0.0, inside), n)
            g = conductance(
                grid,
                Eg_eV=key.Eg_eV,
                Dc_eV=key.Dc_eV,
                Z=np.exp(ln_Z)[:, None],
                gamma_eV=key.gamma_eV,
                T_K=key.T_K,
                gamma_c_eV=key.gamma_c_eV,
            ).reshape(ln_Z.size, n)
            j = simpson(g, x=grid, axis=-1) + g[:, -1 if inside > 0 else 0] * abs(V - inside)
            ln_j = np.log(j)
        dense = np.linspace(ln_Z[0], ln_Z[-1], _DENSE_BARRIERS)
        if np.all(np.isfinite(ln_j)):
            values = CubicSpline(ln_Z, ln_j)(dense)
        else:
            values = np.full_like(dense, ln_j[0])
        # Float lists for interp_scalar: the feedback's root search calls ln_current_norm
        # ~20 times per lab advance.
        self._ln_Z = dense.tolist()
        self._ln_j = values.tolist()

    def ln_current_norm(self, ln_Z: float) -> float:
        """ln|I/G_N| (ln V) at barrier ln Z (clamped to the table; flat beyond it)."""
        return interp_scalar(ln_Z, self._ln_j, self._ln_Z)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """Small least-recently-used cache (the lab's lock protects it)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._d: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, factory: Callable[[], V]) -> V:
        if key in self._d:
            self._d.move_to_end(key)
            return self._d[key]
        value = factory()
        self._d[key] = value
        if len(self._d) > self.maxsize:
            self._d.popitem(last=False)
        return value

    def clear(self) -> None:
        self._d.clear()
