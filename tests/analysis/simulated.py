"""Simulated spectra for the analysis tests: the physics model plus seeded Gaussian noise."""

from __future__ import annotations

import numpy as np

from stm_andreev.physics import G0_S, conductance

UEV = 1e-6
T_BASE_K = 0.065
VMOD_V = 15e-6


def bias(n: int = 201, half_range_V: float = 1.5e-3) -> np.ndarray:
    return np.linspace(-half_range_V, half_range_V, n)


def spectrum(V, *, Eg, Dc, Z, gamma, gamma_c=None, noise=0.005, seed=0, T_K=T_BASE_K,
             vmod=VMOD_V, G_N_S=None):
    """G/G_N (or G in S if G_N_S given) with Gaussian noise of ``noise`` G_N rms."""
    g = conductance(V, Eg_eV=Eg, Dc_eV=Dc, Z=Z, gamma_eV=gamma, gamma_c_eV=gamma_c, T_K=T_K,
                    Vmod_rms_V=vmod)
    g = g + noise * np.random.default_rng(seed).standard_normal(np.shape(V))
    return g if G_N_S is None else g * G_N_S


def contact_G_N_S(Z: float, channels: int = 5) -> float:
    return channels / (1 + Z**2) * G0_S
