"""Test doubles for the transport tests: tiny emulators with known, exact replies.

They stand in for an instrument so the transports and the fault wrapper are tested on their
own; the real SRS / Lake Shore / Nanonis emulators are exercised in the tests that use them.
This module holds no tests itself (pytest collects it and finds none).
"""

from __future__ import annotations

import struct
import threading

from stm_andreev.clock import Clock
from stm_andreev.simulators.emulator import NANONIS_HEADER_BYTES


class EchoLineEmulator:
    """An ASCII instrument in the SRS style: one reply line per query, LF-terminated.

    ``VAL x`` sets a value, ``VAL?`` returns it, ``LIAS?`` returns the status (0),
    ``SLOW?`` takes ``slow_s`` on the clock, ``*IDN?`` identifies, anything else is silent.
    Several commands per line are separated by ``;``. ``reset()`` restores ``VAL 0``.
    """

    name = "echo"

    def __init__(self, clock: Clock | None = None, slow_s: float = 5.0) -> None:
        self.clock = clock
        self.slow_s = slow_s
        self.value = 0.0
        self.lines: list[str] = []
        self.connections = 0
        self.resets = 0
        self._lock = threading.Lock()

    def handle_line(self, line: str) -> str:
        with self._lock:
            self.lines.append(line)
            replies = []
            for segment in line.split(";"):
                command = segment.strip().upper()
                if not command:
                    continue
                if command.startswith("VAL?"):
                    replies.append(f"{self.value:g}\n")
                elif command.startswith("VAL"):
                    self.value = float(command[3:])
                elif command.startswith("LIAS?"):
                    replies.append("0\n")
                elif command == "*IDN?":
                    replies.append("TEST,ECHO,0,1.0\n")
                elif command == "SLOW?" and self.clock is not None:
                    self.clock.sleep(self.slow_s)
                    replies.append("done\n")
            return "".join(replies)

    def reset(self) -> None:
        with self._lock:
            self.value = 0.0
            self.resets += 1

    def connected(self) -> None:
        self.connections += 1


class JoinedLineEmulator(EchoLineEmulator):
    """The Lake Shore convention: all answers of one line joined by ``;``, ended by CRLF."""

    name = "joined"

    def handle_line(self, line: str) -> str:
        reply = super().handle_line(line)
        answers = [a for a in reply.split("\n") if a]
        return ";".join(answers) + "\r\n" if answers else ""


def request_frame(name: str, body: bytes = b"", respond: bool = True) -> bytes:
    """A Nanonis request frame: 32-byte name, int32 body size, uint16 flag, 2 zero bytes."""
    return name.encode("ascii").ljust(32, b"\0") + struct.pack(">iHH", len(body), respond, 0) + body


def parse_reply(frame: bytes) -> tuple[str, bytes]:
    """Split a reply frame into (echoed name, body)."""
    name = frame[:32].rstrip(b"\0").decode("ascii", "replace")
    (size,) = struct.unpack_from(">i", frame, 32)
    body = frame[NANONIS_HEADER_BYTES:]
    assert len(body) == size, f"body {len(body)} bytes, header announces {size}"
    return name, body


class EchoFrameEmulator:
    """A Nanonis look-alike: echoes the request body, then an empty error block.

    ``Wait.Block`` blocks until :attr:`release` is set (bounded by 5 s) so a test can hold one
    port busy while another answers.
    """

    name = "frame-echo"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.frames: list[str] = []
        self.connections = 0
        self.resets = 0
        self._lock = threading.Lock()

    def handle_frame(self, header: bytes, body: bytes) -> bytes:
        name = header[:32].rstrip(b"\0").decode("ascii")
        with self._lock:
            self.frames.append(name)
        if name == "Wait.Block":
            self.release.wait(5.0)
        (respond,) = struct.unpack_from(">H", header, 36)
        if not respond:
            return b""
        reply_body = body + bytes(8)
        return header[:32] + struct.pack(">i", len(reply_body)) + bytes(4) + reply_body

    def reset(self) -> None:
        self.resets += 1

    def connected(self) -> None:
        with self._lock:
            self.connections += 1
