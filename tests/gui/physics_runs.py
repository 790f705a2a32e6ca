"""Run files for the GUI tests and benchmark, written by RunWriter with physics-made spectra.

The spectra are the project's two-gap model for InO-2 (stm_andreev.physics), so the views
show what a dry run would: a setpoint sweep from tunnelling to contact at 65 mK and a
temperature sweep of the contact through Tc.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stm_andreev.engine.runner import POINT_KEYS
from stm_andreev.physics import G0_S, barrier_from_transmission, conductance, get_sample
from stm_andreev.storage import RunWriter

N_CHANNELS = 6
V_SP_V = -3e-3
VMOD_V = 20e-6


def plan_rows(n_setpoints: int = 12, temperatures_K=(0.065, 0.4, 0.8, 1.1, 1.3, 1.45, 1.55)):
    """(step_index, setpoint_A, T_K) of every spectrum: setpoints at 65 mK, then temperatures."""
    rows = [(0, float(I), 0.065) for I in np.geomspace(1e-9, 1e-6, n_setpoints)]
    rows += [(1, 1e-6, float(T)) for T in temperatures_K]
    return rows


def spectrum(bias_V: np.ndarray, setpoint_A: float, T_K: float, sample=None):
    """(G_S, record) of one spectrum: G_N from the setpoint, Z from the transmission."""
    sample = sample or get_sample("InO-2")
    G_N = setpoint_A / abs(V_SP_V)
    tau = min(G_N / (N_CHANNELS * G0_S), 0.95)
    Z = float(barrier_from_transmission(tau))
    g = conductance(
        bias_V, Eg_eV=sample.gap_eV(T_K), Dc_eV=sample.delta_c_eV(T_K), Z=Z,
        gamma_eV=sample.gamma_eV, T_K=T_K, Vmod_rms_V=VMOD_V,
    )
    record = {
        "temperature_before_K": T_K, "temperature_after_K": T_K, "setpoint_A": setpoint_A,
        "bias_setpoint_V": V_SP_V, "G_sp_S": G_N, "z_m": -1.1e-10 * np.log(tau),
        "modulation_Vrms": VMOD_V, "status_code": 0, "status_text": "ok", "retake_count": 0,
    }
    return g * G_N, record


def create_run(path: Path, n_planned: int, n_bias: int = 151) -> RunWriter:
    return RunWriter.create(
        path, n_bias=n_bias, n_planned=n_planned, metadata={"plan": "physics-test"},
        station_text="simulated", plan_text="name: physics-test", snapshot={},
        point_keys=POINT_KEYS,
    )


def append(writer: RunWriter, index: int, row, bias_V: np.ndarray, time_s: float = 0.0) -> None:
    step, I_sp, T = row
    G, record = spectrum(bias_V, I_sp, T)
    record.update(time_s=time_s, step_index=step, target_temperature_K=T, repeat=0)
    writer.append_spectrum(index, bias_V=bias_V, G_S=G, X_V=G * 1e-3, Y_V=0 * G, record=record)


def write_physics_run(path: Path, rows=None, *, n_bias: int = 151, n_written: int | None = None,
                      close: bool = True) -> RunWriter:
    """A run file holding ``n_written`` (default all) of ``rows``; closed as finished if all."""
    rows = rows or plan_rows()
    bias = np.linspace(-1.5e-3, 1.5e-3, n_bias)
    writer = create_run(path, len(rows), n_bias)
    writer.log_event("start", f"{len(rows)} spectra to measure", time_s=0.0)
    for i, row in enumerate(rows[: n_written if n_written is not None else len(rows)]):
        append(writer, i, row, bias, time_s=60.0 * i)
    if close and (n_written is None or n_written == len(rows)):
        writer.log_event("finish", f"{len(rows)} spectra measured", time_s=60.0 * len(rows))
        writer.close("finished")
    return writer
