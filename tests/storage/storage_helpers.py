"""Shared helpers for the storage tests: deterministic spectra keyed by point index."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stm_andreev.storage import RunWriter

N_BIAS = 16
STATION_TEXT = "station:\n  name: simulated\n  max_bias_V: 0.01\n"
PLAN_TEXT = "plan:\n  kind: grid\n  points: 8\n"
SNAPSHOT = {"lockin": {"time_constant_s": np.float64(0.1), "sensitivity_V": 1e-3},
            "fridge": {"T_mc_K": 0.015}}
METADATA = {"sample": "NbSe2", "operator": "test", "setpoint_A": 1e-10}


def bias_grid(n_bias: int = N_BIAS) -> np.ndarray:
    """The bias sweep every test spectrum uses, in V."""
    return np.linspace(-2e-3, 2e-3, n_bias)


def spectrum_for(point: int, n_bias: int = N_BIAS) -> dict[str, np.ndarray]:
    """A spectrum whose values encode ``point``, so a test can tell rows apart."""
    bias = bias_grid(n_bias)
    g = 1e-6 * (1.0 + point) * (1.0 + np.arange(n_bias) / n_bias)
    return {"bias_V": bias, "G_S": g, "X_V": g * 1e3, "Y_V": -g * 1e2}


def record_for(point: int) -> dict[str, object]:
    """A per-spectrum record whose values encode ``point``."""
    return {
        "time_s": 10.0 * point,
        "temperature_before_K": 0.015 + 1e-4 * point,
        "temperature_after_K": 0.016 + 1e-4 * point,
        "setpoint_A": 1e-10,
        "bias_setpoint_V": 3e-3,
        "G_sp_S": 1e-10 / 3e-3,
        "z_m": 1e-10 * point,
        "tip_x_m": 1e-9 * point,
        "tip_y_m": -1e-9 * point,
        "preamp_gain_V_per_A": 1e9,
        "lockin_sensitivity_V": 1e-3,
        "lockin_time_constant_s": 0.1,
        "modulation_Vrms": 5e-5,
        "status_code": 0,
        "status_text": f"ok {point}",
        "retake_count": point % 3,
    }


def new_run(path: Path, *, n_planned: int = 8, n_bias: int = N_BIAS,
            point_keys: list[str] | None = None) -> RunWriter:
    """Create a run file with the standard test metadata."""
    return RunWriter.create(
        path, n_bias=n_bias, n_planned=n_planned, metadata=METADATA,
        station_text=STATION_TEXT, plan_text=PLAN_TEXT, snapshot=SNAPSHOT,
        point_keys=point_keys,
    )


def append_point(writer: RunWriter, point: int) -> None:
    """Append the deterministic spectrum and record of ``point``."""
    writer.append_spectrum(point, **spectrum_for(point, writer.n_bias), record=record_for(point))
