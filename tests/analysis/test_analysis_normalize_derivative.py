"""Normalisation to G0 and G_N, and the adaptive Savitzky-Golay -d2G/dV2."""

import numpy as np
import pytest

from stm_andreev.analysis.derivative import choose_window, minus_second_derivative, uniform_grid
from stm_andreev.analysis.errors import AnalysisInputError
from stm_andreev.analysis.normalize import normal_conductance, normalize, outer_mask, to_G0
from stm_andreev.physics import G0_S

from .simulated import UEV, bias


def test_to_G0_uses_the_conductance_quantum():
    assert to_G0(G0_S * 4.3) == pytest.approx(4.3)


def test_outer_mask_takes_the_outer_15_percent_of_each_side():
    V = bias(201)
    mask = outer_mask(V)
    assert mask.sum() == 2 * 31  # 15 % of 3 mV at each end: |V| >= 1.05 mV
    assert np.all(np.abs(V[mask]) >= 1.05e-3 - 1e-12)


def test_normal_conductance_mean_and_line_on_tilted_background():
    V = bias(201)
    G = 3e-6 * (1 + 100 * V)  # tilted normal state, G_N = 3 uS at V = 0
    G[np.abs(V) < 0.7e-3] *= 0.2  # a gap that does not reach the tails
    assert normal_conductance(V, G) == pytest.approx(3e-6, rel=1e-9)
    assert normal_conductance(V, G, method="line") == pytest.approx(3e-6, rel=1e-9)
    g, G_N = normalize(V, G)
    assert g[-1] == pytest.approx(G[-1] / 3e-6)


def test_normal_conductance_refuses_non_positive_tails():
    V = bias(51)
    with pytest.raises(AnalysisInputError, match="G_N"):
        normal_conductance(V, -np.ones_like(V))


def test_window_spans_30_to_60_uV_and_grows_with_noise():
    assert choose_window(10e-6, 1e-6) * 10e-6 == pytest.approx(40e-6, abs=10e-6)
    spans = [choose_window(5e-6, noise) * 5e-6 for noise in (1e-5, 1e-3, 1e-1)]
    assert spans == sorted(spans) and spans[0] < spans[-1]
    assert 30e-6 <= spans[0] and spans[-1] <= 70e-6
    assert choose_window(20e-6, 1e-1) == 5  # never fewer than 5 points


def test_second_derivative_of_a_parabola_is_exact_and_noise_is_estimated():
    V = bias(301)
    G = 1.0 - 2e5 * V**2  # -d2G/dV2 = 4e5 everywhere
    sd = minus_second_derivative(V, G)
    assert np.allclose(sd.minus_d2G, 4e5, rtol=1e-6)
    rng = np.random.default_rng(1)
    noisy = minus_second_derivative(V, G + 0.01 * rng.standard_normal(V.size))
    assert noisy.noise_G == pytest.approx(0.01, rel=0.25)
    assert noisy.window >= sd.window


def test_descending_and_non_uniform_sweeps_are_put_on_a_uniform_ascending_grid():
    V = np.sort(np.random.default_rng(2).uniform(-1e-3, 1e-3, 200))[::-1]
    Vu, Gu = uniform_grid(V, V**2)
    assert np.all(np.diff(Vu) > 0) and np.allclose(np.diff(Vu), Vu[1] - Vu[0])
    assert np.allclose(Gu, Vu**2, atol=1e-9)
    with pytest.raises(AnalysisInputError, match="distinct"):
        uniform_grid([1e-3, 1e-3, 2e-3], [1, 2, 3], source="x.txt")


def test_step_is_reported_in_volts():
    sd = minus_second_derivative(bias(201), np.zeros(201))
    assert sd.step_V == pytest.approx(15 * UEV)
