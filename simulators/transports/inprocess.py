"""In-process transports: the drivers talk to the emulators without sockets, in virtual time.

* :class:`EmulatorAdapter` is a pymeasure :class:`~pymeasure.adapters.Adapter` over a
  :class:`~stm_andreev.simulators.emulator.LineEmulator` (SR830, SR860, Lake Shore 372): pass
  it wherever a driver takes an adapter, e.g. ``SR830(EmulatorAdapter(emulator, clock=clock))``.
* :class:`EmulatorSocket` is a socket-like object over a
  :class:`~stm_andreev.simulators.emulator.FrameEmulator` (the Nanonis controller), for code
  that takes a ``socket_factory(host, port, timeout)`` or a connected socket
  (``nanonis_spm.Nanonis(EmulatorSocket(emulator))``).

Both fail the way the hardware path fails, so driver code cannot tell them apart: a read with
nothing to read raises pyvisa's timeout error (``VisaIOError`` with ``VI_ERROR_TMO``) or
:class:`socket.timeout`, after moving the clock on by the timeout as a real wait would; a reply
that an emulator (or an injected delay) produced later than the client's timeout is treated as
late: the read times out and the reply stays queued, as a stale reply does on a real link; a
dropped connection raises pyvisa's connection-lost error (``VI_ERROR_CONN_LOST``, as NI-VISA
reports it) or reads EOF on the socket. Note that pyvisa-py over TCP reports a connection the
peer closed as a timeout (``VI_ERROR_TMO``, after spinning for the whole timeout) and lets later
writes pass silently; drivers should treat any ``VisaIOError`` of an exchange as a failed
exchange, which covers both.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable

import pyvisa.errors
from pymeasure.adapters import Adapter
from pyvisa.constants import StatusCode

from stm_andreev.clock import Clock
from stm_andreev.simulators.emulator import NANONIS_HEADER_BYTES, FrameEmulator, LineEmulator
from stm_andreev.simulators.transports.errors import (
    ConnectionDropped,
    FrameError,
    TransportClosedError,
)

# Line-oriented input ends in LF, CR or CRLF; a CR at the end of a chunk is taken as complete
# (the LF that may follow produces an empty line, which is dropped like every blank line).
_LINE_END_RE = re.compile(r"\r\n|\r|\n")
# The wire is bytes; latin-1 maps them one to one onto str, so binary blocks (SR860
# CAPTUREGET?) survive the emulators' str interface unchanged.
WIRE_ENCODING = "latin-1"
DEFAULT_TIMEOUT_S = 2.0


def split_lines(buffer: str) -> tuple[list[str], str]:
    """Split ``buffer`` into complete non-blank lines and the unterminated rest.

    >>> split_lines("A\\r\\nB\\n\\nC")
    (['A', 'B'], 'C')
    """
    pieces = _LINE_END_RE.split(buffer)
    rest = pieces.pop()
    return [p for p in pieces if p.strip()], rest


def visa_timeout_error() -> pyvisa.errors.VisaIOError:
    """The exception pyvisa raises when a read times out."""
    return pyvisa.errors.VisaIOError(StatusCode.error_timeout)


def visa_connection_lost_error() -> pyvisa.errors.VisaIOError:
    """The exception pyvisa raises when the connection to an instrument is lost."""
    return pyvisa.errors.VisaIOError(StatusCode.error_connection_lost)


class _ReplyQueue:
    """Reply bytes waiting to be read, remembering which replies came after the client's timeout.

    A late reply makes the read that reaches it time out once (the client gave up waiting);
    the bytes stay queued, so the next read returns them, as a stale reply on a real link.
    Replies queued before it are read normally.
    """

    def __init__(self) -> None:
        self.data = bytearray()
        self._late_starts: deque[int] = deque()  # absolute offsets where late replies begin
        self._added = 0
        self._taken = 0

    def __len__(self) -> int:
        return len(self.data)

    def add(self, reply: bytes, *, late: bool) -> None:
        if late:
            self._late_starts.append(self._added)
        self.data += reply
        self._added += len(reply)

    def reaches_late_reply(self) -> bool:
        """True, once per late reply, when the next unread byte is the start of one."""
        if self._late_starts and self._late_starts[0] <= self._taken:
            self._late_starts.popleft()
            return True
        return False

    def find(self, sub: bytes) -> int:
        return self.data.find(sub)

    def take(self, count: int) -> bytes:
        out = bytes(self.data[:count])
        del self.data[:count]
        self._taken += len(out)
        return out

    def clear(self) -> None:
        self._taken += len(self.data)
        self.data.clear()
        self._late_starts.clear()


class EmulatorAdapter(Adapter):
    """A pymeasure adapter whose instrument is a line emulator in the same process.

    Written text is split into lines (LF, CR or CRLF; blank lines dropped) and each line goes
    to ``emulator.handle_line``; replies queue up and each read returns one line without its
    terminator, as pyvisa does with a read termination set.

    Args:
        emulator: the instrument (a :class:`LineEmulator`, possibly fault-wrapped).
        clock: station clock; a read that times out advances it by ``timeout_s`` (with a
            :class:`~stm_andreev.clock.VirtualClock` that costs nothing). ``None``: no clock,
            timeouts are immediate and replies are never late.
        timeout_s: read timeout in seconds (0 < timeout_s <= 3600), like the VISA timeout.
        write_termination: appended to every :meth:`write` (default LF).
        read_termination: ``None`` (default) returns a line with its LF or CRLF removed;
            a string reproduces pyvisa exactly: the read ends at it and only it is removed.
        log: parent logger, as for every pymeasure adapter.
    """

    def __init__(
        self,
        emulator: LineEmulator,
        *,
        clock: Clock | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        write_termination: str = "\n",
        read_termination: str | None = None,
        log=None,
        **kwargs,
    ) -> None:
        if not 0 < timeout_s <= 3600:
            raise ValueError(f"timeout_s must be in (0, 3600] s, got {timeout_s}")
        if read_termination == "":
            raise ValueError("read_termination must be None or a non-empty string")
        super().__init__(log=log, **kwargs)
        self.emulator = emulator
        self.clock = clock
        self.timeout_s = float(timeout_s)
        self.write_termination = write_termination
        self.read_termination = read_termination
        self.connection = None
        self._input = ""
        self._output = _ReplyQueue()
        self._dropped = False
        self._closed = False
        self._lock = threading.Lock()
        emulator.connected()

    def __repr__(self) -> str:
        return f"<EmulatorAdapter {getattr(self.emulator, 'name', '?')}>"

    @property
    def is_open(self) -> bool:
        """False once closed by the client or dropped by the instrument."""
        return not (self._closed or self._dropped)

    def reopen(self) -> None:
        """Reconnect after a dropped connection (like reopening the VISA resource)."""
        if self._closed:
            raise TransportClosedError(f"{self!r} was closed by its owner")
        with self._lock:
            self._dropped = False
            self._input = ""
            self._output.clear()
        self.emulator.connected()

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise TransportClosedError(f"{self!r} is closed")
        if self._dropped:
            raise visa_connection_lost_error()

    # writing
    def _write(self, command: str, **kwargs) -> None:
        self._feed(command + self.write_termination)

    def _write_bytes(self, content: bytes, **kwargs) -> None:
        self._feed(content.decode(WIRE_ENCODING))

    def _feed(self, text: str) -> None:
        with self._lock:
            self._check_open()
            lines, self._input = split_lines(self._input + text)
            for line in lines:
                started = self.clock.now() if self.clock is not None else 0.0
                try:
                    reply = self.emulator.handle_line(line)
                except ConnectionDropped:
                    self._dropped = True
                    self._input = ""
                    self._output.clear()
                    raise visa_connection_lost_error() from None
                if reply:
                    late = self.clock is not None and self.clock.now() - started > self.timeout_s
                    self._output.add(reply.encode(WIRE_ENCODING), late=late)

    # reading
    def _timeout(self) -> pyvisa.errors.VisaIOError:
        if self.clock is not None:
            self.clock.sleep(self.timeout_s)
        return visa_timeout_error()

    def _read(self, **kwargs) -> str:
        with self._lock:
            self._check_open()
            if self._output.reaches_late_reply():
                # The clock already passed the timeout while the emulator worked.
                raise visa_timeout_error()
            end = self.read_termination.encode(WIRE_ENCODING) if self.read_termination else b"\n"
            index = self._output.find(end)
            if index < 0:
                raise self._timeout()
            line = self._output.take(index + len(end))[:index]
        if self.read_termination is None and line.endswith(b"\r"):
            line = line[:-1]
        return line.decode(WIRE_ENCODING)

    def _read_bytes(self, count: int, break_on_termchar: bool = False, **kwargs) -> bytes:
        """Read ``count`` bytes (-1: everything queued), stopping after LF if asked to.

        Like pymeasure's VISA adapter, ``count=-1`` returns what is there (possibly nothing,
        after the timeout) instead of raising; a positive count not available times out.
        """
        with self._lock:
            self._check_open()
            if self._output.reaches_late_reply():
                raise visa_timeout_error()
            available = len(self._output)
            if break_on_termchar:
                end = self._output.find(b"\n")
                if end >= 0:
                    available = end + 1
            if count < 0:
                if not self._output and self.clock is not None:
                    self.clock.sleep(self.timeout_s)
                take = available
            elif count <= available or (break_on_termchar and available < len(self._output)):
                take = min(count, available)
            else:
                raise self._timeout()
            data = self._output.take(take)
        return data

    def flush_read_buffer(self) -> None:
        """Discard every queued reply (late ones included)."""
        with self._lock:
            self._output.clear()


class EmulatorSocket:
    """A connected-socket look-alike whose peer is a Nanonis frame emulator.

    Bytes sent are assembled into request frames (40-byte header, then the body size it
    announces); each complete frame goes to ``emulator.handle_frame`` and its reply becomes
    readable with :meth:`recv`. Implements what socket clients of the Nanonis use: ``send``,
    ``sendall``, ``recv``, ``settimeout``, ``gettimeout``, ``setsockopt``, ``shutdown``,
    ``close`` and the context-manager protocol.

    Args:
        emulator: the Nanonis emulator (possibly fault-wrapped).
        clock: station clock; a timed-out ``recv`` advances it by the timeout.
        timeout_s: receive timeout in seconds, as :meth:`socket.socket.settimeout`. ``None``
            (block forever) would hang in-process where nothing can arrive later, so it is
            taken as ``DEFAULT_TIMEOUT_S``.
    """

    def __init__(
        self,
        emulator: FrameEmulator,
        *,
        clock: Clock | None = None,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.emulator = emulator
        self.clock = clock
        self._timeout_s = DEFAULT_TIMEOUT_S
        self.settimeout(timeout_s)
        self._input = bytearray()
        self._output = _ReplyQueue()
        self._peer_closed = False
        self._closed = False
        self._lock = threading.Lock()
        emulator.connected()

    @classmethod
    def factory(
        cls, emulator: FrameEmulator, *, clock: Clock | None = None
    ) -> Callable[[str, int, float | None], EmulatorSocket]:
        """A ``socket_factory(host, port, timeout)`` that connects to ``emulator``.

        Host and port are accepted for signature compatibility and ignored (every port of
        the simulated controller reaches the same emulator).
        """

        def connect(host: str, port: int, timeout: float | None = DEFAULT_TIMEOUT_S):
            return cls(emulator, clock=clock, timeout_s=timeout)

        return connect

    def __repr__(self) -> str:
        return f"<EmulatorSocket {getattr(self.emulator, 'name', '?')}>"

    def __enter__(self) -> EmulatorSocket:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def settimeout(self, timeout_s: float | None) -> None:
        """Set the receive timeout in seconds (> 0; ``None`` means the default 2 s)."""
        if timeout_s is None:
            timeout_s = DEFAULT_TIMEOUT_S
        if timeout_s <= 0:
            raise ValueError(f"timeout must be positive, got {timeout_s} s")
        self._timeout_s = float(timeout_s)

    def gettimeout(self) -> float:
        return self._timeout_s

    def setsockopt(self, *args) -> None:
        """Accepted and ignored (TCP_NODELAY and friends mean nothing in-process)."""

    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True

    def fileno(self) -> int:
        return -1

    def _check_open(self) -> None:
        if self._closed:
            raise TransportClosedError(f"{self!r} is closed")

    def send(self, data: bytes) -> int:
        self.sendall(data)
        return len(data)

    def sendall(self, data: bytes) -> None:
        """Queue ``data``; every request frame it completes is executed at once.

        Raises:
            BrokenPipeError: the peer hung up (an injected drop) before this send.
            FrameError: a header announces a negative body size.
        """
        with self._lock:
            self._check_open()
            if self._peer_closed:
                raise BrokenPipeError(f"{self!r}: the controller closed the connection")
            self._input += data
            while len(self._input) >= NANONIS_HEADER_BYTES:
                (body_size,) = struct.unpack_from(">i", self._input, 32)
                if body_size < 0:
                    name = bytes(self._input[:32]).rstrip(b"\0").decode("ascii", "replace")
                    self._input.clear()
                    raise FrameError(f"request {name!r} announces a negative body size "
                                     f"({body_size} bytes)")
                end = NANONIS_HEADER_BYTES + body_size
                if len(self._input) < end:
                    break
                header = bytes(self._input[:NANONIS_HEADER_BYTES])
                body = bytes(self._input[NANONIS_HEADER_BYTES:end])
                del self._input[:end]
                started = self.clock.now() if self.clock is not None else 0.0
                try:
                    reply = self.emulator.handle_frame(header, body)
                except ConnectionDropped:
                    # The data left this end; the peer hangs up, so reads see EOF.
                    self._peer_closed = True
                    self._input.clear()
                    return
                if reply:
                    late = self.clock is not None and self.clock.now() - started > self._timeout_s
                    self._output.add(reply, late=late)

    def recv(self, bufsize: int) -> bytes:
        """Return up to ``bufsize`` queued reply bytes; ``b""`` once the peer hung up.

        Raises:
            socket.timeout: nothing queued (the clock moves on by the timeout).
        """
        with self._lock:
            self._check_open()
            if self._output.reaches_late_reply():
                raise TimeoutError(f"{self!r}: no reply within {self._timeout_s} s")
            if not self._output:
                if self._peer_closed:
                    return b""
                if self.clock is not None:
                    self.clock.sleep(self._timeout_s)
                raise TimeoutError(f"{self!r}: no reply within {self._timeout_s} s")
            data = self._output.take(bufsize)
        return data
