"""The tip-sample junction: transmission from tip height, channels, DC current.

N channels (default 40, the presets' value; a sample sets its own) of equal transmission tau
carry G_N = N tau G0. The tip height z sets
tau(z) = 1 / (1 + exp(2 kappa (z - z0))), i.e. the BTK barrier Z = exp(kappa (z - z0)) and
Z^2 = 1/tau - 1; kappa ~ 1/Angstrom (work function ~4 eV) gives one decade of conductance per
~1.1 Angstrom in the tunnelling regime.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .btk import two_gap_sigma
from .conductance import conductance
from .constants import G0_S, K_B_EV_PER_K

DEFAULT_KAPPA_PER_M = 1.0e10
# A contact of 1 kOhm (12.9 G0, the paper's lowest) needs >= 13 open channels, and the in-gap
# Andreev peaks must stay below 0.5 % of G_N up to 0.5 G0 (Fig. 1): docs/physics.md.
DEFAULT_CHANNELS = 40


def transmission_from_height(
    z_m: ArrayLike, z0_m: float, kappa_per_m: float = DEFAULT_KAPPA_PER_M
) -> np.ndarray:
    """Channel transmission tau(z) = 1 / (1 + exp(2 kappa (z - z0))), in (0, 1)."""
    x = np.clip(2.0 * kappa_per_m * (np.asarray(z_m, dtype=float) - z0_m), -700, 700)
    return 1.0 / (1.0 + np.exp(x))


def height_from_transmission(
    tau: ArrayLike, z0_m: float, kappa_per_m: float = DEFAULT_KAPPA_PER_M
) -> np.ndarray:
    """Inverse of :func:`transmission_from_height` (m)."""
    tau = _check_tau(tau)
    return z0_m + np.log(1.0 / tau - 1.0) / (2.0 * kappa_per_m)


def barrier_from_transmission(tau: ArrayLike) -> np.ndarray:
    """BTK barrier strength Z = sqrt(1/tau - 1)."""
    return np.sqrt(1.0 / _check_tau(tau) - 1.0)


def transmission_from_barrier(Z: ArrayLike) -> np.ndarray:
    """Transparency tau = 1 / (1 + Z^2)."""
    return 1.0 / (1.0 + np.asarray(Z, dtype=float) ** 2)


def normal_conductance_S(tau: ArrayLike, n_channels: int = DEFAULT_CHANNELS) -> np.ndarray:
    """Normal-state conductance G_N = N tau G0 (S)."""
    return n_channels * _check_tau(tau) * G0_S


def transmission_from_conductance(
    G_N_S: ArrayLike, n_channels: int = DEFAULT_CHANNELS
) -> np.ndarray:
    """Channel transmission for a normal-state conductance G_N (S); must be below N G0."""
    tau = np.asarray(G_N_S, dtype=float) / (n_channels * G0_S)
    if np.any(tau >= 1) or np.any(tau <= 0):
        raise ValueError(
            f"G_N = {G_N_S} S needs 0 < tau < 1 with {n_channels} channels "
            f"(max {n_channels * G0_S:.4g} S)"
        )
    return tau


def _check_tau(tau: ArrayLike) -> np.ndarray:
    tau = np.asarray(tau, dtype=float)
    if np.any(tau <= 0) or np.any(tau > 1):
        raise ValueError(f"transmission must lie in (0, 1], got {tau}")
    return tau


def current_A(
    V_V: ArrayLike,
    *,
    G_N_S: float,
    Eg_eV: float,
    Dc_eV: float,
    Z: float,
    gamma_eV: float,
    T_K: float,
    gamma_c_eV: float | None = None,
) -> np.ndarray:
    """DC current I(V) = G_N integral_0^V G(V')/G_N dV' (A), thermal smearing, no modulation.

    This is what the feedback loop regulates: I_sp / V_sp differs from G_N by the gap deficit
    (tunnelling) or the excess current (contact), so it must be integrated, never assumed.
    """
    V = np.asarray(V_V, dtype=float)
    vmax = float(np.max(np.abs(V))) if V.size else 0.0
    if vmax == 0.0:
        return np.zeros_like(V)
    kT = K_B_EV_PER_K * T_K
    gamma_c_eV = gamma_eV if gamma_c_eV is None else gamma_c_eV
    widths = [x for x in (gamma_eV, gamma_c_eV, kT) if x > 0]
    feature = min(widths) if widths else vmax
    # A grid symmetric about 0 with V = 0 on it; the trapezoid rule on the smooth G is
    # accurate to (h/feature)^2 / 12 relative, and h = feature/16 keeps that below 1e-3 of
    # the gap deficit, itself a few percent of I.
    h = min(feature / 16.0, vmax / 64.0)
    n_half = int(np.ceil(vmax / h))
    grid = h * np.arange(-n_half, n_half + 1)
    if kT > 0:
        g = conductance(
            grid, Eg_eV=Eg_eV, Dc_eV=Dc_eV, Z=Z, gamma_eV=gamma_eV, T_K=T_K, gamma_c_eV=gamma_c_eV
        )
    else:
        g = two_gap_sigma(grid, Eg_eV, Dc_eV, Z, gamma_eV, gamma_c_eV)
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (g[1:] + g[:-1]) * h)])
    cumulative -= cumulative[n_half]  # integral from 0
    return G_N_S * np.interp(V, grid, cumulative)
