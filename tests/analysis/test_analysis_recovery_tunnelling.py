"""Dynes fits of tunnelling spectra: E_g and Gamma with Jacobian uncertainties (Fig. S2)."""

import numpy as np
import pytest

from stm_andreev.analysis.errors import FitError
from stm_andreev.analysis.fits import fit_spectrum
from stm_andreev.analysis.inputs import SpectrumInput
from stm_andreev.analysis.pipeline import analyze_spectrum
from stm_andreev.analysis.regime import classify_regime
from stm_andreev.physics import G0_S

from .simulated import T_BASE_K, UEV, VMOD_V, bias, spectrum

V = bias(201)


@pytest.mark.parametrize(("Eg", "gamma", "G_N_G0"), [(650, 40, 0.42), (400, 25, 0.05),
                                                     (220, 60, 0.004)])
def test_tunnelling_spectrum_dynes_fit(Eg, gamma, G_N_G0):
    G = spectrum(V, Eg=Eg * UEV, Dc=145 * UEV, Z=30, gamma=gamma * UEV, gamma_c=8 * UEV,
                 noise=0.01, seed=Eg, G_N_S=G_N_G0 * G0_S)
    r = analyze_spectrum(SpectrumInput(V, G / G0_S, "G0", "sim"), T_K=T_BASE_K,
                         Vmod_rms_V=VMOD_V).result
    # 0.42 G0 (Fig. S2) is above 0.1 G0: tunnelling because the fitted Z > 3.
    assert r.regime == "tunnelling", r
    assert r.model == "dynes" and r.Z is None and not r.andreev_peaks
    assert r.delta_c_eV is None
    assert r.E_g_eV == pytest.approx(Eg * UEV, rel=0.05)
    assert r.gamma_eV == pytest.approx(gamma * UEV, rel=0.30)
    assert 0 < r.E_g_err_eV < 0.05 * Eg * UEV and 0 < r.gamma_err_eV


def test_fig_S2_spectrum_and_its_uncertainties_scale_with_noise():
    errors = []
    for noise in (0.003, 0.03):
        g = spectrum(V, Eg=650 * UEV, Dc=650 * UEV, Z=30, gamma=40 * UEV, noise=noise, seed=4)
        fit = fit_spectrum("dynes", V, g, T_K=T_BASE_K, Vmod_rms_V=VMOD_V,
                           initial={"E_g_eV": 600 * UEV})
        assert fit.params["E_g_eV"] == pytest.approx(650 * UEV, rel=0.02)
        errors.append(fit.errors["E_g_eV"])
        assert np.allclose(fit.curve(V), g, atol=5 * noise)
    assert errors[1] == pytest.approx(10 * errors[0], rel=0.5)


def test_regime_rule():
    assert classify_regime(G_N_S=0.05 * G0_S) == "tunnelling"
    assert classify_regime(G_N_S=0.5 * G0_S) == "contact"
    assert classify_regime(Z=5.0) == "tunnelling"
    assert classify_regime(Z=1.0) == "contact"
    assert classify_regime(G_N_S=0.42 * G0_S, Z=20.0) == "tunnelling"
    assert classify_regime(G_N_S=0.42 * G0_S, Z=1.0) == "contact"
    with pytest.raises(ValueError):
        classify_regime()


def test_unknown_model_and_failed_fit_are_reported():
    with pytest.raises(ValueError, match="unknown model"):
        fit_spectrum("bcs", V, np.ones_like(V), T_K=0.1)
    with pytest.raises(FitError):
        fit_spectrum("dynes", V, np.full_like(V, np.nan), T_K=0.1)
