"""Per-pixel analysis of a known map: the gaps come back within their uncertainty or the
pixel says it is not good; missing and broken pixels are marked, not invented."""

from __future__ import annotations

import numpy as np
import pytest

from stm_andreev.analysis.errors import AnalysisInputError
from stm_andreev.analysis.maps import QUANTITIES, analyze_map, fit_pixel
from stm_andreev.analysis.maps_pixels import FAILED, GOOD, NOT_APPLICABLE
from stm_andreev.physics import G0_S

from .maps_cases import small_cube


@pytest.fixture(scope="module")
def analysed():
    cube, truth = small_cube(3, 3)
    cube = cube.copy(deep=True)
    # One pixel never measured (NaN, done False), one measured but broken (mostly NaN).
    cube["G_S"].values[0, 2] = np.nan
    cube["done"].values[0, 2] = False
    cube["G_S"].values[2, 0, 5:] = np.nan
    return cube, truth, analyze_map(cube, scheduler="sync", block=(2, 2))


def test_known_gaps_are_recovered_within_uncertainty_or_graded(analysed):
    _, truth, r = analysed
    measured = np.ones((3, 3), bool)
    measured[0, 2] = measured[2, 0] = False
    for q, true in (("E_g", truth["E_g_eV"]), ("Delta_c", truth["Delta_c_eV"]),
                    ("Z", np.full((3, 3), truth["Z"])),
                    ("G_N", np.full((3, 3), truth["G_N_S"]))):
        good = (r[f"{q}_grade"].values == GOOD) & measured
        assert good.sum() >= 6, q  # clean synthetic spectra: nearly every pixel fits well
        # 3 sigma; for G_N also 1 % of the value (the tails used to normalise are not
        # perfectly flat: a systematic the fit's statistical error does not see)
        tol = 3.0 * r[f"{q}_sigma"].values + (0.01 * np.abs(true) if q == "G_N" else 0.0)
        miss = np.abs(r[q].values - true)
        assert np.all(miss[good] <= tol[good]), (q, miss[good] / r[f"{q}_sigma"].values[good])
    eg = r["E_g"].values[measured]
    assert np.corrcoef(eg, truth["E_g_eV"][measured])[0, 1] > 0.99
    assert np.all(r["model"].values[measured] == "two_gap")


def test_units_and_grade_flags(analysed):
    _, _, r = analysed
    assert r["E_g"].attrs["units"] == "eV" and r["G_N"].attrs["units"] == "S"
    assert r["E_g_grade"].dtype == np.int8
    assert r["E_g_grade"].attrs["flag_meanings"] == "good poor failed not_applicable"
    assert list(r["E_g_grade"].attrs["flag_values"]) == [0, 1, 2, 3]
    assert set(r.dims) == {"y", "x"} and "pos_x" in r.coords
    for q in QUANTITIES:
        assert {q, f"{q}_sigma", f"{q}_grade"} <= set(r.data_vars)
    # G_N in siemens, near 4 G0
    assert abs(np.nanmedian(r["G_N"].values) / G0_S - 4.0) < 0.2


def test_missing_pixel_is_not_measured_and_broken_pixel_failed(analysed):
    _, _, r = analysed
    for q in QUANTITIES:
        assert r[f"{q}_grade"].values[0, 2] == NOT_APPLICABLE
        assert np.isnan(r[q].values[0, 2])
        assert r[f"{q}_grade"].values[2, 0] == FAILED
        assert np.isnan(r[q].values[2, 0])
    assert r["reason"].values[0, 2] == "not measured"
    assert "not analysed" in r["reason"].values[2, 0] and "finite points" in \
        r["reason"].values[2, 0]


def test_fit_pixel_is_the_maps_analysis_of_that_pixel(analysed):
    cube, _, r = analysed
    a = fit_pixel(cube, 1, 1)
    assert a.result.E_g_eV == r["E_g"].values[1, 1]
    assert a.result.index == 1 * 3 + 1 and a.result.tip_x_m == cube["pos_x"].values[1, 1]
    with pytest.raises(AnalysisInputError, match="not measured"):
        fit_pixel(cube, 0, 2)
    with pytest.raises(AnalysisInputError, match="outside"):
        fit_pixel(cube, 3, 0)


def test_tunnelling_pixels_have_no_delta_c_or_barrier():
    """A Dynes (tunnelling) pixel: Delta_c and Z are not applicable, not a number."""
    from stm_andreev.simulators.lab.grid_cube import synthetic_grid

    cube, truth = synthetic_grid(1, 2, 201, Z=1000.0, G_N_G0=0.01, seed=4)
    r = analyze_map(cube, scheduler="sync")
    assert np.all(r["model"].values == "dynes")
    assert np.all(r["Delta_c_grade"].values == NOT_APPLICABLE)
    assert np.all(r["Z_grade"].values == NOT_APPLICABLE) and np.all(np.isnan(r["Z"].values))
    good = r["E_g_grade"].values == GOOD
    assert good.any()
    dev = np.abs(r["E_g"].values - truth["E_g_eV"]) / r["E_g_sigma"].values
    assert np.all(dev[good] <= 3.0)


def test_cube_without_conductance_is_refused_by_name():
    cube, _ = small_cube(3, 3)
    with pytest.raises(AnalysisInputError, match="no conductance"):
        analyze_map(cube.drop_vars(["G_S", "G_G0"]), scheduler="sync")


def test_grid_without_absolute_scale_has_no_G_N():
    """A grid in lock-in units (an imported .3ds): gaps yes, G_N not applicable."""
    cube, _ = small_cube(3, 3)
    arb = cube.isel(y=slice(0, 1), x=slice(0, 1)).drop_vars("G_G0")
    arb["G_S"] = arb["G_S"] * 1e3
    arb["G_S"].attrs["units"] = "V"
    r = analyze_map(arb, scheduler="sync")
    assert r["G_N_grade"].values[0, 0] == NOT_APPLICABLE and np.isnan(r["G_N"].values[0, 0])
    assert r["E_g_grade"].values[0, 0] == GOOD
