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


def write_paper_run(path, *, n_bias: int = 201, noise: float = 0.004, seed: int = 0):
    """A small InO-2 run file like the paper's: a setpoint series at 65 mK (Fig. 1) and one
    contact (Z = 0.9, a lower barrier than the default plan's Z ~ 1.45) over temperature (Fig. 2),
    through the storage writer."""
    from stm_andreev.physics import get_sample
    from stm_andreev.storage import RunWriter

    sample = get_sample("InO-2")
    V = bias(n_bias)
    points = [(Z, T_BASE_K) for Z in (30.0, 1.5, 0.9)]  # 1 nA-like tunnelling first
    points += [(0.9, T) for T in (0.3, 0.5, 1.0)]
    writer = RunWriter.create(path, n_bias=n_bias, n_planned=len(points),
                              metadata={"sample": "InO-2"}, station_text="", plan_text="",
                              snapshot={})
    rng = np.random.default_rng(seed)
    for k, (Z, T) in enumerate(points):
        G_N = contact_G_N_S(Z)
        g = conductance(V, Eg_eV=sample.gap_eV(T), Dc_eV=sample.delta_c_eV(T), Z=Z,
                        gamma_eV=sample.gamma_at_eV(T), gamma_c_eV=sample.gamma_c_at_eV(T),
                        T_K=T, Vmod_rms_V=VMOD_V)
        G = G_N * (g + noise * rng.standard_normal(V.size))
        writer.append_spectrum(k, bias_V=V, G_S=G, X_V=G * 1e3, Y_V=0 * G, record={
            "temperature_before_K": T, "temperature_after_K": T, "modulation_Vrms": VMOD_V,
            "G_sp_S": G_N, "setpoint_A": G_N * 3e-3, "bias_setpoint_V": -3e-3})
    writer.close("finished")
    return path, points
