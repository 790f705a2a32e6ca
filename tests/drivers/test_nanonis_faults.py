"""NanonisController under injected wire faults (in-process, virtual clock): each fault ends in
its specific exception or a transparent reconnect, and the next command works again."""

from __future__ import annotations

import random

import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.nanonis import (
    NanonisCommandError,
    NanonisConnectionError,
    NanonisController,
    NanonisProtocolError,
    NanonisTimeout,
)
from stm_andreev.simulators.emulators.nanonis import NanonisEmulator
from stm_andreev.simulators.faults import FaultyEmulator, fault_spec
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.transports.inprocess import EmulatorSocket

pytestmark = pytest.mark.faults


def faulty_controller(*faults: dict, reconnect_attempts: int = 2, timeout_s: float = 2.0):
    clock = VirtualClock()
    lab = VirtualLab("InO-2", clock=clock, seed=5)
    specs = [fault_spec(instrument="nanonis", **f) for f in faults]
    emulator = FaultyEmulator(NanonisEmulator(lab), specs, random.Random(1), clock=clock)
    connections = []

    def factory(host, port, timeout):
        connections.append(EmulatorSocket(emulator, clock=clock, timeout_s=timeout))
        return connections[-1]

    ctl = NanonisController(
        socket_factory=factory, reconnect_attempts=reconnect_attempts, timeout_s=timeout_s
    )
    return ctl, lab, emulator, connections


def test_dropped_connection_is_reopened_and_the_command_resent():
    ctl, lab, emulator, connections = faulty_controller(
        {"kind": "drop_connection", "after_commands": 1}
    )
    ctl.set_bias(0.1)
    ctl.set_bias(0.2)  # dropped unexecuted, then resent on a new connection
    assert lab.bias_V == pytest.approx(0.2)
    assert len(connections) == 2
    assert [kind for _, kind in emulator.injected] == ["drop_connection"]


def test_repeated_drops_end_in_a_connection_error():
    ctl, lab, _, connections = faulty_controller(
        {"kind": "drop_connection", "after_commands": 0, "count": 10}, reconnect_attempts=2
    )
    with pytest.raises(NanonisConnectionError, match="Bias.Set.*3 tries failed"):
        ctl.set_bias(0.3)
    assert len(connections) == 3
    assert lab.bias_V != pytest.approx(0.3)


def test_stall_raises_timeout_then_recovers():
    ctl, lab, _, connections = faulty_controller({"kind": "stall", "after_commands": 0})
    with pytest.raises(NanonisTimeout, match="Bias.Get"):
        ctl.get_bias()
    assert ctl.get_bias() == pytest.approx(lab.bias_V)
    assert len(connections) == 2  # the out-of-step link was replaced


def test_late_reply_is_a_timeout_and_never_read_as_the_next_answer():
    ctl, lab, _, connections = faulty_controller(
        {"kind": "delay", "after_commands": 0, "delay_s": 10.0}, timeout_s=2.0
    )
    with pytest.raises(NanonisTimeout):
        ctl.get_z()
    lab.bias_V = 0.4
    assert ctl.get_bias() == pytest.approx(0.4)


def test_garbled_reply_is_a_protocol_error_then_recovers():
    ctl, lab, _, _ = faulty_controller({"kind": "garble", "after_commands": 0})
    with pytest.raises(NanonisProtocolError):
        ctl.get_bias()
    assert ctl.get_bias() == pytest.approx(lab.bias_V)


def test_error_status_is_a_command_error():
    ctl, _, _, _ = faulty_controller({"kind": "error_status", "after_commands": 0})
    with pytest.raises(NanonisCommandError, match="Bias.Get: Injected fault"):
        ctl.get_bias()


def test_restart_forgets_the_spectroscopy_settings():
    ctl, _, _, _ = faulty_controller({"kind": "restart", "after_commands": 1})
    ctl.set_spectroscopy_limits(-0.02, 0.02)
    assert ctl.get_spectroscopy_limits() == pytest.approx((-5e-3, 5e-3))
