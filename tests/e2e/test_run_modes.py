"""Run modes end to end on the simulated station: position survey, controller-run acquisition,
overnight grid, limits refused up front, and Ctrl-C / SIGTERM of a real ``stm-andreev run``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from stm_andreev.cli import main
from stm_andreev.config import PlanLimitError, load_plan_text
from stm_andreev.engine import RunControl, RunEngine
from stm_andreev.procedures.checks import require_plan_fits_station
from stm_andreev.storage import RunReader

from .conftest import new_run, station_config

FAST = "settle_s: 0.01, integration_s: 0.01, feedback_settle_s: 0.1"
PROCESS_TIMEOUT_S = 120


def run_plan(tmp_path, text: str, config=None):
    """Run a plan in process to the end; return (station, summary, spectra, table)."""
    plan = load_plan_text(text, "plan.yaml")
    station, points, writer = new_run(tmp_path, plan, config)
    summary = RunEngine(station, points, writer, control=RunControl(None)).run()
    with RunReader(writer.path) as run:
        spectra, table = run.spectra(), run.table()
    return station, summary, spectra, table


def coherence_peak_eV(V: np.ndarray, G: np.ndarray) -> float:
    """Mean |V| of the conductance maxima on either side of zero bias, in eV."""
    pos, neg = V > 0, V < 0
    return 0.5 * (V[pos][np.argmax(G[pos])] - V[neg][np.argmax(G[neg])])


def andreev_peak_eV(V: np.ndarray, G: np.ndarray, E_g: float) -> float:
    """Mean |V| of the -d2G/dV2 maxima inside +-0.8 E_g (the Andreev pair), in eV. On a
    200 ueV spot Delta_c ~ 145 ueV lies beyond E_g / 2."""
    d2 = -np.gradient(np.gradient(G, V), V)
    inside = (np.abs(V) < 0.8 * E_g) & (np.abs(V) > 20e-6)
    pos, neg = inside & (V > 0), inside & (V < 0)
    return 0.5 * (V[pos][np.argmax(d2[pos])] - V[neg][np.argmax(d2[neg])])


def test_position_survey_sees_the_gap_map(tmp_path):
    """At each position a tunnelling spectrum (E_g from its coherence peaks, which follow the
    lab's gap map) and a contact spectrum (Andreev peaks at Delta_c, nearly position-free)."""
    positions = [(0.0, 0.0), (1.0e-7, 0.0), (-1.0e-7, 1.0e-7)]  # 650, 483, 225 ueV on InO-2
    station, summary, spectra, table = run_plan(
        tmp_path,
        f"""
name: survey
kind: position_survey
low_setpoint_A: 5.0e-9
high_setpoint_A: 1.0e-6
positions_m: {[list(p) for p in positions]}
n_bias: 151
{FAST.replace(", ", chr(10))}
""",
    )
    lab = station.lab
    station.close()
    assert summary.status == "finished" and summary.measured == 6
    np.testing.assert_allclose(table["setpoint_A"], [5e-9, 1e-6] * 3)
    np.testing.assert_allclose(table["tip_x_m"], np.repeat([p[0] for p in positions], 2),
                               atol=1e-12)
    np.testing.assert_allclose(table["tip_y_m"], np.repeat([p[1] for p in positions], 2),
                               atol=1e-12)
    V, G = spectra["bias_V"], spectra["G_S"]
    expected, measured, contact_peaks = [], [], []
    for k, (x, y) in enumerate(positions):
        T = table["temperature_before_K"][2 * k]
        E_g, Delta_c = lab.gap_map.gaps_at(x, y).at_temperature(lab.sample, T)
        expected.append(E_g)
        measured.append(coherence_peak_eV(V[2 * k], G[2 * k]))
        # Dynes peaks sit just above E_g (Gamma = 40 ueV, 20 uV modulation, 50 mK).
        assert 0 <= measured[-1] - E_g <= 60e-6, (x, y, measured[-1], E_g)
        if E_g > 2.5 * Delta_c:
            # On the 225 ueV spot the Andreev peak (143 ueV) merges into the coherence peak
            # (the paper's Fig. S3 case): read Delta_c where the two are apart.
            contact = G[2 * k + 1]
            contact_peaks.append(andreev_peak_eV(V[2 * k + 1], contact, E_g))
            assert abs(contact_peaks[-1] - Delta_c) <= 25e-6, (x, y, contact_peaks[-1], Delta_c)
    # E_g varies by hundreds of ueV between the positions; Delta_c much less (25 ueV rms).
    assert np.ptp(expected) > 300e-6 and np.ptp(measured) > 300e-6
    assert np.argsort(measured).tolist() == np.argsort(expected).tolist()
    assert len(contact_peaks) == 2 and np.ptp(contact_peaks) < 0.5 * np.ptp(measured)


def test_controller_acquisition_matches_the_lockin(tmp_path):
    """The Nanonis-run bias sweep and the external lock-in measure the same G(V)."""
    text = "name: modes\nsteps:\n" + "".join(
        f"  - {{kind: single_spectrum, label: {mode}-{I:g}, acquisition: {mode}, "
        f"setpoint_A: {I}, n_bias: 151, {FAST}}}\n"
        for I in (1.0e-8, 1.0e-6)
        for mode in ("lockin", "controller")
    )
    station, summary, spectra, table = run_plan(tmp_path, text)
    station.close()
    assert summary.status == "finished" and summary.measured == 4
    G = spectra["G_S"]
    for lockin, controller in ((0, 1), (2, 3)):
        scale = G[lockin].mean()
        # Same physics, independent noise: within ~1 % everywhere, 0.5 % rms.
        assert np.max(np.abs(G[controller] - G[lockin])) < 0.02 * scale
        assert np.sqrt(np.mean((G[controller] - G[lockin]) ** 2)) < 0.005 * scale
        assert table["G_sp_S"][lockin] == pytest.approx(table["G_sp_S"][controller], rel=0.01)
    # Not trivially equal: tunnelling is gapped; in the 1 uA contact (Z ~ 5.5 over 140
    # channels) Andreev reflection lifts the gap above the tunnelling floor (1.3x).
    assert G[1][75] < 0.2 * G[1][0] and G[3][75] / G[3][0] > 1.15 * G[1][75] / G[1][0]
    # The controller sweep left the lock-in alone: no lock-in settings are recorded for it.
    assert table["modulation_Vrms"][1] == pytest.approx(20e-6)


def test_overnight_grid_with_repeats_and_positions(tmp_path):
    station, summary, spectra, table = run_plan(
        tmp_path,
        f"""
name: grid
kind: overnight_grid
temperatures_K: [0.065, 0.2]
setpoints_A: [1.0e-8, 1.0e-6]
repeats: 2
positions_m: [[0.0, 0.0], [1.0e-7, 0.0]]
n_bias: 41
{FAST.replace(", ", chr(10))}
""",
    )
    station.close()
    assert summary.status == "finished" and summary.measured == 16
    # Loops nest temperature > position > setpoint > repeat (the fridge changes least often).
    np.testing.assert_allclose(table["target_temperature_K"], np.repeat([0.065, 0.2], 8))
    np.testing.assert_allclose(table["tip_x_m"], np.tile(np.repeat([0.0, 1e-7], 4), 2),
                               atol=1e-12)
    np.testing.assert_allclose(table["setpoint_A"], np.tile(np.repeat([1e-8, 1e-6], 2), 4))
    np.testing.assert_array_equal(table["repeat"], np.tile([0, 1], 8))
    np.testing.assert_array_equal(table["point_index"], np.arange(16))
    np.testing.assert_allclose(table["temperature_before_K"], table["target_temperature_K"],
                               atol=0.002)
    # Repeats agree within noise; different positions do not (E_g 650 vs 483 ueV).
    G = spectra["G_S"]
    for first in range(0, 16, 2):
        assert np.max(np.abs(G[first + 1] - G[first])) < 0.03 * G[first].max()
    assert np.max(np.abs(G[4] - G[0])) > 0.1 * G[0].max()


@pytest.mark.parametrize(
    ("step", "key", "limit"),
    [
        ("I_start_A: 1.0e-9\n  I_stop_A: 1.0e-5\n  n_setpoints: 3", "I_stop_A",
         "max_setpoint_A"),
        ("I_start_A: 1.0e-9\n  I_stop_A: 1.0e-6\n  n_setpoints: 3\n  bias_stop_V: 8.0e-3",
         "bias_stop_V", "max_bias_V"),
    ],
    ids=["setpoint", "bias"],
)
def test_out_of_range_plan_is_refused_before_anything_moves(tmp_path, capsys, step, key, limit):
    text = f"name: bad\nsteps:\n- kind: setpoint_sweep\n  {step}\n"
    with pytest.raises(PlanLimitError) as info:
        require_plan_fits_station(load_plan_text(text, "bad.yaml"), station_config())
    assert key in str(info.value) and limit in str(info.value)
    plan = tmp_path / "bad.yaml"
    plan.write_text(text)
    out = tmp_path / "runs"
    code = main(["run", str(plan), "--out", str(out), "--quiet", "--no-report"])
    err = capsys.readouterr().err
    assert code == 2 and key in err and limit in err
    assert not out.exists()  # no run file, no directory: the station was never built


# ----------------------------------------------------------------------- signals, resume
SIGNAL_PLAN = f"""
name: signals
kind: setpoint_sweep
I_start_A: 1.0e-9
I_stop_A: 1.0e-6
n_setpoints: 12
n_bias: 41
{FAST.replace(", ", chr(10))}
"""


def start_run(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stm_andreev.cli", "run", *args, "--no-report", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_spectra(proc: subprocess.Popen, out_dir, n: int):
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        files = sorted(out_dir.glob("*.h5"))
        if files:
            try:
                with RunReader(files[0], live=True) as run:
                    if run.n_spectra >= n:
                        return files[0]
            except Exception:  # being created
                pass
        time.sleep(0.02)  # polling another process, not simulated time
    raise AssertionError(f"run ended or stalled before {n} spectra:\n{proc.communicate()[0]}")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_signal_aborts_cleanly_and_the_run_resumes(tmp_path, sig):
    plan = tmp_path / "signals.yaml"
    plan.write_text(SIGNAL_PLAN)
    out = tmp_path / "runs"
    proc = start_run(str(plan), "--out", str(out))
    path = wait_for_spectra(proc, out, 1)
    os.kill(proc.pid, sig)
    output, _ = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    assert proc.returncode == 3, output
    assert "status:        aborted" in output
    with RunReader(path) as run:
        assert run.status == "aborted"
        done = run.n_spectra
        assert 1 <= done < 12
        kinds = [e.kind for e in run.events()]
        assert kinds[-1] == "abort"
    proc = start_run("--resume", str(path))
    output, _ = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    assert proc.returncode == 0, output
    assert f"{12 - done} measured now, {done} from before" in output
    with RunReader(path) as run:
        assert run.status == "finished"
        assert sorted(run.ledger) == list(range(12))
