"""BCS gap ratio, junction helpers, DC current and sample presets."""

import dataclasses

import numpy as np
import pytest

from stm_andreev.physics import (
    G0_S,
    K_B_EV_PER_K,
    PRESETS,
    barrier_from_transmission,
    bcs_gap_ratio,
    conductance,
    current_A,
    get_sample,
    height_from_transmission,
    normal_conductance_S,
    solve_gap_ratio,
    transmission_from_barrier,
    transmission_from_conductance,
    transmission_from_height,
)

UEV = 1e-6


@pytest.mark.parametrize("t,expected", [(0.5, 0.9569), (0.9, 0.5263), (0.95, 0.3803)])
def test_bcs_reference_points(t, expected):
    assert bcs_gap_ratio(t) == pytest.approx(expected, abs=1e-4)


def test_bcs_table_within_1e4_of_exact_solution():
    t = np.random.default_rng(0).uniform(0.0, 1.0, 200)
    np.testing.assert_allclose(bcs_gap_ratio(t), solve_gap_ratio(t), atol=1e-4)
    assert bcs_gap_ratio(0.0) == 1.0 and bcs_gap_ratio(1.0) == 0.0 and bcs_gap_ratio(2.0) == 0.0
    # Close to Tc, Delta ~ 1.74 sqrt(1 - t) (Ginzburg-Landau).
    assert bcs_gap_ratio(0.999) == pytest.approx(1.74 * np.sqrt(0.001), rel=0.01)


def test_interpolation_formula_is_within_two_percent():
    t = np.linspace(0.05, 0.999, 300)
    np.testing.assert_allclose(bcs_gap_ratio(t), np.tanh(1.74 * np.sqrt(1 / t - 1)), atol=0.02)


def test_setpoint_worked_numbers():
    assert 1e-9 / 3e-3 / G0_S == pytest.approx(0.00430, abs=1e-5)
    assert 1e-6 / 3e-3 / G0_S == pytest.approx(4.302, abs=1e-3)
    assert 1 / G0_S == pytest.approx(12906.4, abs=0.1)


def test_transmission_height_barrier_roundtrip():
    z = np.linspace(-3e-10, 8e-10, 12)
    tau = transmission_from_height(z, z0_m=0.0)
    np.testing.assert_allclose(height_from_transmission(tau, 0.0), z, atol=1e-18)
    Z = barrier_from_transmission(tau)
    np.testing.assert_allclose(Z, np.exp(1e10 * z), rtol=1e-10)
    np.testing.assert_allclose(transmission_from_barrier(Z), tau, rtol=1e-12)
    # One decade of conductance per ~1.15 A in tunnelling with kappa = 1/A.
    ratio = transmission_from_height(5e-10, 0.0) / transmission_from_height(6.15e-10, 0.0)
    assert ratio == pytest.approx(10, rel=0.01)
    assert normal_conductance_S(0.5, 5) == pytest.approx(2.5 * G0_S)
    assert transmission_from_conductance(2.5 * G0_S, 5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="tau"):
        transmission_from_conductance(6 * G0_S, 5)


def test_current_integrates_the_conductance():
    p = dict(Eg_eV=650 * UEV, Dc_eV=150 * UEV, gamma_eV=40 * UEV, T_K=0.065)
    G_N = 1e-6
    V = np.linspace(-3e-3, 3e-3, 13)
    for Z in (5.0, 0.4):
        I = current_A(V, G_N_S=G_N, Z=Z, **p)
        np.testing.assert_allclose(I, -I[::-1], atol=1e-18)  # odd in V
        # dI/dV equals the thermally smeared conductance.
        h = 1e-6
        dIdV = (
            current_A(1e-3 + h, G_N_S=G_N, Z=Z, **p) - current_A(1e-3 - h, G_N_S=G_N, Z=Z, **p)
        ) / (2 * h)
        assert dIdV / G_N == pytest.approx(float(conductance(1e-3, Z=Z, **p)), rel=2e-3)
    # Tunnelling: gap deficit makes I_sp/V_sp smaller than G_N by a few percent at 3 mV ...
    tunnel = float(current_A(-3e-3, G_N_S=G_N, Z=5.0, **p)) / -3e-3
    assert 0.80 < tunnel / G_N < 0.99
    # ... plain-BTK contact: the Andreev excess current makes it larger.
    btk = dict(p, Dc_eV=650 * UEV)
    contact = float(current_A(-3e-3, G_N_S=G_N, Z=0.3, **btk)) / -3e-3
    assert contact / G_N > 1.01
    # Two-gap contact: Andreev reflection only inside Delta_c cannot fill the E_g deficit.
    two_gap = float(current_A(-3e-3, G_N_S=G_N, Z=0.3, **p)) / -3e-3
    assert abs(two_gap / G_N - 1) > 0.01


def test_presets_follow_the_paper():
    assert set(PRESETS) == {"InO-1", "InO-2", "InO-3", "InO-4"}
    ino2 = get_sample("InO-2")
    assert ino2.Tc_K == 1.5 and ino2.Eg0_eV == pytest.approx(650 * UEV)
    assert ino2.Delta_c0_eV == pytest.approx(150 * UEV)
    assert ino2.Eg_map_range_eV == pytest.approx((200 * UEV, 650 * UEV))
    with pytest.raises(KeyError, match="InO-1"):
        get_sample("InO-9")
    # Andreev gap closes at the sample's closing temperature (1.15 Tc), the single-particle gap
    # survives as the pseudogap.
    assert ino2.delta_c_eV(0.065) == pytest.approx(150 * UEV, rel=1e-3)
    assert 0 < ino2.delta_c_eV(1.5) < 0.65 * 150 * UEV
    assert ino2.delta_c_eV(1.15 * 1.5) == 0.0
    assert ino2.gamma_at_eV(2.0) > ino2.gamma_at_eV(1.0)
    ino4 = get_sample("InO-4")
    assert ino4.plain_btk and ino4.delta_c_eV(0.05) == ino4.gap_eV(0.05)
    assert ino4.gap_eV(3.3) == 0.0


def test_eg_is_a_pseudogap_unchanged_at_tc():
    """Issue 15 (3): E_g(T) = Delta_p(T) + Delta_c(T) fell from 650 to 555 ueV at Tc."""
    for name in ("InO-1", "InO-2", "InO-3"):
        s = get_sample(name)
        assert s.gap_eV(s.Tc_K) == pytest.approx(s.gap_eV(0.065), rel=1e-3)
        assert s.gap_eV(1.05 * s.Tc_K) == pytest.approx(s.Eg0_eV, rel=2e-3)
        assert s.gap_eV(s.Tc_K, 200 * UEV) == pytest.approx(200 * UEV, rel=1e-3)
        # ... and vanishes only at several Tc.
        assert s.gap_eV(s.pseudogap_closing_ratio * s.Tc_K) == 0.0
        assert s.gap_eV(2 * s.Tc_K) > 0.9 * s.Eg0_eV


def test_delta_c_closing_is_the_users_choice():
    """Issue 15 (4): Delta_c(Tc) was fixed at 0.37 Delta_c0 (closing at 1.05 Tc) by construction."""
    base = get_sample("InO-2")
    for ratio in (1.0, 1.1, 1.3):
        s = dataclasses.replace(base, delta_c_closing_ratio=ratio)
        assert s.delta_c_eV(0.999 * ratio * s.Tc_K) > 0.0
        assert s.delta_c_eV(ratio * s.Tc_K) == 0.0
        assert s.delta_c_eV(s.Tc_K / 2) == pytest.approx(
            150 * UEV * bcs_gap_ratio(0.5 / ratio), rel=1e-9)


def test_inO4_gap_ratio_and_closing_follow_fig_s4():
    s = get_sample("InO-4")
    assert s.Eg0_eV / (K_B_EV_PER_K * s.Tc_K) == pytest.approx(2.4, abs=0.05)
    assert s.gap_eV(s.Tc_K) > 0.0 and s.gap_eV(1.05 * s.Tc_K) == 0.0


def test_presets_carry_the_paper_junction_and_map():
    for name in ("InO-1", "InO-2", "InO-3"):
        s = get_sample(name)
        assert s.n_channels >= 13  # 1 kOhm = 12.9 G0 needs >= 13 open channels (Methods)
        assert s.Eg_map_range_eV == pytest.approx((200 * UEV, 650 * UEV))
        assert 140 * UEV <= s.Delta_c0_eV <= 150 * UEV
        # Delta_c is the film's and the same at every position: the paper's +-30 ueV "stems
        # mainly from the experimental accuracy" (issue 17; docs/physics.md).
        assert s.delta_c_spread_eV == 0.0
    tc_rmax = {n: (get_sample(n).Tc_K, get_sample(n).R_max_ohm_sq) for n in PRESETS}
    assert tc_rmax == {"InO-1": (1.45, 5770), "InO-2": (1.5, 5615), "InO-3": (1.9, 3885),
                       "InO-4": (3.2, 400)}


@pytest.mark.parametrize("name", list(PRESETS))
def test_sheet_resistance_profile(name):
    s = get_sample(name)
    T = np.linspace(0.5 * s.Tc_K, 6 * s.Tc_K, 20001)
    R = s.sheet_resistance_ohm(T)
    assert R.max() == pytest.approx(s.R_max_ohm_sq, rel=1e-3)
    assert s.sheet_resistance_ohm(0.9 * s.Tc_K) < 1e-3 * s.R_max_ohm_sq
    assert s.sheet_resistance_ohm(300.0) < s.R_max_ohm_sq  # rises on cooling
    # Linear extrapolation of the steepest part of the drop reaches R = 0 at Tc.
    slope = np.gradient(R, T)
    i = np.argmax(slope)
    T0 = T[i] - R[i] / slope[i]
    assert T0 == pytest.approx(s.Tc_K, rel=0.01)
