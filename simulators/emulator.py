"""What every instrument emulator offers its transports (in-process and TCP).

Two shapes, one per wire-protocol family:

* :class:`LineEmulator` for the ASCII instruments (SR830, SR860, Lake Shore 372). The transport
  splits the incoming byte stream into lines (LF, CR or CRLF; blank lines dropped) and hands each
  line to :meth:`LineEmulator.handle_line`, which returns the exact text to send back, terminators
  included ("" when the instrument stays silent, e.g. after a set command or an unknown one).
* :class:`FrameEmulator` for the Nanonis controller's binary protocol. The transport reads the
  40-byte header and the body it announces and calls :meth:`FrameEmulator.handle_frame`, which
  returns the complete reply frame, or ``b""`` when the request asked for no reply. It must be
  thread-safe: the TCP server serves its four ports concurrently.

Both carry ``reset()``: a power cycle that loses every setting (fault injection uses it), and
``connected()``: called by a transport when a client connects (the Lake Shore's TCP port
expects nothing, the Nanonis starts nothing, but a restart can be observed).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

NANONIS_HEADER_BYTES = 40  # 32-byte name, int32 body size, uint16 response flag, 2 zero bytes


@runtime_checkable
class LineEmulator(Protocol):
    name: str

    def handle_line(self, line: str) -> str: ...

    def reset(self) -> None: ...

    def connected(self) -> None: ...


@runtime_checkable
class FrameEmulator(Protocol):
    name: str

    def handle_frame(self, header: bytes, body: bytes) -> bytes: ...

    def reset(self) -> None: ...

    def connected(self) -> None: ...
