"""Measured conductance: the two-gap sigma(E) smeared by temperature and by the lock-in.

    G(V)/G_N = integral dE sigma(E) (-df/dE)(E - eV)                     (thermal)
    G_lockin(V) = integral dv G(V + v) K(v),  K(v) = sqrt(2 Vrms^2 - v^2) / (pi Vrms^2)

Both kernels are applied exactly in Fourier space, where they are known in closed form:
-df/dE has characteristic function (pi kT k) / sinh(pi kT k) and the semicircle K (radius
a = sqrt(2) Vrms) has 2 J1(a k) / (a k). sigma is sampled on a uniform energy grid fine enough
for its Dynes-broadened features (the aliasing error falls as exp(-pi Gamma / h)), so the
discrete result matches a direct quadrature to ~1e-6 G_N while costing two FFTs. When the
requested biases are uniformly spaced, the grid is aligned on them and no interpolation is
needed; otherwise the result is up-sampled spectrally and interpolated with local cubics.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike
from scipy import fft as sp_fft
from scipy.special import j1

from .btk import gap_factors, two_gap_sigma, two_gap_sigma_from_factors
from .constants import K_B_EV_PER_K

# Grid spacing as a fraction of the narrowest feature of sigma (Gamma, or kT when Gamma = 0).
_STEP_PER_FEATURE = 0.25
_MIN_STEP_EV = 2e-8
_MAX_STEP_EV = 1e-5
_MAX_GRID = 1 << 20


def thermal_kernel(x_eV: ArrayLike, T_K: float) -> np.ndarray:
    """-df/dE at energy offset x (1/eV): 1 / (4 kT cosh^2(x / 2kT)). Unit area, FWHM 3.5255 kT."""
    kT = K_B_EV_PER_K * T_K
    x = np.asarray(x_eV, dtype=float) / (2 * kT)
    return 1.0 / (4 * kT * np.cosh(np.clip(x, -350, 350)) ** 2)


def lockin_kernel(v_V: ArrayLike, Vmod_rms_V: float) -> np.ndarray:
    """First-harmonic lock-in kernel K(v) (1/V), a semicircle of radius sqrt(2) Vrms.

    Unit area; FWHM sqrt(6) Vrms = 2.449 Vrms. SRS lock-ins quote rms amplitudes.
    """
    v = np.asarray(v_V, dtype=float)
    r2 = 2.0 * Vmod_rms_V**2 - v**2
    return np.where(r2 > 0, np.sqrt(np.clip(r2, 0, None)) / (np.pi * Vmod_rms_V**2), 0.0)


def _thermal_cf(k: np.ndarray, kT: np.ndarray) -> np.ndarray:
    x = np.pi * kT * k
    with np.errstate(over="ignore", invalid="ignore"):
        cf = x / np.sinh(x)
    return np.where(np.abs(x) < 1e-8, 1.0, np.where(np.isfinite(cf), cf, 0.0))


def _lockin_cf(k: np.ndarray, a: np.ndarray) -> np.ndarray:
    x = a * k
    safe = np.where(np.abs(x) < 1e-8, 1.0, x)
    return np.where(np.abs(x) < 1e-8, 1.0, 2.0 * j1(safe) / safe)


def _grid_step(gamma: np.ndarray, kT: np.ndarray, a: np.ndarray) -> float:
    """Energy step resolving the sharpest sigma among the batch."""
    narrowest = float(np.min(gamma))
    if narrowest > 0:  # every row Dynes-broadened (all fits): the same step, 5x cheaper
        return min(max(narrowest * _STEP_PER_FEATURE, _MIN_STEP_EV), _MAX_STEP_EV)
    feature = np.where(gamma > 0, gamma, np.inf)
    # Without Dynes broadening sigma has square-root edges; the smearing widths then set
    # the scale that matters for the smeared result.
    feature = np.minimum(feature, np.where(gamma > 0, np.inf, np.maximum(kT, a / 4)))
    h = float(np.min(feature)) * _STEP_PER_FEATURE
    return float(np.clip(h, _MIN_STEP_EV, _MAX_STEP_EV))


def _fft_workers(size: int) -> int:
    """Threads for an FFT of ``size`` values: below ~2^18 values (a fit's few rows) starting
    threads costs more than it saves (x1.5-3 slower on 2 cores); the results are the same."""
    return -1 if size >= 1 << 18 else 1


def _distinct_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``values`` (n, k) in order of first appearance, and for each row
    the index of its distinct row. A dict of tuples: np.unique(axis=0) costs ~70 us even for
    the few rows of a fit's Jacobian, called twice per conductance call."""
    index: dict[tuple[float, ...], int] = {}
    inverse = np.array([index.setdefault(row, len(index)) for row in map(tuple, values.tolist())],
                       dtype=np.intp)
    return np.array(list(index), dtype=float).reshape(len(index), values.shape[1]), inverse


def _unique_factor_rows(E: np.ndarray, gap: np.ndarray, gamma: np.ndarray):
    """Gap factors for each distinct (gap, Gamma) row of a batch, indexed back per row."""
    uniq, inverse = _distinct_rows(np.hstack([gap, gamma]))
    f = gap_factors(E[None, :], uniq[:, :1], uniq[:, 1:])
    if len(uniq) == 1:
        return f  # one row broadcasts against the whole batch: no copies
    return type(f)(*(part[inverse] for part in f))


# A fit evaluates dozens of batches at one temperature and modulation on a few dozen grids,
# and the sinh and Bessel terms cost as much as its FFTs: the characteristic functions are
# kept per (grid length, step, width) and shared between calls (read-only; a row holds
# n / 2 + 1 floats, 0.2 MB for a fit's largest grids).
@functools.lru_cache(maxsize=8)
def _thermal_row(n: int, h: float, kT: float) -> np.ndarray:
    return _thermal_cf(2 * np.pi * np.fft.rfftfreq(n, d=h), np.float64(kT))


@functools.lru_cache(maxsize=8)
def _lockin_row(n: int, h: float, a: float) -> np.ndarray:
    return _lockin_cf(2 * np.pi * np.fft.rfftfreq(n, d=h), np.float64(a))


@functools.lru_cache(maxsize=32)
def _smearing_row(n: int, h: float, kT: float, a: float) -> np.ndarray:
    row = _thermal_row(n, h, kT) * _lockin_row(n, h, a)
    row.flags.writeable = False
    return row


def _smearing_rows(n: int, h: float, kT: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Thermal times lock-in characteristic function on the rfft frequencies of an n-point
    grid of step h, per batch row (one row broadcasting when all rows share kT and a)."""
    uniq, inverse = _distinct_rows(np.hstack([kT, a]))
    rows = [_smearing_row(n, h, t, v) for t, v in uniq.tolist()]
    return rows[0][None, :] if len(rows) == 1 else np.stack(rows)[inverse]


def _even_half(E: np.ndarray):
    """For a grid symmetric about E = 0 (it holds 0 or straddles it by half a step, as on a
    bias sweep from -V to V), the energies |E| of one half and a function that spreads rows
    computed there onto the whole grid; else None. sigma is even in E: a batch computes its
    gap factors on half the grid."""
    h = E[1] - E[0]
    twice_zero = -2.0 * E[0] / h  # twice the (fractional) index where E = 0
    k = round(float(twice_zero))
    n = E.size
    if abs(twice_zero - k) > 1e-9 or not 0 <= k <= 2 * (n - 1):
        return None
    odd = k % 2  # 1: E = 0 lies between grid points j0 and j0 + 1
    j0 = (k - odd) // 2
    energies = 0.5 * h * (odd + 2 * np.arange(max(j0 + 1, n - j0 - odd)))

    def spread(rows: np.ndarray) -> np.ndarray:
        return np.concatenate([rows[:, j0::-1], rows[:, 1 - odd : n - j0 - odd]], axis=1)

    return energies, spread


def _smeared_on_grid(E, h, Eg, Dc, Z, gamma, gamma_c, kT, a):
    """Fourier transform of the smeared G/G_N - 1 on the grid E (step h) for each batch row.

    Rows are 2D arrays of shape (n, 1). The expensive parts (complex gap factors, sinh and
    Bessel characteristic functions) are computed once per distinct parameter value, so a
    batch that varies Z and T over common gaps costs little more than its FFTs.
    """
    half = _even_half(E)
    E_sigma = E if half is None else half[0]
    single = _unique_factor_rows(E_sigma, Eg, gamma)
    if np.array_equal(Eg, Dc) and np.array_equal(gamma, gamma_c):
        collective = single  # plain BTK / Dynes: one set of gap factors serves both channels
    else:
        collective = _unique_factor_rows(E_sigma, Dc, gamma_c)
    sigma = two_gap_sigma_from_factors(collective, single, Z) - 1.0  # -> 0 at large |E|
    if half is not None:
        sigma = half[1](sigma)
    n = E.size
    cf = _smearing_rows(n, h, kT, a)
    spectrum = sp_fft.rfft(sigma, axis=-1, workers=_fft_workers(sigma.size))
    spectrum *= cf
    return spectrum, n


def _broadcast_params(V, *params):
    params = np.broadcast_arrays(*(np.asarray(p, dtype=float) for p in params))
    batch_shape = params[0].shape[:-1] if params[0].ndim >= 1 else ()
    if params[0].ndim >= 1 and params[0].shape[-1] != 1:
        raise ValueError(
            "batched parameters must have a trailing axis of length 1 (shape (n, 1)) that "
            f"broadcasts against the bias axis; got shape {params[0].shape}"
        )
    rows = [p.reshape(-1, 1) for p in params]
    return rows, batch_shape


def _validate(Eg, Dc, Z, gamma, gamma_c, T, Vmod) -> None:
    checks = {
        "Eg_eV": Eg,
        "Dc_eV": Dc,
        "Z": Z,
        "gamma_eV": gamma,
        "gamma_c_eV": gamma_c,
        "T_K": T,
        "Vmod_rms_V": Vmod,
    }
    values = np.hstack(list(checks.values()))
    if np.isfinite(values).all() and (values >= 0).all():
        return  # one check for all (a fit makes thousands of small calls); names on failure
    for name, value in checks.items():
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} must be finite, got {value}")
        if np.any(value < 0):
            raise ValueError(f"{name} must be >= 0, got {value}")


def conductance(
    V_V: ArrayLike,
    *,
    Eg_eV: ArrayLike,
    Dc_eV: ArrayLike,
    Z: ArrayLike,
    gamma_eV: ArrayLike,
    T_K: ArrayLike,
    Vmod_rms_V: ArrayLike = 0.0,
    gamma_c_eV: ArrayLike | None = None,
) -> np.ndarray:
    """Normalised measured conductance G/G_N at each bias V (V).

    Two-gap sigma, thermally smeared at T_K, then convolved with the lock-in kernel for an
    rms modulation Vmod_rms_V. Scalar parameters return an array shaped like V_V; parameters
    of shape (n, 1) with V_V of shape (m,) return a batch of shape (n, m). ``gamma_c_eV`` is
    the Andreev-channel broadening (default: gamma_eV), see
    :func:`~stm_andreev.physics.btk.two_gap_sigma`.
    """
    V = np.asarray(V_V, dtype=float)
    gamma_c_eV = gamma_eV if gamma_c_eV is None else gamma_c_eV
    rows, batch_shape = _broadcast_params(V, Eg_eV, Dc_eV, Z, gamma_eV, gamma_c_eV, T_K, Vmod_rms_V)
    _validate(*rows)
    flat_V = V.ravel()
    n_rows = rows[0].shape[0]
    if n_rows < 64:
        out = _conductance_rows(flat_V, *rows)
    else:
        # Rows at high T need a wider energy grid than rows at low T; a common grid would make
        # every row pay for the hottest one, so rows are grouped by the reach of their kernels.
        reach = 25.0 * rows[5] + 1.5 * np.sqrt(2.0) * rows[6]
        order = np.argsort(reach.ravel(), kind="stable")
        out = np.empty((n_rows, flat_V.size))
        for group in np.array_split(order, 4):
            out[group] = _conductance_rows(flat_V, *(r[group] for r in rows))
    return _reshape(out, batch_shape, V.shape)


def _conductance_rows(flat_V, Eg, Dc, Zr, gamma, gamma_c, T, Vmod) -> np.ndarray:
    """Smeared G/G_N for rows of parameters (each of shape (n, 1)) at the biases flat_V."""
    kT = K_B_EV_PER_K * T
    a = np.sqrt(2.0) * Vmod

    if not np.any(kT > 0) and not np.any(a > 0):
        return two_gap_sigma(flat_V[None, :], Eg, Dc, Zr, gamma, gamma_c)

    h = _grid_step(np.minimum(gamma, gamma_c), kT, a)
    # The grid must hold every energy the kernels reach from the requested biases (-df/dE is
    # below 1e-10 of its peak beyond 25 kT) plus a margin so the circular FFT convolution does
    # not wrap sigma's far tail onto the biases of interest.
    reach = float(np.max(25.0 * kT + 1.5 * a + 20.0 * np.maximum(gamma, gamma_c))) + 0.5e-3
    lo, hi = float(np.min(flat_V)) - reach, float(np.max(flat_V)) + reach
    uniform_step = _uniform_step(flat_V)
    if uniform_step is not None:
        # Align the grid on the requested biases: an integer number of steps between them.
        m = max(1, int(np.ceil(uniform_step / h)))
        h = uniform_step / m
        start = flat_V[0]
        n_left = int(np.ceil((start - lo) / h))
        n_total = n_left + (flat_V.size - 1) * m + int(np.ceil((hi - flat_V[-1]) / h)) + 1
        n_total = sp_fft.next_fast_len(n_total, real=True)  # extra points only widen the margin
        _check_grid(n_total)
        E = start + h * (np.arange(n_total) - n_left)
        spectrum, n = _smeared_on_grid(E, h, Eg, Dc, Zr, gamma, gamma_c, kT, a)
        G = sp_fft.irfft(spectrum, n=n, axis=-1, workers=_fft_workers(spectrum.size))
        return G[:, n_left : n_left + (flat_V.size - 1) * m + 1 : m] + 1.0

    n_total = sp_fft.next_fast_len(int(np.ceil((hi - lo) / h)) + 1, real=True)
    _check_grid(n_total)
    E = lo + h * np.arange(n_total)
    spectrum, n = _smeared_on_grid(E, h, Eg, Dc, Zr, gamma, gamma_c, kT, a)
    upsample = 4  # spectral (band-limited) interpolation onto a 4x finer grid, then cubics
    G = sp_fft.irfft(spectrum, n=n * upsample, axis=-1,
                     workers=_fft_workers(spectrum.size * upsample)) * upsample + 1.0
    return _cubic_interp(flat_V, lo, h / upsample, G)


def _uniform_step(V: np.ndarray) -> float | None:
    if V.size < 2:
        return None
    d = np.diff(V)
    # np.allclose(d, d[0], rtol=1e-9, atol=0) without its overhead (~0.1 ms a call)
    if d[0] > 0 and bool(np.all(np.abs(d - d[0]) <= 1e-9 * d[0])):
        return float(d[0])
    return None


def _check_grid(n: int) -> None:
    if n > _MAX_GRID:
        raise ValueError(
            f"bias range too wide for the energy resolution needed ({n} grid points > "
            f"{_MAX_GRID}); split the sweep or raise gamma_eV / T_K"
        )


def _cubic_interp(x: np.ndarray, x0: float, h: float, G: np.ndarray) -> np.ndarray:
    """Four-point Lagrange cubic interpolation of each row of G (grid x0 + i h) at x."""
    s = (x - x0) / h
    i = np.clip(np.floor(s).astype(int), 1, G.shape[-1] - 3)
    t = s - i
    w = (
        -t * (t - 1) * (t - 2) / 6,
        (t + 1) * (t - 1) * (t - 2) / 2,
        -(t + 1) * t * (t - 2) / 2,
        (t + 1) * t * (t - 1) / 6,
    )
    return sum(wk * G[:, i + k - 1] for k, wk in enumerate(w))


def _reshape(out: np.ndarray, batch_shape: tuple, v_shape: tuple) -> np.ndarray:
    return out.reshape(batch_shape + v_shape) if batch_shape else out.reshape(v_shape)
