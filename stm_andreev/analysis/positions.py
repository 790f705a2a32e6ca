"""Delta_c and E_g per tip position (the paper's Fig. 3).

The paper measures E_g by a Dynes fit of a tunnelling spectrum and Delta_c from the Andreev
peaks of a contact spectrum taken at the same place. Spectra are grouped by source file,
sample and tip position (within ``tolerance_m``); a group gives a point when it holds at
least one spectrum with Andreev peaks. E_g comes from its tunnelling (Dynes) spectra when
there are any, else from the two-gap fits of its contact spectra. Spectra without a recorded
tip position are each their own group.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .pipeline import Analysis

DEFAULT_TOLERANCE_M = 1e-10


@dataclass(frozen=True)
class PositionPoint:
    """One point of Fig. 3: gaps in eV with 1-sigma uncertainties (the spread of repeated
    spectra and their own uncertainties combined), and where E_g came from."""

    source: str
    sample: str
    tip_x_m: float | None
    tip_y_m: float | None
    delta_c_eV: float
    delta_c_err_eV: float
    E_g_eV: float
    E_g_err_eV: float
    E_g_from: str  # "tunnelling" (Dynes fits) or "two-gap fit"
    n_contact: int
    n_tunnelling: int


def _combine(values: Sequence[float], errors: Sequence[float | None]) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    e = np.asarray([0.0 if x is None else x for x in errors], dtype=float)
    spread = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
    return float(np.mean(v)), float(np.sqrt(spread**2 + np.mean(e**2) / v.size))


def _key(a: Analysis, tolerance_m: float):
    sample = str(a.spectrum.meta.get("run", {}).get("sample", ""))
    x, y = a.result.tip_x_m, a.result.tip_y_m
    if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
        return (a.result.source, sample, "spectrum", a.result.index)
    return (a.result.source, sample, round(x / tolerance_m), round(y / tolerance_m))


def position_points(analyses: Sequence[Analysis], *,
                    tolerance_m: float = DEFAULT_TOLERANCE_M) -> list[PositionPoint]:
    """Group analysed spectra by tip position and return one point per position that has
    Andreev peaks, in order of first appearance."""
    groups: dict[tuple, list[Analysis]] = {}
    for a in analyses:
        groups.setdefault(_key(a, tolerance_m), []).append(a)
    points = []
    for (source, sample, *_), group in groups.items():
        # Only good fits make points: a poor one is in the report's table with its reason.
        good = [a.result for a in group if a.result.quality == "good"]
        contact = [r for r in good if r.delta_c_eV is not None]
        if not contact:
            continue
        tunnelling = [r for r in good if r.regime == "tunnelling"]
        dc, dc_err = _combine([r.delta_c_eV for r in contact],
                              [r.delta_c_err_eV for r in contact])
        if tunnelling:
            Eg, Eg_err = _combine([r.E_g_eV for r in tunnelling],
                                  [r.E_g_err_eV for r in tunnelling])
            origin = "tunnelling"
        else:
            Eg, Eg_err = _combine([r.E_g_eV for r in contact], [r.E_g_err_eV for r in contact])
            origin = "two-gap fit"
        first = group[0].result
        points.append(PositionPoint(source, sample, first.tip_x_m, first.tip_y_m, dc, dc_err,
                                    Eg, Eg_err, origin, len(contact), len(tunnelling)))
    return points
