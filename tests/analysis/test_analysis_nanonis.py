"""Real Nanonis files (issue 14): the first-harmonic lock-in X whatever the column order and
naming, the sign of X, R on request, the header's temperature and modulation, and errors
that name file and spectrum."""

import numpy as np
import pytest

from stm_andreev.analysis.errors import AnalysisInputError
from stm_andreev.analysis.io_text import write_nanonis_dat
from stm_andreev.analysis.pipeline import analyze_spectrum
from stm_andreev.analysis.sources import load_spectra
from stm_andreev.cli import main

from .simulated import UEV, bias, contact_G_N_S, spectrum

V = bias(201)
G_S = spectrum(V, Eg=650 * UEV, Dc=150 * UEV, Z=0.8, gamma=40 * UEV, gamma_c=8 * UEV,
               noise=0.004, seed=7, G_N_S=contact_G_N_S(0.8))
GAIN = 15e-6  # lock-in output in A per S of conductance (the modulation amplitude)
HEADER = {
    "Bias Spectroscopy>Sweep Start (V)": "-1.5E-3",
    "Bias Spectroscopy>Sweep End (V)": "1.5E-3",
    "Temperature 1>Temperature 1 (K)": "65E-3",
    "Lock-in>Lock-in status": "ON",
    "Lock-in>Modulated signal": "Bias (V)",
    "Lock-in>Frequency (Hz)": "973E+0",
    "Lock-in>Amplitude": "15E-6",
    "Lock-in>Harmonic D1": "1",
    "Lock-in>Harmonic D2": "2",
    "Lock-in>LP Filter Cutoff D1 (Hz)": "10E+0",
}


def _second_harmonic():
    return np.gradient(G_S, V) * GAIN**2


def _write(tmp_path, columns, header=HEADER, name="Bias-Spectroscopy001.dat"):
    return write_nanonis_dat(tmp_path / name, columns, header=header)


def test_demod_2_listed_first_is_not_taken_for_dI_dV(tmp_path):
    path = _write(tmp_path, {
        "Bias calc (V)": V, "Current (A)": np.cumsum(G_S) * (V[1] - V[0]),
        "LI Demod 2 X (A)": _second_harmonic(), "LI Demod 2 Y (A)": 0 * V,
        "LI Demod 1 X (A)": G_S * GAIN, "LI Demod 1 Y (A)": 0 * V})
    [spec] = load_spectra(path)
    assert spec.meta["channel"] == "LI Demod 1 X (A)"
    assert np.allclose(spec.G, G_S * GAIN, rtol=1e-5)
    assert spec.T_K == pytest.approx(0.065) and spec.Vmod_rms_V == pytest.approx(15e-6)
    r = analyze_spectrum(spec).result
    assert r.channel == "LI Demod 1 X (A)"
    assert any("LI Demod 1 X (A)" in n and "first-harmonic" in n for n in r.notes)
    assert any("temperature 0.065 K from the file's header" in n for n in r.notes)
    assert r.andreev_peaks and r.delta_c_eV == pytest.approx(150 * UEV, abs=10 * UEV)


def test_cli_says_which_channel_it_used(tmp_path, capsys):
    path = _write(tmp_path, {"Bias calc (V)": V, "LI Demod 2 X (A)": _second_harmonic(),
                             "LI Demod 1 X (A)": G_S * GAIN})
    code = main(["analyze", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "conductance from column 'LI Demod 1 X (A)'" in err


@pytest.mark.parametrize(("names", "expected"), [
    (("LIX 2 omega (A)", "LIX 1 omega (A)"), "LIX 1 omega (A)"),
    (("Input 2 (V)", "Input 3 (A)"), "Input 3 (A)"),
    (("LI Demod 1 X [bwd] (A)", "LI X (A)"), "LI X (A)"),
])
def test_older_lockin_names_are_recognised(tmp_path, names, expected):
    decoy, wanted = names
    path = _write(tmp_path, {"Bias calc (V)": V, "Current (A)": V * 1e-6,
                             decoy: _second_harmonic(), wanted: G_S * GAIN})
    [spec] = load_spectra(path)
    assert spec.meta["channel"] == expected
    assert np.allclose(spec.G, G_S * GAIN, rtol=1e-5)


def test_negative_lockin_x_is_negated_and_said(tmp_path):
    path = _write(tmp_path, {"Bias calc (V)": V, "LI Demod 1 X (A)": -G_S * GAIN})
    [spec] = load_spectra(path)
    assert np.all(np.median(spec.G) > 0)
    assert any("negated" in n for n in spec.meta["input_notes"])
    [kept] = load_spectra(path, sign="+")
    with pytest.raises(AnalysisInputError) as err:
        analyze_spectrum(kept)
    assert str(path) in str(err.value) and "[0]" in str(err.value)
    [forced] = load_spectra(_write(tmp_path, {"Bias calc (V)": V,
                                              "LI Demod 1 X (A)": G_S * GAIN}, name="p.dat"),
                            sign="-")
    assert np.all(forced.G < 0)


def test_use_r(tmp_path):
    path = _write(tmp_path, {"Bias calc (V)": V, "LI Demod 1 X (A)": G_S * GAIN * 0.5,
                             "LI Demod 1 Y (A)": G_S * GAIN * 0.866,
                             "LI Demod 1 R (A)": G_S * GAIN})
    [spec] = load_spectra(path, use="R")
    assert spec.meta["channel"] == "LI Demod 1 R (A)"
    with pytest.raises(AnalysisInputError, match="no first-harmonic lock-in R"):
        load_spectra(_write(tmp_path, {"Bias calc (V)": V, "LI Demod 1 X (A)": G_S},
                            name="x.dat"), use="R")


def test_demodulator_1_set_to_the_second_harmonic_is_refused(tmp_path):
    header = dict(HEADER, **{"Lock-in>Harmonic D1": "2"})
    path = _write(tmp_path, {"Bias calc (V)": V, "LI Demod 1 X (A)": G_S * GAIN}, header)
    with pytest.raises(AnalysisInputError, match="harmonic 2"):
        load_spectra(path)


def test_modulation_in_rms_from_the_header(tmp_path):
    header = {k: v for k, v in HEADER.items() if k != "Lock-in>Amplitude"}
    header["Modulation (V rms)"] = "10E-6"
    [spec] = load_spectra(_write(tmp_path, {"Bias calc (V)": V, "LI Demod 1 X (A)": G_S},
                                 header))
    assert spec.Vmod_rms_V == pytest.approx(10e-6)
