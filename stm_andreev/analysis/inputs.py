"""A spectrum as the analysis receives it, whatever file it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .errors import AnalysisInputError

GUnit = Literal["S", "G0", "GN", "arb"]
G_UNITS: tuple[str, ...] = ("S", "G0", "GN", "arb")


@dataclass(frozen=True)
class SpectrumInput:
    """One G(V) spectrum with what is known about how it was taken.

    ``bias_V`` (V) and ``G`` (in ``G_unit``: "S" siemens, "G0" units of 2e^2/h, "GN" already
    normalised to the normal state, "arb" proportional to dI/dV, e.g. a lock-in output in A or
    V). ``T_K``, ``Vmod_rms_V``: temperature and rms modulation if recorded (None: take the
    caller's default). ``setpoint_G_S``: I_sp/V_sp if recorded.
    """

    bias_V: np.ndarray
    G: np.ndarray
    G_unit: GUnit
    source: str
    index: int = 0
    T_K: float | None = None
    Vmod_rms_V: float | None = None
    setpoint_G_S: float | None = None
    tip_x_m: float | None = None
    tip_y_m: float | None = None
    label: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.G_unit not in G_UNITS:
            raise ValueError(f"G_unit must be one of {G_UNITS}, got {self.G_unit!r}")
        check_arrays(self.bias_V, self.G, f"{self.source}[{self.index}]")

    @property
    def G_S(self) -> np.ndarray | None:
        """Conductance in S, or None when the input has no absolute scale."""
        from stm_andreev.physics import G0_S

        if self.G_unit == "S":
            return np.asarray(self.G, dtype=float)
        if self.G_unit == "G0":
            return np.asarray(self.G, dtype=float) * G0_S
        return None


def check_arrays(bias_V: np.ndarray, G: np.ndarray, where: str) -> None:
    """Raise AnalysisInputError unless bias and G are equal-length 1D numeric arrays with at
    least 7 finite points and a non-zero bias range."""
    V = np.asarray(bias_V)
    g = np.asarray(G)
    if V.ndim != 1 or g.ndim != 1 or V.shape != g.shape:
        raise AnalysisInputError(
            f"{where}: expected 1D bias and conductance of equal length, got shapes "
            f"{V.shape} and {g.shape}"
        )
    if not (np.issubdtype(V.dtype, np.number) and np.issubdtype(g.dtype, np.number)):
        raise AnalysisInputError(f"{where}: bias and conductance must be numeric")
    finite = np.isfinite(V) & np.isfinite(g)
    if finite.sum() < 7:
        what = "NaN-filled" if V.size >= 7 else "too short"
        raise AnalysisInputError(
            f"{where}: {what}: {int(finite.sum())} finite points of {V.size}; expected at "
            "least 7 finite (bias, conductance) pairs"
        )
    if np.ptp(V[finite]) <= 0:
        raise AnalysisInputError(f"{where}: all biases are equal; expected a bias sweep")
    _refuse_concatenated_sweeps(V[finite], where)


# A bias step smaller than this fraction of the sweep's range is read-back noise, not a reversal.
REVERSAL_TOLERANCE = 1e-3


def _refuse_concatenated_sweeps(V: np.ndarray, where: str) -> None:
    """One spectrum is one sweep: a bias that turns back (up then down, or a second ramp from
    the start) means several sweeps in one file, which sorting by bias would silently mix."""
    steps = np.diff(V)
    steps = steps[np.abs(steps) > REVERSAL_TOLERANCE * np.ptp(V)]
    if steps.size < 2:
        return
    turns = np.flatnonzero(np.sign(steps[1:]) != np.sign(steps[:-1]))
    if turns.size:
        raise AnalysisInputError(
            f"{where}: the bias turns back {turns.size} time(s) (e.g. a forward and a backward "
            "sweep, or several sweeps one after the other); one spectrum is one sweep: split "
            "the file or select one sweep"
        )


# Relative spread of the conductance (between bias bins, so noise averages out) below which a
# spectrum has no gap structure to fit.
FLAT_RELATIVE_SPREAD = 0.005
FLAT_BINS = 10


def flatness_note(bias_V: np.ndarray, G: np.ndarray) -> str:
    """A warning if G(V) is flat (no gap, no peaks: E_g and Gamma cannot be determined from
    it and a fit lands at its bounds), else ""."""
    V = np.asarray(bias_V, dtype=float)
    g = np.asarray(G, dtype=float)
    ok = np.isfinite(V) & np.isfinite(g)
    V, g = V[ok], g[ok]
    scale = float(np.median(np.abs(g))) if g.size else 0.0
    if g.size < 2 * FLAT_BINS or not scale > 0:
        return ""
    order = np.argsort(V)
    means = [float(np.mean(chunk)) for chunk in np.array_split(g[order], FLAT_BINS)]
    spread = (max(means) - min(means)) / scale
    if spread >= FLAT_RELATIVE_SPREAD:
        return ""
    return (f"conductance flat within {spread * 100:.2g} % across the sweep: no gap structure, "
            "so E_g and Gamma are not determined by this spectrum (a fit sits at its bounds)")
