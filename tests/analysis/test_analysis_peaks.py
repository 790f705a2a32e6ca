"""Andreev-pair search on simulated spectra: found where the model has them, never invented."""

import numpy as np
import pytest

from stm_andreev.analysis.peaks import find_andreev_peaks

from .simulated import UEV, bias, spectrum

V = bias(201)


@pytest.mark.parametrize("Z", [1.2, 2.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_pair_found_near_delta_c_with_an_uncertainty(Z, seed):
    g = spectrum(V, Eg=650 * UEV, Dc=150 * UEV, Z=Z, gamma=40 * UEV, gamma_c=8 * UEV,
                 noise=0.005, seed=seed)
    p = find_andreev_peaks(V, g, E_g_eV=650 * UEV)
    assert p.found, p.reason
    # The raw -d2G/dV2 maxima sit a little below Delta_c (smearing of an asymmetric peak).
    assert 130 * UEV < p.delta_c_eV < 155 * UEV
    assert 0 < p.delta_c_err_eV < 15 * UEV
    assert p.V_plus_V > 0 > p.V_minus_V
    assert p.snr > 8


def test_without_E_g_two_pairs_make_the_outer_one_the_gap_edge():
    g = spectrum(V, Eg=650 * UEV, Dc=150 * UEV, Z=2.0, gamma=40 * UEV, gamma_c=8 * UEV,
                 noise=0.002)
    p = find_andreev_peaks(V, g)
    assert p.found and p.gap_edge_eV == pytest.approx(660 * UEV, abs=30 * UEV)


@pytest.mark.parametrize("Z", [0.0, 0.3, 1.0, 3.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_false_peaks_on_plain_btk_InO4(Z, seed):
    g = spectrum(V, Eg=670 * UEV, Dc=670 * UEV, Z=Z, gamma=15 * UEV, noise=0.01, seed=seed)
    p = find_andreev_peaks(V, g, E_g_eV=670 * UEV)
    assert not p.found, p
    assert p.delta_c_eV is None and p.delta_c_err_eV is None


@pytest.mark.parametrize("Eg", [250 * UEV, 450 * UEV, 650 * UEV])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_false_peaks_on_tunnelling_spectra(Eg, seed):
    g = spectrum(V, Eg=Eg, Dc=Eg, Z=20, gamma=40 * UEV, noise=0.01, seed=seed)
    assert not find_andreev_peaks(V, g, E_g_eV=Eg).found
    assert not find_andreev_peaks(V, g).found


def test_pure_noise_has_no_peaks():
    g = 1 + 0.01 * np.random.default_rng(5).standard_normal(V.size)
    p = find_andreev_peaks(V, g)
    assert not p.found


def test_a_single_pair_without_E_g_is_not_called_andreev():
    g = spectrum(V, Eg=670 * UEV, Dc=670 * UEV, Z=0.5, gamma=15 * UEV, noise=0.0)
    p = find_andreev_peaks(V, g)
    assert not p.found
    assert len(p.pairs_eV) >= 1


def test_merged_zero_bias_maximum_is_flagged_not_a_pair():
    g = 1 + 0.3 * np.exp(-(V / 60e-6) ** 2)  # peaks merged into one zero-bias maximum
    p = find_andreev_peaks(V, g, E_g_eV=500 * UEV)
    assert p.zero_bias_peak and not p.found
