"""The SR860's capture-buffer commands (PROTOCOLS.md section 2) over the lab's lock-in.

    CAPTURELEN n / ?     buffer length in kB (1-4096)
    CAPTURECFG i / ?     what each sample holds: 0 X, 1 X Y, 2 R theta, 3 X Y R theta
    CAPTURERATEMAX?      fastest sample rate (Hz) for the present time constant
    CAPTURERATE n / ?    sample rate = CAPTURERATEMAX / 2^n (n 0-20)
    CAPTURESTART i, j    i: 0 one shot (stop when full), 1 continuous (wrap around);
                         j: 0 start now; 1-3 wait for a trigger (the simulated lab has no
                         trigger input, so such a capture stays armed and empty)
    CAPTURESTOP
    CAPTUREBYTES?        bytes captured so far (at most the buffer)
    CAPTUREPROG?         kB captured so far
    CAPTUREGET? i, j     j kB from offset i kB as an IEEE 488.2 definite-length block
                         (``#<digits><length><float32 little-endian data>``) and LF

The samples come from the lab's filter at each sample time (see
:mod:`stm_andreev.simulators.lab.capture`). The fastest rate on the real instrument follows a
table of its own; the emulator's rule (1.25 MHz / 2^k, the fastest at most
:data:`SAMPLES_PER_TIME_CONSTANT` per time constant) only keeps the rate in proportion to the
filter: read the real value with ``CAPTURERATEMAX?``, as the driver does.
"""

from __future__ import annotations

import math
from typing import Any

from stm_andreev.simulators.lab.capture import CAPTURE_CONFIGS, KILOBYTE, CaptureBuffer

from .srs import SRSArgumentError, _expect, _Handler, _int

MAX_RATE_HZ = 1.25e6
SAMPLES_PER_TIME_CONSTANT = 4.0
MAX_LENGTH_KB = 4096
MAX_GET_KB = 64  # largest block one CAPTUREGET? returns
DEFAULT_LENGTH_KB = 256
DEFAULT_CONFIG = 1  # X and Y


class CaptureCommands:
    """Capture settings of one SR860 and its handlers; the buffer itself lives in the lab."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab
        # Scripted stand-ins of the lab (parser tests) have no filter history to sample.
        self.can_capture = hasattr(lab.lockin, "start_capture") and hasattr(lab, "clock")
        self.reset()

    def reset(self) -> None:
        """Power-on state: defaults, no capture armed."""
        self.length_kB = DEFAULT_LENGTH_KB
        self.config = DEFAULT_CONFIG
        self.rate_exponent = 0
        self.buffer: CaptureBuffer | None = None
        if self.can_capture:
            self.lab.lockin.stop_capture()

    def max_rate_Hz(self) -> float:
        tau = self.lab.lockin.time_constant_s
        k = max(0, math.ceil(math.log2(MAX_RATE_HZ * tau / SAMPLES_PER_TIME_CONSTANT)))
        return MAX_RATE_HZ / 2**k

    def handlers(self) -> dict[str, _Handler]:
        return {
            "CAPTURELEN": _Handler(self._length_query, self._length_set),
            "CAPTURECFG": _Handler(self._config_query, self._config_set),
            "CAPTURERATEMAX": _Handler(query=self._rate_max_query),
            "CAPTURERATE": _Handler(self._rate_query, self._rate_set),
            "CAPTURESTART": _Handler(set=self._start),
            "CAPTURESTOP": _Handler(set=self._stop),
            "CAPTUREBYTES": _Handler(query=self._bytes_query),
            "CAPTUREPROG": _Handler(query=self._progress_query),
            "CAPTUREGET": _Handler(query=self._get),
        }

    # --- settings ---------------------------------------------------------------------------
    def _length_query(self, args: list[str]) -> str:
        _expect(args, 0)
        return str(self.length_kB)

    def _length_set(self, args: list[str]) -> None:
        _expect(args, 1)
        self._refuse_while_running("CAPTURELEN")
        self.length_kB = _int(args[0], 1, MAX_LENGTH_KB, "CAPTURELEN")

    def _config_query(self, args: list[str]) -> str:
        _expect(args, 0)
        return str(self.config)

    def _config_set(self, args: list[str]) -> None:
        _expect(args, 1)
        self._refuse_while_running("CAPTURECFG")
        self.config = _int(args[0], 0, len(CAPTURE_CONFIGS) - 1, "CAPTURECFG")

    def _rate_max_query(self, args: list[str]) -> str:
        _expect(args, 0)
        return f"{self.max_rate_Hz():.6e}"

    def _rate_query(self, args: list[str]) -> str:
        _expect(args, 0)
        return str(self.rate_exponent)

    def _rate_set(self, args: list[str]) -> None:
        _expect(args, 1)
        self._refuse_while_running("CAPTURERATE")
        self.rate_exponent = _int(args[0], 0, 20, "CAPTURERATE")

    def _refuse_while_running(self, what: str) -> None:
        if self._running():
            raise SRSArgumentError(f"{what} cannot change while a capture runs")

    # --- acquisition ------------------------------------------------------------------------
    def _running(self) -> bool:
        if not self.can_capture:
            return False
        buffer = self.lab.lockin.capture_status()
        return buffer is not None and buffer is self.buffer and buffer.running

    def _start(self, args: list[str]) -> None:
        _expect(args, 2)
        continuous = _int(args[0], 0, 1, "CAPTURESTART acquisition") == 1
        trigger = _int(args[1], 0, 3, "CAPTURESTART trigger")
        if not self.can_capture:
            raise SRSArgumentError("this lab's lock-in has no output history to capture")
        lockin = self.lab.lockin
        lockin.stop_capture()
        self.buffer = CaptureBuffer(
            self.lab.clock.now(), self.max_rate_Hz() / 2**self.rate_exponent, self.length_kB,
            self.config, continuous,
        )
        if trigger == 0:
            lockin.start_capture(self.buffer)
        else:  # armed for a trigger that never comes: no trigger input in the simulated lab
            self.buffer.stop()

    def _stop(self, args: list[str]) -> None:
        _expect(args, 0)
        if self.can_capture:
            self.lab.lockin.stop_capture()

    def _captured_bytes(self) -> int:
        if self.can_capture:
            self.lab.lockin.capture_status()  # fills the samples due by now
        return 0 if self.buffer is None else self.buffer.bytes_written

    def _bytes_query(self, args: list[str]) -> str:
        _expect(args, 0)
        return str(self._captured_bytes())

    def _progress_query(self, args: list[str]) -> str:
        _expect(args, 0)
        return str(self._captured_bytes() // KILOBYTE)

    def _get(self, args: list[str]) -> str:
        _expect(args, 2)
        offset = _int(args[0], 0, MAX_LENGTH_KB - 1, "CAPTUREGET offset")
        length = _int(args[1], 1, MAX_GET_KB, "CAPTUREGET length")
        if self.buffer is None:
            raise SRSArgumentError("CAPTUREGET?: nothing has been captured")
        buffer_kB = self.buffer.data.nbytes // KILOBYTE
        if offset + length > buffer_kB:
            raise SRSArgumentError(
                f"CAPTUREGET? {offset},{length}: beyond the {buffer_kB} kB buffer")
        self._captured_bytes()
        data = self.buffer.read_kB(offset, length)
        size = str(len(data))
        # The line transports carry text as latin-1, one character per byte.
        return f"#{len(size)}{size}" + data.decode("latin-1")
