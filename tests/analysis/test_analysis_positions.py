"""Fig. 3 points: E_g from the tunnelling spectrum and Delta_c from the contact spectrum taken
at the same tip position."""

import pytest

from stm_andreev.analysis.figures import fig3_delta_c_vs_E_g
from stm_andreev.analysis.inputs import SpectrumInput
from stm_andreev.analysis.pipeline import analyze_spectrum
from stm_andreev.analysis.positions import position_points
from stm_andreev.physics import G0_S

from .simulated import T_BASE_K, UEV, VMOD_V, bias, contact_G_N_S, spectrum

V = bias(201)
POSITIONS = [((-50e-9, 0.0), 250), ((0.0, 0.0), 450), ((50e-9, 20e-9), 650)]


def _pair(x, y, Eg, k):
    tun = spectrum(V, Eg=Eg * UEV, Dc=Eg * UEV, Z=30, gamma=40 * UEV, noise=0.005, seed=k,
                   G_N_S=0.005 * G0_S)
    con = spectrum(V, Eg=Eg * UEV, Dc=145 * UEV, Z=0.8, gamma=40 * UEV, gamma_c=8 * UEV,
                   noise=0.005, seed=k + 10, G_N_S=contact_G_N_S(0.8))
    kw = dict(source="survey.h5", T_K=T_BASE_K, Vmod_rms_V=VMOD_V, tip_x_m=x, tip_y_m=y,
              meta={"run": {"sample": "InO-1"}})
    return [analyze_spectrum(SpectrumInput(V, G, "S", index=2 * k + j, **kw))
            for j, G in enumerate((tun, con))]


@pytest.fixture(scope="module")
def survey():
    analyses = []
    for k, ((x, y), Eg) in enumerate(POSITIONS):
        analyses += _pair(x, y, Eg, k)
    return analyses


def test_one_point_per_position_with_E_g_from_tunnelling(survey):
    points = position_points(survey)
    assert len(points) == 3
    for p, ((x, y), Eg) in zip(points, POSITIONS, strict=True):
        assert (p.tip_x_m, p.tip_y_m) == (x, y)
        assert p.E_g_from == "tunnelling" and p.n_tunnelling == 1 and p.n_contact == 1
        assert p.E_g_eV == pytest.approx(Eg * UEV, rel=0.05)
        assert p.delta_c_eV == pytest.approx(145 * UEV, abs=10 * UEV)
        assert p.sample == "InO-1"
    ax = fig3_delta_c_vs_E_g(survey).axes[0]
    assert len(ax.containers) == 1  # one sample, one error-bar series of 3 points


def test_without_positions_each_contact_spectrum_is_a_point(survey):
    from dataclasses import replace

    no_pos = [replace(a, result=replace(a.result, tip_x_m=None, tip_y_m=None)) for a in survey]
    points = position_points(no_pos)
    assert len(points) == 3 and all(p.E_g_from == "two-gap fit" for p in points)
