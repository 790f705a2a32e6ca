"""Slow, straightforward reference evaluations by adaptive quadrature, point by point.

Used by the tests and the benchmark to check :func:`~stm_andreev.physics.conductance`; never
in production code.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from scipy import integrate

from .constants import K_B_EV_PER_K


def _btk_scalar(E: float, gap: float, Z: float, gamma: float) -> tuple[float, float]:
    """Plecenik A, B at one energy, written out in plain complex arithmetic (fast for quad)."""
    z = abs(E) + 1j * gamma
    if z == 0:
        w = 1e30j
    else:
        w = cmath.sqrt(z - gap) * cmath.sqrt(z + gap) / z
    u2, v2 = 0.5 * (1 + w), 0.5 * (1 - w)
    g2 = abs(u2 + Z * Z * w) ** 2
    return abs(u2 * v2) / g2, Z * Z * (1 + Z * Z) * abs(w) ** 2 / g2


def sigma_scalar(
    E: float, Eg: float, Dc: float, Z: float, gamma: float, gamma_c: float | None = None
) -> float:
    """The two-gap sigma(E) of docs/physics.md ("The model"), independently written for one
    energy."""
    A_c, _ = _btk_scalar(E, Dc, Z, gamma if gamma_c is None else gamma_c)
    A_g, B_g = _btk_scalar(E, Eg, Z, gamma)
    return (1 + Z * Z) * (2 * A_c + 1 - A_g - B_g)


def _fermi_derivative(x: float, kT: float) -> float:
    c = math.cosh(min(abs(x) / (2 * kT), 350.0))
    return 1.0 / (4 * kT * c * c)


def thermal_conductance_quad(
    V: float,
    *,
    Eg_eV: float,
    Dc_eV: float,
    Z: float,
    gamma_eV: float,
    T_K: float,
    gamma_c_eV: float | None = None,
) -> float:
    """G(V)/G_N = int dE sigma(E) (-df/dE)(E - V) by scipy.integrate.quad."""
    if T_K == 0:
        return sigma_scalar(V, Eg_eV, Dc_eV, Z, gamma_eV, gamma_c_eV)
    kT = K_B_EV_PER_K * T_K
    lo, hi = V - 40 * kT, V + 40 * kT
    features = [p for p in (-Eg_eV, -Dc_eV, Dc_eV, Eg_eV, V) if lo < p < hi]
    value, _ = integrate.quad(
        lambda E: (
            sigma_scalar(E, Eg_eV, Dc_eV, Z, gamma_eV, gamma_c_eV) * _fermi_derivative(E - V, kT)
        ),
        lo,
        hi,
        points=sorted(set(features)) or None,
        limit=400,
        epsabs=1e-9,
        epsrel=1e-9,
    )
    return value


def conductance_quad(
    V: float,
    *,
    Eg_eV: float,
    Dc_eV: float,
    Z: float,
    gamma_eV: float,
    T_K: float,
    Vmod_rms_V: float = 0.0,
    gamma_c_eV: float | None = None,
) -> float:
    """Thermal then lock-in smeared G/G_N at one bias, by nested quadrature.

    The lock-in integral uses quad's algebraic weight (v + a)^1/2 (a - v)^1/2, exactly the
    semicircle kernel, so its square-root edges cost nothing in accuracy.
    """
    params = dict(Eg_eV=Eg_eV, Dc_eV=Dc_eV, Z=Z, gamma_eV=gamma_eV, T_K=T_K, gamma_c_eV=gamma_c_eV)
    if Vmod_rms_V == 0:
        return thermal_conductance_quad(V, **params)
    a = np.sqrt(2.0) * Vmod_rms_V
    value, _ = integrate.quad(
        lambda v: thermal_conductance_quad(V + v, **params),
        -a,
        a,
        weight="alg",
        wvar=(0.5, 0.5),
        epsabs=1e-8,
        epsrel=1e-8,
    )
    return value / (np.pi * Vmod_rms_V**2)
