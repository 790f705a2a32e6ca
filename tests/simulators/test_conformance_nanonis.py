"""The emulated Nanonis commands against the vendor client's declarations (``nanonis_spm``):
argument and return types of every emulated command, and the controller's error block for
every command of the concerned modules that is not emulated."""

from __future__ import annotations

import struct

import pytest

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.nanonis.commands import COMMANDS
from stm_andreev.simulators.emulators.conformance_nanonis import (
    VENDOR_DECLARATION_GAPS,
    canonical,
    in_scope,
    vendor_declarations,
)
from stm_andreev.simulators.emulators.nanonis import NanonisEmulator
from stm_andreev.simulators.lab import VirtualLab

nanonis_spm = pytest.importorskip("nanonis_spm")
DECLARED = vendor_declarations(nanonis_spm.Nanonis)


def test_the_vendor_client_declares_the_modules_in_scope() -> None:
    assert sum(in_scope(name) for name in DECLARED) > 100


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_emulated_command_types_match_the_vendor_declaration(name: str) -> None:
    assert name in DECLARED, f"{name} is not a command of the vendor client"
    spec = COMMANDS[name]
    args, returns = DECLARED[name]
    assert [f.type for f in spec.args] == canonical(args)
    if name in VENDOR_DECLARATION_GAPS:
        assert canonical(returns) != [f.type for f in spec.returns]  # still differs
        return
    assert [f.type for f in spec.returns] == canonical(returns)


def _request(name: str) -> bytes:
    return name.encode().ljust(32, b"\0") + struct.pack(">iHH", 0, 1, 0)


@pytest.mark.parametrize("name", sorted(n for n in DECLARED if in_scope(n) and n not in COMMANDS))
def test_a_command_not_emulated_gets_the_controllers_error_block(name: str) -> None:
    emulator = NanonisEmulator(VirtualLab("InO-2", clock=VirtualClock(), seed=1))
    reply = emulator.handle_frame(_request(name), b"")
    assert reply[:32].rstrip(b"\0") == name.encode()
    body = reply[40:]
    (size,) = struct.unpack(">i", reply[32:36])
    assert size == len(body)
    status, length = struct.unpack(">Ii", body[:8])
    assert status == 1 and name.encode() in body[8:8 + length]
