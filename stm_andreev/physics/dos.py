"""Dynes density of states."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def retarded_sqrt_ratio(E_eV: ArrayLike, gap_eV: ArrayLike, gamma_eV: ArrayLike) -> np.ndarray:
    """w = sqrt(z^2 - D^2) / z with z = |E| + i Gamma, on the retarded branch.

    Written as sqrt(z - D) sqrt(z + D): each factor's argument has a non-negative imaginary
    part, so the product stays on the retarded sheet; the principal sqrt of z^2 - D^2 would
    flip sign for E < 0. Using |E| makes every quantity built on w even in E.
    """
    z = np.abs(np.asarray(E_eV, dtype=float)) + 1j * np.asarray(gamma_eV, dtype=float)
    gap = np.asarray(gap_eV, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        w = np.sqrt(z - gap) * np.sqrt(z + gap) / z
    # z = 0 only when E = 0 and Gamma = 0: inside a hard gap, w -> i * infinity; the limits of
    # A, B and N there are finite and handled by callers through |w| -> inf.
    return w


def dynes_dos(E_eV: ArrayLike, gap_eV: ArrayLike, gamma_eV: ArrayLike) -> np.ndarray:
    """Normalised Dynes density of states N(E)/N0 = Re[z / sqrt(z^2 - D^2)], z = E + i Gamma.

    Even in E and non-negative; N(0) = Gamma / sqrt(Gamma^2 + D^2) exactly. Energies in eV.
    """
    w = retarded_sqrt_ratio(E_eV, gap_eV, gamma_eV)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.real(1.0 / w)
    return np.where(np.isfinite(n), n, 0.0)
