"""Physical constants (CODATA 2018 exact values where defined) and unit helpers, SI throughout."""

from __future__ import annotations

E_CHARGE_C = 1.602176634e-19
H_PLANCK_JS = 6.62607015e-34
K_B_EV_PER_K = 8.617333262e-5
G0_S = 2 * E_CHARGE_C**2 / H_PLANCK_JS  # conductance quantum 2e^2/h = 77.4809 uS
R0_OHM = 1.0 / G0_S  # 12906.4 ohm
EULER_GAMMA = 0.5772156649015329
BCS_RATIO = 1.764387  # Delta(0) / (k_B Tc) in weak coupling, pi * exp(-Euler gamma)


def thermal_energy_eV(T_K: float) -> float:
    """k_B T in eV."""
    return K_B_EV_PER_K * T_K
