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


@pytest.mark.parametrize("model", ["btk", "two_gap"])
def test_batch_contact_fits_match_the_per_spectrum_fitter(model):
    """BTK and two-gap fits batched over spectra land where fit_spectrum does (within 1 %
    of each parameter's own sigma) with the same errors, from the same starts."""
    from stm_andreev.analysis.fits import MODELS
    from stm_andreev.analysis.fits_batch import fit_batch

    rng = np.random.default_rng(5)
    n = 8
    Dc = rng.uniform(120, 180, n) * UEV
    Eg = rng.uniform(400, 650, n) * UEV
    Z = rng.uniform(0.5, 2.0, n)
    gamma_c = 8 * UEV
    if model == "btk":  # plain BTK: one gap, one broadening
        Dc, gamma_c = Eg, 40 * UEV
    g = conductance(V, Eg_eV=Eg[:, None], Dc_eV=Dc[:, None], Z=Z[:, None],
                    gamma_eV=40 * UEV, gamma_c_eV=gamma_c, T_K=T_BASE_K, Vmod_rms_V=VMOD_V)
    g = g + 0.005 * rng.standard_normal(g.shape)
    if model == "btk":
        start = np.column_stack([1.2 * Z, 0.95 * Eg, np.full(n, 30 * UEV), np.ones(n)])
    else:
        start = np.column_stack([1.2 * Z, 1.1 * Dc, 0.95 * Eg, np.full(n, 30 * UEV),
                                 np.full(n, 12 * UEV), np.ones(n)])
    r = fit_batch(model, V, g, start, T_K=T_BASE_K, Vmod_rms_V=VMOD_V, chunk=5)
    assert r.converged.all()
    names = MODELS[model]
    for i in range(n):
        single = fit_spectrum(model, V, g[i], T_K=T_BASE_K, Vmod_rms_V=VMOD_V,
                              initial=dict(zip(names, start[i], strict=True)))
        for k, name in enumerate(names):
            assert abs(r.params[i, k] - single.params[name]) < 0.01 * single.errors[name]
            assert r.errors[i, k] == pytest.approx(single.errors[name], rel=0.01)
    key = "delta_eV" if model == "btk" else "delta_c_eV"
    assert np.all(np.abs(r.column(key) - Dc) < 4 * r.error(key))


def test_batch_fit_refuses_an_unknown_model_and_a_grid_mismatch():
    from stm_andreev.analysis.fits_batch import fit_batch

    with pytest.raises(ValueError, match="unknown model"):
        fit_batch("bcs", V, np.ones((1, V.size)), [1.0], T_K=T_BASE_K)
    with pytest.raises(ValueError, match="points per spectrum"):
        fit_batch("dynes", V, np.ones((1, 7)), [400 * UEV, 40 * UEV, 1.0], T_K=T_BASE_K)
