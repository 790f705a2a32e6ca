"""What the live spectra views draw, computed from the spectra of a run (Qt-free).

Spectra arrive in blocks (:class:`~.runfile.SpectraBlock`); rows are grouped by the plan step
they belong to (the engine's ``step_index`` column). The setpoint waterfall (paper Fig. 1)
shows the latest step whose setpoint varies; the -d2G/dV2 colour map and the gaps-versus-
temperature plot (Fig. 2) show the latest step whose target temperature varies. The in-line
analysis of a row (a few ms) is done lazily within a time budget per redraw, newest rows
first, so attaching to a long run never freezes the window.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from stm_andreev.storage import G0_S

from .live_analysis import LiveResult, analyze_live
from .runfile import SpectraBlock

#: At most this many curves in the waterfall (evenly picked, always with the newest).
MAX_WATERFALL_CURVES = 40
#: Rows of the resampled temperature axis of the colour map.
MAP_T_ROWS = 240
#: Setpoint conductance below which a junction counts as tunnelling (units of 2e^2/h), as in
#: stm_andreev.analysis.regime.
TUNNELLING_MAX_G_SP_G0 = 0.1
#: Offset between waterfall curves, in units of the normalised conductance.
WATERFALL_OFFSET = 0.6


@dataclass(frozen=True)
class MapImage:
    """-d2G/dV2 on a (temperature, bias) grid: ``image[i, j]`` at T_K[i], bias_V[j]."""

    bias_V: np.ndarray
    T_K: np.ndarray
    image: np.ndarray
    measured_T_K: np.ndarray


class SpectraModel:
    """Growing arrays of a run's spectra and their in-line analysis."""

    def __init__(self) -> None:
        self.bias_V = np.zeros((0, 0))
        self.G_G0 = np.zeros((0, 0))
        self.columns: dict[str, np.ndarray] = {}
        self._results: dict[int, LiveResult] = {}
        self._capacity = 0
        self.n = 0
        #: the run file's path (named in the fits' messages)
        self.source = "run"

    # ------------------------------------------------------------------ data
    def clear(self) -> None:
        self.__init__()

    def add(self, block: SpectraBlock) -> None:
        """Append a block of new rows (amortised growth: no copy per spectrum)."""
        need = self.n + block.n
        if need > self._capacity:
            cap = max(need, 2 * self._capacity, 64)
            n_bias = block.G_G0.shape[1]
            for name in ("bias_V", "G_G0"):
                old = getattr(self, name)
                new = np.full((cap, n_bias), np.nan)
                if self.n:
                    new[: self.n] = old[: self.n]
                setattr(self, name, new)
            for key, col in self.columns.items():
                grown = np.full(cap, np.nan, dtype=float) if col.dtype.kind == "f" else \
                    np.empty(cap, dtype=col.dtype)
                grown[: self.n] = col[: self.n]
                self.columns[key] = grown
            self._capacity = cap
        rows = slice(self.n, need)
        self.bias_V[rows] = block.bias_V
        self.G_G0[rows] = block.G_G0
        for key, values in block.table.items():
            values = np.asarray(values)
            if key not in self.columns:
                kind_float = values.dtype.kind in "fiub"
                self.columns[key] = (np.full(self._capacity, np.nan) if kind_float
                                     else np.empty(self._capacity, dtype=object))
            col = self.columns[key]
            col[rows] = values.astype(float) if col.dtype.kind == "f" else values
        self.n = need

    def column(self, name: str) -> np.ndarray:
        col = self.columns.get(name)
        if col is None:
            return np.full(self.n, np.nan)
        return col[: self.n]

    def temperatures_K(self) -> np.ndarray:
        """Mean of the before/after mixing-chamber temperatures of each row (K)."""
        before, after = self.column("temperature_before_K"), self.column("temperature_after_K")
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(before) & np.isfinite(after), 0.5 * (before + after),
                            np.where(np.isfinite(before), before, after))

    # ------------------------------------------------------------------ analysis
    def result(self, row: int) -> LiveResult:
        """In-line analysis of row ``row`` (cached)."""
        if row not in self._results:
            G_sp = self.column("G_sp_S")[row] / G0_S
            tunnelling = bool(np.isfinite(G_sp) and abs(G_sp) < TUNNELLING_MAX_G_SP_G0)
            self._results[row] = analyze_live(
                self.bias_V[row], self.G_G0[row], tunnelling=tunnelling
            )
        return self._results[row]

    def has_result(self, row: int) -> bool:
        return row in self._results

    def analyse_pending(self, rows: np.ndarray, budget_s: float) -> bool:
        """Analyse rows not yet done, newest first, for at most ``budget_s``; True if all done."""
        start = time.perf_counter()
        for row in rows[::-1]:
            if row not in self._results:
                if time.perf_counter() - start > budget_s:
                    return False
                self.result(int(row))
        return True

    # ------------------------------------------------------------------ grouping
    def _latest_step_varying(self, column: str) -> np.ndarray:
        """Rows of the latest step in which ``column`` takes more than one value."""
        if self.n == 0:
            return np.zeros(0, dtype=int)
        steps = self.column("step_index")
        if not np.all(np.isfinite(steps)):
            steps = np.zeros(self.n)
        values = self.column(column)
        for step in np.unique(steps)[::-1]:
            rows = np.flatnonzero(steps == step)
            v = values[rows]
            v = v[np.isfinite(v)]
            if np.unique(np.round(v, 12)).size > 1:
                return rows
        return np.zeros(0, dtype=int)

    def setpoint_rows(self) -> np.ndarray:
        return self._latest_step_varying("setpoint_A")

    def temperature_rows(self) -> np.ndarray:
        rows = self._latest_step_varying("target_temperature_K")
        if rows.size == 0 and "target_temperature_K" not in self.columns:
            # Files without the engine's columns: every row with a measured temperature.
            T = self.temperatures_K()
            rows = np.flatnonzero(np.isfinite(T))
            if np.unique(np.round(T[rows], 4)).size < 2:
                return np.zeros(0, dtype=int)
        return rows

    # ------------------------------------------------------------------ views
    def waterfall(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """(bias V, normalised G + offset, setpoint A) of the setpoint-sweep curves, ordered by
        setpoint (lowest at the bottom). Each curve is divided by its value at the largest
        |bias| (the normal-state conductance) so three decades of G share one axis."""
        rows = self.setpoint_rows()
        if rows.size == 0:
            return []
        setpoints = self.column("setpoint_A")[rows]
        rows = rows[np.argsort(setpoints, kind="stable")]
        if rows.size > MAX_WATERFALL_CURVES:
            pick = np.unique(np.linspace(0, rows.size - 1, MAX_WATERFALL_CURVES).round().astype(int))
            rows = rows[pick]
        out = []
        for k, row in enumerate(rows):
            V, G = self.bias_V[row], self.G_G0[row]
            edge = np.nanmean(G[np.argsort(np.abs(V))[-3:]])
            g = G / edge if np.isfinite(edge) and edge > 0 else G
            out.append((V, g + WATERFALL_OFFSET * k, float(self.column("setpoint_A")[row])))
        return out

    def setpoint_dependence(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(setpoint A, tip height z m, G_sp in units of 2e^2/h) of every row."""
        return (self.column("setpoint_A"), self.column("z_m"), self.column("G_sp_S") / G0_S)

    def map_image(self, budget_s: float = 0.02) -> MapImage | None:
        """The -d2G/dV2 map of the temperature-sweep rows analysed so far (None if < 1 row)."""
        rows = self.temperature_rows()
        self.analyse_pending(rows, budget_s)
        rows = np.array([r for r in rows if self.has_result(int(r))], dtype=int)
        if rows.size == 0:
            return None
        T = self.temperatures_K()[rows]
        order = np.argsort(T, kind="stable")
        rows, T = rows[order], T[order]
        first = self.result(int(rows[0]))
        V = first.bias_V
        curves = np.array([np.interp(V, self.result(int(r)).bias_V, self.result(int(r)).minus_d2G)
                           for r in rows])
        if rows.size == 1:
            return MapImage(V, np.array([T[0] * 0.98, T[0] * 1.02]), np.vstack([curves, curves]), T)
        # Nearest measured row for each T on a uniform axis: blocks, no invented structure.
        T_grid = np.linspace(T[0], T[-1], MAP_T_ROWS)
        edges = 0.5 * (T[1:] + T[:-1])
        image = curves[np.searchsorted(edges, T_grid)]
        return MapImage(V, T_grid, image, T)

    def gaps_vs_temperature(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(T K, Delta_c eV, E_g eV) of the analysed temperature-sweep rows (NaN if none);
        the 1-sigma of Delta_c is :meth:`delta_c_errors`."""
        rows = [int(r) for r in self.temperature_rows() if self.has_result(int(r))]
        T = self.temperatures_K()[rows] if rows else np.zeros(0)

        def pick(attr: str) -> np.ndarray:
            vals = [getattr(self.result(r), attr) for r in rows]
            return np.array([math.nan if v is None else v for v in vals], dtype=float)

        return T, pick("delta_c_eV"), pick("E_g_eV")

    def delta_c_errors(self) -> np.ndarray:
        """1-sigma of Delta_c (eV, NaN where unknown) of the rows of
        :meth:`gaps_vs_temperature`, in the same order."""
        rows = [int(r) for r in self.temperature_rows() if self.has_result(int(r))]
        errs = [self.result(r).delta_c_err_eV for r in rows]
        return np.array([math.nan if e is None else e for e in errs], dtype=float)

    def spectrum_input(self, row: int):
        """Row ``row`` as the analysis pipeline's input (G in 2e^2/h, with its temperature,
        modulation and setpoint conductance), for a graded fit of one spectrum."""
        from stm_andreev.analysis.inputs import SpectrumInput

        def finite(name: str) -> float | None:
            value = float(self.column(name)[row])
            return value if math.isfinite(value) else None

        T = float(self.temperatures_K()[row])
        return SpectrumInput(
            np.asarray(self.bias_V[row], dtype=float), np.asarray(self.G_G0[row], dtype=float),
            "G0", source=self.source, index=int(row),
            T_K=T if math.isfinite(T) and T > 0 else None,
            Vmod_rms_V=finite("modulation_Vrms"), setpoint_G_S=finite("G_sp_S"),
            label=f"row {row}")
