"""Least-squares fits of measured spectra with the project's one conductance model.

Three models, all :func:`stm_andreev.physics.conductance` with thermal (T_K) and lock-in
(Vmod_rms_V) smearing as known inputs, times a free scale factor s (the G_N estimated from the
high-bias tails is only approximate when the gap reaches into them):

    dynes    E_g, Gamma, s              Z fixed at 1e3 (tunnelling: sigma -> Dynes DOS)
    btk      Z, Delta, Gamma, s         Delta_c = E_g = Delta (plain BTK)
    two_gap  Z, Delta_c, E_g, Gamma, Gamma_c, s

Residuals and the forward-difference Jacobian come from one batched ``conductance`` call each
(rows: the parameters and each parameter nudged), so a fit costs a few dozen FFT batches
instead of per-point loops. Parameter uncertainties are from the Jacobian at the solution,
scaled by the reduced chi-square (the data carry no error bars).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import least_squares

from stm_andreev.physics import conductance

from .errors import FitError

log = logging.getLogger(__name__)

UEV = 1e-6
Z_TUNNEL = 1e3  # (1+Z^2)(1+A-B) equals the Dynes DOS to 1e-6 here, still exact in floats


@dataclass(frozen=True)
class _Param:
    name: str
    unit: float  # optimiser works in these units (ueV for energies) for conditioning
    lower: float
    upper: float


_P = {
    "E_g_eV": _Param("E_g_eV", UEV, 20 * UEV, 5e-3),
    "delta_eV": _Param("delta_eV", UEV, 20 * UEV, 5e-3),
    "delta_c_eV": _Param("delta_c_eV", UEV, 20 * UEV, 5e-3),
    # Broadenings below 2 ueV are unresolvable behind 65 mK smearing (20 ueV) and would
    # force conductance() onto a needlessly fine energy grid.
    "gamma_eV": _Param("gamma_eV", UEV, 2.0 * UEV, 1e-3),
    "gamma_c_eV": _Param("gamma_c_eV", UEV, 2.0 * UEV, 1e-3),
    "Z": _Param("Z", 1.0, 0.0, 30.0),
    "scale": _Param("scale", 1.0, 0.3, 3.0),
}

MODELS: dict[str, tuple[str, ...]] = {
    "dynes": ("E_g_eV", "gamma_eV", "scale"),
    "btk": ("Z", "delta_eV", "gamma_eV", "scale"),
    "two_gap": ("Z", "delta_c_eV", "E_g_eV", "gamma_eV", "gamma_c_eV", "scale"),
}


def _physics_kwargs(model: str, p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map a model's parameters (arrays of shape (n, 1)) onto ``conductance`` arguments."""
    if model == "dynes":
        return dict(Eg_eV=p["E_g_eV"], Dc_eV=p["E_g_eV"], Z=np.full_like(p["E_g_eV"], Z_TUNNEL),
                    gamma_eV=p["gamma_eV"], gamma_c_eV=p["gamma_eV"])
    if model == "btk":
        return dict(Eg_eV=p["delta_eV"], Dc_eV=p["delta_eV"], Z=p["Z"],
                    gamma_eV=p["gamma_eV"], gamma_c_eV=p["gamma_eV"])
    if model == "two_gap":
        return dict(Eg_eV=p["E_g_eV"], Dc_eV=p["delta_c_eV"], Z=p["Z"],
                    gamma_eV=p["gamma_eV"], gamma_c_eV=p["gamma_c_eV"])
    raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")


def model_curves(
    model: str, bias_V: ArrayLike, params: np.ndarray, *, T_K: float, Vmod_rms_V: float
) -> np.ndarray:
    """Model G/G_N (times the scale) for rows of parameters ``params`` (n, n_params), in the
    order of ``MODELS[model]`` and in SI units (eV for energies). Returns (n, len(bias_V))."""
    P = np.atleast_2d(np.asarray(params, dtype=float))
    return P[:, -1:] * _unscaled_curves(model, bias_V, P, T_K=T_K, Vmod_rms_V=Vmod_rms_V)


def _unscaled_curves(model: str, bias_V: ArrayLike, P: np.ndarray, *, T_K: float,
                     Vmod_rms_V: float) -> np.ndarray:
    """G/G_N of the physics parameters in the rows of P (every model's last column, the scale,
    is not used)."""
    cols = {name: P[:, k : k + 1] for k, name in enumerate(MODELS[model])}
    return conductance(np.asarray(bias_V, dtype=float), T_K=T_K, Vmod_rms_V=Vmod_rms_V,
                       **_physics_kwargs(model, cols))


@dataclass(frozen=True)
class FitResult:
    """A converged fit: ``params`` and their 1-sigma ``errors`` (SI units; eV for energies),
    ``chi2_red`` the mean squared residual per degree of freedom (in squared G/G_N units),
    ``rms`` the residual rms, ``T_K``/``Vmod_rms_V`` the smearing used."""

    model: str
    params: dict[str, float]
    errors: dict[str, float]
    chi2_red: float
    rms: float
    nfev: int
    T_K: float
    Vmod_rms_V: float
    at_bound: tuple[str, ...] = field(default=())
    n_points: int = 0

    @property
    def chi2_sum(self) -> float:
        """Sum of squared residuals (squared G/G_N units)."""
        return self.rms**2 * self.n_points

    def curve(self, bias_V: ArrayLike) -> np.ndarray:
        """The fitted G/G_N (times the fitted scale) at the biases ``bias_V`` (V)."""
        row = np.array([[self.params[n] for n in MODELS[self.model]]])
        return model_curves(self.model, bias_V, row, T_K=self.T_K, Vmod_rms_V=self.Vmod_rms_V)[0]


class _Problem:
    """Residuals and batched forward-difference Jacobian for one spectrum and one model."""

    def __init__(self, model: str, V: np.ndarray, g: np.ndarray, T_K: float, Vmod: float):
        self.model, self.V, self.g, self.T_K, self.Vmod = model, V, g, T_K, Vmod
        self.units = np.array([_P[n].unit for n in MODELS[model]])
        self.nfev = 0
        self._cache: tuple[bytes, np.ndarray] | None = None

    def _unscaled(self, P: np.ndarray) -> np.ndarray:
        self.nfev += 1
        return _unscaled_curves(self.model, self.V, P, T_K=self.T_K, Vmod_rms_V=self.Vmod)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        if self._cache is not None and self._cache[0] == x.tobytes():
            return self._cache[1]
        P = x[None, :] * self.units
        r = (P[:, -1:] * self._unscaled(P))[0] - self.g
        self._cache = (x.tobytes(), r)
        return r

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        # Steps ~1e-4 of a typical value: the energy grid inside conductance is shared by all
        # rows of one call, so differences are not polluted by grid changes.
        step = np.maximum(np.abs(x) * 1e-4, 1e-4)
        P = np.vstack([x, x + np.diag(step)]) * self.units
        # The last row nudges the scale (every model's last parameter): its physics is the base
        # row's, so its curve is the base curve times its own scale, the very numbers the
        # batch would give that row, without its FFTs.
        g = self._unscaled(P[:-1])
        G = P[:, -1:] * np.vstack([g, g[:1]])
        self._cache = (x.tobytes(), G[0] - self.g)
        return ((G[1:] - G[0]) / step[:, None]).T


def fit_spectrum(
    model: str,
    bias_V: ArrayLike,
    g: ArrayLike,
    *,
    T_K: float,
    Vmod_rms_V: float = 0.0,
    initial: dict[str, float] | None = None,
    fixed_bounds: dict[str, tuple[float, float]] | None = None,
    max_nfev: int = 60,
) -> FitResult:
    """Fit ``model`` ("dynes", "btk", "two_gap") to a normalised spectrum g = G/G_N.

    ``T_K`` (K, > 0) and ``Vmod_rms_V`` (V rms, >= 0) are the known smearing. ``initial``
    gives starting values by parameter name (SI); missing ones get defaults. ``fixed_bounds``
    narrows a parameter's range. Raises FitError if the optimiser fails or the result is not
    finite.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    names = MODELS[model]
    V = np.asarray(bias_V, dtype=float)
    y = np.asarray(g, dtype=float)
    start = {"E_g_eV": 400 * UEV, "delta_eV": 400 * UEV, "delta_c_eV": 150 * UEV,
             "gamma_eV": 40 * UEV, "gamma_c_eV": 8 * UEV, "Z": 1.0, "scale": 1.0}
    start.update(initial or {})
    bounds = {n: (_P[n].lower, _P[n].upper) for n in names}
    bounds.update(fixed_bounds or {})
    units = np.array([_P[n].unit for n in names])
    lo = np.array([bounds[n][0] for n in names]) / units
    hi = np.array([bounds[n][1] for n in names]) / units
    x0 = np.clip(np.array([start[n] for n in names]) / units, lo + 1e-9 * (hi - lo),
                 hi - 1e-9 * (hi - lo))
    problem = _Problem(model, V, y, T_K, Vmod_rms_V)
    try:
        res = least_squares(problem.residuals, x0, jac=problem.jacobian, bounds=(lo, hi),
                            method="trf", x_scale="jac", max_nfev=max_nfev)
    except ValueError as exc:
        raise FitError(f"{model} fit failed: {exc}") from exc
    if not np.all(np.isfinite(res.fun)) or not np.all(np.isfinite(res.x)):
        raise FitError(f"{model} fit gave non-finite values")
    dof = max(V.size - len(names), 1)
    chi2 = float(np.sum(res.fun**2) / dof)
    errors = _errors(res.jac, chi2) * units
    params = dict(zip(names, (res.x * units).tolist(), strict=True))
    at_bound = tuple(n for n, x, a, b in zip(names, res.x, lo, hi, strict=True)
                     if min(x - a, b - x) <= 1e-4 * (b - a))
    return FitResult(model=model, params=params,
                     errors=dict(zip(names, errors.tolist(), strict=True)), chi2_red=chi2,
                     rms=float(np.sqrt(np.mean(res.fun**2))), nfev=problem.nfev, T_K=T_K,
                     Vmod_rms_V=Vmod_rms_V, at_bound=at_bound, n_points=int(V.size))


def _errors(J: np.ndarray, chi2_red: float) -> np.ndarray:
    """1-sigma errors sqrt(diag((J^T J)^-1) chi2_red) by SVD (robust to near-degeneracy)."""
    _, s, Vt = np.linalg.svd(J, full_matrices=False)
    tol = np.finfo(float).eps * max(J.shape) * (s[0] if s.size else 0.0)
    inv = np.where(s > tol, 1.0 / np.where(s > tol, s, 1.0) ** 2, np.inf)
    with np.errstate(invalid="ignore"):
        cov_diag = np.sum(Vt**2 * inv[:, None], axis=0)
    return np.sqrt(cov_diag * chi2_red)


def screen_starts(model: str, bias_V, g, starts: list[dict[str, float]], *, T_K: float,
                  Vmod_rms_V: float) -> np.ndarray:
    """Sum of squared residuals of each start (the scale set to its best value by linear least
    squares), all in one batched model evaluation: a cheap way to rank many starts before
    refining the best few (multi-start against local minima)."""
    names = MODELS[model]
    P = np.array([[s.get(n, 1.0) for n in names] for s in starts], dtype=float)
    for k, n in enumerate(names):
        P[:, k] = np.clip(P[:, k], _P[n].lower, _P[n].upper)
    y = np.asarray(g, dtype=float)
    m = _unscaled_curves(model, bias_V, P, T_K=T_K, Vmod_rms_V=Vmod_rms_V)
    scale = np.clip(m @ y / np.maximum(np.sum(m * m, axis=1), 1e-300), _P["scale"].lower,
                    _P["scale"].upper)
    return np.sum((scale[:, None] * m - y) ** 2, axis=1)


def best_fit(model: str, bias_V, g, *, starts: list[dict[str, float]],
             good_enough: float | None = None, **kwargs) -> FitResult:
    """The lowest-chi-square of several starts (multi-start against local minima), tried in
    order; once one reaches ``chi2_red <= good_enough`` (the noise floor: no other minimum
    can be meaningfully better) the rest are skipped."""
    results = []
    for start in starts:
        try:
            results.append(fit_spectrum(model, bias_V, g, initial=start, **kwargs))
        except FitError as exc:
            log.debug("%s start %s failed: %s", model, start, exc)
            continue
        if good_enough is not None and results[-1].chi2_red <= good_enough:
            break
    if not results:
        raise FitError(f"every start of the {model} fit failed")
    return min(results, key=lambda r: r.chi2_red)
