"""BTK reflection probabilities with Dynes broadening (Plecenik form) and the two-gap model.

For z = |E| + i Gamma, w = sqrt(z^2 - D^2)/z, u2 = (1 + w)/2, v2 = (1 - w)/2, g = u2 + Z^2 w:

    A = |u2 v2| / |g|^2                 (Andreev reflection)
    B = Z^2 (1 + Z^2) |w|^2 / |g|^2     (normal reflection)

The dependence on the barrier Z is only through real polynomials of four real "gap factors"
of (E, D, Gamma), since |g|^2 = |u2|^2 + 2 Z^2 Re(u2 conj w) + Z^4 |w|^2. Computing the
factors once per (gap, Gamma) and broadcasting Z over them is what makes batches of spectra
with different Z cheap (see :mod:`stm_andreev.physics.conductance`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .dos import retarded_sqrt_ratio


class GapFactors(NamedTuple):
    """Real factors of the BTK coefficients that do not depend on Z (all even in E)."""

    uv: np.ndarray  # |u2 v2|
    uu: np.ndarray  # |u2|^2
    uw: np.ndarray  # Re(u2 conj(w))
    ww: np.ndarray  # |w|^2


_W_CAP = 1e15


def gap_factors(E_eV: ArrayLike, gap_eV: ArrayLike, gamma_eV: ArrayLike) -> GapFactors:
    """The factors in real arithmetic. With z = |E| + i Gamma, w^2 = 1 - D^2 / z^2, so
    |u2 v2| = D^2 / (4 |z|^2), |u2|^2 = (1 + 2 Re w + |w|^2) / 4 and
    Re(u2 conj w) = (Re w + |w|^2) / 2 need only Re w and |w|^2. numpy's complex sqrt
    (~40 ns an element, two per w) made this the bulk of every fit; the real form is 2-4x
    cheaper and as exact (1e-15 of 40-digit values; the complex |u2 v2| = |1 - w^2| / 4 loses
    up to 1e-9 to cancellation far outside the gap). :func:`_complex_gap_factors` keeps the
    hard-gap limits."""
    E = np.abs(np.asarray(E_eV, dtype=float))
    gap = np.asarray(gap_eV, dtype=float)
    gamma = np.asarray(gamma_eV, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # z = 0: see below
        g2 = gamma * gamma
        inv_z2 = 1.0 / (E * E + g2)  # 1 / |z|^2
        a = (E - gap) * (E + gap)  # Re(z^2 - D^2) without cancellation at the gap edge ...
        a -= g2
        b = (2.0 * E) * gamma  # ... and Im(z^2 - D^2) >= 0: its principal root is retarded
        r = a * a
        r += b * b
        r = np.sqrt(r)  # |z^2 - D^2| (np.hypot is ~20x slower; no overflow at eV scale)
        # sqrt(a + ib): its larger part from (r + |a|) / 2 (no cancellation), the other one as
        # b / (2 larger); both 0 where a = b = 0 (E = D at Gamma = 0, where w = 0).
        big = np.abs(a)
        big += r
        big = np.sqrt(0.5 * big)
        small = b / np.maximum(2.0 * big, 1e-300)
        outside = a >= 0
        re_w = np.where(outside, big, small) * E
        re_w += np.where(outside, small, big) * gamma
        re_w *= inv_z2  # Re w = Re(sqrt(z^2 - D^2) conj z) / |z|^2
        ww = r * inv_z2
        uv = (0.25 * gap * gap) * inv_z2
        uw = re_w + ww
        uw *= 0.5
        uu = 1.0 - ww
        uu *= 0.25
        uu += uw
    f = GapFactors(uv=uv, uu=uu, uw=uw, ww=ww)
    hard = ~(ww <= _W_CAP**2)  # z = 0, or |w| beyond the cap (inside a hard gap, E -> 0)
    if np.any(hard):
        f = GapFactors(*(np.where(hard, ref, x)
                         for ref, x in zip(_complex_gap_factors(E_eV, gap_eV, gamma_eV), f,
                                           strict=True)))
    return f


def _complex_gap_factors(E_eV: ArrayLike, gap_eV: ArrayLike, gamma_eV: ArrayLike) -> GapFactors:
    """The factors from the complex w itself: the reference for :func:`gap_factors`, and the
    form that carries the hard-gap limits (z = 0, |w| capped)."""
    w = retarded_sqrt_ratio(E_eV, gap_eV, gamma_eV)
    # Inside a hard gap at E = 0 (Gamma -> 0) |w| diverges; A and B tend to finite limits
    # (u2 v2 ~ -w^2/4, |g|^2 ~ |w|^2 (1/2 + Z^2)^2), which a large finite |w| with the same
    # phase reproduces to 1e-15 without overflowing |w|^2.
    cap = _W_CAP
    w = np.where(np.isfinite(w), w, cap * 1j)
    magnitude = np.abs(w)
    w = np.where(magnitude > cap, w / np.where(magnitude > cap, magnitude, 1.0) * cap, w)
    u2 = 0.5 * (1.0 + w)
    v2 = 0.5 * (1.0 - w)
    return GapFactors(
        uv=np.abs(u2 * v2),
        uu=np.abs(u2) ** 2,
        uw=np.real(u2 * np.conj(w)),
        ww=np.abs(w) ** 2,
    )


def _barrier_denominator(f: GapFactors, z2: np.ndarray) -> np.ndarray:
    """|g|^2 = |u2|^2 + Z^2 (2 Re(u2 conj w) + Z^2 |w|^2), built in place (batches are large)."""
    g2 = np.array(z2 * f.ww, dtype=float)  # an array even for scalars: updated in place
    g2 += 2.0 * f.uw
    g2 *= z2
    g2 += f.uu
    return g2


def coefficients_from_factors(f: GapFactors, Z: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) for barrier Z (broadcast against the factors)."""
    z2 = np.asarray(Z, dtype=float) ** 2
    g2 = _barrier_denominator(f, z2)
    return f.uv / g2, z2 * (1.0 + z2) * f.ww / g2


def btk_coefficients(
    E_eV: ArrayLike, gap_eV: ArrayLike, Z: ArrayLike, gamma_eV: ArrayLike = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Andreev and normal reflection probabilities (A, B) at energy |E| (eV).

    Plecenik form of BTK with Dynes broadening Gamma; A + B <= 1, A = 1 at E = gap for
    Gamma = 0; A and B are even in E.
    """
    return coefficients_from_factors(gap_factors(E_eV, gap_eV, gamma_eV), Z)


def two_gap_sigma_from_factors(
    collective: GapFactors, single: GapFactors, Z: ArrayLike
) -> np.ndarray:
    """(1 + Z^2) [2 A_c + 1 - A_g - B_g] from precomputed gap factors, Z broadcast over them."""
    z2 = np.asarray(Z, dtype=float) ** 2
    # 1 - A_g - B_g = (|g|^2 - |u2 v2| - Z^2 (1 + Z^2) |w|^2) / |g|^2, accumulated in place.
    g2 = _barrier_denominator(single, z2)
    out = np.array(single.ww * (z2 * (1.0 + z2)), dtype=float)
    out += single.uv
    out /= g2
    np.subtract(1.0, out, out=out)
    g2c = _barrier_denominator(collective, z2)
    np.divide(collective.uv, g2c, out=g2c)
    g2c *= 2.0
    out += g2c
    out *= 1.0 + z2
    return out


def two_gap_sigma(
    E_eV: ArrayLike,
    Eg_eV: ArrayLike,
    Dc_eV: ArrayLike,
    Z: ArrayLike,
    gamma_eV: ArrayLike = 0.0,
    gamma_c_eV: ArrayLike | None = None,
) -> np.ndarray:
    """Zero-temperature normalised conductance of the two-gap model.

    sigma(E) = (1 + Z^2) [2 A(E; Delta_c) + 1 - A(E; E_g) - B(E; E_g)]: Andreev reflection
    sees only the collective gap Delta_c, quasiparticle transmission the single-particle gap
    E_g. Equals plain BTK (1 + Z^2)(1 + A - B) when Delta_c = E_g. Energies in eV.

    ``gamma_c_eV`` is the Dynes broadening of the Andreev channel (default: the shared Gamma),
    a parameter of its own because pair transfer probes the condensate, not the localized
    single-particle states. The presets use Gamma_c = Gamma = 40 ueV with 40 contact channels
    (docs/physics.md). With Gamma_c < Gamma the implied normal reflection 1 - A_c - T_qp can
    dip below 0 at small Z (about -0.02 near Z = 0.1 for 8 against 40 ueV).
    """
    single = gap_factors(E_eV, Eg_eV, gamma_eV)
    collective = gap_factors(E_eV, Dc_eV, gamma_eV if gamma_c_eV is None else gamma_c_eV)
    return two_gap_sigma_from_factors(collective, single, Z)
