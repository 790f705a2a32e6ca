"""The real-arithmetic gap factors and the half-grid sigma inside conductance() give the
numbers of the complex-w formulas they replace."""

import numpy as np
import pytest

from stm_andreev.physics import conductance, gap_factors
from stm_andreev.physics import conductance as conductance_function
from stm_andreev.physics.btk import _complex_gap_factors

UEV = 1e-6
conductance_module = __import__(conductance_function.__module__, fromlist=["_even_half"])


def _exact_factors(E, gap, gamma):
    """The four factors in 40-digit arithmetic from the complex w."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    z = mpmath.mpc(abs(E), gamma)
    w = mpmath.sqrt(z - gap) * mpmath.sqrt(z + gap) / z
    u2, v2 = (1 + w) / 2, (1 - w) / 2
    return [float(v) for v in (abs(u2 * v2), abs(u2) ** 2, mpmath.re(u2 * mpmath.conj(w)),
                               abs(w) ** 2)]


def test_factors_match_high_precision_everywhere():
    rng = np.random.default_rng(5)
    E = rng.uniform(-5e-3, 5e-3, 400)
    E[:40] = rng.uniform(-1, 1, 40) * 1e-9  # near E = 0
    gap = 10 ** rng.uniform(-6, -2.7, 400)
    E[40:80] = gap[40:80] * (1 + rng.uniform(-1e-6, 1e-6, 40))  # at the gap edge
    gamma = np.where(rng.random(400) < 0.2, 0.0, 10 ** rng.uniform(-9, -3, 400))
    fast = gap_factors(E, gap, gamma)
    worst = 0.0
    for i in range(E.size):
        if gamma[i] == 0 and abs(E[i]) < 1e-15 * gap[i]:
            continue  # capped hard-gap limit, below
        for value, exact in zip((f[i] for f in fast), _exact_factors(E[i], gap[i], gamma[i]),
                                strict=True):
            worst = max(worst, abs(value - exact) / max(abs(exact), 1e-300))
    assert worst < 1e-13


@pytest.mark.parametrize("E,gap,gamma", [(0.0, 650 * UEV, 0.0), (1e-20, 650 * UEV, 0.0),
                                         (0.0, 0.0, 0.0), (650 * UEV, 650 * UEV, 0.0),
                                         (3e-4, 650 * UEV, 0.0), (1e-3, 650 * UEV, 0.0)])
def test_hard_gap_limits_are_the_complex_ones(E, gap, gamma):
    fast, reference = gap_factors(E, gap, gamma), _complex_gap_factors(E, gap, gamma)
    np.testing.assert_allclose(np.array(fast, dtype=float), np.array(reference, dtype=float),
                               rtol=1e-14, atol=0)


def test_batch_shape_and_broadcasting_follow_the_inputs():
    E = np.linspace(-2e-3, 2e-3, 41)[None, :]
    f = gap_factors(E, np.array([[400 * UEV], [150 * UEV]]), np.array([[40 * UEV], [0.0]]))
    assert all(part.shape == (2, 41) for part in f)
    assert np.isfinite(np.array(f)).all()


@pytest.mark.parametrize("bias", [np.linspace(-1.5e-3, 1.5e-3, 301),  # 0 on the grid
                                  np.linspace(-1.5e-3, 1.5e-3, 300),  # 0 between points
                                  np.linspace(-0.4e-3, 1.5e-3, 191)])  # lopsided sweep
def test_sigma_on_half_the_grid_equals_the_whole_grid(bias, monkeypatch):
    rows = dict(Eg_eV=np.array([[455 * UEV], [455 * UEV], [470 * UEV]]), Dc_eV=152 * UEV,
                Z=np.array([[1.3], [0.4], [1.3]]), gamma_eV=37 * UEV, gamma_c_eV=8.5 * UEV,
                T_K=np.array([[0.065], [0.065], [0.6]]), Vmod_rms_V=15e-6)
    assert conductance_module._even_half(np.linspace(-1e-3, 1.2e-3, 2201)) is not None
    half = conductance(bias, **rows)
    monkeypatch.setattr(conductance_module, "_even_half", lambda E: None)
    whole = conductance(bias, **rows)
    np.testing.assert_allclose(half, whole, rtol=0, atol=1e-11)  # rounding of |E| only
