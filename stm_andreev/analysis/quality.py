"""How far a fit can be trusted: the spectrum's own noise, chi-square against it, a grade.

The noise sigma (in units of G/G_N) is measured on the spectrum itself, where the model has
nothing to say: repeated biases (a forward and a backward sweep) give it from their
differences; otherwise a quadratic through the outer 15 % of the sweep on each side (the
normal-state tails, smooth on the scale of a few points) leaves the noise as its residual.
A fit whose mean squared residual per degree of freedom is many times sigma^2 has not found
the spectrum's shape, however small its covariance error bars are.

Grades (:func:`grade`):

    good    chi2/sigma^2 <= POOR_CHI2 and no physical parameter at a bound of its range
    poor    chi2/sigma^2 in (POOR_CHI2, FAILED_CHI2], or a parameter at a bound (its error
            bar means nothing there), or the model choice is ambiguous
    failed  chi2/sigma^2 > FAILED_CHI2, or no fit converged

The thresholds allow for the noise estimate's own scatter (~20 % from ~50 tail points) and
small systematic mismatch (a sloped background, a slightly wrong temperature); a true model
at the right temperature gives 0.7-1.3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .derivative import estimate_noise
from .normalize import outer_mask

Grade = Literal["good", "poor", "failed"]

POOR_CHI2 = 2.0
FAILED_CHI2 = 25.0
_MIN_TAIL_POINTS = 6


@dataclass(frozen=True)
class NoiseEstimate:
    """``sigma`` (units of the conductance given) and how it was measured (``method``:
    "repeated biases", "high-bias residual" or "second differences")."""

    sigma: float
    method: str


def _repeated(V: np.ndarray, g: np.ndarray) -> float | None:
    uniq, inverse, counts = np.unique(V, return_inverse=True, return_counts=True)
    if np.sum(counts >= 2) < 10:
        return None
    means = np.bincount(inverse, weights=g) / counts
    dev = g - means[inverse]
    dof = int(np.sum(counts - 1))
    return float(np.sqrt(np.sum(dev**2) / dof)) if dof > 0 else None


def _tails(V: np.ndarray, g: np.ndarray) -> float | None:
    mask = outer_mask(V)
    ss, dof = 0.0, 0
    for side in (mask & (V < 0), mask & (V > 0)):
        if side.sum() < _MIN_TAIL_POINTS:
            return None
        x, y = V[side], g[side]
        coef = np.polyfit(x - x.mean(), y, 2)
        ss += float(np.sum((y - np.polyval(coef, x - x.mean())) ** 2))
        dof += int(side.sum()) - 3
    return float(np.sqrt(ss / dof)) if dof > 0 else None


def estimate_spectrum_noise(bias_V: np.ndarray, g: np.ndarray) -> NoiseEstimate:
    """The white-noise sigma of a spectrum g(V) (any order; same units as g)."""
    V = np.asarray(bias_V, dtype=float)
    y = np.asarray(g, dtype=float)
    for method, fn in (("repeated biases", _repeated), ("high-bias residual", _tails)):
        value = fn(V, y)
        if value is not None and value > 0:
            return NoiseEstimate(value, method)
    order = np.argsort(V)
    return NoiseEstimate(max(estimate_noise(y[order]), 1e-12), "second differences")


def information_criterion(chi2_sum: float, sigma: float, n_params: int, n_points: int) -> float:
    """Bayesian information criterion chi^2/sigma^2 + k ln n (Gaussian noise of known sigma;
    lower is better, a difference above ~10 is decisive)."""
    return float(chi2_sum / sigma**2 + n_params * np.log(n_points))


def grade(chi2_noise: float, at_bound: tuple[str, ...] = (),
          extra: tuple[str, ...] = ()) -> tuple[Grade, str]:
    """(grade, reason) of a fit from its chi2 over the noise variance, the physical parameters
    left at a bound, and further reasons (``extra``) that make a fit poor at best."""
    if not np.isfinite(chi2_noise):
        return "failed", "residual not finite"
    if chi2_noise > FAILED_CHI2:
        return "failed", (f"chi2 is {chi2_noise:.3g} x the noise variance (> {FAILED_CHI2:g}): "
                          "the model does not describe the spectrum")
    reasons = []
    if chi2_noise > POOR_CHI2:
        reasons.append(f"chi2 is {chi2_noise:.3g} x the noise variance (> {POOR_CHI2:g})")
    reasons += [f"{name} at a bound of its fit range" for name in at_bound]
    reasons += list(extra)
    if reasons:
        return "poor", "; ".join(reasons)
    return "good", f"chi2 {chi2_noise:.2f} x the noise variance"
