"""A grid step on the simulated station, in process: tip-safe moves, the map in the run file,
thermal drift visible without correction and taken out with it."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest

from stm_andreev.config import load_plan_text
from stm_andreev.engine import RunControl, RunEngine
from stm_andreev.engine.runner import POINT_KEYS
from stm_andreev.procedures import plan_points
from stm_andreev.procedures.grid import grid_geometry
from stm_andreev.station import Station
from stm_andreev.storage import RunWriter

from .conftest import station_config

GRID_PLAN = """
name: grid-test
kind: grid
temperature_K: 0.065
centre_m: [{cx}, {cy}]
size_m: [{w}, {h}]
rotation_deg: {rot}
nx: {nx}
ny: {ny}
setpoint_A: 3.0e-7
move_setpoint_A: 1.0e-9
move_settle_s: 0.1
n_bias: 21
settle_s: 0.01
integration_s: 0.01
feedback_settle_s: 0.1
{extra}
"""


def grid_plan(nx=3, ny=2, w=40e-9, h=20e-9, rot=0.0, cx=0.0, cy=0.0, extra=""):
    return load_plan_text(GRID_PLAN.format(nx=nx, ny=ny, w=w, h=h, rot=rot, cx=cx, cy=cy,
                                           extra=extra), "grid-test.yaml")


def run_grid(tmp_path, plan, config=None, on_spectrum=None, name="grid.h5"):
    station = Station.from_config(config or station_config(), source_text="test")
    points = plan_points(plan)
    writer = RunWriter.create(
        tmp_path / name, n_bias=points[0].settings.bias_V.size, n_planned=len(points),
        metadata={"plan": plan.name}, station_text="test", plan_text="grid",
        snapshot=station.snapshot(), point_keys=POINT_KEYS, grid=grid_geometry(plan))
    try:
        summary = RunEngine(station, points, writer, control=RunControl(None),
                            on_spectrum=(None if on_spectrum is None
                                         else lambda p, s: on_spectrum(station, p))).run()
    finally:
        station.close()
    assert summary.status == "finished", summary.events
    return tmp_path / name, points, summary


def test_every_pixel_lands_in_its_place_of_the_cube(tmp_path):
    plan = grid_plan(nx=3, ny=2, rot=30.0, cx=10e-9, cy=-5e-9)
    path, points, _ = run_grid(tmp_path, plan)
    step = plan.steps[0]
    with h5py.File(path, "r") as f:
        g = f["entry/grid"]
        assert g.attrs["NX_class"] == "NXdata" and g.attrs["signal"] == "G_G0"
        assert list(g.attrs["axes"]) == ["y_m", "x_m", "bias_V"]
        assert (g.attrs["nx"], g.attrs["ny"], g.attrs["rotation_deg"]) == (3, 2, 30.0)
        assert g["G_G0"].shape == (2, 3, 21) and g["G_G0"].chunks == (1, 1, 21)
        assert g["done"][()].tolist() == [[1, 1, 1], [1, 1, 1]]
        ledger = f["entry/ledger"][()]
        rows = {int(p): k for k, p in enumerate(ledger)}
        for iy in range(2):
            for ix in range(3):
                row = rows[iy * 3 + ix]
                np.testing.assert_array_equal(g["G_G0"][iy, ix], f["entry/data/G_G0"][row])
                np.testing.assert_array_equal(g["G_S"][iy, ix], f["entry/data/G_S"][row])
        # No drift: the commanded positions are the nominal, rotated pixel positions.
        x, y = step.pixel_positions_m()
        np.testing.assert_allclose(g["pos_x_m"][()], x, atol=1e-15)
        np.testing.assert_allclose(g["pos_y_m"][()], y, atol=1e-15)
        np.testing.assert_allclose(g["x_m"][()], [-20e-9, 0.0, 20e-9])
        np.testing.assert_allclose(g["bias_V"][()], step.bias_V())
        t = g["time_s"][()].ravel()
        assert np.all(np.diff(t) > 0)  # raster order: x inner, y outer
        assert np.all(np.abs(g["T_K"][()] - 0.065) < 0.003)
        z = g["z_m"][()]
        assert np.all(np.isfinite(z)) and np.all(np.abs(z) < 2e-7)


def test_the_tip_moves_only_at_the_move_setpoint_with_the_loop_closed(tmp_path, monkeypatch):
    from stm_andreev.simulators.lab import VirtualLab

    seen = []
    original = VirtualLab.move_tip

    def spy(self, x_m, y_m):
        seen.append((self.setpoint_A, self.feedback_on))
        original(self, x_m, y_m)

    monkeypatch.setattr(VirtualLab, "move_tip", spy)
    run_grid(tmp_path, grid_plan(nx=2, ny=2))
    assert len(seen) >= 3  # (0, 0) may already be where the tip starts
    for setpoint, loop_on in seen:
        assert loop_on
        assert math.isclose(abs(setpoint), 1e-9, rel_tol=1e-6)  # float32 on the wire


DRIFT = {"velocity_m_per_h": [120e-9, -80e-9, 0.5e-9]}
SURFACE = {"rms_m": 0.2e-9, "correlation_length_m": 3e-9}
DRIFT_KEYS = ("drift_every: 3\ndrift_reference_m: [-60.0e-9, 0.0]\ndrift_patch_points: 7\n"
              "drift_patch_m: 6.0e-9\n")


def drifting_run(tmp_path, extra, name):
    """Run a 4 x 3 grid on a drifting lab; returns (file, lab drift model, sample points)."""
    config = station_config(surface=SURFACE, drift=DRIFT)
    under_tip = []
    drift_model = []

    def look(station, point):
        under_tip.append((point.grid.iy, point.grid.ix, *station.lab.sample_xy_m))
        drift_model[:] = [station.lab.drift]

    path, points, summary = run_grid(tmp_path, grid_plan(nx=4, ny=3, extra=extra), config,
                                     look, name)
    return path, drift_model[0], under_tip, summary


def test_drift_moves_the_map_without_correction_and_not_with_it(tmp_path):
    plan = grid_plan(nx=4, ny=3)
    x, y = plan.steps[0].pixel_positions_m()
    results = {}
    for label, extra in (("off", ""), ("on", DRIFT_KEYS)):
        path, drift, under, summary = drifting_run(tmp_path, extra, f"{label}.h5")
        # Where on the sample each spectrum was taken, relative to where the grid meant to
        # put it (the first pixel's error is the grid's fixed offset: kept).
        err = np.array([(sx - x[iy, ix], sy - y[iy, ix]) for iy, ix, sx, sy in under])
        wander = np.hypot(*(err - err[0]).T)
        results[label] = wander.max()
        with h5py.File(path, "r") as f:
            g = f["entry/grid"]
            correction = np.stack([g["pos_x_m"][()] - x, g["pos_y_m"][()] - y])
            t = g["time_s"][()]
        if label == "on":
            # The stored commanded positions follow the lab's own drift since the first
            # reference (that is the correction the run applied).
            t0 = [e for e in summary.events if e[0] == "drift"]
            assert len(t0) == 4  # pixels 0, 3, 6, 9
            true = np.array([drift.offset_m(tt)[:2] for tt in t.ravel()]).T.reshape(2, 3, 4)
            true -= true[:, :1, :1]
            # referenced every 3 pixels, so the correction lags by up to 3 pixels' drift
            assert np.max(np.abs(correction - true)) < 1.5e-9
        else:
            assert np.all(correction == 0)
    # Station time over the 12 pixels is ~7 min: ~7 nm of drift without correction.
    assert results["off"] > 5e-9
    assert results["on"] < 0.3 * results["off"]
    assert results["on"] < 2e-9


def test_a_flat_reference_says_so_and_the_grid_runs_uncorrected(tmp_path):
    config = station_config(drift=DRIFT)  # no surface: nothing to lock on to
    path, points, summary = run_grid(tmp_path, grid_plan(nx=2, ny=1, extra=DRIFT_KEYS),
                                     config)
    drift_events = [m for k, m in summary.events if k == "drift"]
    assert len(drift_events) == 1 and "flat" in drift_events[0]
    with h5py.File(path, "r") as f:
        assert f["entry/grid/done"][()].all()
        assert np.isnan(f["entry/grid/drift_reference_z_m"][()]).all()
        assert f["entry/grid/drift_reference_z_m"].shape == (7, 7)


def test_drift_beyond_its_allowance_pauses_the_run():
    from stm_andreev.procedures.grid import DriftLimitError

    tracker = _synthetic_tracker((0.0, 0.0), (1.5e-9, 0.5e-9), drift_max_m=1e-9)
    with pytest.raises(DriftLimitError, match="exceeds drift_max_m"):
        tracker.rereference(None, -3e-3)
    assert tracker.correction_m == (0.0, 0.0)  # nothing applied


@pytest.mark.parametrize("mode", ["controller", "controller_lockin"])
def test_a_grid_takes_its_spectra_in_the_controller_modes_too(tmp_path, mode):
    path, _, _ = run_grid(tmp_path, grid_plan(nx=2, ny=1, extra=f"acquisition: {mode}\n"))
    with h5py.File(path, "r") as f:
        g = f["entry/grid"]
        assert g["done"][()].all() and np.isfinite(g["G_S"][()]).all()


def _synthetic_tracker(correction, drift, drift_max_m=20e-9):
    """A tracker whose patches are read off a known surface drifted by ``drift`` (m)."""
    from stm_andreev.procedures.grid import DriftTracker, GridMove
    from stm_andreev.simulators.lab import Surface

    surface = Surface(0.15e-9, 3e-9, seed=4)
    u = np.linspace(-4e-9, 4e-9, 9)
    move = GridMove(0, 2, 2, 0, 1e-9, 50e-9, 0.1, drift_every=1,
                    drift_reference_m=(-60e-9, 0.0), drift_patch_offsets_m=tuple(u),
                    drift_max_m=drift_max_m)

    def patch(tracker, d):
        cx, cy = tracker.correction_m
        rx, ry = move.drift_reference_m
        return np.array([[surface.height_m(rx + cx + a - d[0], ry + cy + b - d[1]) for a in u]
                         for b in u])

    reference = patch(DriftTracker(move), (0.0, 0.0))
    tracker = DriftTracker(move, reference, correction)
    tracker.patch = lambda station, V, check: patch(tracker, drift)
    return tracker


@pytest.mark.parametrize("drift", [(4.0e-9, -2.8e-9), (0.0, 0.0), (5.5e-9, -1.5e-9),
                                   (2.0e-9, -4.0e-9)])
def test_a_resumed_grid_finds_the_reference_again_wherever_the_drift_went(drift):
    # The run stopped with a correction of (4, -2.8) nm; while it was down the sample kept
    # that drift, went back (a new simulated lab starts undrifted) or moved on.
    tracker = _synthetic_tracker((4.0e-9, -2.8e-9), drift)
    message, _ = tracker.rereference(None, -3e-3)
    assert message.startswith("drift re-referenced"), message
    np.testing.assert_allclose(tracker.correction_m, drift, atol=0.15e-9)


def test_a_reference_that_does_not_match_keeps_the_correction():
    tracker = _synthetic_tracker((4.0e-9, -2.8e-9), (40e-9, 30e-9))  # far beyond the lines
    message, _ = tracker.rereference(None, -3e-3)
    assert message.startswith("drift reference not found"), message
    assert tracker.correction_m == (4.0e-9, -2.8e-9)
