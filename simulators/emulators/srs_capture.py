"""The SR860's capture-buffer commands (docs/protocols.md section 2) over the lab's lock-in.

    CAPTURELEN n / ?     buffer length in kB (1-4096)
    CAPTURECFG i / ?     what each sample holds: 0 X, 1 X Y, 2 R theta, 3 X Y R theta
    CAPTURERATEMAX?      fastest sample rate (Hz) for the present time constant
    CAPTURERATE n        sample rate = CAPTURERATEMAX / 2^n (n 0-20)
    CAPTURERATE?         that rate in Hz (not n: the query answers the rate)
    CAPTURESTART i, j    i: ONEshot (0, stop when full) or CONTinuous (1, wrap around);
                         j: IMMediate (0, start now), TRIGstart (1) or SAMPpertrig (2) wait
                         for a hardware trigger; the simulated lab has no trigger input, so
                         such a capture stays armed and empty (CAPTURESTAT? 0)
    CAPTURESTOP
    CAPTURESTAT?         bit 0 recording, bit 1 started (triggered), bit 2 the buffer wrapped
                         (end of a one-shot capture, or a continuous one overwriting); bits 1
                         and 2 stay set until CAPTURECFG, CAPTURELEN or a new CAPTURESTART
    CAPTUREBYTES?        bytes captured so far (at most the buffer)
    CAPTUREPROG?         kB captured, counted in 2 kB steps (the buffer length once wrapped)
    CAPTUREVAL? n        sample n (0 = the oldest kept) as comma-separated ASCII numbers
    CAPTUREGET? i, j     j kB (at most 64) from offset i kB as an IEEE 488.2 definite-length
                         block ``#<n><length><float32 little-endian data>`` with NO terminator
                         (the manual's ``#nccccxxxx...``); past the buffer's end it wraps to
                         its start; a range error (execution error bit, no reply) while a
                         capture is recording, as on the instrument

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

from .srs_grammar import BinaryBlock, Handler, SRSArgumentError, expect_args, format_number, int_arg
from .srs_models import token_forms

MAX_RATE_HZ = 1.25e6
SAMPLES_PER_TIME_CONSTANT = 4.0
MAX_LENGTH_KB = 4096
MAX_GET_KB = 64  # largest block one CAPTUREGET? returns
DEFAULT_LENGTH_KB = 256
DEFAULT_CONFIG = 1  # X and Y
#: CAPTURESTART tokens, in the order of their numeric values (the capitals are the short form)
ACQUISITION_TOKENS = ("ONEshot", "CONTinuous")
START_TOKENS = ("IMMediate", "TRIGstart", "SAMPpertrig")
#: CAPTURESTAT? bits
STAT_RECORDING, STAT_TRIGGERED, STAT_WRAPPED = 1, 2, 4
PROGRESS_STEP_KB = 2  # CAPTUREPROG? counts in 2 kB steps


class _ArmedCapture(CaptureBuffer):
    """A capture whose first sample is one period after the instant the lab armed it.

    The emulator reads the clock before it hands the buffer to the lab; on a running clock
    (``simulate --speed 100``) time passes in between, and sample times counted from the
    earlier instant that the lab's filter has already passed would never be taken: the buffer
    would start with zeros (54 of 2048 samples at speed-up 100). The lab's first call of
    :meth:`times_in` starts at the instant it armed the buffer, so the count starts there.
    """

    _armed = False

    def times_in(self, start_s: float, end_s: float):
        if not self._armed:
            self._armed = True
            self.t0_s = max(self.t0_s, start_s)
        return super().times_in(start_s, end_s)


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
        self._triggered = False
        if self.can_capture:
            self.lab.lockin.stop_capture()

    def max_rate_Hz(self) -> float:
        tau = self.lab.lockin.time_constant_s
        k = max(0, math.ceil(math.log2(MAX_RATE_HZ * tau / SAMPLES_PER_TIME_CONSTANT)))
        return MAX_RATE_HZ / 2**k

    def handlers(self) -> dict[str, Handler]:
        return {
            "CAPTURELEN": Handler(self._length_query, self._length_set),
            "CAPTURECFG": Handler(self._config_query, self._config_set),
            "CAPTURERATEMAX": Handler(query=self._rate_max_query),
            "CAPTURERATE": Handler(self._rate_query, self._rate_set),
            "CAPTURESTART": Handler(set=self._start),
            "CAPTURESTOP": Handler(set=self._stop),
            "CAPTURESTAT": Handler(query=self._status_query),
            "CAPTUREVAL": Handler(query=self._value_query),
            "CAPTUREBYTES": Handler(query=self._bytes_query),
            "CAPTUREPROG": Handler(query=self._progress_query),
            "CAPTUREGET": Handler(query=self._get),
        }

    # --- settings ---------------------------------------------------------------------------
    def _length_query(self, args: list[str]) -> str:
        expect_args(args, 0)
        return str(self.length_kB)

    def _length_set(self, args: list[str]) -> None:
        expect_args(args, 1)
        self._refuse_while_running("CAPTURELEN")
        self.length_kB = int_arg(args[0], 1, MAX_LENGTH_KB, "CAPTURELEN")
        self._forget()

    def _config_query(self, args: list[str]) -> str:
        expect_args(args, 0)
        return str(self.config)

    def _config_set(self, args: list[str]) -> None:
        expect_args(args, 1)
        self._refuse_while_running("CAPTURECFG")
        self.config = _token_or_int(args[0], _CONFIG_TOKENS, "CAPTURECFG")
        self._forget()

    def _forget(self) -> None:
        """CAPTURECFG / CAPTURELEN reset the capture system: status bits and data go."""
        self.buffer = None

    def _rate_max_query(self, args: list[str]) -> str:
        expect_args(args, 0)
        return f"{self.max_rate_Hz():.6e}"

    def _rate_query(self, args: list[str]) -> str:
        """``CAPTURERATE?`` answers the rate in Hz (the command sets the exponent n)."""
        expect_args(args, 0)
        return f"{self.max_rate_Hz() / 2**self.rate_exponent:.6e}"

    def _rate_set(self, args: list[str]) -> None:
        expect_args(args, 1)
        self._refuse_while_running("CAPTURERATE")
        self.rate_exponent = int_arg(args[0], 0, 20, "CAPTURERATE")

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
        expect_args(args, 2)
        continuous = _token_or_int(args[0], _ACQUISITION, "CAPTURESTART acquisition") == 1
        trigger = _token_or_int(args[1], _START, "CAPTURESTART start")
        if not self.can_capture:
            raise SRSArgumentError("this lab's lock-in has no output history to capture")
        lockin = self.lab.lockin
        lockin.stop_capture()
        self._triggered = trigger == 0
        self.buffer = _ArmedCapture(
            self.lab.clock.now(), self.max_rate_Hz() / 2**self.rate_exponent, self.length_kB,
            self.config, continuous,
        )
        if trigger == 0:
            lockin.start_capture(self.buffer)
        else:  # armed for a trigger that never comes: no trigger input in the simulated lab
            self.buffer.stop()

    def _stop(self, args: list[str]) -> None:
        expect_args(args, 0)
        if self.can_capture:
            self.lab.lockin.stop_capture()

    def _captured_bytes(self) -> int:
        if self.can_capture:
            self.lab.lockin.capture_status()  # fills the samples due by now
        return 0 if self.buffer is None else self.buffer.bytes_written

    def _status_query(self, args: list[str]) -> str:
        expect_args(args, 0)
        self._captured_bytes()
        buffer = self.buffer
        if buffer is None or not self._triggered:
            return "0"
        bits = STAT_TRIGGERED
        if self._running():
            bits |= STAT_RECORDING
        if buffer.samples >= buffer.samples_per_buffer:
            bits |= STAT_WRAPPED
        return str(bits)

    def _value_query(self, args: list[str]) -> str:
        expect_args(args, 1)
        self._captured_bytes()
        buffer = self.buffer
        if buffer is None:
            per_buffer = self.length_kB * KILOBYTE // (4 * len(CAPTURE_CONFIGS[self.config]))
            int_arg(args[0], 0, per_buffer - 1, "CAPTUREVAL?")  # nothing captured: zeros
            return ",".join([format_number(0.0)] * len(CAPTURE_CONFIGS[self.config]))
        index = int_arg(args[0], 0, buffer.samples_per_buffer - 1, "CAPTUREVAL?")
        n = len(buffer.quantities)
        # the oldest sample kept is at the write position once a continuous capture wrapped
        first = buffer.samples % buffer.samples_per_buffer \
            if buffer.samples > buffer.samples_per_buffer else 0
        slot = (first + index) % buffer.samples_per_buffer
        return ",".join(format_number(float(v)) for v in buffer.data[slot * n:(slot + 1) * n])

    def _bytes_query(self, args: list[str]) -> str:
        expect_args(args, 0)
        return str(self._captured_bytes())

    def _progress_query(self, args: list[str]) -> str:
        expect_args(args, 0)
        captured = self._captured_bytes()
        step = PROGRESS_STEP_KB * KILOBYTE
        if self.buffer is not None and self.buffer.samples > self.buffer.samples_per_buffer:
            return str(self.length_kB)  # wrapped: the whole buffer holds data
        return str(min(self.length_kB, -(-captured // step) * PROGRESS_STEP_KB))

    def _get(self, args: list[str]) -> str:
        expect_args(args, 2)
        offset = int_arg(args[0], 0, MAX_LENGTH_KB - 1, "CAPTUREGET offset")
        length = int_arg(args[1], 1, MAX_GET_KB, "CAPTUREGET length")
        if self.buffer is None:
            raise SRSArgumentError("CAPTUREGET?: nothing has been captured")
        if self._running():
            raise SRSArgumentError("CAPTUREGET?: the capture must be stopped first")
        buffer_kB = self.buffer.data.nbytes // KILOBYTE
        if offset >= buffer_kB:
            raise SRSArgumentError(
                f"CAPTUREGET? {offset},{length}: offset beyond the {buffer_kB} kB buffer")
        raw = self.buffer.read_kB(0, buffer_kB)
        start = offset * KILOBYTE
        # (offset + length) past the buffer's end reads on from its start (the manual's wrap)
        data = (raw + raw * (length // buffer_kB + 1))[start:start + length * KILOBYTE]
        size = str(len(data))
        # The line transports carry text as latin-1, one character per byte; no terminator.
        return BinaryBlock(f"#{len(size)}{size}" + data.decode("latin-1"))


def _token_or_int(text: str, tokens: dict[str, int], what: str) -> int:
    value = tokens.get(text.strip().upper())
    if value is not None:
        return value
    return int_arg(text, min(tokens.values()), max(tokens.values()), what)


def _forms(names: tuple[str, ...]) -> dict[str, int]:
    return {form: i for i, name in enumerate(names) for form in token_forms(name)}


_ACQUISITION = _forms(ACQUISITION_TOKENS)
_START = _forms(START_TOKENS)
#: CAPTURECFG tokens (the SR860 takes X, XY, RT, XYRT as well as 0-3)
_CONFIG_TOKENS = {"X": 0, "XY": 1, "RT": 2, "XYRT": 3}
