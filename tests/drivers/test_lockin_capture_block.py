"""Our SR860 driver reads ``CAPTUREGET?`` blocks by the IEEE 488.2 definite-length rules.

The SR860 manual gives the reply as ``#nccccxxxx...`` with no terminator. The driver must read
exactly that byte stream, tolerate a trailing LF (or CR LF) if an interface adds one, and leave
the link in step: the reply after the block is the answer to the next query, not ``''``.

The instrument here is a scripted stand-in that answers with fixed, manual-exact bytes (not our
emulator), once in-process at byte level and once over TCP through pyvisa-py.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from stm_andreev.drivers.lockin import SR860LockIn
from stm_andreev.drivers.lockin_capture import CaptureReadError
from stm_andreev.simulators.transports.inprocess import EmulatorAdapter
from stm_andreev.simulators.transports.tcp import LineServer

SAMPLES = np.arange(256, dtype="<f4") * np.float32(0.25) - np.float32(3.0)
DATA = SAMPLES.tobytes()  # 1 kB, holds 0x0a bytes (a line reader would split it)
BLOCK = b"#41024" + DATA  # the manual's #nccccxxxx: n = 4 digits, cccc = 1024


class ScriptedSR860:
    """Answers each known query line with fixed bytes (latin-1 text), as the wire carries them."""

    name = "scripted SR860"

    def __init__(self, after_block: bytes) -> None:
        self.replies = {
            "CAPTUREGET? 0,1": (BLOCK + after_block).decode("latin-1"),
            "*OPC?": "1\n",
            "*IDN?": "Stanford_Research_Systems,SR860,003141,v1.51\n",
            "FREQ?": "1000.0000\n",
        }
        self.lines: list[str] = []

    def handle_line(self, line: str) -> str:
        self.lines.append(line)
        return self.replies.get(line.strip(), "")

    def reset(self) -> None:
        pass

    def connected(self) -> None:
        pass


def test_the_manual_bytes_hold_a_line_feed_inside_the_data() -> None:
    assert b"\n" in DATA  # so reading by line would cut the block


@pytest.mark.parametrize("after_block", [b"", b"\n", b"\r\n"], ids=["none", "LF", "CRLF"])
def test_driver_reads_a_manual_exact_block_in_process(after_block: bytes) -> None:
    instrument = ScriptedSR860(after_block)
    lockin = SR860LockIn(EmulatorAdapter(instrument))
    raw = lockin.capture_block(0, 1)
    assert raw == DATA
    np.testing.assert_array_equal(np.frombuffer(raw, dtype="<f4"), SAMPLES)
    # the next exchange is in step: its own answer, not '' nor a stale one
    assert lockin.ask("FREQ?").strip() == "1000.0000"
    assert lockin.ask("*IDN?").startswith("Stanford_Research_Systems,SR860")


@pytest.mark.parametrize("after_block", [b"", b"\n"], ids=["none", "LF"])
def test_driver_reads_a_manual_exact_block_over_tcp(after_block: bytes) -> None:
    with LineServer(ScriptedSR860(after_block)) as server:
        lockin = SR860LockIn.over_tcp(server.port, timeout_ms=3000)
        try:
            first = lockin.capture_block(0, 1)
            frequency = lockin.ask("FREQ?").strip()
            second = lockin.capture_block(0, 1)
            identity = lockin.ask("*IDN?")
        finally:
            lockin.adapter.close()
    assert first == second == DATA
    assert frequency == "1000.0000"
    assert identity.startswith("Stanford_Research_Systems,SR860")


@pytest.mark.parametrize("reply", [
    b"41024" + DATA,            # no '#'
    b"#0" + DATA + b"\n",       # indefinite length: not what the SR860 sends
    b"#4x024" + DATA,           # length not a number
    b"#3512" + DATA[:512],      # a block of another size than asked for
], ids=["no-hash", "indefinite", "bad-digits", "wrong-size"])
def test_driver_refuses_a_malformed_block(reply: bytes) -> None:
    instrument = ScriptedSR860(b"")
    instrument.replies["CAPTUREGET? 0,1"] = reply.decode("latin-1")
    lockin = SR860LockIn(EmulatorAdapter(instrument))
    with pytest.raises(CaptureReadError, match="CAPTUREGET\\? 0,1"):
        lockin.capture_block(0, 1)


def test_driver_refuses_a_block_cut_short() -> None:
    instrument = ScriptedSR860(b"")
    instrument.replies["CAPTUREGET? 0,1"] = (b"#41024" + DATA[:100]).decode("latin-1")
    lockin = SR860LockIn(EmulatorAdapter(instrument, timeout_s=0.01))
    with pytest.raises(Exception):  # noqa: B017 - a VISA timeout: the bytes never come
        lockin.capture_block(0, 1)


def test_driver_refuses_garbage_after_the_block() -> None:
    instrument = ScriptedSR860(b"junk\n")
    lockin = SR860LockIn(EmulatorAdapter(instrument))
    with pytest.raises(CaptureReadError, match="after the block"):
        lockin.capture_block(0, 1)


def test_block_layout_is_float32_little_endian() -> None:
    assert struct.unpack("<f", DATA[4:8])[0] == pytest.approx(-2.75)
