"""Sample presets of the paper (Table S1 and main text) and their temperature dependence."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .bcs import bcs_gap_ratio

_UEV = 1e-6


@dataclass(frozen=True)
class SampleParameters:
    """A superconducting film as the two-gap model sees it (SI units; energies in eV).

    Two-gap samples: E_g(T) = Delta_p(T) + Delta_c(T), with the collective gap Delta_c(T)
    following BCS and closing at ``pair_fluctuation_ratio * Tc`` (fluctuations keep a weak
    zero-bias maximum just above Tc, as in Fig. 2), and the pairing gap Delta_p closing only at
    ``pseudogap_ratio * Tc``. Plain-BTK samples (InO-4): Delta_c = E_g, one BCS gap.
    """

    name: str
    Tc_K: float
    R_max_ohm_sq: float
    thickness_m: float
    Eg0_eV: float
    Eg_map_range_eV: tuple[float, float] | None
    Delta_c0_eV: float
    Delta_p_eV: float
    gamma_eV: float
    plain_btk: bool = False
    gamma_c_eV: float | None = None  # Andreev-channel broadening; None = gamma_eV
    pair_fluctuation_ratio: float = 1.05
    pseudogap_ratio: float = 4.0
    gamma_growth_above_Tc: float = 2.0  # d(Gamma/Gamma0)/d(T/Tc) above Tc
    transition_width_ratio: float = 0.03  # resistive drop width / Tc

    def __post_init__(self) -> None:
        for field in ("Tc_K", "R_max_ohm_sq", "thickness_m", "Eg0_eV", "gamma_eV"):
            if not getattr(self, field) > 0:
                raise ValueError(f"sample {self.name}: {field} must be > 0")
        if self.Delta_c0_eV < 0 or self.Delta_p_eV < 0:
            raise ValueError(f"sample {self.name}: gaps must be >= 0")

    def delta_c_eV(self, T_K: float, Eg0_eV: float | None = None) -> float:
        """Collective (Andreev) gap at temperature T (eV)."""
        if self.plain_btk:
            return self.gap_eV(T_K, Eg0_eV)
        return float(
            self.Delta_c0_eV * bcs_gap_ratio(T_K / (self.pair_fluctuation_ratio * self.Tc_K))
        )

    def gap_eV(self, T_K: float, Eg0_eV: float | None = None) -> float:
        """Single-particle gap E_g at temperature T (eV), for a local E_g(0) = Eg0_eV."""
        Eg0 = self.Eg0_eV if Eg0_eV is None else Eg0_eV
        if self.plain_btk:
            return float(Eg0 * bcs_gap_ratio(T_K / (self.pair_fluctuation_ratio * self.Tc_K)))
        delta_p0 = max(Eg0 - self.Delta_c0_eV, 0.0)
        delta_p = delta_p0 * bcs_gap_ratio(T_K / (self.pseudogap_ratio * self.Tc_K))
        return float(delta_p + self.delta_c_eV(T_K))

    def gamma_at_eV(self, T_K: float) -> float:
        """Dynes broadening at temperature T (eV): constant below Tc, growing above."""
        excess = max(T_K / self.Tc_K - 1.0, 0.0)
        return float(self.gamma_eV * (1.0 + self.gamma_growth_above_Tc * excess))

    def gamma_c_at_eV(self, T_K: float) -> float:
        """Andreev-channel broadening at temperature T (eV)."""
        if self.gamma_c_eV is None:
            return self.gamma_at_eV(T_K)
        return float(self.gamma_c_eV * self.gamma_at_eV(T_K) / self.gamma_eV)

    def sheet_resistance_ohm(self, T_K: float | np.ndarray) -> float | np.ndarray:
        """Film sheet resistance R(T) (ohm/sq): insulating-like rise on cooling to R_max, then a
        drop to zero whose linear extrapolation reaches R = 0 exactly at Tc (Fig. S1, Fig. 4)."""
        T = np.asarray(T_K, dtype=float)
        value = self._rise_scale * self._normal_branch(T) * self._superconducting_factor(T)
        return value if value.ndim else float(value)

    def _normal_branch(self, T: np.ndarray) -> np.ndarray:
        return (2.0 * self.Tc_K / np.maximum(T, 1e-6)) ** 0.2

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


def _two_gap(
    name, Tc, R_max, d_A, Eg0_ueV, Dc_ueV, gamma_ueV=40.0, gamma_c_ueV=8.0, spread=(200.0, 650.0)
):
    return SampleParameters(
        name=name,
        Tc_K=Tc,
        R_max_ohm_sq=R_max,
        thickness_m=d_A * 1e-10,
        Eg0_eV=Eg0_ueV * _UEV,
        Eg_map_range_eV=(spread[0] * _UEV, spread[1] * _UEV),
        Delta_c0_eV=Dc_ueV * _UEV,
        Delta_p_eV=(Eg0_ueV - Dc_ueV) * _UEV,
        gamma_eV=gamma_ueV * _UEV,
        gamma_c_eV=gamma_c_ueV * _UEV,
    )


PRESETS: dict[str, SampleParameters] = {
    s.name: s
    for s in (
        _two_gap("InO-1", 1.45, 5770, 300, 450.0, 145.0),
        _two_gap("InO-2", 1.50, 5615, 300, 650.0, 150.0),
        _two_gap("InO-3", 1.90, 3885, 300, 400.0, 145.0),
        SampleParameters(
            name="InO-4",
            Tc_K=3.20,
            R_max_ohm_sq=400,
            thickness_m=700e-10,
            Eg0_eV=670 * _UEV,
            Eg_map_range_eV=None,
            Delta_c0_eV=670 * _UEV,
            Delta_p_eV=0.0,
            gamma_eV=15 * _UEV,
            plain_btk=True,
            pair_fluctuation_ratio=1.02,
        ),
    )
}


def get_sample(name: str) -> SampleParameters:
    """Preset by name (InO-1 .. InO-4)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown sample {name!r}; known presets: {', '.join(PRESETS)}") from None
