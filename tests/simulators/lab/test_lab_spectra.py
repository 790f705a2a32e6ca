"""Model spectra through the lab: Fig. 1 physics, cache behaviour, tables against physics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stm_andreev.physics import G0_S, current_A
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.lab.spectra import (
    BIAS_GRID_V,
    BarrierKey,
    BarrierTable,
    Spectrum,
    SpectrumKey,
)

from .conftest import settle

V = np.arange(-1.5e-3, 1.5e-3 + 1e-9, 2e-6)


def spectrum_at(lab, clock, setpoint_A: float, V_sp: float = -3e-3) -> np.ndarray:
    lab.lockin.amplitude_Vrms = 0.01  # 10 uV rms at the junction
    settle(lab, clock, setpoint_A, V_sp=V_sp)
    lab.feedback_on = False
    return lab.true_dIdV_S(V) / G0_S


def local_maxima(x: np.ndarray, y: np.ndarray, floor: float) -> np.ndarray:
    i = np.flatnonzero((y[1:-1] > y[:-2]) & (y[1:-1] > y[2:]) & (y[1:-1] > floor)) + 1
    return x[i]


def test_contact_spectrum_shows_andreev_peaks_at_delta_c(lab, clock) -> None:
    # the paper-inO2 temperature series' contact: 4.3 uA at -1.5 mV, Z ~ 1.45
    G = spectrum_at(lab, clock, 4.3e-6, V_sp=-1.5e-3)
    dc = lab.junction_state()["Dc_eV"]
    d2 = -np.gradient(np.gradient(G, V), V)
    window = np.abs(V) < 400e-6
    inner = local_maxima(V[window], d2[window], 0.5 * d2[window].max())
    assert len(inner) == 2 and inner[0] == pytest.approx(-inner[1])
    # Maxima of -d2G/dV2 sit at Delta_c up to the broadening/thermal/modulation pull (~10 ueV).
    assert abs(inner[1] - dc) < 20e-6
    # In contact the gap fills: zero-bias conductance is a good fraction of the normal one
    # (0.28 at Z ~ 1.45, about half at Z ~ 1; a tunnelling spectrum has ~6 %).
    assert G[np.argmin(np.abs(V))] > 0.2 * G[-1]


def test_tunnelling_spectrum_shows_only_E_g(lab, clock) -> None:
    G = spectrum_at(lab, clock, 1e-9)
    eg = lab.junction_state()["Eg_eV"]
    peaks = local_maxima(V, G, 0.0)
    assert len(peaks) == 2
    assert np.all(np.abs(np.abs(peaks) - eg) < 60e-6)  # coherence peaks just outside E_g
    assert G[np.argmin(np.abs(V))] < 0.1 * G[-1]  # a hard gap, no in-gap Andreev peak
    inner = np.abs(V) < 300e-6
    assert np.ptp(G[inner]) < 0.05 * G[-1]


def test_andreev_peaks_position_independent_of_transparency(lab, clock) -> None:
    positions = []
    for sp in (3e-7, 1e-6):
        G = spectrum_at(lab, clock, sp)
        d2 = -np.gradient(np.gradient(G, V), V)
        p = local_maxima(V, d2, 0.0)
        positions.append(p[(p > 80e-6) & (p < 250e-6)].max())
    assert positions[0] == pytest.approx(positions[1], abs=15e-6)


def test_andreev_structure_vanishes_above_tc(clock) -> None:
    lab = VirtualLab("InO-2", clock=clock, seed=0)
    lab.fridge.heater_range = 6
    lab.fridge.pid = (60.0, 60.0, 0.0)
    lab.fridge.setpoint_K = 1.3 * lab.sample.Tc_K
    clock.advance(1800)
    js = lab.junction_state()
    assert js["T_K"] == pytest.approx(1.3 * lab.sample.Tc_K, abs=2e-3)
    assert js["Dc_eV"] == 0.0 and js["Eg_eV"] > 300e-6  # the pseudogap survives above Tc


def test_inO4_is_plain_btk(clock) -> None:
    lab = VirtualLab("InO-4", clock=clock, seed=0)
    js = lab.junction_state()
    assert js["Eg_eV"] == pytest.approx(js["Dc_eV"])
    assert js["Eg_eV"] == pytest.approx(670e-6, rel=1e-3)


def test_spectrum_tables_match_physics() -> None:
    key = SpectrumKey.make(0.065, 650e-6, 150e-6, 0.43, 40e-6, 8e-6)
    calls = []
    spec = Spectrum(key, lambda: calls.append(1))
    assert len(calls) == 1
    pts = np.array([-3e-3, -1e-3, -2e-4, 5e-4, 2.9e-3])
    ref = current_A(
        pts, G_N_S=1.0, Eg_eV=650e-6, Dc_eV=150e-6, Z=0.43, gamma_eV=40e-6, T_K=0.065, gamma_c_eV=8e-6
    )
    np.testing.assert_allclose(spec.current_norm_at(pts), ref, rtol=2e-5)
    # Beyond the grid the edge conductance continues the current linearly.
    far = spec.current_norm_at(np.array([0.1]))[0]
    assert far == pytest.approx(spec.current_norm[-1] + spec.g0[-1] * (0.1 - BIAS_GRID_V[-1]))
    spec.g_lockin(20e-6)
    spec.g_lockin(20e-6)
    assert len(calls) == 2


def test_barrier_table_matches_current_A() -> None:
    key = BarrierKey(0.065, 650e-6, 150e-6, 40e-6, 8e-6, -3e-3)
    table = BarrierTable(key, lambda: None)
    for Z in (0.05, 0.3, 0.77, 2.0, 15.0, 400.0):
        ref = current_A(
            np.array([-3e-3]),
            G_N_S=1.0,
            Eg_eV=650e-6,
            Dc_eV=150e-6,
            Z=Z,
            gamma_eV=40e-6,
            T_K=0.065,
            gamma_c_eV=8e-6,
        )[0]
        assert math.exp(table.ln_current_norm(math.log(Z))) == pytest.approx(abs(ref), rel=1e-5)


def test_gapless_state_needs_no_model() -> None:
    calls = []
    spec = Spectrum(SpectrumKey.make(20.0, 0.0, 0.0, 1.0, 1e-4), lambda: calls.append(1))
    assert not calls and np.all(spec.g0 == 1.0)
    assert spec.current_norm_at(np.array([1e-3]))[0] == pytest.approx(1e-3)


def test_cache_counts(lab, clock) -> None:
    settle(lab, clock, 1e-8)
    lab.feedback_on = False
    lab.lockin.amplitude_Vrms = 0.02
    lab.true_dIdV_S(V)
    first = lab.model_evaluations
    lab.true_dIdV_S(V)
    lab.true_dIdV_S(0.0)
    assert lab.model_evaluations == first  # second read at the same state: 0 evaluations
    lab.lockin.amplitude_Vrms = 0.03  # another modulation: one new smeared spectrum
    lab.true_dIdV_S(V)
    assert lab.model_evaluations == first + 1
    lab.lockin.amplitude_Vrms = 0.02
    lab.true_dIdV_S(V)
    assert lab.model_evaluations == first + 1
