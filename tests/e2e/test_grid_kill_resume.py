"""A grid run killed with SIGKILL mid-grid (twice), then resumed: it continues at the next
unfinished pixel, every pixel is stored once, and the drift correction carries on."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from stm_andreev.config import load_plan_text, load_station

from .test_grid import GRID_PLAN
from .test_kill_resume import PROCESS_TIMEOUT_S, kill_after, start_run

NX, NY = 3, 3
DRIFT_KEYS = ("drift_every: 2\ndrift_reference_m: [-60.0e-9, 0.0]\ndrift_patch_points: 7\n"
              "drift_patch_m: 6.0e-9\n")


def drifting_station(tmp_path):
    text = load_station("simulated").source_text
    assert "  faults: []\n" in text
    text = text.replace("  faults: []\n", (
        "  faults: []\n"
        "  surface: {rms_m: 0.2e-9, correlation_length_m: 3.0e-9}\n"
        "  drift: {velocity_m_per_h: [120.0e-9, -80.0e-9, 0.0]}\n"))
    path = tmp_path / "drifting.yaml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_sigkill_mid_grid_then_resume_stores_every_pixel_once(tmp_path):
    plan_text = GRID_PLAN.format(nx=NX, ny=NY, w=40e-9, h=40e-9, rot=0.0, cx=0.0, cy=0.0,
                                 extra=DRIFT_KEYS)
    plan = tmp_path / "grid.yaml"
    plan.write_text(plan_text)
    station = drifting_station(tmp_path)
    out = tmp_path / "runs"
    path = kill_after(start_run(str(plan), "--station", str(station), "--out", str(out)), out, 2)
    path = kill_after(start_run("--resume", str(path)), out, 5)
    proc = start_run("--resume", str(path))
    output, _ = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    assert proc.returncode == 0, output
    with h5py.File(path, "r") as f:
        ledger = f["entry/ledger"][()].tolist()
        assert sorted(ledger) == list(range(NX * NY)) and len(ledger) == NX * NY
        g = f["entry/grid"]
        assert g["done"][()].all()
        rows = {p: k for k, p in enumerate(ledger)}
        for pixel in range(NX * NY):
            np.testing.assert_array_equal(g["G_S"][divmod(pixel, NX)],
                                          f["entry/data/G_S"][rows[pixel]])
        # (each process's simulated lab starts its clock anew: times rise within a session)
        assert np.all(np.isfinite(g["time_s"][()])) and np.all(np.isfinite(g["z_m"][()]))
        kinds = [k.decode() if isinstance(k, bytes) else k for k in f["entry/events/kind"][()]]
        messages = [m.decode() if isinstance(m, bytes) else m
                    for m in f["entry/events/message"][()]]
        assert kinds.count("resume") == 2
        drift = [m for k, m in zip(kinds, messages, strict=True) if k == "drift"]
        # the first reference, then one at the start of each session and every 2 pixels
        assert drift[0].startswith("drift reference recorded")
        assert all(m.startswith("drift re-referenced") for m in drift[1:]) and len(drift) >= 5
        x, y = load_plan_text(plan_text, "grid.yaml").steps[0].pixel_positions_m()
        correction = np.hypot(g["pos_x_m"][()] - x, g["pos_y_m"][()] - y).ravel()
        # within a session the correction follows the ~2 nm/min drift; the lab of each new
        # process starts undrifted, and the re-reference at its first pixel finds that
        assert correction.max() > 0.5e-9 and np.all(correction < 20e-9)
