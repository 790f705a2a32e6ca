"""The SR860's capture buffer: the lock-in samples its own outputs at a fixed rate.

pymeasure's SR860 driver has no capture commands. With the buffer a whole bias sweep's
lock-in response can be recorded at a rate set by the instrument instead of one ``SNAP?``
round trip per point, and read back as float32 blocks:

    lockin.capture_length_kB = 64
    lockin.capture_quantities = "XY"
    lockin.capture_rate_exponent = 2          # CAPTURERATEMAX / 4
    lockin.start_capture()
    ... sweep ...
    data = lockin.read_capture()              # {"X": array, "Y": array}, V rms

Stop the capture before reading it: the SR860 answers ``CAPTUREGET?`` with a range error
(no reply) while it records.

Blocks arrive as IEEE 488.2 definite-length blocks of at most 64 kB each: ``#``, one nonzero
digit n, n digits giving the byte count, then exactly that many bytes. The SR860 manual sends
no terminator after them; the reader reads by count, never by line, and checks the header and
the length, so a garbled or short block raises :class:`CaptureReadError` naming what was wrong
instead of returning shifted data. A line feed after the block (some interfaces or firmware
add one) is tolerated but not required: after each block the driver synchronises with
``*OPC?`` and drops the one empty line such a terminator leaves, so the next reply is never
off by one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range

KILOBYTE = 1024
MAX_BLOCK_KB = 64
#: CAPTURECFG index -> quantities per sample (theta in degrees)
CAPTURE_QUANTITIES: dict[str, int] = {"X": 0, "XY": 1, "RT": 2, "XYRT": 3}
_COLUMNS = {"X": ("X",), "XY": ("X", "Y"), "RT": ("R", "THETA"), "XYRT": ("X", "Y", "R", "THETA")}


class CaptureReadError(Exception):
    """A capture block whose header, length or terminator is not what the SR860 sends."""


class SR860CaptureMixin:
    """Capture-buffer commands for the SR860 driver (mixed into a pymeasure Instrument)."""

    # Provided by the pymeasure Instrument this mixes into.
    write: Any
    ask: Any
    read_bytes: Any
    read: Any

    capture_length_kB = Instrument.control(
        "CAPTURELEN?", "CAPTURELEN %d",
        """Control the capture buffer length in kB (1-4096).""",
        validator=strict_range, values=(1, 4096), cast=int,
    )
    capture_quantities = Instrument.control(
        "CAPTURECFG?", "CAPTURECFG %d",
        """Control what each sample holds: 'X', 'XY', 'RT' or 'XYRT'.""",
        validator=strict_discrete_set, values=CAPTURE_QUANTITIES, map_values=True,
    )
    capture_rate_max_Hz = Instrument.measurement(
        "CAPTURERATEMAX?", """Get the fastest capture rate (Hz) the present filter allows.""",
    )
    capture_rate_exponent = Instrument.setting(
        "CAPTURERATE %d",
        """Set the capture rate to CAPTURERATEMAX / 2**n (n 0-20); read it with
        ``capture_rate_Hz`` (the SR860 answers ``CAPTURERATE?`` with the rate, not n).""",
        validator=strict_range, values=(0, 20),
    )
    capture_rate_Hz = Instrument.measurement(
        "CAPTURERATE?", """Get the capture rate (Hz) now set.""",
    )
    capture_bytes = Instrument.measurement(
        "CAPTUREBYTES?", """Get the number of bytes captured so far.""", cast=int,
    )

    def start_capture(self, continuous: bool = False) -> None:
        """Start capturing now: one shot (stops when full) or continuous (wraps around).

        Returns once the instrument has executed the start (``*OPC?``): a set command has no
        reply, and a sweep begun before the capture would be missing its first points.
        """
        self.write(f"CAPTURESTART {int(bool(continuous))},0")
        self.ask("*OPC?")

    def stop_capture(self) -> None:
        """Stop capturing (what was captured stays readable); returns once it has stopped."""
        self.write("CAPTURESTOP")
        self.ask("*OPC?")

    def read_capture(self) -> dict[str, np.ndarray]:
        """Every complete sample captured so far: quantity -> float array (V rms, degrees)."""
        columns = _COLUMNS[self.capture_quantities]
        n_bytes = int(self.capture_bytes)
        sample_bytes = 4 * len(columns)
        n_samples = n_bytes // sample_bytes
        raw = bytearray()
        total_kB = math.ceil(n_samples * sample_bytes / KILOBYTE)
        for offset in range(0, total_kB, MAX_BLOCK_KB):
            raw += self.capture_block(offset, min(MAX_BLOCK_KB, total_kB - offset))
        values = np.frombuffer(bytes(raw[:n_samples * sample_bytes]), dtype="<f4")
        table = values.reshape(n_samples, len(columns)).astype(float)
        return {name: table[:, i] for i, name in enumerate(columns)}

    def capture_block(self, offset_kB: int, length_kB: int) -> bytes:
        """``length_kB`` kB of the buffer from ``offset_kB`` (one ``CAPTUREGET?``), raw bytes."""
        if not 1 <= length_kB <= MAX_BLOCK_KB or offset_kB < 0:
            raise ValueError(f"capture block {offset_kB},{length_kB}: offset >= 0 and length "
                             f"1-{MAX_BLOCK_KB} kB")
        command = f"CAPTUREGET? {offset_kB},{length_kB}"
        self.write(command)
        head = bytes(self.read_bytes(2))
        if head[:1] != b"#" or not head[1:2].isdigit() or head[1:2] == b"0":
            raise CaptureReadError(f"{command}: reply starts {head!r}, not a #<n> block header")
        digits = bytes(self.read_bytes(int(head[1:2])))
        if not digits.isdigit():
            raise CaptureReadError(f"{command}: block length {digits!r} is not a number")
        size = int(digits)
        if size != length_kB * KILOBYTE:
            raise CaptureReadError(f"{command}: block of {size} bytes, asked for "
                                   f"{length_kB * KILOBYTE}")
        data = bytes(self.read_bytes(size))
        if len(data) != size:
            raise CaptureReadError(f"{command}: block cut short ({len(data)} of {size} bytes)")
        self._resynchronise(command)
        return data

    def _resynchronise(self, command: str) -> None:
        """Consume an optional terminator after a block: ``*OPC?`` must answer ``1``.

        Without a terminator the answer is the first line read; a LF (or CR LF) left after
        the block reads as one empty line first.
        """
        self.write("*OPC?")
        for _ in range(2):
            reply = self.read().strip()
            if reply == "1":
                return
            if reply:
                break
        raise CaptureReadError(f"{command}: unexpected bytes after the block ({reply!r})")
