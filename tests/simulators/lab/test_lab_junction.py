"""Junction and Z controller of the VirtualLab: setpoints, gap deficit, limits, crash, preamp."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.physics import G0_S, current_A, get_sample
from stm_andreev.simulators.lab import FeedbackError, LabError, VirtualLab

from .conftest import V_SP, settle


@pytest.mark.parametrize("setpoint_A", [1e-9, 1e-8, 1e-7, 1e-6])
def test_feedback_reaches_setpoint_at_minus_3mV(lab, clock, setpoint_A) -> None:
    took = settle(lab, clock, setpoint_A)
    assert took < 3.0
    currents = [lab.measured_current_A() for _ in range(20)]
    assert np.mean(currents) == pytest.approx(-setpoint_A, rel=3e-3)
    assert lab.feedback_status() == 2
    js = lab.junction_state()
    # The model's own DC current at the settled junction is exactly the setpoint.
    I_model = current_A(
        np.array([V_SP]),
        G_N_S=js["G_N_S"],
        Eg_eV=js["Eg_eV"],
        Dc_eV=js["Dc_eV"],
        Z=js["Z"],
        gamma_eV=js["gamma_eV"],
        T_K=js["T_K"],
        gamma_c_eV=js["gamma_c_eV"],
    )[0]
    assert I_model == pytest.approx(-setpoint_A, rel=1e-4)


def test_setpoint_conductance_differs_from_G_N_by_the_gap_deficit(lab, clock) -> None:
    settle(lab, clock, 1e-9)
    js = lab.junction_state()
    G_sp = 1e-9 / 3e-3
    assert G_sp / G0_S == pytest.approx(0.0043, rel=0.01)
    # At the 650 ueV spot the tunnelling current at 3 mV is a few percent below G_N V.
    deficit = 1 - G_sp / js["G_N_S"]
    assert 0.01 < deficit < 0.1
    assert js["Z"] > 10


def test_contact_at_1uA_has_paper_like_barrier(lab, clock) -> None:
    settle(lab, clock, 1e-6)
    js = lab.junction_state()
    # 140 channels: 1 uA at -3 mV is G_N ~ 4.5 G0, tau ~ 0.032 (docs/physics.md)
    assert 5.0 < js["Z"] < 6.0
    assert js["tau"] < 0.98
    # Fig. 1's top curve: G(-3 mV) above 4 e^2/h = 2 G0.
    assert lab.true_dIdV_S(V_SP) / G0_S > 2.0
    assert lab.feedback_status() == 2 and not lab.safe_tip_events


def test_feedback_tracks_a_setpoint_step_at_finite_speed(lab, clock) -> None:
    settle(lab, clock, 1e-9)
    lab.preamp_gain_index = 3  # 1e8 V/A: 1 V at 10 nA
    clock.advance(1.0)
    z_before = lab.z_m
    lab.setpoint_A = 1e-8
    clock.advance(1e-4)
    # 1e-4 s at <= 100 nm/s: at most 10 pm of travel.
    assert 0 < z_before - lab.z_m <= 100e-9 * 1e-4 + 1e-15
    clock.advance(1.0)
    assert abs(lab.measured_current_A()) == pytest.approx(1e-8, rel=0.01)
    # One decade of current per ~1.15 Angstrom in tunnelling.
    assert z_before - lab.z_m == pytest.approx(np.log(10) / 2e10, rel=0.05)


def test_setting_z_with_feedback_on_is_refused(lab) -> None:
    assert lab.feedback_on
    with pytest.raises(FeedbackError, match="feedback|Z controller"):
        lab.z_m = 1e-9
    assert isinstance(FeedbackError("x"), LabError)


def test_z_limits_clamp_the_feedback(lab, clock) -> None:
    settle(lab, clock, 1e-9)
    z = lab.z_m
    lab.set_z_limits(z + 0.5e-10, 100e-9)
    assert lab.z_m == pytest.approx(z + 0.5e-10)
    clock.advance(1.0)
    # The controller wants to go lower but stays at the lower limit: less current than asked.
    assert lab.z_m == pytest.approx(z + 0.5e-10)
    assert abs(lab.measured_current_A()) < 0.5e-9
    assert lab.z_limits_m == (z + 0.5e-10, 100e-9)
    with pytest.raises(LabError, match="low < high"):
        lab.set_z_limits(1e-9, -1e-9)
    lab.feedback_on = False
    with pytest.raises(LabError, match="outside the z limits"):
        lab.z_m = 200e-9


def test_crash_when_setpoint_unreachable(lab, clock) -> None:
    lab.preamp_gain_index = 0
    # beyond N G0 V (140 channels: 33 uA at -3 mV) even at full transmission, below the 1e5 V/A
    # preamp's 100 uA saturation: the loop pushes into contact
    lab.setpoint_A = 6e-5
    clock.advance(30.0)
    assert lab.feedback_status() == 5
    assert not lab.feedback_on
    events = lab.safe_tip_events
    assert len(events) == 1 and "crash" in events[0][1]
    assert 0 < events[0][0] <= 30.0
    assert lab.z_m == lab.z_limits_m[1]  # withdrawn by the safe-tip action
    # Status 5 stays until the controller is switched on again.
    clock.advance(1.0)
    assert lab.feedback_status() == 5
    lab.setpoint_A = 1e-9
    lab.preamp_gain_index = 3
    lab.feedback_on = True
    assert lab.feedback_status() == 2
    clock.advance(5.0)
    assert abs(lab.measured_current_A()) == pytest.approx(1e-9, rel=0.02)


def test_crash_at_zero_bias(lab, clock) -> None:
    lab.bias_V = 0.0  # no current at any height: the controller drives the tip down
    clock.advance(10.0)
    assert lab.feedback_status() == 5
    assert len(lab.safe_tip_events) == 1


def test_crash_by_direct_z_move_changes_the_tip(lab) -> None:
    lab.feedback_on = False
    before = lab.junction_state()
    lab.z_m = before["z0_m"] - 3e-10
    assert lab.feedback_status() == 5
    after = lab.junction_state()
    assert (after["z0_m"], after["n_channels"]) != (before["z0_m"], before["n_channels"])


def test_preamp_saturates_at_1uA_with_gain_1e9_not_1e5(lab, clock) -> None:
    settle(lab, clock, 1e-6)
    lab.feedback_on = False
    lab.preamp_gain_index = 0  # 1e5 V/A: 0.1 V
    assert not lab.preamp_saturated()
    assert lab.preamp_gains_V_per_A[lab.preamp_gain_index] == 1e5
    lab.preamp_gain_index = 4  # 1e9 V/A: would be 1000 V
    assert lab.preamp_saturated()
    assert lab.measured_current_A() == pytest.approx(-10.0 / 1e9)


def test_setpoint_above_preamp_saturation_crashes_the_tip(lab, clock) -> None:
    """The loop regulates the preamp's (clipped) output, as the real controller does."""
    settle(lab, clock, 1e-9)  # at 1e9 V/A, which clips at 10 nA
    lab.setpoint_A = 2e-8
    clock.advance(30.0)
    assert lab.feedback_status() == 5
    assert "crash" in lab.safe_tip_events[-1][1]


def test_preamp_gain_index_validated(lab) -> None:
    with pytest.raises(LabError, match="gain index"):
        lab.preamp_gain_index = 5


def test_bias_validated(lab) -> None:
    with pytest.raises(LabError, match="bias"):
        lab.bias_V = 11.0


def test_withdraw_and_home(lab, clock) -> None:
    lab.withdraw()
    assert not lab.feedback_on and lab.feedback_status() == 1
    assert lab.z_m == lab.z_limits_m[1]
    assert abs(lab.measured_current_A()) < 1e-12
    lab.home()
    assert lab.z_m == pytest.approx(10e-9)
    settle(lab, clock, 1e-9)


def test_tip_change_is_logged_and_feedback_recovers(lab, clock) -> None:
    settle(lab, clock, 1e-9)
    before = lab.junction_state()
    lab.tip_change()
    events = lab.safe_tip_events
    assert len(events) == 1 and "tip changed" in events[0][1]
    after = lab.junction_state()
    assert (after["z0_m"], after["n_channels"]) != (before["z0_m"], before["n_channels"])
    clock.advance(2.0)
    assert abs(lab.measured_current_A()) == pytest.approx(1e-9, rel=0.02)


def test_move_tip_changes_the_local_gap(lab, clock) -> None:
    assert lab.junction_state()["Eg_eV"] == pytest.approx(650e-6, abs=1e-9)
    lab.move_tip(120e-9, -60e-9)
    assert lab.tip_xy_m == (120e-9, -60e-9)
    assert lab.junction_state()["Eg_eV"] != pytest.approx(650e-6, abs=5e-6)
    with pytest.raises(LabError, match="tip position"):
        lab.move_tip(1.0, 0.0)


def test_feedback_gains(lab) -> None:
    lab.feedback_gains = (1e-11, 2e-3, 5e-9)
    assert lab.feedback_gains == (1e-11, 2e-3, 5e-9)
    with pytest.raises(LabError, match="gains"):
        lab.feedback_gains = (-1.0, 1e-3, 1e-9)


def test_same_seed_same_clock_history_same_numbers() -> None:
    def run() -> list[float]:
        clock = VirtualClock()
        lab = VirtualLab("InO-1", clock=clock, seed=42)
        out = []
        for sp in (1e-9, 5e-8, 3e-6):
            lab.preamp_gain_index = 0
            lab.setpoint_A = sp
            clock.advance(3.0)
            out += [lab.measured_current_A(), lab.z_m, float(lab.feedback_status())]
        lab.tip_change()
        lab.lockin.amplitude_Vrms = 0.02
        clock.advance(1.0)
        out += [*lab.lockin.read_xy_V(), lab.junction_state()["z0_m"]]
        return out

    assert run() == run()


def test_twelve_hour_virtual_advance(lab, clock) -> None:
    lab.fridge.heater_range = 3
    lab.fridge.pid = (1000.0, 25.0, 0.0)
    lab.fridge.setpoint_K = 0.065
    settle(lab, clock, 1e-7)
    clock.advance(12 * 3600)
    assert abs(lab.measured_current_A()) == pytest.approx(1e-7, rel=0.01)
    assert lab.fridge.temperature_K("mixing chamber") == pytest.approx(0.065, abs=1e-4)


def test_feedback_follows_each_change_of_what_it_regulates(lab, clock) -> None:
    """The lab reuses z* while nothing changed; every change must still move the tip."""
    for setpoint_A in (1e-9, 1e-7, 1e-9):
        settle(lab, clock, setpoint_A)
        assert np.mean([lab.measured_current_A() for _ in range(20)]) == pytest.approx(
            -setpoint_A, rel=3e-3)
    z_at_3mV = lab.z_m
    lab.bias_V = -6e-3  # same setpoint at twice the bias: the tip backs off
    clock.advance(3.0)
    assert lab.z_m > z_at_3mV + 1e-12
    assert np.mean([lab.measured_current_A() for _ in range(20)]) == pytest.approx(
        -1e-9, rel=3e-3)


def test_root_search_brackets_and_degenerate_ends() -> None:
    from stm_andreev.simulators.lab.junction import Z_ROOT_TOLERANCE_M, _root

    z0 = 3.21e-10
    assert _root(lambda z: (z0 - z) * 1e10, 0.0, 1e-9) == pytest.approx(
        z0, abs=10 * Z_ROOT_TOLERANCE_M)
    # infinite at one end (ln I = -inf far away), still the crossing
    f = lambda z: np.log(max(z0 - z, 0.0) * 1e10 + 1e-300) if z < z0 else -np.inf  # noqa: E731
    assert _root(lambda z: f(z) + 1.0, 0.0, 1e-9) == pytest.approx(
        z0 - np.exp(-1.0) * 1e-10, abs=1e-18)
    assert _root(lambda z: 1.0, 0.0, 1e-9) == 1e-9  # positive everywhere: the far end
    assert _root(lambda z: -1.0, 0.0, 1e-9) == 0.0  # negative everywhere: the near end


def test_tip_changes_keep_the_samples_channel_count(clock) -> None:
    """Issue 15: a tip change redrew the channel count between 2 and 8, whatever the sample."""
    lab = VirtualLab("InO-2", clock=clock, seed=0)
    assert lab.junction_state()["n_channels"] == get_sample("InO-2").n_channels == 140
    lab.feedback_on = False
    for _ in range(20):
        z0 = lab.junction_state()["z0_m"]
        lab.z_m = z0 - 3e-10  # a crash: the tip reshapes
        lab.feedback_on = False
        lab.z_m = 1e-8
    state = lab.junction_state()
    assert state["n_channels"] == 140 and len(lab.safe_tip_events) == 20


def test_tip_change_channel_fraction_is_a_sample_parameter(clock) -> None:
    sample = dataclasses.replace(get_sample("InO-2"), n_channels=30,
                                 tip_change_channel_fraction=0.3)
    lab = VirtualLab(sample, clock=clock, seed=4)
    counts = set()
    lab.feedback_on = False
    for _ in range(20):
        lab.z_m = lab.junction_state()["z0_m"] - 3e-10
        lab.feedback_on = False
        lab.z_m = 1e-8
        counts.add(int(lab.junction_state()["n_channels"]))
    assert len(counts) > 3 and max(counts) > 8  # not confined to 2..8
