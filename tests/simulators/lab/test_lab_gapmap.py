"""Spatial gap map: range, seeding, the pinned default position, temperature laws."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from stm_andreev.physics import get_sample
from stm_andreev.simulators.lab.gapmap import GapMap

UEV = 1e-6
GRID = np.linspace(-400e-9, 400e-9, 41)


def _eg_map(m: GapMap) -> np.ndarray:
    return np.array([[m.gaps_at(x, y).Eg0_eV for x in GRID] for y in GRID])


@pytest.mark.parametrize("name", ["InO-1", "InO-2", "InO-3"])
def test_two_gap_samples_spread_over_200_to_650_ueV(name: str) -> None:
    eg = _eg_map(GapMap(get_sample(name), seed=3))
    assert eg.min() >= 200 * UEV - 1e-12 and eg.max() <= 650 * UEV + 1e-12
    # The landscape actually uses the range (Fig. 3: a factor of three and more).
    assert eg.min() < 280 * UEV and eg.max() > 570 * UEV


def test_inO2_default_position_shows_650_ueV_like_fig_s2() -> None:
    for seed in (0, 1, 7):
        g = GapMap(get_sample("InO-2"), seed=seed).gaps_at(0.0, 0.0)
        assert g.Eg0_eV == pytest.approx(650 * UEV, abs=1e-12)
        assert g.Delta_c0_eV == pytest.approx(150 * UEV, abs=1e-12)


@pytest.mark.parametrize("name", ["InO-1", "InO-2", "InO-3"])
def test_presets_delta_c_is_the_same_at_every_position(name: str) -> None:
    """Fig. 3: E_g varies by a factor of three while Delta_c stays put; the paper puts its
    +-30 ueV on the experimental accuracy. The presets had a 25 ueV rms spatial field, which a
    map then resolved (issue 17)."""
    s = get_sample(name)
    m = GapMap(s, seed=5)
    dc = np.array([m.gaps_at(x, y).Delta_c0_eV for x in GRID[::4] for y in GRID[::4]])
    np.testing.assert_array_equal(dc, s.Delta_c0_eV)


def test_a_delta_c_spread_is_a_field_clipped_and_inside_eg() -> None:
    """A station file may still give the film a true spread (``Delta_c_spread_eV``)."""
    s = dataclasses.replace(get_sample("InO-1"), delta_c_spread_eV=25 * UEV)
    m = GapMap(s, seed=5)
    gaps = [m.gaps_at(x, y) for x in GRID[::4] for y in GRID[::4]]
    dc = np.array([g.Delta_c0_eV for g in gaps])
    # clipped at 2.5 sigma
    assert 145 * UEV - 2.5 * 25 * UEV - 1e-12 <= dc.min()
    assert dc.max() <= 145 * UEV + 2.5 * 25 * UEV + 1e-12
    assert 15 * UEV < dc.std() < 35 * UEV
    assert all(g.Delta_c0_eV < g.Eg0_eV for g in gaps)


def test_same_seed_same_map_other_seed_other_map() -> None:
    s = get_sample("InO-2")
    a, b, c = _eg_map(GapMap(s, seed=11)), _eg_map(GapMap(s, seed=11)), _eg_map(GapMap(s, seed=12))
    np.testing.assert_array_equal(a, b)
    assert np.max(np.abs(a - c)) > 100 * UEV


def test_map_is_spatially_correlated() -> None:
    m = GapMap(get_sample("InO-3"), seed=2)
    near = [abs(m.gaps_at(x, 0).Eg0_eV - m.gaps_at(x + 1e-9, 0).Eg0_eV) for x in GRID]
    far = [abs(m.gaps_at(x, 0).Eg0_eV - m.gaps_at(x + 200e-9, 0).Eg0_eV) for x in GRID]
    assert np.mean(near) < 0.2 * np.mean(far)


def test_inO4_is_uniform_plain_btk() -> None:
    s = get_sample("InO-4")
    m = GapMap(s, seed=9)
    for x in GRID[::10]:
        g = m.gaps_at(x, -x)
        assert g.Eg0_eV == pytest.approx(670 * UEV) and g.Delta_c0_eV == pytest.approx(670 * UEV)
        eg, dc = g.at_temperature(s, 1.0)
        assert eg == dc == pytest.approx(s.gap_eV(1.0))


def test_temperature_dependence_follows_the_sample_laws() -> None:
    s = get_sample("InO-2")
    g = GapMap(s, seed=0).gaps_at(0.0, 0.0)
    eg, dc = g.at_temperature(s, 0.065)
    assert (eg, dc) == pytest.approx((650 * UEV, 150 * UEV), abs=1e-9)
    # Above the pair-fluctuation range of Tc the collective gap is gone, the pseudogap stays.
    eg_hot, dc_hot = g.at_temperature(s, 1.2 * s.Tc_K)
    assert dc_hot == 0.0
    assert eg_hot == pytest.approx(s.gap_eV(1.2 * s.Tc_K))
    assert eg_hot > 300 * UEV
    # A spot with another gap keeps its own pairing gap Delta_p = E_g - Delta_c.
    other = GapMap(s, seed=0).gaps_at(150e-9, 80e-9)
    eg2, dc2 = other.at_temperature(s, 1.2 * s.Tc_K)
    assert dc2 == 0.0
    # E_g of every spot follows the sample's pseudogap law (unchanged at Tc, issue 15).
    assert eg2 == pytest.approx(other.Eg0_eV * s.gap_ratio(1.2 * s.Tc_K), rel=1e-12)
    assert other.at_temperature(s, s.Tc_K)[0] == pytest.approx(other.Eg0_eV, rel=1e-3)
