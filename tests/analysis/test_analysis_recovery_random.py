"""Seeded random two-gap contacts across the paper's ranges at 1 % noise: the pipeline's
tolerances hold everywhere, not only at hand-picked points."""

import numpy as np
import pytest

from stm_andreev.analysis.inputs import SpectrumInput
from stm_andreev.analysis.pipeline import analyze_spectrum

from .simulated import T_BASE_K, UEV, bias, contact_G_N_S, spectrum

V = bias(201)
RNG = np.random.default_rng(2026)
CASES = [(RNG.uniform(250, 650), RNG.uniform(120, 180), RNG.uniform(0.4, 2.2),
          RNG.uniform(25, 55), RNG.uniform(10e-6, 30e-6)) for _ in range(6)]


@pytest.mark.parametrize(("Eg", "Dc", "Z", "gamma", "vmod"), CASES)
def test_random_contact(Eg, Dc, Z, gamma, vmod):
    G = spectrum(V, Eg=Eg * UEV, Dc=Dc * UEV, Z=Z, gamma=gamma * UEV, gamma_c=8 * UEV,
                 noise=0.01, seed=int(Eg), vmod=vmod, G_N_S=contact_G_N_S(Z))
    r = analyze_spectrum(SpectrumInput(V, G, "S", "rand"), T_K=T_BASE_K, Vmod_rms_V=vmod).result
    assert r.andreev_peaks and r.model == "two_gap"
    assert r.delta_c_eV == pytest.approx(Dc * UEV, abs=10 * UEV)
    assert r.E_g_eV == pytest.approx(Eg * UEV, rel=0.05)
    assert r.Z == pytest.approx(Z, rel=0.10)
    assert r.gamma_eV == pytest.approx(gamma * UEV, rel=0.30)
