"""The continuous-sweep estimator (procedures/ramp_estimator.py) on synthetic data in virtual
time: the lab's own filter and noise (simulators/lab/electronics.py, an independent stepping
of the same RC cascade) applied to known G(V) curves from stm_andreev.physics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stm_andreev.drivers.lockin_filter import enbw_Hz, settle_time_s
from stm_andreev.physics.conductance import conductance
from stm_andreev.procedures.ramp_estimator import (
    design_matrix,
    estimate,
    ramp_response,
    resolution_limit_V,
)
from stm_andreev.simulators.lab.electronics import OUNoise, RCCascade

TAU = 0.1
V = np.linspace(-1.5e-3, 1.5e-3, 301)


def filtered(values, steps, tau, slope, sample_t, start=1.0, sigma=0.0, seed=1):
    """Samples of the n-stage filter's output (plus the lab's OU noise of rms ``sigma`` per
    quadrature) for a staircase input: ``start`` before steps[0], values[j] from steps[j]."""
    cascade = RCCascade(slope // 6, complex(start))
    noise = OUNoise(np.random.default_rng(seed), 0.0)
    correlation = 1.0 / (4.0 * enbw_Hz(tau, slope))
    edges = list(steps) + [math.inf]
    out, t, j, u = [], 0.0, -1, start
    for ts in sample_t:
        while edges[j + 1] <= ts:
            cascade.evolve(u, edges[j + 1] - t, tau)
            t, j = edges[j + 1], j + 1
            u = values[j]
        cascade.evolve(u, ts - t, tau)
        t = ts
        out.append(cascade.output.real + sigma * math.sqrt(2) * noise.sample(ts, correlation).real)
    return np.array(out)


def ramp(slope, fraction=0.28, rate_per_tau=4.0, n=V.size):
    settle = settle_time_s(TAU, slope)
    dwell = fraction * settle
    steps = settle + dwell * np.arange(n)
    sample_t = np.arange(1, int((steps[-1] + 2 * settle) * rate_per_tau / TAU)) * TAU / rate_per_tau
    return steps, sample_t, dwell


def test_design_matrix_is_the_exact_staircase_response():
    steps, t, _ = ramp(24)
    rng = np.random.default_rng(3)
    x = rng.normal(1.0, 0.3, V.size)
    y = filtered(x, steps, TAU, 24, t, start=0.4)
    keep = t >= steps[0]
    A = design_matrix(t[keep], steps, TAU, 24)
    # the four free-decay terms take up the state at steps[0] (settled at 0.4)
    coeffs, *_ = np.linalg.lstsq(A[:, V.size:], y[keep] - A[:, :V.size] @ x, rcond=None)
    assert np.max(np.abs(A[:, :V.size] @ x + A[:, V.size:] @ coeffs - y[keep])) < 1e-9


def test_linear_basis_is_the_exact_ramp_response():
    steps = np.linspace(0.0, 2.0, 21)
    t = np.linspace(0.0, 2.0, 400)
    A = design_matrix(t, steps, TAU, 12, basis="linear")
    # u(t) = t on the grid (from 0 state): output is the ramp response
    assert np.allclose(A[:, :steps.size] @ steps, ramp_response(t, TAU, 2), atol=1e-12)


@pytest.mark.parametrize("slope", [24, 6])
def test_noisy_two_gap_curve_recovered_within_its_uncertainty(slope):
    G = conductance(V, Eg_eV=650e-6, Dc_eV=220e-6, Z=3.0, gamma_eV=20e-6, T_K=0.065,
                    Vmod_rms_V=20e-6)
    steps, t, dwell = ramp(slope)
    sigma_y = 1 / 300
    est = estimate(t, filtered(G, steps, TAU, slope, t, sigma=sigma_y), steps, TAU, slope)
    z = (est.values - G) / est.sigma
    assert np.mean(np.abs(z) <= 2) >= 0.93
    assert np.mean(z ** 2) == pytest.approx(1.0, abs=0.35)
    assert est.noise_rms[0] == pytest.approx(sigma_y, rel=0.1)
    # the point-by-point reading's noise is sigma_y: the ramp, in 0.28 of its time, is no worse
    assert np.median(est.sigma) <= 1.1 * sigma_y
    # the stated resolution limit r / (2 ENBW) / noise_ratio^2 is the averaging width found
    noise_ratio = np.median(est.sigma) / est.noise_rms[0]
    step_V = V[1] - V[0]
    limit_points = resolution_limit_V(step_V / dwell, TAU, slope, noise_ratio) / step_V
    assert np.median(est.width_points) == pytest.approx(max(1.0, limit_points), rel=0.3)


def test_a_feature_narrower_than_the_resolution_is_broadened_by_the_reported_width():
    """A one-point spike on a flat curve comes back as a peak of height 1/width (the reported
    averaging width at that point) and the same area; without regularisation it is exact."""
    steps, t, _ = ramp(24)
    x = np.ones(V.size)
    x[150] += 1.0
    y = filtered(x, steps, TAU, 24, t)
    smooth = estimate(t, y, steps, TAU, 24, lam=1.0)
    bump = smooth.values - 1.0
    assert bump[150] == pytest.approx(1.0 / smooth.width_points[150], rel=0.02)
    assert smooth.width_points[150] > 1.3
    assert bump[140:161].sum() == pytest.approx(1.0, rel=0.02)
    exact = estimate(t, y, steps, TAU, 24, lam=1e-12)
    assert np.allclose(exact.values, x, atol=1e-6)


def test_too_few_samples_is_a_clear_error():
    steps = np.linspace(0.0, 1.0, 50)
    t = np.linspace(0.0, 1.0, 20)
    with pytest.raises(ValueError, match="cannot determine 50 grid values"):
        estimate(t, np.zeros(20), steps, TAU, 24)


def test_sharp_andreev_peaks_keep_the_grid_resolution_at_the_stated_noise():
    """Contact at 65 mK with 10 uVrms modulation: structure at the grid scale, so GCV keeps
    every point independent (width ~1) and the noise is the stated bound for that resolution,
    sqrt(1 / (2 ENBW dt)) times one settled reading's."""
    G = conductance(V, Eg_eV=650e-6, Dc_eV=150e-6, Z=0.5, gamma_eV=20e-6, T_K=0.065,
                    Vmod_rms_V=10e-6)
    steps, t, dwell = ramp(24)
    sigma_y = 2e-4
    est = estimate(t, filtered(G, steps, TAU, 24, t, sigma=sigma_y, seed=5), steps, TAU, 24)
    z = (est.values - G) / est.sigma
    assert np.mean(np.abs(z) <= 2) >= 0.93
    assert np.median(est.width_points) < 1.2
    bound = math.sqrt(1.0 / (2.0 * enbw_Hz(TAU, 24) * dwell)) * sigma_y
    assert np.std(est.values - G) == pytest.approx(bound, rel=0.25)


def test_forward_and_backward_passes_are_estimated_jointly():
    """A walk up and back down the grid: each point visited twice, one value each, with
    about 1/sqrt(2) of one pass's uncertainty."""
    G = conductance(V, Eg_eV=650e-6, Dc_eV=220e-6, Z=3.0, gamma_eV=20e-6, T_K=0.065,
                    Vmod_rms_V=20e-6)
    index = np.concatenate([np.arange(V.size), np.arange(V.size - 2, -1, -1)])
    steps, t, _ = ramp(24, n=index.size)
    y = filtered(G[index], steps, TAU, 24, t, sigma=1 / 300, seed=9)
    both = estimate(t, y, steps, TAU, 24, grid_index=index)
    one = estimate(t, filtered(G, steps[:V.size], TAU, 24, t, sigma=1 / 300, seed=9),
                   steps[:V.size], TAU, 24)
    assert both.values.shape == (V.size,)
    z = (both.values - G) / both.sigma
    assert np.mean(np.abs(z) <= 2) >= 0.93
    assert np.median(both.sigma) < 0.85 * np.median(one.sigma)
    with pytest.raises(ValueError, match="visited at least once"):
        estimate(t, y, steps, TAU, 24, grid_index=np.where(index == 5, 4, index))
