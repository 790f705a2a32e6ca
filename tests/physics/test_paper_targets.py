"""The presets against the paper's measured behaviour (issue 15), with the metrics of
tools/paper_targets.py on the physics core: the numbers docs/physics.md quotes."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from stm_andreev.physics import G0_S, get_sample

_SPEC = importlib.util.spec_from_file_location(
    "paper_targets", Path(__file__).parents[2] / "tools" / "paper_targets.py")
pt = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("paper_targets", pt)  # dataclasses look their module up
_SPEC.loader.exec_module(pt)

UEV = 1e-6


def _contact(sample, G_N_G0: float):
    tau = G_N_G0 / sample.n_channels
    return pt.Contact(G_N_G0 * G0_S, math.sqrt(1 / tau - 1))


def _in_gap_percent(sample, G_N_G0: float, T_K: float = pt.T_BASE) -> float:
    c = _contact(sample, G_N_G0)
    G, Eg, _ = pt.model_spectrum(sample, sample.Eg0_eV, sample.Delta_c0_eV, T_K, c)
    return pt.in_gap_peak_percent(pt.V, G, c.G_N_S, Eg)


def test_envelope_metric_sees_a_bump_and_ignores_a_convex_background():
    x = np.linspace(-1, 1, 201)
    assert np.max(x**2 - pt.lower_envelope(x, x**2)) == pytest.approx(0.0, abs=1e-12)
    bump = x**2 + 0.05 * np.exp(-((x - 0.3) / 0.05) ** 2)
    # measured above the chord that bridges the bump: a little less than its 0.05 amplitude
    assert 0.035 < np.max(bump - pt.lower_envelope(x, bump)) <= 0.05


def test_in_gap_peaks_emerge_only_above_one_conductance_quantum():
    """Issue 15 (1): 6 channels and Gamma_A = 8 ueV gave 15 % of G_N at 0.42 G0."""
    s = get_sample("InO-2")
    assert _in_gap_percent(s, 0.49) < 0.5
    assert _in_gap_percent(s, 2.0) >= 2.0


def _series_contact(s):
    return pt.contact_for_setpoint(pt.T_SERIES_SETPOINT_A, s, s.Eg0_eV, s.Delta_c0_eV,
                                   pt.T_BASE, pt.T_SERIES_V_SP)


def test_temperature_series_contact_keeps_a_zero_bias_maximum_only_up_to_tc():
    s = get_sample("InO-2")
    c = _series_contact(s)  # the default plan's Fig. 2 contact
    assert 1.3 < c.Z < 1.6 and 35 < c.G_N_S / G0_S < 55
    heights = {}
    for t in (1.0, 1.1):
        G, _, _ = pt.model_spectrum(s, s.Eg0_eV, s.Delta_c0_eV, t * s.Tc_K, c)
        heights[t] = pt.in_gap_peak_percent(pt.V, G, c.G_N_S, s.Eg0_eV)
    assert heights[1.0] > 0.3 and heights[1.1] < 0.1


def test_pair_stays_near_delta_c_to_half_tc_and_resolved_to_0_6_tc():
    """Issue 15 (2): at the old contact (Z 0.9, Gamma_A 40 ueV) the -d2G/dV2 pair sat at
    100 ueV (-33 %) at 0.5 Tc and the analysis lost it above 0.27 Tc."""
    s = get_sample("InO-2")
    c = _series_contact(s)
    pos = {}
    for t in (0.5, 0.6):
        G, _, _ = pt.model_spectrum(s, s.Eg0_eV, s.Delta_c0_eV, t * s.Tc_K, c)
        pos[t] = pt.pair_position(pt.V, G, s.Eg0_eV, t * s.Tc_K)
    assert pos[0.5] is not None and abs(pos[0.5] / s.Delta_c0_eV - 1) < 0.15
    assert pos[0.6] is not None


def test_the_tool_counts_a_pair_only_where_the_analysis_does():
    """The tool said 'resolved to 0.6 Tc' where the report said 0.33 Tc: its criterion (a
    -d2G/dV2 maximum above the value at V = 0) accepted a dip 0.2 sigma deep in the derivative's
    noise. It now uses the analysis's detector, with the analysis's window."""
    from stm_andreev.analysis.inputs import SpectrumInput
    from stm_andreev.analysis.pipeline import analyze_spectrum

    s = get_sample("InO-2")
    old = dataclasses.replace(s, gamma_c_eV=40 * UEV, delta_c_closing_ratio=1.1)
    c = pt.Contact(22 * G0_S, 0.91)  # the old default contact, at 0.6 Tc, dry-run noise
    T = 0.6 * s.Tc_K
    G, _, _ = pt.model_spectrum(old, s.Eg0_eV, s.Delta_c0_eV, T, c)
    noisy = G * (1 + 3.5e-4 * np.random.default_rng(3).standard_normal(G.size))
    seen_by_tool = pt.pair_position(pt.V, noisy, s.Eg0_eV, T) is not None
    result = analyze_spectrum(SpectrumInput(pt.V, noisy / G0_S, source="t", G_unit="G0",
                                            T_K=T, Vmod_rms_V=pt.VMOD)).result
    assert seen_by_tool == (result.delta_c_eV is not None) == False  # noqa: E712


def test_resolved_up_to_stops_at_the_first_gap():
    assert pt.resolved_up_to([0.1, 0.3, 0.5, 0.7], [True, True, False, True]) == 0.3
    assert pt.resolved_up_to([0.1, 0.5, 1.0], [True, True, True]) == 0.5
    assert pt.resolved_up_to([0.1, 0.5], [False, True]) == 0.0


@pytest.mark.parametrize("G_N_G0", [0.01, 0.5, 2.0, 10.0])
def test_inO4_has_no_in_gap_peak(G_N_G0):
    assert _in_gap_percent(get_sample("InO-4"), G_N_G0) < 0.1


def test_survey_delta_c_scatters_within_its_error_bars():
    """Fig. 3 / issue 17: over positions of InO-1..3 E_g spans the map while the reported
    Delta_c (the analysis's, with its 1 sigma and grade) scatters no more than its error bars
    say: the paper's +-30 ueV "stems mainly from the experimental accuracy". The old presets
    put a 25 ueV rms field into the film: a 20+ ueV scatter against ~2 ueV error bars."""
    points = pt.survey(seeds=(1,), xy=pt.SURVEY_XY[::4])
    egs = [p.Eg_true for p in points]
    assert max(egs) - min(egs) > 150 * UEV
    rep = [p for p in points if p.Dc is not None and p.Dc_err is not None]
    assert len(rep) >= 0.8 * len(points)
    assert all(p.grade != "failed" for p in rep)
    sc = pt.Scatter.of([p.Dc for p in rep], [p.Dc_err for p in rep])
    assert abs(sc.mean - 145 * UEV) <= 10 * UEV
    assert sc.ratio <= 1.2
    for p in rep:  # each point is its film's Delta_c within 3 sigma
        assert abs(p.Dc - p.Dc_true) <= 3 * p.Dc_err


def test_scatter_statistic():
    sc = pt.Scatter.of([1.0, 3.0, np.nan], [1.0, 1.0, 1.0])
    assert sc.n == 2 and sc.mean == 2.0 and sc.std == 1.0 and sc.median_sigma == 1.0
    assert sc.chi2_dof == pytest.approx(2.0) and sc.ratio == 1.0
