"""The -d2G/dV2 window follows the spectrum's smearing (issue 15): a thermally smeared pair
at 0.5-0.6 Tc was lost in the noise of a 5-point derivative although it is many sigma deep
with a window matched to the smearing."""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.analysis.derivative import (
    SMEARING_WINDOW_FRACTION,
    choose_window,
    smearing_width_V,
)
from stm_andreev.analysis.inputs import SpectrumInput
from stm_andreev.analysis.peaks import find_andreev_peaks
from stm_andreev.analysis.pipeline import analyze_spectrum
from stm_andreev.physics import conductance, get_sample

UEV = 1e-6
V = np.linspace(-1.5e-3, 1.5e-3, 301)


def test_smearing_width_combines_thermal_and_lockin_widths():
    kT = 8.617333262e-5 * 0.75
    assert smearing_width_V(0.75, 0.0) == pytest.approx(3.5255 * kT)
    assert smearing_width_V(0.0, 20e-6) == pytest.approx(np.sqrt(6) * 20e-6)
    assert smearing_width_V(0.75, 20e-6) == pytest.approx(np.hypot(3.5255 * kT, 49e-6), rel=1e-3)


def test_window_unchanged_at_base_and_matched_to_the_smearing_when_warm():
    step = 10e-6
    base = choose_window(step, 1e-4)
    assert choose_window(step, 1e-4, smearing_width_V(0.065, 20e-6)) == base == 5
    warm = choose_window(step, 1e-4, smearing_width_V(0.9, 20e-6))
    assert (warm - 1) * step >= SMEARING_WINDOW_FRACTION * smearing_width_V(0.9, 20e-6) - step
    assert warm % 2 == 1 and warm > base


def _contact_spectrum(T_K: float, seed: int) -> np.ndarray:
    """The default plan's Fig. 2 contact (Z 1.45, InO-2 preset) with the dry run's noise."""
    s = get_sample("InO-2")
    G = np.asarray(conductance(V, Eg_eV=s.gap_eV(T_K), Dc_eV=s.delta_c_eV(T_K), Z=1.45,
                               gamma_eV=s.gamma_at_eV(T_K), T_K=T_K, Vmod_rms_V=20e-6,
                               gamma_c_eV=s.gamma_c_at_eV(T_K)))
    return G * (1 + 3.5e-4 * np.random.default_rng(seed).standard_normal(V.size))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_at_0_6_tc_found_with_the_matched_window_only(seed):
    T = 0.6 * 1.5
    g = _contact_spectrum(T, seed)
    assert not find_andreev_peaks(V, g, E_g_eV=650 * UEV).found  # the 5-point window
    found = find_andreev_peaks(V, g, E_g_eV=650 * UEV,
                               smearing_fwhm_V=smearing_width_V(T, 20e-6))
    assert found.found and 100 * UEV < found.delta_c_eV < 135 * UEV


def test_pipeline_reports_delta_c_at_0_6_tc():
    T = 0.6 * 1.5
    g = _contact_spectrum(T, 5)
    r = analyze_spectrum(SpectrumInput(V, g * 45.0, G_unit="G0", source="t", T_K=T,
                                       Vmod_rms_V=20e-6)).result
    truth = get_sample("InO-2").delta_c_eV(T)
    assert r.quality == "good" and r.delta_c_eV is not None
    assert abs(r.delta_c_eV - truth) <= 3 * r.delta_c_err_eV + 2 * UEV
    assert r.delta_c_peak_eV < truth  # the raw pair is pulled in; the fit corrects it
