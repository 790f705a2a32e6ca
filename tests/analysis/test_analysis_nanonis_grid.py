"""Nanonis grid files (.3ds, issue 17): read into the cube of docs/nanonis-grid.md with the
first-harmonic lock-in X, G in S from the lock-in amplitude, stopped grids as done=False,
headers that announce more than the file holds refused naming the file, and the pixels
analysed by the spectrum pipeline."""

import json
import re

import numpy as np
import pytest

from stm_andreev.analysis.errors import AnalysisInputError
from stm_andreev.analysis.nanonis_grid import read_3ds
from stm_andreev.analysis.report import analyze_items
from stm_andreev.analysis.sources import load_spectra
from stm_andreev.cli import main
from stm_andreev.storage.layout import G0_S

from .nanonis_3ds import write_3ds
from .simulated import UEV, bias, contact_G_N_S, spectrum

NX, NY = 3, 2
V = bias(201)
AMPLITUDE = 15e-6  # Lock-in>Amplitude: the lock-in output in A per S of conductance
E_G = np.array([[400, 550, 700], [650, 500, 300]]) * UEV
G_N = contact_G_N_S(0.8)
G_TRUE = np.stack([np.stack([spectrum(V, Eg=E_G[iy, ix], Dc=150 * UEV, Z=0.8,
                                      gamma=40 * UEV, gamma_c=8 * UEV, noise=0.003,
                                      seed=10 * iy + ix, G_N_S=G_N)
                             for ix in range(NX)]) for iy in range(NY)])
HEADER = {"Lock-in>Amplitude": "15E-6", "Lock-in>Harmonic D1": "1",
          "Lock-in>Harmonic D2": "2", "Temperature 1>Temperature 1 (K)": "65E-3",
          "Z-Controller>Setpoint": "1E-9", "Z-Controller>Setpoint unit": "A"}
POS_X = 1e-7 + np.array([[-2e-8, 0, 2e-8]] * 2)
POS_Y = -2e-7 + np.array([[-1.5e-8] * 3, [1.5e-8] * 3])
Z_M = np.array([[1.0, 1.1, 1.2], [1.3, 1.4, 1.5]]) * 1e-9


def _grid(tmp_path, name="grid001.3ds", **kw):
    channels = {
        "Current (A)": np.cumsum(G_TRUE, axis=2) * (V[1] - V[0]),
        "LI Demod 2 X (A)": np.gradient(G_TRUE, V, axis=2) * AMPLITUDE**2,
        "LI Demod 1 X (A)": G_TRUE * AMPLITUDE,
        "LI Demod 1 Y (A)": 0 * G_TRUE,
    }
    params = {"X (m)": POS_X, "Y (m)": POS_Y, "Z (m)": Z_M,
              "Z offset (m)": 0 * Z_M, "Settling time (s)": 0 * Z_M + 0.01}
    return write_3ds(tmp_path / name, nx=NX, ny=NY, bias=V, channels=channels, params=params,
                     header={**HEADER, **kw.pop("header", {})}, **kw)


def test_full_grid_is_the_cube_of_the_contract(tmp_path):
    cube = read_3ds(_grid(tmp_path))
    assert dict(cube.sizes) == {"y": NY, "x": NX, "bias": V.size}
    assert cube.attrs["channel"] == "LI Demod 1 X (A)"  # not Demod 2, listed first
    assert cube["done"].values.all()
    assert np.allclose(cube["bias"], V, rtol=1e-6, atol=1e-9)
    assert np.allclose(cube["G_S"], G_TRUE, rtol=1e-5)  # X / amplitude, float32 precision
    assert np.allclose(cube["G_G0"], G_TRUE / G0_S, rtol=1e-5)
    assert np.allclose(cube["pos_x"], POS_X) and np.allclose(cube["pos_y"], POS_Y)
    assert np.allclose(cube["z"], Z_M)
    assert np.allclose(cube["x"], [-2e-8, 0, 2e-8]) and np.allclose(cube["y"], [-1.5e-8, 1.5e-8])
    assert cube["G_S"].attrs["units"] == "S" and cube["bias"].attrs["units"] == "V"
    assert cube["z"].attrs["units"] == "m" and cube["pos_x"].attrs["units"] == "m"
    assert cube.attrs["temperature_K"] == pytest.approx(0.065)
    assert cube.attrs["modulation_V"] == pytest.approx(15e-6)
    assert cube.attrs["setpoint_A"] == pytest.approx(1e-9)
    assert cube.attrs["source"].endswith("grid001.3ds")
    assert np.isnan(cube["time_s"]).all()


def test_stopped_grid_keeps_what_was_measured(tmp_path):
    cube = read_3ds(_grid(tmp_path, pixels=4))
    assert cube["done"].values.tolist() == [[True, True, True], [True, False, False]]
    assert np.isnan(cube["G_S"].values[1, 1:]).all() and np.isnan(cube["z"].values[1, 1:]).all()
    assert np.allclose(cube["G_S"].values[1, 0], G_TRUE[1, 0], rtol=1e-5)
    assert "ends after pixel 4 of 6" in cube.attrs["notes"]


def test_unmeasured_pixels_filled_with_nan_are_not_done(tmp_path):
    path = _grid(tmp_path)
    raw = bytearray(path.read_bytes())
    per_pixel = 4 * (7 + 4 * V.size)
    start = len(raw) - per_pixel  # the last pixel: NaN everywhere, as a pre-allocated file
    raw[start:] = np.full(per_pixel // 4, np.nan, dtype=">f4").tobytes()
    path.write_bytes(bytes(raw))
    cube = read_3ds(path)
    assert cube["done"].values.sum() == 5 and not cube["done"].values[1, 2]
    assert np.isnan(cube["G_S"].values[1, 2]).all()


def test_phase_off_by_180_degrees_is_negated(tmp_path):
    path = _grid(tmp_path)
    cube = read_3ds(path, sign="+")
    flipped = tmp_path / "flipped.3ds"
    raw = bytearray(path.read_bytes())
    head = raw.index(b":HEADER_END:\r\n") + len(b":HEADER_END:\r\n")
    data = np.frombuffer(bytes(raw[head:]), dtype=">f4").reshape(NX * NY, -1).copy()
    x = slice(7 + 2 * V.size, 7 + 3 * V.size)
    data[:, x] *= -1
    flipped.write_bytes(bytes(raw[:head]) + data.astype(">f4").tobytes())
    again = read_3ds(flipped)
    assert np.allclose(again["G_S"], cube["G_S"], rtol=1e-6)
    assert "negated" in again.attrs["notes"]


@pytest.mark.parametrize("overrides, tail, pixels, message", [
    ({"Points": "1000000", "Experiment size (bytes)": "16000000"}, b"", None,
     "announces 6 pixels of 16000028 bytes but the file holds 19464 bytes"),
    ({"Grid dim": '"5000 x 5000"'}, b"", None, "outside 1..4194304 pixels"),
    ({"Grid dim": '"2000 x 2000"'}, b"", None, "values per channel; not read"),
    ({"Experiment size (bytes)": "12"}, b"", None, "'Experiment size (bytes)' is 12"),
    ({"# Parameters (4 byte)": "3"}, b"", None, "names 7 parameters"),
    ({"Grid dim": "three by two"}, b"", None, "'Grid dim'"),
    ({}, b"", 0, "not one whole pixel"),
])
def test_bad_headers_are_refused_naming_the_file(tmp_path, overrides, tail, pixels, message):
    path = _grid(tmp_path, overrides=overrides, tail=tail, pixels=pixels)
    with pytest.raises(AnalysisInputError, match=re.escape(message)) as info:
        read_3ds(path)
    assert str(path) in str(info.value)


def test_no_header_end_is_refused(tmp_path):
    path = tmp_path / "junk.3ds"
    path.write_bytes(b"Grid dim=\"2 x 2\"\r\n" + b"\x00" * 100)
    with pytest.raises(AnalysisInputError, match="junk.3ds: no :HEADER_END:"):
        read_3ds(path)


def test_pixels_are_analysed_like_spectra(tmp_path):
    path = _grid(tmp_path)
    specs = load_spectra(path)
    assert [s.index for s in specs] == list(range(NX * NY))
    found = analyze_items(specs, workers=1)
    for a in found:
        iy, ix = divmod(a.spectrum.index, NX)
        r = a.result
        assert r.E_g_eV == pytest.approx(E_G[iy, ix], rel=0.1), (iy, ix)
        assert r.delta_c_eV == pytest.approx(150 * UEV, abs=15 * UEV), (iy, ix)
        assert r.T_K == pytest.approx(0.065)


def test_cli_reads_and_summarises_a_grid(tmp_path, capsys):
    path = _grid(tmp_path, pixels=5)
    assert main(["analyze", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "grid of 3 x 2 pixels, 5 measured" in err and "LI Demod 1 X (A)" in err
    # one summary of the map (analysis/maps.py); the unmeasured pixel is not applicable
    (line,) = [line for line in out.splitlines() if line.startswith("{")]
    summary = json.loads(line)
    assert summary["kind"] == "map" and summary["source"] == str(path)
    assert summary["E_g"]["good"] + summary["E_g"]["poor"] == 5
    assert summary["E_g"]["not_applicable"] == 1


def test_a_channel_in_volts_stays_in_arbitrary_units(tmp_path):
    path = write_3ds(tmp_path / "external.3ds", nx=2, ny=1, bias=V,
                     channels={"Current (A)": G_TRUE[:1, :2], "Input 3 (V)": G_TRUE[:1, :2] * 1e4},
                     params={"X (m)": POS_X[:1, :2], "Y (m)": POS_Y[:1, :2]})
    cube = read_3ds(path)
    assert cube.attrs["channel"] == "Input 3 (V)" and cube.attrs["G_unit"] == "arb"
    assert cube["G_S"].attrs["units"] == "arb" and np.isnan(cube["G_G0"]).all()
    assert np.allclose(cube["G_S"], G_TRUE[:1, :2] * 1e4, rtol=1e-6)
    assert "cannot be converted to S" in cube.attrs["notes"]
    assert all(s.G_unit == "arb" for s in load_spectra(path))


def test_cli_names_a_damaged_grid_and_goes_on(tmp_path, capsys):
    bad = _grid(tmp_path, name="bad.3ds", overrides={"Experiment size (bytes)": "12"})
    good = _grid(tmp_path, name="good.3ds", pixels=1)
    assert main(["analyze", str(bad), str(good), "--json"]) == 1
    out, err = capsys.readouterr()
    assert f"error: {bad}: 'Experiment size (bytes)' is 12" in err
    assert len([line for line in out.splitlines() if line.startswith("{")]) == 1


def test_a_3ds_and_a_grid_run_open_as_the_same_cube(tmp_path):
    """One cube type for the analysis, whichever file the grid came from: the same variables,
    dims, coordinates, units and contract attributes (the run file's lazy, in blocks)."""
    import dask.array as da

    from stm_andreev.analysis.maps_cube import open_grid
    from stm_andreev.storage.cube import CUBE_ATTRS
    from tests.storage.grid_files import make_grid_file

    nanonis = open_grid(_grid(tmp_path))
    run = open_grid(make_grid_file(tmp_path / "grid.h5", nx=4, ny=3, n_bias=16),
                    block=(2, 2))

    def shape_of(cube):
        return ({n: (v.dims, v.attrs.get("units")) for n, v in cube.data_vars.items()},
                {n: (c.dims, c.attrs.get("units")) for n, c in cube.coords.items()},
                set(CUBE_ATTRS) <= set(cube.attrs))

    assert shape_of(nanonis) == shape_of(run)
    assert isinstance(run["G_S"].data, da.Array) and run["G_S"].data.chunksize[:2] == (2, 2)
