"""The vectorised Dynes fitter agrees with the per-spectrum fitter and with the truth."""

import numpy as np
import pytest

from stm_andreev.analysis.fits import fit_spectrum
from stm_andreev.analysis.fits_batch import fit_dynes_batch
from stm_andreev.physics import conductance

from .simulated import T_BASE_K, UEV, VMOD_V, bias

V = bias(201)


def test_batch_dynes_fit_recovers_every_spectrum():
    rng = np.random.default_rng(11)
    n = 24
    Eg = rng.uniform(200, 650, n) * UEV
    gamma = rng.uniform(20, 60, n) * UEV
    g = conductance(V, Eg_eV=Eg[:, None], Dc_eV=Eg[:, None], Z=np.full((n, 1), 1e3),
                    gamma_eV=gamma[:, None], T_K=T_BASE_K, Vmod_rms_V=VMOD_V)
    g = g * rng.uniform(0.95, 1.1, (n, 1)) + 0.01 * rng.standard_normal(g.shape)
    r = fit_dynes_batch(V, g, T_K=T_BASE_K, Vmod_rms_V=VMOD_V, chunk=10)
    assert r.converged.all()
    assert np.allclose(r.E_g_eV, Eg, rtol=0.02)
    assert np.allclose(r.gamma_eV, gamma, rtol=0.15)
    # Errors from the Jacobian are honest: the misses are a few sigma at most.
    assert np.all(np.abs(r.E_g_eV - Eg) < 5 * r.E_g_err_eV)
    single = fit_spectrum("dynes", V, g[3], T_K=T_BASE_K, Vmod_rms_V=VMOD_V,
                          initial={"E_g_eV": 400 * UEV})
    assert r.E_g_eV[3] == pytest.approx(single.params["E_g_eV"], rel=1e-4)
    assert r.E_g_err_eV[3] == pytest.approx(single.errors["E_g_eV"], rel=0.05)
