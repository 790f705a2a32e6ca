"""The VirtualLab contract as the emulators and the station use it: names, shapes, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from stm_andreev.clock import ScaledClock, VirtualClock
from stm_andreev.physics import get_sample
from stm_andreev.simulators.lab import LabError, VirtualLab

CONTRACT_KEYS = {"Eg_eV", "Dc_eV", "Z", "gamma_eV", "G_N_S", "T_K", "tau", "z_m"}


def test_constructor_accepts_a_name_or_parameters(clock) -> None:
    a = VirtualLab("InO-3", clock=clock, seed=1, tip_xy_m=(10e-9, -5e-9), modulation_divider=1e-2)
    b = VirtualLab(get_sample("InO-3"), clock=clock, seed=1, tip_xy_m=(10e-9, -5e-9))
    assert a.sample == b.sample
    assert a.tip_xy_m == (10e-9, -5e-9)
    assert a.lockin.divider == 1e-2
    assert a.junction_state()["Eg_eV"] == b.junction_state()["Eg_eV"]
    with pytest.raises(KeyError, match="InO-1"):
        VirtualLab("InO-9", clock=clock)
    with pytest.raises(LabError, match="divider"):
        VirtualLab("InO-2", clock=clock, modulation_divider=0.0)


def test_junction_state_has_the_contract_keys(lab) -> None:
    js = lab.junction_state()
    assert CONTRACT_KEYS <= set(js)
    assert js["G_N_S"] == pytest.approx(js["n_channels"] * js["tau"] * 7.748091729e-5)
    assert js["Z"] == pytest.approx(np.sqrt(1 / js["tau"] - 1), rel=1e-9)


def test_default_state(lab) -> None:
    assert lab.bias_V == -3e-3
    assert lab.setpoint_A == 1e-9
    assert lab.feedback_on and lab.feedback_status() == 2
    assert lab.preamp_gains_V_per_A == (1e5, 1e6, 1e7, 1e8, 1e9)
    assert abs(lab.measured_current_A()) == pytest.approx(1e-9, rel=0.01)
    assert lab.fridge.channels == {
        1: "50K plate", 2: "4K plate", 3: "still", 5: "cold plate", 6: "mixing chamber", 9: "film"
    }
    assert 0.045 < lab.fridge.temperature_K("mixing chamber") < 0.055
    assert lab.junction_state()["T_K"] == pytest.approx(lab.fridge.temperature_K("film"), abs=1e-4)


def test_film_resistance_follows_the_sample(lab, clock) -> None:
    s = lab.sample
    assert lab.fridge.sensor_resistance_ohm(9) == pytest.approx(s.sheet_resistance_ohm(lab.fridge.temperature_K(9)))
    lab.fridge.start_cooldown(300.0)
    assert lab.fridge.sensor_resistance_ohm("film") == pytest.approx(s.sheet_resistance_ohm(300.0))


def test_true_dIdV_shapes(lab) -> None:
    assert isinstance(lab.true_dIdV_S(0.0), float)
    assert lab.true_dIdV_S(np.zeros((3, 4))).shape == (3, 4)


def test_emulator_threads_share_the_lab_safely() -> None:
    clock = VirtualClock()
    lab = VirtualLab("InO-2", clock=clock, seed=3)
    lab.lockin.amplitude_Vrms = 0.02
    errors: list[BaseException] = []
    stop = threading.Event()

    def worker(job) -> None:
        try:
            while not stop.is_set():
                job()
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)

    jobs = [
        lambda: lab.lockin.read_xy_V(),
        lambda: lab.fridge.temperature_K(6),
        lambda: lab.measured_current_A(),
        lambda: setattr(lab, "bias_V", -3e-3),
    ]
    threads = [threading.Thread(target=worker, args=(j,), daemon=True) for j in jobs]
    for t in threads:
        t.start()
    for _ in range(200):
        clock.advance(0.01)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert not errors


def test_runs_on_a_scaled_wall_clock() -> None:
    lab = VirtualLab("InO-2", clock=ScaledClock(speedup=1000.0), seed=0)
    assert abs(lab.measured_current_A()) == pytest.approx(1e-9, rel=0.05)
    lab.fridge.temperature_K(6)
