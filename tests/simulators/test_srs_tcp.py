"""Our lock-in drivers and plain pymeasure over loopback TCP (pyvisa-py) to the emulators."""

from __future__ import annotations

import pytest
from pymeasure.instruments.srs import SR830

from stm_andreev.drivers.lockin import SR830LockIn, SR860LockIn
from stm_andreev.simulators.emulators.srs import SR830Emulator, SR860Emulator
from stm_andreev.simulators.transports.tcp import LineServer
from tests.simulators.test_srs_parser import ScriptedLab

pytestmark = pytest.mark.tcp

TIMEOUT_MS = 2000


@pytest.mark.parametrize(("cls", "emulator_cls"), [(SR830LockIn, SR830Emulator),
                                                   (SR860LockIn, SR860Emulator)])
def test_driver_over_tcp(cls, emulator_cls) -> None:
    lab = ScriptedLab()
    lab.lockin.xy = (2.5e-3, -1e-4)
    emulator = emulator_cls(lab)
    with LineServer(emulator, port=0).start() as server:
        lockin = cls.over_tcp(server.port, timeout_ms=TIMEOUT_MS)
        try:
            assert lockin.id.startswith(f"Stanford_Research_Systems,{emulator.name},")
            lockin.sensitivity = 5e-3
            lockin.time_constant = 0.1
            lockin.filter_slope = 24
            assert lockin.sensitivity == 5e-3
            assert lab.lockin.sensitivity_V == 5e-3
            assert lockin.snap_xy() == pytest.approx((2.5e-3, -1e-4))
            assert lockin.settle_time() == pytest.approx(1.3062240779, rel=1e-9)
            assert not lockin.overloaded()
        finally:
            lockin.adapter.close()
    assert not emulator.command_errors


def test_plain_pymeasure_sr830_over_tcp_with_trailing_semicolons() -> None:
    lab = ScriptedLab()
    emulator = SR830Emulator(lab)
    with LineServer(emulator, port=0).start() as server:
        lockin = SR830(server.visa_address, visa_library="@py", read_termination="\n",
                       timeout=TIMEOUT_MS)
        try:
            lockin.aux_out_3 = -2.5
            assert lockin.aux_out_3 == -2.5
            assert lockin.aux_in_1 == 0.0
            assert lockin.frequency == 1000.0
        finally:
            lockin.adapter.close()
    assert not emulator.command_errors
