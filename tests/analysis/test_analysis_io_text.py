"""Text and Nanonis .dat spectra: round trips, column selection, clear errors on bad files."""

import numpy as np
import pytest

from stm_andreev.analysis.errors import AnalysisInputError
from stm_andreev.analysis.io_text import (
    read_nanonis_dat,
    read_text_table,
    write_nanonis_dat,
    write_text_spectrum,
)
from stm_andreev.analysis.sources import load_spectra

from .simulated import UEV, bias, spectrum

V = bias(101)
G_S = spectrum(V, Eg=650 * UEV, Dc=150 * UEV, Z=1.0, gamma=40 * UEV, gamma_c=8 * UEV,
               noise=0.0, G_N_S=2e-4)


def test_text_round_trip_with_header_and_comments(tmp_path):
    path = write_text_spectrum(tmp_path / "s.txt", {"bias (V)": V, "G (S)": G_S},
                               comments=["InO-2, 65 mK"])
    [s] = load_spectra(path)
    assert s.G_unit == "S"
    assert np.allclose(s.bias_V, V, rtol=1e-9) and np.allclose(s.G, G_S, rtol=1e-9)


@pytest.mark.parametrize("sep", [",", "\t", " ", "  "])
def test_separators_and_headerless_two_columns(tmp_path, sep):
    path = tmp_path / "s.csv"
    path.write_text("# no header\n" + "\n".join(f"{v:.6e}{sep}{g:.6e}" for v, g in
                                                zip(V, G_S, strict=True)))
    [s] = load_spectra(path)
    assert s.G_unit == "S"  # every value < 1e-2: siemens, not normalised
    assert np.allclose(s.G, G_S, rtol=1e-6)


def test_normalised_values_are_taken_as_G_over_G_N(tmp_path):
    path = write_text_spectrum(tmp_path / "n.txt", {"V": V, "g": G_S / 2e-4})
    [s] = load_spectra(path)
    assert s.G_unit == "GN" and s.G_S is None


def test_columns_selected_by_name_or_index(tmp_path):
    path = write_text_spectrum(tmp_path / "m.txt", {"t (s)": np.arange(V.size), "bias (V)": V,
                                                    "I (A)": V * 1e-5, "G (S)": G_S})
    [by_name] = load_spectra(path, bias_col="bias", g_col="G (S)")
    [by_index] = load_spectra(path, bias_col=1, g_col="3")
    assert np.allclose(by_name.G, by_index.G) and np.allclose(by_index.bias_V, V)
    with pytest.raises(AnalysisInputError, match="matches no column"):
        load_spectra(path, g_col="dI/dV")
    with pytest.raises(AnalysisInputError, match="column 7 does not exist"):
        load_spectra(path, g_col=7)


def test_three_unnamed_columns_are_ambiguous(tmp_path):
    path = tmp_path / "amb.txt"
    path.write_text("\n".join(f"{v} {g} {g}" for v, g in zip(V, G_S, strict=True)))
    with pytest.raises(AnalysisInputError, match="--g-col"):
        load_spectra(path)
    [s] = load_spectra(path, g_col=2)
    assert np.allclose(s.G, G_S)


def test_nanonis_dat_round_trip(tmp_path):
    header = {"Date": "24.11.2026 06:00:00", "Temperature (K)": "0.065",
              "Lock-in>Amplitude": "1.5E-5"}
    columns = {"Bias calc (V)": V, "Current (A)": V * 2e-4, "LI Demod 1 X (A)": G_S * 15e-6,
               "LI Demod 1 Y (A)": np.zeros_like(V)}
    path = write_nanonis_dat(tmp_path / "Bias-Spectroscopy001.dat", columns, header=header)
    table = read_nanonis_dat(path)
    assert table.names == tuple(columns)
    assert table.header["Temperature (K)"] == "0.065"
    assert np.allclose(table.data[:, 2], G_S * 15e-6, rtol=1e-6)
    [s] = load_spectra(path)
    assert s.G_unit == "arb" and s.T_K == 0.065 and s.Vmod_rms_V == 1.5e-5
    assert np.allclose(s.bias_V, V, rtol=1e-6)
    assert np.allclose(s.G, G_S * 15e-6, rtol=1e-6)  # LI Demod 1 X picked, not Current
    assert path.read_text().splitlines()[0] == "Experiment\tbias spectroscopy\t"


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty file"),
    ("# only a comment\n", "no data rows"),
    ("bias\tG\n", "no data rows"),
    ("1e-3\n2e-3\n3e-3\n", "single column"),
    ("1e-3 2e-6\n2e-3 3e-6\n3e-3\n", "truncated or ragged"),
    ("1e-3 2e-6\n2e-3 abc\n", "not numeric"),
    ("\n".join("nan nan" for _ in range(20)), "NaN-filled|all NaN"),
    ("\n".join(f"{k}e-4 nan" for k in range(20)), "all NaN"),
    ("Experiment\tbias spectroscopy\t\n", r"no \[DATA\]"),
])
def test_malformed_files_name_the_file_and_the_problem(tmp_path, content, message):
    suffix = ".dat" if content.startswith("Experiment") else ".txt"
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    if content.startswith("Experiment"):
        with pytest.raises(AnalysisInputError, match=message) as info:
            read_nanonis_dat(path)
    else:
        with pytest.raises(AnalysisInputError, match=message) as info:
            [s] = load_spectra(path)  # noqa: F841 (NaN rows fail at SpectrumInput)
    assert "bad" in str(info.value)


def test_truncated_nanonis_file_and_missing_file(tmp_path):
    path = tmp_path / "t.dat"
    path.write_text("Experiment\tbias spectroscopy\t\n\n[DATA]\n")
    with pytest.raises(AnalysisInputError, match="nothing after"):
        load_spectra(path)
    with pytest.raises(AnalysisInputError, match="no such file"):
        load_spectra(tmp_path / "missing.txt")
    binary = tmp_path / "b.bin"
    binary.write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(AnalysisInputError, match="binary"):
        load_spectra(binary)


def test_text_table_reader_keeps_names_from_a_savetxt_style_comment(tmp_path):
    path = tmp_path / "np.txt"
    np.savetxt(path, np.column_stack([V, G_S]), header="bias_V,G_S", delimiter=",")
    table = read_text_table(path)
    assert table.names == ("bias_V", "G_S")
