"""The fits' small linear algebra runs on one BLAS thread (threaded BLAS on a 4001 x 7
Jacobian was 45 ms against 0.25 ms, and analysis time grew faster than the points)."""

import numpy as np
from threadpoolctl import threadpool_info

from stm_andreev.analysis import fits
from stm_andreev.analysis.fits_batch import fit_batch
from stm_andreev.analysis.inputs import SpectrumInput
from stm_andreev.analysis.pipeline import analyze_spectrum

from .simulated import T_BASE_K, UEV, VMOD_V, bias, spectrum


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_analyze_spectrum_and_batch_fits_use_one_blas_thread(monkeypatch):
    seen: list[set[int]] = []
    errors, solve = fits._errors, np.linalg.solve

    def spy_errors(*args, **kwargs):
        seen.append(_blas_threads())
        return errors(*args, **kwargs)

    def spy_solve(*args, **kwargs):
        seen.append(_blas_threads())
        return solve(*args, **kwargs)

    monkeypatch.setattr(fits, "_errors", spy_errors)
    V = bias(201)
    g = spectrum(V, Eg=450 * UEV, Dc=150 * UEV, Z=0.8, gamma=40 * UEV, gamma_c=8 * UEV)
    analyze_spectrum(SpectrumInput(V, g, "GN", "test", T_K=T_BASE_K, Vmod_rms_V=VMOD_V))
    monkeypatch.setattr(np.linalg, "solve", spy_solve)
    fit_batch("dynes", V, g[None, :], [400 * UEV, 40 * UEV, 1.0], T_K=T_BASE_K,
              Vmod_rms_V=VMOD_V, max_iterations=2)
    assert seen and all(threads == {1} for threads in seen), seen
