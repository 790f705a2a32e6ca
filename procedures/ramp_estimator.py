"""Recover a lock-in's input on a planned bias grid from its filtered output sampled during a
bias ramp: regularised least squares of the known filter response (docs/continuous.md).

Model. The lock-in output filter is n identical first-order RC stages with time constant tau
(:mod:`stm_andreev.drivers.lockin_filter`). Its input u(t) is the signal at the bias applied
at time t; the bias walks through the planned grid V_0..V_{N-1}, reaching V_j at t_j, so

* ``basis="hold"``: u is a staircase, u = x_j on [t_j, t_{j+1}) and x_{N-1} after t_{N-1}
  (the bias is *set* to each grid value, as ``Bias.Set`` does): exact for that input;
* ``basis="linear"``: u is piecewise linear through (t_j, x_j) and held after t_{N-1} (an
  analog ramp): exact for that input.

The output at a sample time t >= t_0 is the zero-state response to u on [t_0, t) plus the
free decay of whatever state the filter had at t_0, which spans e^{-s} s^k / k!
(s = (t - t_0)/tau, k < n): n extra unknowns, so nothing is assumed about what came before.
With s_n the step response P(n, t/tau) and r_n its integral (the ramp response,
tau [x P(n, x) - n P(n+1, x)]), every column of the design matrix is exact.

Noise. The output noise is taken as a first-order (Ornstein-Uhlenbeck) process with the
filter's equivalent noise bandwidth (correlation time 1/(4 ENBW)): exact for a 6 dB/oct filter
and for the simulated lab, and for steeper filters right at the low frequencies that set the
variance of an estimate spanning several tau. The data are whitened with it (exact at any
sample spacing); its scale comes from the residuals.

Estimate. x minimises |W(y - A x)|^2 + lam |D x|^2 with D the second difference on the grid
(the free-decay terms are not penalised). ``lam`` is chosen by generalised cross-validation
unless given. Uncertainty: the posterior covariance sigma^2 (A'W'WA + lam D'D)^-1 with sigma^2
the whitened residual variance per degree of freedom. Resolution: the averaging kernel
R = (A'W'WA + lam D'D)^-1 A'W'WA; 1 / R_jj is the width (in grid steps) over which point j
is averaged, reported per point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import gammainc

from stm_andreev.blas import single_threaded
from stm_andreev.drivers.lockin_filter import enbw_Hz, filter_stages

BASES = ("hold", "linear")
#: Relative regularisation strengths GCV chooses among (times trace(A'A) / trace(D'D)).
LAMBDA_GRID = np.logspace(-8, 3, 23)


def estimator_text(basis: str = "hold") -> str:
    """The estimator and its fixed settings in one line (stored with every continuous
    spectrum; the chosen regularisation is stored beside it)."""
    return (f"regularised LS of the n-stage RC response, {basis} input, 2nd-difference "
            f"prior, lam by GCV over {LAMBDA_GRID.size} values {LAMBDA_GRID[0]:g}-"
            f"{LAMBDA_GRID[-1]:g}, noise OU at the ENBW, free initial state")


@dataclass(frozen=True)
class RampEstimate:
    """The input recovered on the grid: ``values`` (N, q), ``sigma`` (N, q) one standard
    deviation, ``width_points`` (N,) the averaging width 1/R_jj in grid steps; ``lam`` the
    relative regularisation used; ``noise_rms`` (q,) the residual noise per sample (same units
    as the samples); ``n_samples`` used."""

    values: np.ndarray
    sigma: np.ndarray
    width_points: np.ndarray
    lam: float
    noise_rms: np.ndarray
    n_samples: int


def ramp_response(t_s: np.ndarray, tau_s: float, n: int) -> np.ndarray:
    """Output (s) of n stages for a unit-slope ramp starting at t = 0: integral of the step
    response, tau [x P(n, x) - n P(n+1, x)] with x = t/tau (0 before the start)."""
    x = np.maximum(np.asarray(t_s, dtype=float), 0.0) / tau_s
    return tau_s * (x * gammainc(n, x) - n * gammainc(n + 1, x))


def design_matrix(sample_t_s: np.ndarray, step_t_s: np.ndarray, tau_s: float, slope_db: int,
                  basis: str = "hold") -> np.ndarray:
    """Columns: the output at the sample times for a unit value at each grid point (N), then
    the n free-decay terms of the filter's state at ``step_t_s[0]``. Samples must not precede
    ``step_t_s[0]``."""
    if basis not in BASES:
        raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
    n = filter_stages(slope_db)
    t = np.asarray(sample_t_s, dtype=float)[:, None]
    steps = np.asarray(step_t_s, dtype=float)
    if np.any(np.diff(steps) <= 0):
        raise ValueError("the bias must reach the grid points at increasing times")
    if t.size and t.min() < steps[0] - 1e-12:
        raise ValueError("samples before the first grid point are not modelled")
    lag = t - steps[None, :]
    if basis == "hold":
        s = gammainc(n, np.maximum(lag, 0.0) / tau_s)
        cols = s.copy()
        cols[:, :-1] -= s[:, 1:]  # unit pulse on [t_j, t_{j+1}); the last one held
    else:
        N = steps.size
        h = np.diff(steps)
        slopes = np.zeros((N, N))  # slope on [t_k, t_{k+1}) per unit x_j; held after the last
        idx = np.arange(N - 1)
        slopes[idx, idx] = -1.0 / h
        slopes[idx, idx + 1] = 1.0 / h
        kinks = slopes.copy()
        kinks[1:] -= slopes[:-1]
        cols = ramp_response(lag, tau_s, n) @ kinks
        cols[:, 0] += gammainc(n, np.maximum(lag[:, 0], 0.0) / tau_s)
    x0 = np.maximum(t[:, 0] - steps[0], 0.0) / tau_s
    decay = np.exp(-x0)
    free = np.empty((t.shape[0], n))
    term = np.ones_like(x0)
    for k in range(n):
        free[:, k] = decay * term
        term = term * x0 / (k + 1)
    return np.hstack([cols, free])


def whiten(matrix: np.ndarray, sample_t_s: np.ndarray, correlation_s: float) -> np.ndarray:
    """Rows of ``matrix`` turned into independent unit-variance combinations under an
    Ornstein-Uhlenbeck noise of correlation time ``correlation_s`` (exact at any spacing)."""
    rho = np.exp(-np.diff(np.asarray(sample_t_s, dtype=float)) / correlation_s)
    out = np.empty_like(matrix, dtype=float)
    out[0] = matrix[0]
    scale = 1.0 / np.sqrt(np.maximum(1.0 - rho * rho, 1e-12))
    shape = (-1,) + (1,) * (matrix.ndim - 1)
    out[1:] = (matrix[1:] - rho.reshape(shape) * matrix[:-1]) * scale.reshape(shape)
    return out


def estimate(sample_t_s: np.ndarray, samples: np.ndarray, step_t_s: np.ndarray,
             tau_s: float, slope_db: int, *, basis: str = "hold",
             lam: float | None = None, grid_index: np.ndarray | None = None) -> RampEstimate:
    """The filter's input on the grid from ``samples`` (M,) or (M, q) taken at
    ``sample_t_s`` (M,); step k (at ``step_t_s[k]``) reaches grid point ``grid_index[k]``
    (default k: one pass through the grid; a forward and backward pass visits each point
    twice and is estimated jointly). ``lam``: relative regularisation (None: chosen by GCV
    on the first column). See the module docstring."""
    # A few-hundred-unknown solve: threaded BLAS only adds contention (10-100x slower on a
    # loaded machine), so it runs on one thread.
    with single_threaded():
        return _estimate(sample_t_s, samples, step_t_s, tau_s, slope_db, basis, lam,
                         grid_index)


def _estimate(sample_t_s, samples, step_t_s, tau_s, slope_db, basis, lam,
              grid_index) -> RampEstimate:
    t = np.asarray(sample_t_s, dtype=float)
    y = np.asarray(samples, dtype=float)
    y2 = y[:, None] if y.ndim == 1 else y
    if y2.shape[0] != t.size:
        raise ValueError(f"{y2.shape[0]} samples but {t.size} sample times")
    keep = t >= step_t_s[0]
    t, y2 = t[keep], y2[keep]
    n_steps = len(step_t_s)
    index = np.arange(n_steps) if grid_index is None else np.asarray(grid_index, dtype=int)
    if index.shape != (n_steps,) or index.min() < 0:
        raise ValueError("grid_index needs one grid point (>= 0) per bias step")
    N = int(index.max()) + 1
    if np.unique(index).size != N:
        raise ValueError("every grid point must be visited at least once")
    n = filter_stages(slope_db)
    if t.size < N + n + 2:
        raise ValueError(f"{t.size} samples cannot determine {N} grid values and the filter "
                         f"state ({N + n} unknowns): sample faster or ramp slower")
    correlation = 1.0 / (4.0 * enbw_Hz(tau_s, slope_db))
    per_step = design_matrix(t, step_t_s, tau_s, slope_db, basis)
    n_filter = per_step.shape[1] - n_steps
    columns = np.zeros((t.size, N + n_filter))
    np.add.at(columns.T, index, per_step[:, :n_steps].T)  # visits of one point share it
    columns[:, N:] = per_step[:, n_steps:]
    A = whiten(columns, t, correlation)
    b = whiten(y2, t, correlation)
    G = A.T @ A
    D = np.zeros((max(N - 2, 0), N + n))
    rows = np.arange(N - 2)
    D[rows, rows], D[rows, rows + 1], D[rows, rows + 2] = 1.0, -2.0, 1.0
    L = D.T @ D
    scale = np.trace(G) / max(np.trace(L), 1e-300)
    h = A.T @ b
    M = t.size

    def solve(rel: float):
        factor = cho_factor(G + rel * scale * L)
        x = cho_solve(factor, h)
        resid = b - A @ x
        dof = M - np.trace(cho_solve(factor, G))
        return factor, x, resid, dof

    if lam is None:
        best = None
        for rel in LAMBDA_GRID:
            try:
                _, _, resid, dof = solve(rel)
            except np.linalg.LinAlgError:
                continue
            gcv = M * float(resid[:, 0] @ resid[:, 0]) / dof ** 2
            if best is None or gcv < best[0]:
                best = (gcv, rel)
        if best is None:
            raise ValueError("the ramp's design matrix is singular at every regularisation")
        lam = best[1]
    factor, x, resid, dof = solve(lam)
    noise_var = np.sum(resid ** 2, axis=0) / max(dof, 1.0)
    cov_unit = cho_solve(factor, np.eye(N + n))
    sigma = np.sqrt(np.outer(np.diag(cov_unit)[:N], noise_var))
    kernel_diag = np.einsum("ij,ji->i", cov_unit[:N], G[:, :N])
    # noise_rms in sample units: the whitened residual scale is the OU process's rms
    out_shape = (N,) if y.ndim == 1 else (N, y2.shape[1])
    return RampEstimate(
        values=x[:N].reshape(out_shape),
        sigma=sigma.reshape(out_shape),
        width_points=1.0 / np.clip(kernel_diag, 1e-12, None),
        lam=float(lam),
        noise_rms=np.sqrt(noise_var),
        n_samples=int(M),
    )


def resolution_limit_V(ramp_rate_V_per_s: float, tau_s: float, slope_db: int,
                       noise_ratio: float = 1.0) -> float:
    """Bias resolution (V) of a ramp estimate whose per-point noise is ``noise_ratio`` times
    one settled reading's: r / (2 ENBW) / noise_ratio^2 (docs/continuous.md). The grid step
    is a floor the caller applies."""
    return abs(ramp_rate_V_per_s) / (2.0 * enbw_Hz(tau_s, slope_db)) / noise_ratio ** 2
