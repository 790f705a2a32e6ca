"""Normalisation of a conductance spectrum: to 2e^2/h, and to G_N from the high-bias tails.

G_N is estimated from the outer ``outer_fraction`` (default 15 %) of the bias range on both
sides, either as their mean or as the value at V = 0 of a straight line fitted through them
(which removes a linear background, e.g. a slightly asymmetric normal-state conductance).
With a gap comparable to the sweep range the tails still hold some coherence-peak excess
(Dynes at V = 2 E_g is 1.15 G_N), so the fits carry a free scale factor on top of this G_N.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from stm_andreev.physics import G0_S

from .errors import AnalysisInputError

DEFAULT_OUTER_FRACTION = 0.15


def to_G0(G_S: ArrayLike) -> np.ndarray:
    """Conductance in units of the conductance quantum G0 = 2e^2/h = 77.48 uS."""
    return np.asarray(G_S, dtype=float) / G0_S


def outer_mask(bias_V: ArrayLike, outer_fraction: float = DEFAULT_OUTER_FRACTION) -> np.ndarray:
    """Boolean mask of the points in the outer ``outer_fraction`` of |V| on both sides.

    ``outer_fraction`` in (0, 0.5]: the fraction of the whole bias range taken at each end
    (0.15 of a +-1.5 mV sweep: |V| >= 1.05 mV). At least two points per side are included.
    """
    if not 0 < outer_fraction <= 0.5:
        raise ValueError(f"outer_fraction must be in (0, 0.5], got {outer_fraction}")
    V = np.asarray(bias_V, dtype=float)
    lo, hi = float(np.min(V)), float(np.max(V))
    mask = (lo + outer_fraction * (hi - lo) >= V) | (hi - outer_fraction * (hi - lo) <= V)
    order = np.argsort(V)
    mask[order[:2]] = True
    mask[order[-2:]] = True
    return mask


def normal_conductance(
    bias_V: ArrayLike,
    G: ArrayLike,
    *,
    outer_fraction: float = DEFAULT_OUTER_FRACTION,
    method: Literal["mean", "line"] = "mean",
) -> float:
    """Normal-state conductance G_N in the units of G, from the high-bias conductance.

    ``method="mean"``: the mean of the outer points on both sides (the two sides weighted
    equally, so an unequal number of points per side does not bias it). ``method="line"``:
    the intercept at V = 0 of a least-squares line through the outer points.
    Raises AnalysisInputError if the estimate is not a positive finite number.
    """
    V = np.asarray(bias_V, dtype=float)
    g = np.asarray(G, dtype=float)
    mask = outer_mask(V, outer_fraction)
    if method == "mean":
        sides = [g[mask & (V < 0)], g[mask & (V >= 0)]]
        value = float(np.mean([np.mean(s) for s in sides if s.size]))
    elif method == "line":
        slope, intercept = np.polyfit(V[mask], g[mask], 1)
        value = float(intercept)
    else:
        raise ValueError(f"method must be 'mean' or 'line', got {method!r}")
    if not np.isfinite(value) or value <= 0:
        raise AnalysisInputError(
            f"high-bias conductance gives G_N = {value!r}; expected a positive number "
            "(is the conductance column right, and does the sweep reach the normal state?)"
        )
    return value


def normalize(
    bias_V: ArrayLike,
    G: ArrayLike,
    *,
    outer_fraction: float = DEFAULT_OUTER_FRACTION,
    method: Literal["mean", "line"] = "mean",
) -> tuple[np.ndarray, float]:
    """(G / G_N, G_N): the spectrum in units of its normal-state conductance, and G_N."""
    G_N = normal_conductance(bias_V, G, outer_fraction=outer_fraction, method=method)
    return np.asarray(G, dtype=float) / G_N, G_N
