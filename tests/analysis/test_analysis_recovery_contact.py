"""Parameter recovery through the whole per-spectrum pipeline on noisy two-gap contacts."""

import pytest

from stm_andreev.analysis.fits import fit_spectrum
from stm_andreev.analysis.inputs import SpectrumInput
from stm_andreev.analysis.pipeline import analyze_spectrum

from .simulated import T_BASE_K, UEV, VMOD_V, bias, contact_G_N_S, spectrum

V = bias(201)

# (E_g, Delta_c, Z, Gamma) spread over the paper's range; Gamma_c = 8 ueV as in the presets.
CASES = [
    (650, 150, 0.5, 40),
    (450, 145, 1.0, 30),
    (300, 120, 1.5, 50),
    (550, 175, 2.2, 40),
]


@pytest.mark.parametrize(("Eg", "Dc", "Z", "gamma"), CASES)
def test_two_gap_contact_recovers_delta_c_E_g_Z_gamma(Eg, Dc, Z, gamma):
    G_N = contact_G_N_S(Z)
    G = spectrum(V, Eg=Eg * UEV, Dc=Dc * UEV, Z=Z, gamma=gamma * UEV, gamma_c=8 * UEV,
                 noise=0.005, seed=int(Eg + Z * 10), G_N_S=G_N)
    r = analyze_spectrum(SpectrumInput(V, G, "S", "sim"), T_K=T_BASE_K,
                         Vmod_rms_V=VMOD_V).result
    assert r.regime == "contact" and r.andreev_peaks and r.model == "two_gap"
    assert r.delta_c_eV == pytest.approx(Dc * UEV, abs=10 * UEV)
    assert 0 < r.delta_c_err_eV < 10 * UEV
    assert r.E_g_eV == pytest.approx(Eg * UEV, rel=0.05)
    assert r.Z == pytest.approx(Z, rel=0.10)
    assert r.gamma_eV == pytest.approx(gamma * UEV, rel=0.30)
    assert r.G_N_S == pytest.approx(G_N, rel=0.03)


@pytest.mark.parametrize("Z", [0.3, 1.0, 2.5])
def test_plain_btk_InO4_recovers_Z_and_gap_and_reports_no_andreev_peaks(Z):
    G_N = contact_G_N_S(Z, channels=20)
    G = spectrum(V, Eg=670 * UEV, Dc=670 * UEV, Z=Z, gamma=15 * UEV, noise=0.005,
                 seed=int(10 * Z), G_N_S=G_N)
    r = analyze_spectrum(SpectrumInput(V, G, "S", "InO-4"), T_K=T_BASE_K,
                         Vmod_rms_V=VMOD_V).result
    assert r.regime == "contact" and r.model == "btk"
    assert not r.andreev_peaks and r.delta_c_eV is None and r.delta_c_err_eV is None
    assert r.Z == pytest.approx(Z, rel=0.10)
    assert r.E_g_eV == pytest.approx(670 * UEV, rel=0.05)
    assert r.gamma_eV == pytest.approx(15 * UEV, rel=0.30)


@pytest.mark.parametrize("Z", [0.3, 3.0])
def test_btk_fit_recovers_Z_at_both_ends_of_the_range(Z):
    g = spectrum(V, Eg=670 * UEV, Dc=670 * UEV, Z=Z, gamma=15 * UEV, noise=0.005, seed=7)
    fit = fit_spectrum("btk", V, g, T_K=T_BASE_K, Vmod_rms_V=VMOD_V,
                       initial={"Z": 1.0, "delta_eV": 600 * UEV})
    assert fit.params["Z"] == pytest.approx(Z, rel=0.10)
    assert fit.params["delta_eV"] == pytest.approx(670 * UEV, rel=0.05)
    assert 0 < fit.errors["Z"] < 0.1 * Z


def test_normalised_input_has_no_G_N_and_is_classified_by_Z():
    g = spectrum(V, Eg=500 * UEV, Dc=150 * UEV, Z=0.8, gamma=40 * UEV, gamma_c=8 * UEV,
                 noise=0.005, seed=21)
    r = analyze_spectrum(SpectrumInput(V[::-1], g[::-1], "GN", "norm.txt"), T_K=T_BASE_K,
                         Vmod_rms_V=VMOD_V).result  # a sweep from + to - bias
    assert r.G_N_S is None and r.G_N_G0 is None
    assert r.regime == "contact" and r.andreev_peaks
    assert r.delta_c_eV == pytest.approx(150 * UEV, abs=10 * UEV)


@pytest.mark.parametrize("seed", [31, 32])
def test_lockin_units_InO4_near_base_temperature_has_no_andreev_peaks(seed):
    g = spectrum(V, Eg=670 * UEV, Dc=670 * UEV, Z=0.5, gamma=15 * UEV, noise=0.01, seed=seed,
                 T_K=0.3)
    r = analyze_spectrum(SpectrumInput(V, 3e-9 * g, "arb", "li.dat"), T_K=0.3,
                         Vmod_rms_V=VMOD_V).result
    assert r.regime == "contact" and r.model == "btk" and not r.andreev_peaks
    assert r.Z == pytest.approx(0.5, rel=0.1)
