"""BTK / Dynes / two-gap model against known limits and worked numbers (docs/physics.md)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stm_andreev.physics import btk_coefficients, dynes_dos, two_gap_sigma
from stm_andreev.physics.reference import sigma_scalar

UEV = 1e-6
GAP = 650 * UEV


def plain_btk(E, gap, Z, gamma=0.0):
    A, B = btk_coefficients(E, gap, Z, gamma)
    return (1 + Z**2) * (1 + A - B)


@pytest.mark.parametrize("Z", [0.0, 0.3, 0.5, 1.0, 2.0, 5.0])
def test_zero_bias_conductance_btk_limit(Z):
    expected = 2 * (1 + Z**2) / (1 + 2 * Z**2) ** 2
    assert plain_btk(0.0, GAP, Z) == pytest.approx(expected, rel=1e-12)
    assert two_gap_sigma(0.0, GAP, GAP, Z) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("Z", [0.0, 0.7, 3.0])
def test_andreev_probability_is_one_at_the_gap_edge(Z):
    A, B = btk_coefficients(GAP, GAP, Z)
    assert A == pytest.approx(1.0, abs=1e-12)
    assert B == pytest.approx(0.0, abs=1e-12)


def test_inside_a_hard_gap_andreev_plus_normal_is_one():
    E = np.linspace(-0.99, 0.99, 51) * GAP
    A, B = btk_coefficients(E, GAP, 0.8)
    np.testing.assert_allclose(A + B, 1.0, atol=1e-12)


def test_large_barrier_tends_to_dynes_dos():
    E = np.linspace(-2e-3, 2e-3, 801)
    gamma = 40 * UEV
    np.testing.assert_allclose(plain_btk(E, GAP, 300.0, gamma), dynes_dos(E, GAP, gamma), atol=2e-4)
    # The two-gap model in tunnelling sees E_g only, whatever Delta_c.
    np.testing.assert_allclose(
        two_gap_sigma(E, GAP, 150 * UEV, 300.0, gamma), dynes_dos(E, GAP, gamma), atol=2e-4
    )


@pytest.mark.parametrize("gap_ueV,gamma_ueV", [(650, 40), (200, 10), (150, 150)])
def test_dynes_zero_energy_value(gap_ueV, gamma_ueV):
    gap, gamma = gap_ueV * UEV, gamma_ueV * UEV
    assert dynes_dos(0.0, gap, gamma) == pytest.approx(gamma / np.hypot(gamma, gap), rel=1e-12)


def test_dynes_worked_numbers_and_retarded_branch():
    E = np.linspace(-3e-3, 3e-3, 6001)
    N = dynes_dos(E, GAP, 40 * UEV)
    np.testing.assert_allclose(N, N[::-1], rtol=1e-12)  # even: the principal sqrt would fail
    assert np.all(N >= 0)
    assert dynes_dos(10.0, GAP, 40 * UEV) == pytest.approx(1.0, abs=1e-8)


@settings(max_examples=200, deadline=None)
@given(
    E=st.floats(-5e-3, 5e-3),
    gap=st.floats(1e-6, 1e-3),
    Z=st.floats(0.0, 10.0),
    gamma=st.floats(0.0, 2e-4),
)
def test_probabilities_are_conserved_and_even(E, gap, Z, gamma):
    A, B = btk_coefficients(E, gap, Z, gamma)
    Am, Bm = btk_coefficients(-E, gap, Z, gamma)
    assert 0 <= A <= 1 + 1e-12 and 0 <= B <= 1 + 1e-12
    assert A + B <= 1 + 1e-9
    assert (A, B) == (Am, Bm)


@settings(max_examples=200, deadline=None)
@given(
    E=st.floats(-3e-3, 3e-3),
    Eg=st.floats(100e-6, 800e-6),
    frac=st.floats(0.0, 1.0),
    Z=st.floats(0.0, 5.0),
    gamma=st.floats(1e-6, 1e-4),
)
def test_two_gap_model_properties(E, Eg, frac, Z, gamma):
    Dc = frac * Eg
    s = two_gap_sigma(E, Eg, Dc, Z, gamma)
    assert s >= 0
    assert s == pytest.approx(float(two_gap_sigma(-E, Eg, Dc, Z, gamma)), rel=1e-12)
    # Independent scalar implementation of the same formula.
    assert s == pytest.approx(sigma_scalar(E, Eg, Dc, Z, gamma), rel=1e-9, abs=1e-12)
    # Implied normal reflection 1 - A_c - T_qp stays >= 0 with one shared Gamma.
    A_c, _ = btk_coefficients(E, Dc, Z, gamma)
    A_g, B_g = btk_coefficients(E, Eg, Z, gamma)
    assert 1 - A_c - (1 - A_g - B_g) >= -1e-9


def test_two_gap_equals_plain_btk_when_gaps_coincide():
    E = np.linspace(-2e-3, 2e-3, 2001)
    for Z in (0.0, 0.4, 1.5):
        np.testing.assert_allclose(
            two_gap_sigma(E, GAP, GAP, Z, 30 * UEV), plain_btk(E, GAP, Z, 30 * UEV), atol=1e-9
        )


def test_andreev_peaks_grow_with_transparency_and_vanish_without_collective_gap():
    E = np.array([150 * UEV, 0.0])
    gamma, gamma_c = 40 * UEV, 8 * UEV  # the presets' broadenings
    contact = two_gap_sigma(E, GAP, 150 * UEV, 0.4, gamma, gamma_c)
    tunnel = two_gap_sigma(E, GAP, 150 * UEV, 10.0, gamma, gamma_c)
    assert contact[0] > contact[1] and contact[0] > 1.0  # peak at +Delta_c in contact
    assert tunnel[0] < 0.2  # the tunnelling gap hides Delta_c
    # Delta_c = 0: no Andreev channel at all, only the (pseudo)gap E_g is left.
    s0 = two_gap_sigma(np.linspace(-1e-3, 1e-3, 201), GAP, 0.0, 0.4, gamma, gamma_c)
    inner = s0[80:121]  # |E| < 200 ueV
    interior_maxima = (inner[1:-1] > inner[:-2]) & (inner[1:-1] > inner[2:])
    assert not interior_maxima.any()  # no in-gap peak pair
    assert np.max(inner) < np.max(contact)


@pytest.mark.parametrize("Z", [0.2, 0.3, 0.5, 1.0, 3.0])
def test_preset_andreev_broadening_keeps_normal_reflection_positive(Z):
    # Over the paper's range of barriers (Z >= 0.2); at Z = 0.1 it dips to about -0.02.
    from stm_andreev.physics import PRESETS

    E = np.linspace(-2e-3, 2e-3, 4001)
    for s in PRESETS.values():
        A_c, _ = btk_coefficients(E, s.Delta_c0_eV, Z, s.gamma_c_at_eV(0.05))
        A_g, B_g = btk_coefficients(E, s.Eg0_eV, Z, s.gamma_eV)
        assert np.min(A_g + B_g - A_c) >= 0
