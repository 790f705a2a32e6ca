"""The analysis acceptance set: spectra with known parameters made with the physics core, and
the rule every analysed one must pass: each reported value within 3 sigma of the truth, or
the fit graded poor/failed with a reason. A value off by more and graded good is a silent
miss.

Two sample types with their own temperature dependence (written out here, so the set does not
move when the simulated lab's presets are tuned): an InO-2-like two-gap film (E_g = Delta_p +
Delta_c, Delta_c BCS-like closing at 1.05 Tc, Delta_p at 4 Tc; Gamma 40 ueV, Andreev channel
8 ueV, both growing above Tc) and an InO-4-like plain-BTK film (one gap of 670 ueV closing
at 1.02 Tc, Gamma 15 ueV). Barriers: tunnelling Z = 10, intermediate Z = 1.5, contact Z = 0.6,
five channels (G_N = 5 G0 / (1 + Z^2)). 65 mK to 1.2 Tc, 0.5 % noise of G_N, 15 uV rms.

Used by tests/analysis/test_analysis_acceptance.py (a subset) and tools/analysis_acceptance.py
(the whole set, printing the table).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from stm_andreev.analysis.inputs import SpectrumInput
from stm_andreev.analysis.results import SpectrumResult
from stm_andreev.physics import G0_S, bcs_gap_ratio, conductance

UEV = 1e-6
VMOD_V = 15e-6
NOISE = 0.005
BARRIERS = {"tunnelling": 10.0, "intermediate": 1.5, "contact": 0.6}
T_OVER_TC = (0.065 / 1.5, 0.5, 0.9, 1.05, 1.2)


@dataclass(frozen=True)
class Truth:
    E_g_eV: float
    delta_c_eV: float  # 0 when there is no Andreev channel
    gamma_eV: float
    gamma_c_eV: float
    Z: float
    T_K: float
    plain_btk: bool


def truth(sample: str, regime: str, t: float) -> Truth:
    """The parameters of ``sample`` ("InO-2" or "InO-4") at T = t Tc behind ``regime``."""
    Z = BARRIERS[regime]
    if sample == "InO-2":
        Tc = 1.5
        T = t * Tc
        dc = 150 * UEV * float(bcs_gap_ratio(T / (1.05 * Tc)))
        dp = 500 * UEV * float(bcs_gap_ratio(T / (4.0 * Tc)))
        growth = 1.0 + 2.0 * max(t - 1.0, 0.0)
        return Truth(dp + dc, dc, 40 * UEV * growth, 8 * UEV * growth, Z, T, False)
    if sample == "InO-4":
        Tc = 3.2
        T = t * Tc
        gap = 670 * UEV * float(bcs_gap_ratio(T / (1.02 * Tc)))
        growth = 1.0 + 2.0 * max(t - 1.0, 0.0)
        return Truth(gap, gap, 15 * UEV * growth, 15 * UEV * growth, Z, T, True)
    raise ValueError(sample)


def make_case(sample: str, regime: str, t: float, seed: int, *,
              n_bias: int = 201) -> tuple[SpectrumInput, Truth]:
    tr = truth(sample, regime, t)
    V = np.linspace(-1.5e-3, 1.5e-3, n_bias)
    # A closed gap is a normal metal: the model needs a positive gap, 1 ueV is flat here.
    Eg = max(tr.E_g_eV, 1 * UEV)
    Dc = max(tr.delta_c_eV, 1e-3 * UEV)
    g = conductance(V, Eg_eV=Eg, Dc_eV=Dc, Z=tr.Z, gamma_eV=tr.gamma_eV,
                    gamma_c_eV=tr.gamma_c_eV, T_K=tr.T_K, Vmod_rms_V=VMOD_V)
    # A stable seed (str hash() changes from one interpreter to the next).
    rng = np.random.default_rng([seed, int(round(t * 1000)), zlib.crc32(
        f"{sample}/{regime}".encode())])
    G_N = 5 * G0_S / (1 + tr.Z**2)
    G = G_N * (g + NOISE * rng.standard_normal(V.size))
    name = f"{sample}/{regime}/t={t:.2f}/seed={seed}"
    return SpectrumInput(V, G, "S", name, T_K=tr.T_K, Vmod_rms_V=VMOD_V), tr


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    error: float | None
    truth: float

    @property
    def n_sigma(self) -> float:
        if self.error is None or not self.error > 0:
            return float("inf")
        return abs(self.value - self.truth) / self.error


def checks(r: SpectrumResult, tr: Truth) -> list[Check]:
    """Every reported value next to its truth."""
    out = []
    if r.E_g_eV is not None:
        out.append(Check("E_g", r.E_g_eV, r.E_g_err_eV, tr.E_g_eV))
    if r.gamma_eV is not None:
        out.append(Check("Gamma", r.gamma_eV, r.gamma_err_eV, tr.gamma_eV))
    if r.Z is not None:
        out.append(Check("Z", r.Z, r.Z_err, tr.Z))
    dc_truth = tr.delta_c_eV if not tr.plain_btk else tr.E_g_eV
    if r.delta_c_eV is not None:
        out.append(Check("Delta_c", r.delta_c_eV, r.delta_c_err_eV, dc_truth))
    if r.delta_c_fit_eV is not None:
        out.append(Check("Delta_c(fit)", r.delta_c_fit_eV, r.delta_c_fit_err_eV, dc_truth))
    if r.gamma_c_eV is not None:
        out.append(Check("Gamma_c", r.gamma_c_eV, r.gamma_c_err_eV, tr.gamma_c_eV))
    return out


def misses(r: SpectrumResult, tr: Truth) -> list[Check]:
    """Reported values more than 3 sigma from the truth."""
    return [c for c in checks(r, tr) if c.n_sigma > 3.0]


def silent_misses(r: SpectrumResult, tr: Truth) -> list[Check]:
    """Misses of a fit graded good: what must never happen."""
    return misses(r, tr) if r.quality == "good" else []


def all_cases(seeds: range) -> list[tuple[str, str, float, int]]:
    return [(s, reg, t, seed) for s in ("InO-2", "InO-4") for reg in BARRIERS
            for t in T_OVER_TC for seed in seeds]
