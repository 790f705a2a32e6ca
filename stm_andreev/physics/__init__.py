"""Pure-numpy physics of the junction: SI units, vectorised, no state, no I/O.

The simulators and the analysis fits call these same functions, so the simulated sample and
the fitted model never disagree.
"""

from .bcs import bcs_gap_ratio, solve_gap_ratio
from .btk import btk_coefficients, gap_factors, two_gap_sigma
from .conductance import conductance, lockin_kernel, thermal_kernel
from .constants import BCS_RATIO, E_CHARGE_C, G0_S, H_PLANCK_JS, K_B_EV_PER_K, R0_OHM
from .dos import dynes_dos
from .junction import (
    DEFAULT_CHANNELS,
    DEFAULT_KAPPA_PER_M,
    barrier_from_transmission,
    current_A,
    height_from_transmission,
    normal_conductance_S,
    transmission_from_barrier,
    transmission_from_conductance,
    transmission_from_height,
)
from .samples import PRESETS, SampleParameters, get_sample

__all__ = [
    "BCS_RATIO",
    "DEFAULT_CHANNELS",
    "DEFAULT_KAPPA_PER_M",
    "E_CHARGE_C",
    "G0_S",
    "H_PLANCK_JS",
    "K_B_EV_PER_K",
    "PRESETS",
    "R0_OHM",
    "SampleParameters",
    "barrier_from_transmission",
    "bcs_gap_ratio",
    "btk_coefficients",
    "conductance",
    "current_A",
    "dynes_dos",
    "gap_factors",
    "get_sample",
    "height_from_transmission",
    "lockin_kernel",
    "normal_conductance_S",
    "solve_gap_ratio",
    "thermal_kernel",
    "transmission_from_barrier",
    "transmission_from_conductance",
    "transmission_from_height",
    "two_gap_sigma",
]
