"""Fits of many spectra at once, for every model of :mod:`.fits` (Dynes, BTK, two-gap): a
Levenberg-Marquardt loop vectorised over spectra, every iteration one batched ``conductance``
call.

For a grid map or an overnight series (thousands of spectra on one bias grid) the per-spectrum
:func:`~stm_andreev.analysis.fits.fit_spectrum` pays Python and FFT-setup overhead thousands of
times. Here each iteration evaluates, for every still-active spectrum, the trial parameters
and their forward-difference neighbours in one call (1 + the physics parameters rows per
spectrum: 3 for Dynes, 4 for BTK, 6 for two-gap), and the scale factor's derivative is
analytic (the model is linear in it). Each spectrum keeps its own damping and stops on its
own; parameters are kept inside the bounds of :mod:`.fits` by clipping the trial step.

The small linear algebra of each iteration (a p x p solve per spectrum) runs on one BLAS
thread: threaded BLAS only adds contention on problems this small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from stm_andreev.blas import single_threaded

from .fits import _P, MODELS, UEV, _unscaled_curves


@dataclass(frozen=True)
class BatchFitResult:
    """Per-spectrum results of one model: ``params`` and ``errors`` (n, n_params) in the order
    of ``MODELS[model]`` and SI units (eV for energies; 1-sigma errors from the Jacobian at the
    solution scaled by the reduced chi-square), ``chi2_red`` (n,), iterations used and whether
    the fit converged."""

    model: str
    params: np.ndarray
    errors: np.ndarray
    chi2_red: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray

    def column(self, name: str) -> np.ndarray:
        """One parameter for every spectrum (SI units)."""
        return self.params[:, MODELS[self.model].index(name)]

    def error(self, name: str) -> np.ndarray:
        """One parameter's 1-sigma error for every spectrum (SI units)."""
        return self.errors[:, MODELS[self.model].index(name)]


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


def _dynes_initial(V: np.ndarray, g: np.ndarray) -> np.ndarray:
    """E_g from the coherence-peak positions, Gamma from the zero-bias conductance (SI)."""
    pos, neg = V > 0, V < 0
    Eg = (V[pos][np.argmax(g[:, pos], axis=1)] - V[neg][np.argmax(g[:, neg], axis=1)]) / 2
    g0 = np.clip(g[:, np.argmin(np.abs(V))], 1e-3, 0.9)
    gamma = np.clip(g0 * Eg / np.sqrt(1 - g0**2), 2 * UEV, 0.5 * Eg)
    return np.column_stack([Eg, gamma, np.ones(len(g))])


def fit_dynes_batch(
    bias_V: ArrayLike, g: ArrayLike, *, T_K: float, Vmod_rms_V: float = 0.0,
    max_iterations: int = 40, chunk: int = 512, tol: float = 1e-7,
) -> BatchDynesResult:
    """Fit the Dynes model to every row of ``g`` (n, len(bias_V)), spectra normalised to
    G/G_N, all on one bias grid (V), at temperature ``T_K`` (K) and rms modulation
    ``Vmod_rms_V`` (V), started from the coherence peaks and the zero-bias conductance. Rows
    are processed ``chunk`` at a time to bound memory."""
    V = np.asarray(bias_V, dtype=float)
    G = np.atleast_2d(np.asarray(g, dtype=float))
    r = fit_batch("dynes", V, G, _dynes_initial(V, G), T_K=T_K, Vmod_rms_V=Vmod_rms_V,
                  max_iterations=max_iterations, chunk=chunk, tol=tol)
    return BatchDynesResult(r.params[:, 0], r.params[:, 1], r.params[:, 2], r.errors[:, 0],
                            r.errors[:, 1], r.chi2_red, r.iterations, r.converged)


def fit_batch(
    model: str, bias_V: ArrayLike, g: ArrayLike, start: ArrayLike, *, T_K: float,
    Vmod_rms_V: float = 0.0, max_iterations: int = 40, chunk: int = 512, tol: float = 1e-7,
) -> BatchFitResult:
    """Fit ``model`` ("dynes", "btk", "two_gap") to every row of ``g`` (n, len(bias_V)),
    spectra normalised to G/G_N on one bias grid (V), at temperature ``T_K`` (K) and rms
    modulation ``Vmod_rms_V`` (V). ``start``: one row of starting parameters per spectrum
    (n, n_params) in the order of ``MODELS[model]`` and SI units, or one row for all. The
    same spectrum may appear in several rows with different starts (a multi-start in one
    call). Rows are processed ``chunk`` at a time to bound memory."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    V = np.asarray(bias_V, dtype=float)
    G = np.atleast_2d(np.asarray(g, dtype=float))
    P0 = np.broadcast_to(np.atleast_2d(np.asarray(start, dtype=float)),
                         (len(G), len(MODELS[model])))
    if G.shape[1] != V.size:
        raise ValueError(f"g has {G.shape[1]} points per spectrum, bias_V {V.size}")
    with single_threaded():
        parts = [_fit_chunk(model, V, G[i:i + chunk], P0[i:i + chunk], T_K, Vmod_rms_V,
                            max_iterations, tol) for i in range(0, len(G), chunk)]
    return BatchFitResult(model, *(np.concatenate([p[k] for p in parts]) for k in range(5)))


def _curves_and_jacobians(model, V, P, T_K, Vmod, step):
    """Model curves and Jacobians for the parameter rows P (optimiser units); the physics
    parameters by forward differences of ``step``, the scale (last column) analytically."""
    n, p = P.shape
    k = p - 1  # physics parameters
    rows = np.repeat(P, k + 1, axis=0).reshape(n, k + 1, p)
    rows[:, np.arange(1, k + 1), np.arange(k)] += step
    si = rows * _units(model)
    g = np.empty((n, k + 1, V.size))
    for group in _grid_groups(model, si[:, 0]):
        g[group] = _unscaled_curves(model, V, si[group].reshape(-1, p), T_K=T_K,
                                    Vmod_rms_V=Vmod).reshape(group.size, k + 1, -1)
    base = g[:, 0]
    s = P[:, -1:, None]
    J = np.concatenate([(s * (g[:, 1:] - base[:, None]) / step[:, :, None]),
                        base[:, None]], axis=1).transpose(0, 2, 1)
    return P[:, -1:] * base, J


def _grid_groups(model: str, P_si: np.ndarray) -> list[np.ndarray]:
    """Spectra grouped by the energy step their model needs (one ``conductance`` call each).

    One call computes every row on the grid of its narrowest broadening; a spectrum whose fit
    drives Gamma down to 2 ueV would otherwise put every other spectrum of the batch on its
    fine grid, and the cost per spectrum would grow with the number of spectra. Groups span a
    factor of 2 in the narrowest broadening (all rows of one spectrum share a call, so its
    finite differences share a grid)."""
    names = MODELS[model]
    widths = [P_si[:, names.index(n)] for n in ("gamma_eV", "gamma_c_eV") if n in names]
    narrowest = np.maximum(np.min(widths, axis=0), 1e-12)
    key = np.floor(np.log2(narrowest / UEV))
    return [np.flatnonzero(key == k) for k in np.unique(key)]


def _units(model: str) -> np.ndarray:
    return np.array([_P[n].unit for n in MODELS[model]])


def _bounds(model: str) -> tuple[np.ndarray, np.ndarray]:
    units = _units(model)
    lo = np.array([_P[n].lower for n in MODELS[model]]) / units
    hi = np.array([_P[n].upper for n in MODELS[model]]) / units
    return lo, hi


def _steps(P: np.ndarray) -> np.ndarray:
    """Forward-difference steps of the physics parameters (optimiser units)."""
    return np.maximum(np.abs(P[:, :-1]) * 1e-4, 1e-3)


def _fit_chunk(model, V, G, P0, T_K, Vmod, max_iterations, tol):
    n, m = G.shape
    units = _units(model)
    lo, hi = _bounds(model)
    p = units.size
    P = np.clip(P0 / units, lo, hi)
    lam = np.full(n, 1e-2)
    active = np.ones(n, dtype=bool)
    iterations = np.zeros(n, dtype=int)
    model_g, J = _curves_and_jacobians(model, V, P, T_K, Vmod, _steps(P))
    cost = np.sum((model_g - G) ** 2, axis=1)
    eye = np.eye(p)
    for _ in range(max_iterations):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        r = model_g[idx] - G[idx]
        JtJ = np.einsum("nmi,nmj->nij", J[idx], J[idx])
        Jtr = np.einsum("nmi,nm->ni", J[idx], r)
        diag = np.einsum("nii->ni", JtJ)
        A = JtJ + lam[idx, None, None] * np.einsum("ni,ij->nij", diag, eye)
        try:
            delta = -np.linalg.solve(A, Jtr[..., None])[..., 0]
        except np.linalg.LinAlgError:  # a degenerate row: pseudo-inverse for the whole set
            delta = -np.einsum("nij,nj->ni", np.linalg.pinv(A), Jtr)
        trial = np.clip(P[idx] + delta, lo, hi)
        t_model, t_J = _curves_and_jacobians(model, V, trial, T_K, Vmod, _steps(trial))
        t_cost = np.sum((t_model - G[idx]) ** 2, axis=1)
        better = t_cost < cost[idx]
        iterations[idx] += 1
        acc = idx[better]
        moved = np.max(np.abs(trial[better] - P[acc]) / np.maximum(np.abs(P[acc]), 1e-9), axis=1)
        P[acc], model_g[acc], J[acc], cost[acc] = (trial[better], t_model[better], t_J[better],
                                                   t_cost[better])
        lam[acc] = np.maximum(lam[acc] / 3, 1e-7)
        lam[idx[~better]] *= 4
        done = np.zeros(n, dtype=bool)
        done[acc[moved < tol]] = True
        done[idx[lam[idx] > 1e8]] = True  # no downhill step left: at the minimum
        active &= ~done
    chi2 = cost / max(m - p, 1)
    JtJ = np.einsum("nmi,nmj->nij", J, J)
    cov = np.linalg.pinv(JtJ) * chi2[:, None, None]
    err = np.sqrt(np.abs(np.einsum("nii->ni", cov)))
    return P * units, err * units, chi2, iterations, ~active
