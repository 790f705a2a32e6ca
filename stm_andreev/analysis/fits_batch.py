"""Dynes fits of many tunnelling spectra at once: a Levenberg-Marquardt loop vectorised over
spectra, every iteration one batched ``conductance`` call.

For a grid map or an overnight series (thousands of spectra on one bias grid) the per-spectrum
:func:`~stm_andreev.analysis.fits.fit_spectrum` pays Python and FFT-setup overhead thousands of
times. Here each iteration evaluates, for every still-active spectrum, the trial parameters
and their two forward-difference neighbours in one call (3 rows per spectrum), and the scale
factor's derivative is analytic (the model is linear in it). Each spectrum keeps its own
damping and stops on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from stm_andreev.physics import conductance

from .fits import UEV, Z_TUNNEL

_LO = np.array([20.0, 2.0, 0.3])  # E_g (ueV), Gamma (ueV), scale
_HI = np.array([5000.0, 1000.0, 3.0])


@dataclass(frozen=True)
class BatchDynesResult:
    """Per-spectrum results (arrays of length n): E_g and Gamma in eV, the scale factor, 1-sigma
    errors, reduced chi-square, iterations used and whether the fit converged."""

    E_g_eV: np.ndarray
    gamma_eV: np.ndarray
    scale: np.ndarray
    E_g_err_eV: np.ndarray
    gamma_err_eV: np.ndarray
    chi2_red: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray


def _initial(V: np.ndarray, g: np.ndarray) -> np.ndarray:
    """E_g from the coherence-peak positions, Gamma from the zero-bias conductance (ueV)."""
    pos, neg = V > 0, V < 0
    Eg = (V[pos][np.argmax(g[:, pos], axis=1)] - V[neg][np.argmax(g[:, neg], axis=1)]) / 2
    g0 = np.clip(g[:, np.argmin(np.abs(V))], 1e-3, 0.9)
    gamma = np.clip(g0 * Eg / np.sqrt(1 - g0**2), 2 * UEV, 0.5 * Eg)
    return np.column_stack([Eg / UEV, gamma / UEV, np.ones(len(g))])


def _curves_and_jacobians(V, P, T_K, Vmod, step):
    """Model and forward-difference derivatives in E_g and Gamma for rows P (ueV units)."""
    n = len(P)
    rows = np.repeat(P[:, :2], 3, axis=0)
    rows[1::3, 0] += step[:, 0]
    rows[2::3, 1] += step[:, 1]
    g = conductance(V, Eg_eV=rows[:, :1] * UEV, Dc_eV=rows[:, :1] * UEV,
                    Z=np.full((3 * n, 1), Z_TUNNEL), gamma_eV=rows[:, 1:2] * UEV,
                    T_K=T_K, Vmod_rms_V=Vmod).reshape(n, 3, -1)
    base = g[:, 0]
    s = P[:, 2:3]
    J = np.stack([s * (g[:, 1] - base) / step[:, :1], s * (g[:, 2] - base) / step[:, 1:2],
                  base], axis=2)
    return s * base, J


def fit_dynes_batch(
    bias_V: ArrayLike, g: ArrayLike, *, T_K: float, Vmod_rms_V: float = 0.0,
    max_iterations: int = 40, chunk: int = 512, tol: float = 1e-7,
) -> BatchDynesResult:
    """Fit the Dynes model to every row of ``g`` (n, len(bias_V)), spectra normalised to
    G/G_N, all on one bias grid (V), at temperature ``T_K`` (K) and rms modulation
    ``Vmod_rms_V`` (V). Rows are processed ``chunk`` at a time to bound memory."""
    V = np.asarray(bias_V, dtype=float)
    G = np.atleast_2d(np.asarray(g, dtype=float))
    parts = [_fit_chunk(V, G[i:i + chunk], T_K, Vmod_rms_V, max_iterations, tol)
             for i in range(0, len(G), chunk)]
    return BatchDynesResult(*(np.concatenate([getattr(p, f) for p in parts])
                              for f in BatchDynesResult.__dataclass_fields__))


def _fit_chunk(V, G, T_K, Vmod, max_iterations, tol) -> BatchDynesResult:
    n, m = G.shape
    P = _initial(V, G)
    lam = np.full(n, 1e-2)
    active = np.ones(n, dtype=bool)
    iterations = np.zeros(n, dtype=int)
    step = np.maximum(np.abs(P[:, :2]) * 1e-4, 1e-3)
    model, J = _curves_and_jacobians(V, P, T_K, Vmod, step)
    cost = np.sum((model - G) ** 2, axis=1)
    for _ in range(max_iterations):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        r = model[idx] - G[idx]
        JtJ = np.einsum("nmi,nmj->nij", J[idx], J[idx])
        Jtr = np.einsum("nmi,nm->ni", J[idx], r)
        diag = np.einsum("nii->ni", JtJ)
        A = JtJ + lam[idx, None, None] * np.einsum("ni,ij->nij", diag, np.eye(3))
        delta = -np.linalg.solve(A, Jtr[..., None])[..., 0]
        trial = np.clip(P[idx] + delta, _LO, _HI)
        t_step = np.maximum(np.abs(trial[:, :2]) * 1e-4, 1e-3)
        t_model, t_J = _curves_and_jacobians(V, trial, T_K, Vmod, t_step)
        t_cost = np.sum((t_model - G[idx]) ** 2, axis=1)
        better = t_cost < cost[idx]
        iterations[idx] += 1
        acc = idx[better]
        moved = np.max(np.abs(trial[better] - P[acc]) / np.maximum(np.abs(P[acc]), 1e-9), axis=1)
        P[acc], model[acc], J[acc], cost[acc] = trial[better], t_model[better], t_J[better], \
            t_cost[better]
        lam[acc] = np.maximum(lam[acc] / 3, 1e-7)
        lam[idx[~better]] *= 4
        done = np.zeros(n, dtype=bool)
        done[acc[moved < tol]] = True
        done[idx[lam[idx] > 1e8]] = True  # no downhill step left: at the minimum
        active &= ~done
    chi2 = cost / max(m - 3, 1)
    JtJ = np.einsum("nmi,nmj->nij", J, J)
    cov = np.linalg.pinv(JtJ) * chi2[:, None, None]
    err = np.sqrt(np.abs(np.einsum("nii->ni", cov)))
    return BatchDynesResult(P[:, 0] * UEV, P[:, 1] * UEV, P[:, 2], err[:, 0] * UEV,
                            err[:, 1] * UEV, chi2, iterations, ~active)
