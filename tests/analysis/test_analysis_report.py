"""Run file -> analysis -> the paper's figures and the Markdown report."""

import json

import matplotlib.image
import numpy as np
import pytest

from stm_andreev.analysis.figures import fig2b_d2G_map, fig3_delta_c_vs_E_g
from stm_andreev.analysis.report import analyze_items, temperature_group, write_report
from stm_andreev.analysis.series import tc_from_resistance, temperature_series
from stm_andreev.analysis.sources import load_spectra
from stm_andreev.physics import PRESETS, get_sample

from .simulated import T_BASE_K, UEV, VMOD_V, write_paper_run


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    path, points = write_paper_run(tmp_path_factory.mktemp("run") / "inO2.h5")
    return path, points, analyze_items([path])


def test_run_file_spectra_carry_temperature_modulation_and_setpoint(analysed):
    path, points, _ = analysed
    specs = load_spectra(path)
    assert [s.T_K for s in specs] == pytest.approx([T for _, T in points])
    assert all(s.Vmod_rms_V == VMOD_V and s.G_unit == "S" for s in specs)
    assert specs[0].meta["run"]["sample"] == "InO-2"


def test_setpoint_series_goes_from_tunnelling_to_andreev_peaks(analysed):
    _, _, analyses = analysed
    base = [a.result for a in analyses if a.result.T_K == T_BASE_K]
    assert [r.regime for r in base] == ["tunnelling", "contact", "contact"]
    assert base[0].E_g_eV == pytest.approx(650 * UEV, rel=0.05)
    assert base[0].delta_c_eV is None
    for r in base[1:]:
        assert r.delta_c_eV == pytest.approx(150 * UEV, abs=10 * UEV)


def test_temperature_series_peaks_vanish_near_Tc(analysed):
    _, _, analyses = analysed
    group = temperature_group(analyses)
    assert len(group) == 4
    series = temperature_series([a.result for a in group], Tc_K=1.5)
    # At this contact (Z = 0.9, 0.4 % noise on 201 points) the derivative's window follows
    # the smearing (issue 15): the pair stands out of the -d2G/dV2 noise at 0.5 K (0.33 Tc),
    # where a 5-point window lost it, and is merged at 1.0 K (0.67 Tc).
    assert series.T_last_peaks_K == pytest.approx(0.5)
    assert series.T_first_without_K == pytest.approx(1.0)
    assert series.T_vanish_over_Tc == pytest.approx(0.75 / 1.5, abs=0.01)
    # The raw -d2G/dV2 pair is pulled in by the broadening and thermal smearing (by ~12-20
    # ueV); the reported Delta_c(T) follows the sample's BCS-like Delta_c(T).
    sample = get_sample("InO-2")
    for T, dc, a in zip(series.T_K[:3], series.delta_c_eV[:3], group[:3], strict=True):
        assert dc == pytest.approx(sample.delta_c_eV(T), abs=10 * UEV)
        assert a.result.delta_c_peak_eV < dc
    assert group[2].result.delta_c_peak_eV < sample.delta_c_eV(0.5) - 10 * UEV


def test_report_files_exist_and_axes_are_labelled_with_units(analysed, tmp_path):
    path, _, analyses = analysed
    report = write_report(analyses, tmp_path / "rep")
    text = report.read_text()
    names = ["fig1_setpoint_series.png", "fig2a_temperature_series.png", "fig2b_d2G_map.png",
             "fig3_delta_c_vs_E_g.png", "figS2_dynes_fit.png"]
    for name in names:
        png = tmp_path / "rep" / name
        assert png.stat().st_size > 5000, name
        assert matplotlib.image.imread(png).shape[2] in (3, 4)
        assert f"]({name})" in text
    assert "Tc: 1.500 K (the InO-2 preset's nominal value (no R(T) measured" in text
    assert "last seen at 0.5 K and gone at 1 K" in text
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["n_spectra"] == 6 and summary["Tc_K"] == 1.5
    assert summary["regimes"] == {"tunnelling": 1, "contact": 5}
    assert summary["delta_c_mean_eV"] == pytest.approx(150e-6, abs=5e-6)
    assert summary["T_vanish_over_Tc"] == pytest.approx(0.75 / 1.5, abs=0.01)
    assert set(names) <= set(summary["figures"])
    fig = fig2b_d2G_map(temperature_group(analyses), 1.5)
    ax, cbar_ax = fig.axes
    assert ax.get_xlabel() == "bias V (mV)" and ax.get_ylabel() == "T / Tc"
    assert "-d²G/dV²" in cbar_ax.get_ylabel()
    ax3 = fig3_delta_c_vs_E_g(analyses).axes[0]
    assert "(µeV)" in ax3.get_xlabel() and "(µeV)" in ax3.get_ylabel()


def test_tc_from_resistance_of_every_preset():
    for name in PRESETS:
        s = get_sample(name)
        T = np.linspace(0.3 * s.Tc_K, 3 * s.Tc_K, 4000)
        assert tc_from_resistance(T, s.sheet_resistance_ohm(T)).Tc_K == pytest.approx(
            s.Tc_K, rel=2e-3)
        # Four readings on the drop: the line through them is shallower than the tangent,
        # and the error bar says by how much.
        T = np.linspace(0.3 * s.Tc_K, 3 * s.Tc_K, 400)
        tc = tc_from_resistance(T, s.sheet_resistance_ohm(T))
        assert abs(tc.Tc_K - s.Tc_K) < min(2 * tc.Tc_err_K, 0.01 * s.Tc_K)


@pytest.mark.parametrize(("n", "noise"), [(150, 0.01), (200, 0.002), (1000, 0.01)])
def test_tc_from_noisy_resistance_is_robust(n, noise):
    s = get_sample("InO-2")
    rng = np.random.default_rng(n)
    T = np.sort(rng.uniform(0.3, 3.0, n))
    R = s.sheet_resistance_ohm(T) * (1 + noise * rng.standard_normal(n))
    R += 50 * noise * rng.standard_normal(n)  # offset noise: R scatters around 0 below Tc
    assert tc_from_resistance(T, R).Tc_K == pytest.approx(1.5, abs=0.015)


def test_tc_needs_a_drop():
    from stm_andreev.analysis.errors import AnalysisInputError

    T = np.linspace(1, 3, 50)
    with pytest.raises(AnalysisInputError, match="no resistive drop"):
        tc_from_resistance(T, 1000 / T)


def test_every_figure_has_axis_labels_with_units(analysed):
    from stm_andreev.analysis import figures as F
    from stm_andreev.analysis.report import base_temperature_set

    _, _, analyses = analysed
    group = temperature_group(analyses)
    tunnelling = [a for a in analyses if a.result.model == "dynes"]
    figs = {
        "1": F.fig1_setpoint_series(base_temperature_set(analyses)),
        "2a": F.fig2a_temperature_series(group, 1.5),
        "2b": F.fig2b_d2G_map(group, 1.5),
        "3": F.fig3_delta_c_vs_E_g(analyses),
        "S2": F.figS2_dynes_fit(tunnelling[0]),
    }
    for name, fig in figs.items():
        ax = fig.axes[0]
        assert ax.get_title().startswith(f"Fig. {name}")
        # Bias in mV, energies in ueV; conductances in 2e^2/h or normalised to G_N; T/Tc.
        assert ax.get_xlabel().endswith(("(mV)", "(µeV)")), (name, ax.get_xlabel())
        assert any(u in ax.get_ylabel() for u in ("2e²/h", "G / G_N", "(µeV)", "T / Tc")), \
            (name, ax.get_ylabel())
        assert ax.lines or ax.collections


def test_delta_c_of_T_figure_and_fit_values_follow_the_sample(analysed):
    from stm_andreev.analysis.figures import fig2c_delta_c_vs_T

    _, _, analyses = analysed
    series = temperature_series([a.result for a in temperature_group(analyses)], Tc_K=1.5)
    sample = get_sample("InO-2")
    # At 1 K the peaks are merged, but the two-gap fit still measures Delta_c(T).
    assert series.delta_c_fit_eV[-1] == pytest.approx(sample.delta_c_eV(1.0), abs=10 * UEV)
    ax = fig2c_delta_c_vs_T(series).axes[0]
    assert ax.get_xlabel() == "T / Tc" and "(µeV)" in ax.get_ylabel()


def test_fitted_collective_gap_closing_is_found_between_the_right_temperatures():
    from stm_andreev.analysis.results import SpectrumResult
    from stm_andreev.analysis.series import temperature_series

    def result(T, peaks, fit):
        r = SpectrumResult.__new__(SpectrumResult)
        object.__setattr__(r, "T_K", T)
        object.__setattr__(r, "delta_c_eV", peaks)
        object.__setattr__(r, "delta_c_err_eV", None if peaks is None else 2e-6)
        object.__setattr__(r, "delta_c_fit_eV", fit)
        return r

    series = temperature_series(
        [result(0.1, 150e-6, 150e-6), result(0.8, None, 140e-6), result(1.5, None, 50e-6),
         result(1.6, None, None)],
        Tc_K=1.5,
    )
    assert series.T_vanish_K == pytest.approx(0.45)  # the resolved pair: merged by 0.8 K
    assert series.T_fit_vanish_K == pytest.approx(1.55)  # the fitted gap: closes near Tc
    assert series.T_fit_vanish_over_Tc == pytest.approx(1.55 / 1.5)


def test_figures_never_mix_samples_or_positions():
    from stm_andreev.analysis.inputs import SpectrumInput
    from stm_andreev.analysis.pipeline import analyze_spectrum
    from stm_andreev.analysis.report import base_temperature_set, temperature_group

    from .simulated import bias, contact_G_N_S, spectrum

    V = bias(121)
    out = []
    for sample, x, Zs, Ts in (("InO-1", 0.0, (30.0, 1.5, 0.6), (0.065,) * 3),
                              ("InO-2", 0.0, (0.6, 0.6, 0.6), (0.065, 0.5, 1.0)),
                              ("InO-2", 5e-9, (0.6, 0.6), (0.6, 0.9))):
        for k, (Z, T) in enumerate(zip(Zs, Ts, strict=True)):
            G = spectrum(V, Eg=600e-6, Dc=140e-6, Z=Z, gamma=40e-6, gamma_c=8e-6, T_K=T,
                         seed=k, G_N_S=contact_G_N_S(Z))
            out.append(analyze_spectrum(SpectrumInput(
                V, G, "S", "one.h5", index=len(out), T_K=T, Vmod_rms_V=15e-6, tip_x_m=x,
                tip_y_m=0.0, setpoint_G_S=contact_G_N_S(Z), meta={"run": {"sample": sample}})))
    base = base_temperature_set(out)
    assert {a.spectrum.meta["run"]["sample"] for a in base} == {"InO-1"} and len(base) == 3
    series = temperature_group(out + [out[3]])
    assert {(a.spectrum.meta["run"]["sample"], a.result.tip_x_m) for a in series} == {
        ("InO-2", 0.0)}


def test_figS3_and_figS4(analysed):
    from stm_andreev.analysis.figures import figS3_setpoint_d2G, figS4_tunnelling_map
    from stm_andreev.analysis.inputs import SpectrumInput
    from stm_andreev.analysis.pipeline import analyze_spectrum

    from .simulated import bias, contact_G_N_S, spectrum

    _, _, analyses = analysed
    fig = figS3_setpoint_d2G(analyses[:3])
    left, right = fig.axes[:2]
    assert "G / G_N" in left.get_ylabel() and "d²G/dV²" in right.get_ylabel()
    assert any("Δc" in t.get_text() for t in right.texts)
    V = bias(121)
    tun = [analyze_spectrum(SpectrumInput(V, spectrum(V, Eg=600e-6, Dc=600e-6, Z=1e3,
                                                      gamma=20e-6, T_K=T, seed=k,
                                                      G_N_S=contact_G_N_S(10.0)),
                                          "S", "t", index=k, T_K=T, Vmod_rms_V=15e-6))
           for k, T in enumerate((0.065, 0.5, 1.0))]
    ax = figS4_tunnelling_map(tun).axes[0]
    assert ax.get_ylabel() == "T (K)" and "bias" in ax.get_xlabel()
    assert figS4_tunnelling_map(tun[:2]) is None  # fewer than three temperatures
