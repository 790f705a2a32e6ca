"""Lock-in output filter, noise bandwidth, preamp noise: the maths on its own."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from stm_andreev.simulators.lab.electronics import (
    ENBW_PER_TAU,
    RCCascade,
    current_noise_density_A,
    enbw_Hz,
)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_cascade_matches_numerical_integration(n: int) -> None:
    tau = 0.3
    start = [0.2 + 0.1j * k for k in range(n)]
    f = RCCascade(n)
    f.stages = list(start)
    f.evolve(1.5 - 0.5j, 0.7, tau)

    def rhs(_t, y):
        u = 1.5
        d = np.empty_like(y)
        d[0] = (u - y[0]) / tau
        d[1:] = (y[:-1] - y[1:]) / tau
        return d

    re = solve_ivp(rhs, (0, 0.7), [s.real for s in start], rtol=1e-11, atol=1e-13).y[:, -1]
    im_rhs = lambda t, y: rhs(t, y) + np.r_[(-0.5 - 1.5) / tau, np.zeros(n - 1)]  # noqa: E731
    im = solve_ivp(im_rhs, (0, 0.7), [s.imag for s in start], rtol=1e-11, atol=1e-13).y[:, -1]
    np.testing.assert_allclose([s.real for s in f.stages], re, atol=1e-9)
    np.testing.assert_allclose([s.imag for s in f.stages], im, atol=1e-9)


def test_cascade_steps_compose_exactly() -> None:
    a, b = RCCascade(4), RCCascade(4)
    a.evolve(1.0, 0.9, 0.1)
    for _ in range(9):
        b.evolve(1.0, 0.1, 0.1)
    np.testing.assert_allclose(a.stages, b.stages, rtol=1e-12)


@pytest.mark.parametrize(("slope", "n"), [(6, 1), (12, 2), (18, 3), (24, 4)])
def test_step_response_settling(slope: int, n: int) -> None:
    f = RCCascade(n)
    f.evolve(1.0, 5.0, 1.0)
    residual = 1.0 - f.output.real
    expected = math.exp(-5.0) * sum(5.0**k / math.factorial(k) for k in range(n))
    assert residual == pytest.approx(expected, rel=1e-12)
    if n == 1:
        assert residual < 0.01  # 6 dB: within 1 % after 5 tau
    else:
        assert residual > 0.03  # steeper filters are slower to settle


def test_changing_order_keeps_the_output() -> None:
    f = RCCascade(1)
    f.evolve(2.0, 0.5, 1.0)
    out = f.output
    f.set_order(4)
    assert f.stages == [out] * 4
    f.set_order(2)
    assert f.output == out


def test_enbw_table() -> None:
    assert enbw_Hz(0.1, 6) == pytest.approx(2.5)
    assert enbw_Hz(0.1, 12) == pytest.approx(1.25)
    assert enbw_Hz(1.0, 18) == pytest.approx(3 / 32)
    assert enbw_Hz(1.0, 24) == pytest.approx(5 / 64)
    assert set(ENBW_PER_TAU) == {6, 12, 18, 24}


def test_preamp_noise_is_shot_plus_johnson() -> None:
    # 1 nA shot noise: sqrt(2 e I) = 17.9 fA/rtHz; a 1 Gohm feedback resistor adds 4.0 fA/rtHz.
    assert current_noise_density_A(1e-9, 1e9) == pytest.approx(math.hypot(17.9e-15, 4.03e-15), rel=0.01)
    assert current_noise_density_A(0.0, 1e5) == pytest.approx(4.03e-13, rel=0.01)
