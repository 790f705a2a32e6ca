"""Sample presets of the paper (Table S1 and main text) and their temperature laws.

Every number a physicist would tune is a field of :class:`SampleParameters`; the station
file's ``simulation.sample`` section sets them (see docs/physics.md for what each one does
and how the presets were chosen).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .bcs import bcs_gap_ratio

_UEV = 1e-6


@dataclass(frozen=True)
class SampleParameters:
    """A superconducting film as the two-gap model sees it (SI units; energies in eV).

    Temperature laws (t = T/Tc):

    - collective gap Delta_c(T) = Delta_c0 * BCS(T / (delta_c_closing_ratio * Tc)): it closes
      at ``delta_c_closing_ratio`` * Tc, a choice of the user (the paper's zero-bias maximum
      is gone by ~1.05-1.1 Tc), never a fixed fraction at Tc;
    - single-particle gap E_g(T) = E_g0 * BCS(T / (pseudogap_closing_ratio * Tc)): the
      pseudogap, unchanged at Tc and closing only at several Tc. Two-gap samples do not
      subtract Delta_c from E_g above Tc: the paper finds E_g unchanged at Tc.
    - plain-BTK samples (InO-4): one BCS gap, Delta_c = E_g, closing at
      ``delta_c_closing_ratio`` * Tc.

    The junction: ``n_channels`` channels of equal transmission (G_N = N tau G0), the
    quasiparticle channel broadened by ``gamma_eV`` and the Andreev (pair) channel by
    ``gamma_c_eV``; both grow above Tc by ``gamma_growth_above_Tc`` per unit of T/Tc.
    The gap map: E_g(0) over ``Eg_map_range_eV`` (None: uniform), Delta_c0 with an rms
    spread ``delta_c_spread_eV``, both Gaussian random fields of correlation length
    ``gap_correlation_length_m``. R(T): an insulating-like rise (T^-``insulating_exponent``)
    to R_max, then a tanh drop of width ``transition_width_ratio`` * Tc whose linear
    extrapolation reaches R = 0 at Tc.
    """

    name: str
    Tc_K: float
    R_max_ohm_sq: float
    thickness_m: float
    Eg0_eV: float
    Eg_map_range_eV: tuple[float, float] | None
    Delta_c0_eV: float
    gamma_eV: float
    gamma_c_eV: float
    n_channels: int
    plain_btk: bool = False
    delta_c_closing_ratio: float = 1.1
    pseudogap_closing_ratio: float = 4.0
    delta_c_spread_eV: float = 0.0
    gap_correlation_length_m: float = 20e-9
    gamma_growth_above_Tc: float = 2.0  # d(Gamma/Gamma0)/d(T/Tc) above Tc
    transition_width_ratio: float = 0.03  # resistive drop width / Tc
    insulating_exponent: float = 0.2  # R ~ T^-p above the transition
    tip_change_channel_fraction: float = 0.0  # rms relative change of N at a tip change

    def __post_init__(self) -> None:
        for field in ("Tc_K", "R_max_ohm_sq", "thickness_m", "Eg0_eV", "gamma_eV",
                      "gamma_c_eV", "gap_correlation_length_m", "transition_width_ratio"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"sample {self.name}: {field} must be > 0, got {value}")
        for field in ("Delta_c0_eV", "delta_c_spread_eV", "gamma_growth_above_Tc",
                      "insulating_exponent", "tip_change_channel_fraction"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"sample {self.name}: {field} must be >= 0, got {value}")
        if self.Delta_c0_eV > self.Eg0_eV:
            raise ValueError(f"sample {self.name}: Delta_c0 ({self.Delta_c0_eV} eV) cannot "
                             f"exceed E_g0 ({self.Eg0_eV} eV)")
        if int(self.n_channels) != self.n_channels or not 1 <= self.n_channels <= 1000:
            raise ValueError(f"sample {self.name}: n_channels must be an integer in 1..1000, "
                             f"got {self.n_channels}")
        if not self.delta_c_closing_ratio > 0 or not self.pseudogap_closing_ratio > 0:
            raise ValueError(f"sample {self.name}: closing ratios must be > 0")
        if self.Eg_map_range_eV is not None:
            lo, hi = self.Eg_map_range_eV
            if not 0 < lo < hi:
                raise ValueError(f"sample {self.name}: Eg_map_range_eV needs 0 < low < high, "
                                 f"got {self.Eg_map_range_eV}")

    @property
    def Delta_p_eV(self) -> float:
        """Pairing gap at the default position, E_g0 - Delta_c0 (eV), as the paper splits E_g."""
        return max(self.Eg0_eV - self.Delta_c0_eV, 0.0)

    def delta_c_ratio(self, T_K: float) -> float:
        """Delta_c(T) / Delta_c(0): BCS with closing temperature delta_c_closing_ratio * Tc."""
        return float(bcs_gap_ratio(T_K / (self.delta_c_closing_ratio * self.Tc_K)))

    def gap_ratio(self, T_K: float) -> float:
        """E_g(T) / E_g(0): the pseudogap law (plain BTK: the same law as Delta_c)."""
        if self.plain_btk:
            return self.delta_c_ratio(T_K)
        return float(bcs_gap_ratio(T_K / (self.pseudogap_closing_ratio * self.Tc_K)))

    def delta_c_eV(self, T_K: float, Eg0_eV: float | None = None) -> float:
        """Collective (Andreev) gap at temperature T (eV)."""
        if self.plain_btk:
            return self.gap_eV(T_K, Eg0_eV)
        return self.Delta_c0_eV * self.delta_c_ratio(T_K)

    def gap_eV(self, T_K: float, Eg0_eV: float | None = None) -> float:
        """Single-particle gap E_g at temperature T (eV), for a local E_g(0) = Eg0_eV."""
        Eg0 = self.Eg0_eV if Eg0_eV is None else Eg0_eV
        return Eg0 * self.gap_ratio(T_K)

    def gamma_at_eV(self, T_K: float) -> float:
        """Dynes broadening at temperature T (eV): constant below Tc, growing above."""
        excess = max(T_K / self.Tc_K - 1.0, 0.0)
        return float(self.gamma_eV * (1.0 + self.gamma_growth_above_Tc * excess))

    def gamma_c_at_eV(self, T_K: float) -> float:
        """Andreev-channel broadening at temperature T (eV), growing like Gamma above Tc."""
        return float(self.gamma_c_eV * self.gamma_at_eV(T_K) / self.gamma_eV)

    def sheet_resistance_ohm(self, T_K: float | np.ndarray) -> float | np.ndarray:
        """Film sheet resistance R(T) (ohm/sq): insulating-like rise on cooling to R_max, then a
        drop to zero whose linear extrapolation reaches R = 0 exactly at Tc (Fig. S1, Fig. 4)."""
        T = np.asarray(T_K, dtype=float)
        value = self._rise_scale * self._normal_branch(T) * self._superconducting_factor(T)
        return value if value.ndim else float(value)

    def _normal_branch(self, T: np.ndarray) -> np.ndarray:
        return (2.0 * self.Tc_K / np.maximum(T, 1e-6)) ** self.insulating_exponent

    def _superconducting_factor(self, T: np.ndarray) -> np.ndarray:
        # 0.5 (1 + tanh((T - Tm)/w)) has its tangent at Tm reaching 0 at Tm - w, so Tm = Tc + w
        # puts the linear extrapolation of the drop at Tc.
        w = self.transition_width_ratio * self.Tc_K
        return 0.5 * (1.0 + np.tanh((T - (self.Tc_K + w)) / w))

    @cached_property
    def _rise_scale(self) -> float:
        T = np.linspace(self.Tc_K, 5 * self.Tc_K, 4001)
        peak = np.max(self._normal_branch(T) * self._superconducting_factor(T))
        return self.R_max_ohm_sq / peak


# The three films near the superconductor-insulator transition share the junction and the
# map: E_g(0) uniform over 200-650 ueV (Fig. 3), Delta_c0 ~ 145-150 ueV and the same at every
# position (Fig. 3: 145 +- 30 ueV, a variability the paper attributes mainly to its
# experimental accuracy, not to the film; docs/physics.md measures what limits the simulated
# measurement's accuracy), a sharp Andreev channel (12 ueV: the -d2G/dV2 pair stays within
# 15 % of Delta_c0 to 0.5 Tc, Fig. 2) over 140 contact channels (in-gap peaks only above
# ~1 G0, Fig. 1), Delta_c closing at 1.15 Tc (zero-bias maximum visible at Tc, gone by
# 1.1 Tc as Gamma grows above Tc, Fig. 2) and the pseudogap closing at 4 Tc. docs/physics.md
# gives the scans behind each number.
_TWO_GAP = dict(
    thickness_m=300e-10,
    Eg_map_range_eV=(200 * _UEV, 650 * _UEV),
    gamma_eV=40 * _UEV,
    gamma_c_eV=12 * _UEV,
    n_channels=140,
    delta_c_closing_ratio=1.15,
    pseudogap_closing_ratio=4.0,
    delta_c_spread_eV=0.0,
)

PRESETS: dict[str, SampleParameters] = {
    s.name: s
    for s in (
        SampleParameters(name="InO-1", Tc_K=1.45, R_max_ohm_sq=5770, Eg0_eV=450 * _UEV,
                         Delta_c0_eV=145 * _UEV, **_TWO_GAP),
        SampleParameters(name="InO-2", Tc_K=1.50, R_max_ohm_sq=5615, Eg0_eV=650 * _UEV,
                         Delta_c0_eV=150 * _UEV, **_TWO_GAP),
        SampleParameters(name="InO-3", Tc_K=1.90, R_max_ohm_sq=3885, Eg0_eV=400 * _UEV,
                         Delta_c0_eV=145 * _UEV, **_TWO_GAP),
        # Conventional dirty BCS film (Figs. S4, S5): one gap, E_g / k_B Tc = 2.4, closing just
        # above Tc (thermal-fluctuation range), plain BTK at every transparency.
        SampleParameters(name="InO-4", Tc_K=3.20, R_max_ohm_sq=400, thickness_m=700e-10,
                         Eg0_eV=670 * _UEV, Eg_map_range_eV=None, Delta_c0_eV=670 * _UEV,
                         gamma_eV=15 * _UEV, gamma_c_eV=15 * _UEV, n_channels=40,
                         plain_btk=True, delta_c_closing_ratio=1.02),
    )
}


def get_sample(name: str) -> SampleParameters:
    """Preset by name (InO-1 .. InO-4)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown sample {name!r}; known presets: {', '.join(PRESETS)}") from None
