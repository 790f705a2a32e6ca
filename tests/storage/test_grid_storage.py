"""/entry/grid: laid out with the run file, filled per confirmed pixel, reconciled on resume
after a SIGKILL inside an append (no pixel twice, none half-stored)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from stm_andreev.storage import RunWriter
from stm_andreev.storage.errors import RecordFieldError
from stm_andreev.storage.grid_layout import GridGeometry

from .storage_helpers import (
    METADATA,
    N_BIAS,
    PLAN_TEXT,
    SNAPSHOT,
    STATION_TEXT,
    bias_grid,
    record_for,
    spectrum_for,
)

# A run of 6 points: point 0 is a single spectrum, points 1..4 a 2 x 2 grid, point 5 another.
GEOMETRY = dict(nx=2, ny=2, centre_m=(1e-9, 2e-9), size_m=(10e-9, 20e-9), rotation_deg=15.0,
                x_m=np.array([-5e-9, 5e-9]), y_m=np.array([-10e-9, 10e-9]), first_point=1)


def grid_values(point: int) -> dict[str, float]:
    return {"pos_x_m": 1e-9 * point, "pos_y_m": -1e-9 * point, "z_m": 1e-11 * point,
            "T_K": 0.065, "time_s": 100.0 + point}


def create(path, drift_patch_points=0):
    return RunWriter.create(
        path, n_bias=N_BIAS, n_planned=6, metadata=METADATA, station_text=STATION_TEXT,
        plan_text=PLAN_TEXT, snapshot=SNAPSHOT,
        grid=GridGeometry(bias_V=bias_grid(), drift_patch_points=drift_patch_points, **GEOMETRY))


def append(writer, point):
    is_pixel = 1 <= point <= 4
    writer.append_spectrum(point, **spectrum_for(point), record=record_for(point),
                           grid=grid_values(point) if is_pixel else None)


def test_layout_has_the_contract_names_units_and_checksums(tmp_path):
    create(tmp_path / "g.h5", drift_patch_points=5).close()
    with h5py.File(tmp_path / "g.h5", "r") as f:
        g = f["entry/grid"]
        assert sorted(g) == sorted(["G_G0", "G_S", "bias_V", "x_m", "y_m", "pos_x_m", "pos_y_m",
                                    "z_m", "T_K", "time_s", "done", "drift_reference_z_m"])
        attrs = dict(g.attrs)
        assert attrs["NX_class"] == "NXdata" and attrs["signal"] == "G_G0"
        assert list(attrs["axes"]) == ["y_m", "x_m", "bias_V"]
        for key, value in (("nx", 2), ("ny", 2), ("centre_x_m", 1e-9), ("centre_y_m", 2e-9),
                           ("size_x_m", 10e-9), ("size_y_m", 20e-9), ("rotation_deg", 15.0)):
            assert attrs[key] == value
        for name in ("G_G0", "G_S"):
            assert g[name].shape == (2, 2, N_BIAS) and g[name].chunks == (1, 1, N_BIAS)
            assert g[name].fletcher32 and g[name].dtype == np.float64
            assert np.isnan(g[name][()]).all()
        for name in ("pos_x_m", "pos_y_m", "z_m", "T_K", "time_s"):
            assert g[name].shape == (2, 2) and np.isnan(g[name][()]).all()
        assert g["done"].dtype == np.uint8 and not g["done"][()].any()
        units = {name: g[name].attrs["units"] for name in g}
        assert units["G_G0"] == "2e^2/h" and units["G_S"] == "S" and units["T_K"] == "K"
        assert units["time_s"] == "s" and units["z_m"] == "m" and units["done"] == "1"
        np.testing.assert_array_equal(g["bias_V"][()], bias_grid())


def test_pixels_fill_as_confirmed_and_done_mirrors_the_ledger(tmp_path):
    writer = create(tmp_path / "g.h5")
    for point in (0, 1, 2, 5):
        append(writer, point)
    writer.close("aborted")
    with h5py.File(tmp_path / "g.h5", "r") as f:
        g = f["entry/grid"]
        assert g["done"][()].tolist() == [[1, 1], [0, 0]]
        np.testing.assert_array_equal(g["G_S"][0, 1], spectrum_for(2)["G_S"])
        np.testing.assert_allclose(g["G_G0"][0, 0], spectrum_for(1)["G_S"] / 7.748091729e-5)
        assert g["time_s"][0, 1] == 102.0 and g["z_m"][0, 0] == 1e-11
        assert np.isnan(g["G_S"][1]).all()


def test_grid_values_are_required_for_pixels_and_refused_elsewhere(tmp_path):
    writer = create(tmp_path / "g.h5")
    with pytest.raises(RecordFieldError, match="grid pixel"):
        writer.append_spectrum(1, **spectrum_for(1), record=record_for(1))
    with pytest.raises(RecordFieldError, match="missing"):
        writer.append_spectrum(1, **spectrum_for(1), record=record_for(1),
                               grid={"z_m": 0.0})
    with pytest.raises(RecordFieldError, match="not a pixel"):
        writer.append_spectrum(0, **spectrum_for(0), record=record_for(0),
                               grid=grid_values(0))
    assert writer.n_spectra == 0  # nothing was written
    writer.close()


CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from stm_andreev.storage import RunWriter
    from tests.storage.test_grid_storage import append, create

    def hook(stage, point):
        if stage == {stage!r} and point == 3:
            os.kill(os.getpid(), signal.SIGKILL)

    RunWriter.fault_hook = staticmethod(hook)
    writer = create({path!r})
    for point in range(6):
        append(writer, point)
""")


@pytest.mark.parametrize("stage", ["row_written", "ledger_written"])
def test_sigkill_inside_a_pixel_append_then_resume_stores_each_pixel_once(tmp_path, stage):
    import tests

    root = str(__import__("pathlib").Path(tests.__file__).parent.parent)
    path = tmp_path / "g.h5"
    proc = subprocess.run([sys.executable, "-c", CHILD.format(root=root, stage=stage,
                                                              path=str(path))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    with h5py.File(path, "r", swmr=True) as f:  # what the kill left: pixel 2 on disk
        assert f["entry/grid/time_s"][1, 0] == 103.0
    writer = RunWriter.resume(path)
    assert writer.finished_points == {0, 1, 2}
    with h5py.File(path, "r", swmr=True) as f:
        g = f["entry/grid"]
        assert g["done"][()].tolist() == [[1, 1], [0, 0]]
        assert np.isnan(g["G_S"][1, 0]).all() and np.isnan(g["time_s"][1, 0])
    for point in (3, 4, 5):
        append(writer, point)
    writer.close()
    with h5py.File(path, "r") as f:
        g = f["entry/grid"]
        ledger = f["entry/ledger"][()].tolist()
        assert sorted(ledger) == list(range(6)) and len(ledger) == 6
        assert g["done"][()].all()
        np.testing.assert_array_equal(g["G_S"][1, 0], spectrum_for(3)["G_S"])


def test_drift_reference_and_last_pixel_come_back_on_resume(tmp_path):
    writer = create(tmp_path / "g.h5", drift_patch_points=5)
    assert writer.grid_state() == {"reference": None, "last_pixel": None}
    ref = np.arange(25.0).reshape(5, 5) * 1e-12
    writer.set_grid_reference(ref)
    for point in (0, 1, 2):
        append(writer, point)
    writer.close("aborted")
    state = RunWriter.resume(tmp_path / "g.h5")
    try:
        got = state.grid_state()
    finally:
        state.close()
    np.testing.assert_array_equal(got["reference"], ref)
    assert got["last_pixel"] == 1
    assert (got["pos_x_m"], got["pos_y_m"]) == (2e-9, -2e-9)
