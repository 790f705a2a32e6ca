"""Thermal and lock-in smearing: kernels, quadrature agreement, batching, worked numbers."""

import numpy as np
import pytest

from stm_andreev.physics import K_B_EV_PER_K, conductance, lockin_kernel, thermal_kernel
from stm_andreev.physics.reference import conductance_quad

UEV = 1e-6
PARAMS = dict(Eg_eV=650 * UEV, Dc_eV=150 * UEV, Z=0.5, gamma_eV=40 * UEV)


def fwhm(x, y):
    half = y.max() / 2
    above = x[y >= half]
    return above[-1] - above[0]


def test_lockin_kernel_unit_area_and_fwhm():
    vrms = 20e-6
    v = np.linspace(-40e-6, 40e-6, 400001)
    k = lockin_kernel(v, vrms)
    assert np.trapezoid(k, v) == pytest.approx(1.0, abs=1e-5)
    assert fwhm(v, k) / vrms == pytest.approx(2.449, abs=1e-3)


def test_thermal_kernel_unit_area_and_fwhm():
    T = 0.065
    kT = K_B_EV_PER_K * T
    x = np.linspace(-60 * kT, 60 * kT, 400001)
    k = thermal_kernel(x, T)
    assert np.trapezoid(k, x) == pytest.approx(1.0, abs=1e-8)
    assert fwhm(x, k) / kT == pytest.approx(3.5255, abs=1e-3)
    assert fwhm(x, k) == pytest.approx(19.7e-6, abs=0.1e-6)  # 19.7 ueV at 65 mK


@pytest.mark.parametrize("T_K", [0.065, 0.5, 1.5])
def test_conductance_matches_quadrature(T_K):
    V = np.linspace(-1.5e-3, 1.5e-3, 301)
    G = conductance(V, **PARAMS, T_K=T_K, Vmod_rms_V=20e-6)
    # Coherence peak, Andreev peak, zero bias and a generic point.
    for i in (0, 150, 165, 215, 283):
        ref = conductance_quad(V[i], **PARAMS, T_K=T_K, Vmod_rms_V=20e-6)
        assert abs(G[i] - ref) < 1e-4, (V[i], G[i], ref)


def test_non_uniform_biases_match_quadrature():
    V = np.array([-1.2e-3, -0.64e-3, 0.1234e-3, 0.151e-3, 0.6612e-3])
    G = conductance(V, **PARAMS, T_K=0.065, Vmod_rms_V=15e-6)
    ref = [conductance_quad(v, **PARAMS, T_K=0.065, Vmod_rms_V=15e-6) for v in V]
    np.testing.assert_allclose(G, ref, atol=1e-4)


def test_dynes_tunnelling_worked_numbers():
    V = np.arange(-1.5e-3, 1.5e-3 + 1e-9, 1e-6)
    G = conductance(V, Eg_eV=650 * UEV, Dc_eV=650 * UEV, Z=1e3, gamma_eV=40 * UEV, T_K=0.065)
    assert G[np.argmin(abs(V))] == pytest.approx(0.0614, abs=0.001)
    pos = V > 0
    peak = np.argmax(G[pos])
    assert V[pos][peak] == pytest.approx(677e-6, abs=2e-6)
    assert G[pos][peak] == pytest.approx(2.385, abs=0.005)


def test_batch_equals_separate_calls():
    rng = np.random.default_rng(3)
    V = np.linspace(-1.5e-3, 1.5e-3, 201)
    Z = rng.uniform(0.3, 3, (7, 1))
    T = rng.uniform(0.05, 2.0, (7, 1))
    batch = conductance(
        V, Eg_eV=650 * UEV, Dc_eV=150 * UEV, Z=Z, gamma_eV=40 * UEV, T_K=T, Vmod_rms_V=20e-6
    )
    assert batch.shape == (7, 201)
    for i in range(7):
        one = conductance(
            V,
            Eg_eV=650 * UEV,
            Dc_eV=150 * UEV,
            Z=Z[i, 0],
            gamma_eV=40 * UEV,
            T_K=T[i, 0],
            Vmod_rms_V=20e-6,
        )
        np.testing.assert_allclose(batch[i], one, atol=1e-6)


def test_high_bias_tends_to_one_and_spectrum_is_even():
    V = np.linspace(-20e-3, 20e-3, 801)
    G = conductance(V, **PARAMS, T_K=0.5, Vmod_rms_V=20e-6)
    assert G[0] == pytest.approx(1.0, abs=2e-3)
    np.testing.assert_allclose(G, G[::-1], atol=1e-9)


def test_zero_temperature_zero_modulation_is_sigma():
    from stm_andreev.physics import two_gap_sigma

    V = np.linspace(-1e-3, 1e-3, 11)
    np.testing.assert_allclose(
        conductance(V, **PARAMS, T_K=0.0), two_gap_sigma(V, 650 * UEV, 150 * UEV, 0.5, 40 * UEV)
    )


def test_rejects_bad_parameters():
    with pytest.raises(ValueError, match="T_K"):
        conductance([0.0], **PARAMS, T_K=-1.0)
    with pytest.raises(ValueError, match="gamma_eV"):
        conductance([0.0], Eg_eV=1e-4, Dc_eV=1e-4, Z=1, gamma_eV=float("nan"), T_K=0.1)
