"""The LakeShore372 driver under injected wire faults: every failure is a clear exception."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pyvisa.errors import VisaIOError

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.lakeshore372 import (
    LakeShore372,
    LakeShoreCommandError,
    LakeShoreError,
    LakeShoreReadingError,
)
from stm_andreev.drivers.lakeshore372_adapters import LakeShoreTransportBridge
from stm_andreev.simulators.emulators.lakeshore372 import LakeShore372Emulator
from stm_andreev.simulators.faults import FaultyEmulator, fault_spec
from stm_andreev.simulators.lab import VirtualLab
from stm_andreev.simulators.transports.inprocess import EmulatorAdapter

pytestmark = pytest.mark.faults


def _driver(faults: list[dict[str, Any]]) -> tuple[LakeShore372, VirtualClock, EmulatorAdapter]:
    clock = VirtualClock()
    lab = VirtualLab("InO-2", clock=clock, seed=2)
    emulator = FaultyEmulator(
        LakeShore372Emulator(lab, seed=2),
        [fault_spec(instrument="fridge", **spec) for spec in faults],
        random.Random(7),
        clock=clock,
    )
    adapter = EmulatorAdapter(emulator, clock=clock, timeout_s=1.0,
                              write_termination="\r\n", read_termination="\r\n")
    return LakeShore372(adapter), clock, adapter


GETTERS = [
    ("ch_6", "kelvin"), ("ch_A", "resistance"), ("ch_6", "reading_status"), ("ch_6", "setup"),
    ("ch_A", "sensor_setup"), ("", "scanner"), ("sample_heater", "setup"),
    ("sample_heater", "pid"), ("sample_heater", "heater_range"), ("", "identity"),
    ("sample_heater", "ramp"), ("", "sample_heater_output"),
]


@pytest.mark.parametrize("target,prop", GETTERS)
def test_garbled_replies_raise_reply_errors(target: str, prop: str) -> None:
    ls, _, _ = _driver([{"kind": "garble", "probability": 1.0}])
    obj = getattr(ls, target) if target else ls
    with pytest.raises((LakeShoreError, ValueError)):
        getattr(obj, prop)


def test_stall_times_out_and_the_clock_moves_by_the_timeout() -> None:
    ls, clock, _ = _driver([{"kind": "stall", "after_commands": 0}])
    with pytest.raises(VisaIOError):
        _ = ls.ch_A.kelvin
    assert clock.now() == pytest.approx(1.0)
    assert ls.ch_A.kelvin > 0  # the next exchange is clean


def test_dropped_connection_is_a_visa_error_and_reopens() -> None:
    ls, _, adapter = _driver([{"kind": "drop_connection", "after_commands": 1}])
    assert ls.ch_A.kelvin > 0
    with pytest.raises(VisaIOError):
        _ = ls.ch_A.kelvin
    adapter.reopen()
    assert ls.ch_A.kelvin > 0


def test_injected_esr_bits_fail_the_set_command() -> None:
    ls, _, _ = _driver([{"kind": "error_status", "after_commands": 0, "bits": 16}])
    with pytest.raises(LakeShoreCommandError, match="SETP 0,0.1.*execution error"):
        ls.sample_heater.setpoint = 0.1


def test_injected_status_bits_fail_the_reading() -> None:
    ls, _, _ = _driver([{"kind": "error_status", "after_commands": 1, "bits": 1}])
    bridge = LakeShoreTransportBridge(ls, "A")
    with pytest.raises(LakeShoreReadingError, match="CS_OVERLOAD"):
        bridge.resistance()


def test_restart_loses_settings_and_shows_power_on() -> None:
    ls, _, _ = _driver([{"kind": "restart", "after_commands": 2}])
    ls.sample_heater.setpoint = 0.2  # messages 1 (SETP) and 2 (*ESR?)
    assert ls.sample_heater.setpoint == 0.0  # message 3: the 372 power-cycled first
    assert int(ls.standard_event_status) == 128
