"""The SR830's data buffer: the two display channels sampled at a fixed rate into 16383 bins.

    SRAT i       sample rate 62.5 mHz x 2^i (i 0-13, up to 512 Hz) or 14: one sample per TRIG
    SEND i       end of buffer: 0 one shot (storage stops when full), 1 loop (oldest overwritten)
    TSTR i       1: a TRIG starts storage (as STRT does)
    TRIG         software trigger: starts storage (TSTR 1); takes a sample at SRAT 14
    STRT         start or resume storage; STRD starts it 0.5 s later (the fast-mode start)
    PAUS         pause storage (what is stored stays; STRT resumes)
    REST         reset: storage stopped, buffer emptied
    SPTS?        points stored
    TRCA? i,j,k  k points of display i (1, 2) from bin j, ASCII numbers separated by commas
    TRCB? i,j,k  the same as 4-byte IEEE floats, little-endian, raw: no header, no terminator
    TRCL? i,j,k  the same in the LIA format: per point a 16-bit signed mantissa m and 16-bit
                 exponent e (little-endian), value = m x 2^(e - 124); raw, no terminator
    FAST i       fast transfer mode 0-2: stored; the stream itself is not sent (see below)

What is stored is what the displays show (``DDEF``) at each sample time: X or R on CH1, Y or
theta on CH2 (aux inputs read 0 V: nothing is wired to them), saturating at the full scale
set when storage started, as the outputs do. Samples come from the lab's
filter at each sample time on the lab's clock (the mechanism of the SR860 capture,
:mod:`stm_andreev.simulators.lab.capture`), so a buffered sweep shows each step's filter
response. Not emulated: the X/Y noise displays (storage refuses to start while a display
shows noise: no value the emulator could store would be a measured one), display ratios and
offset/expand (stored settings that do not alter the stored values), and the FAST stream of
binary words during storage (a GPIB feature; data are still stored and read with TRC*?).
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from stm_andreev.drivers.srs_tables import OUTPUT_SATURATION
from stm_andreev.simulators.lab.capture import KILOBYTE

from .srs_capture import _ArmedCapture
from .srs_grammar import BinaryBlock, Handler, SRSArgumentError, expect_args, format_number, int_arg

BUFFER_POINTS = 16383
TRIGGERED_RATE = 14
LOWEST_RATE_HZ = 0.0625
FAST_START_DELAY_S = 0.5
XY_CONFIG = 1  # CaptureBuffer config holding X and Y per sample
#: DDEF index -> how a display value follows from (x, y); None: not emulated (noise)
_CH1 = ("X", "R", None, "AUX", "AUX")
_CH2 = ("Y", "THETA", None, "AUX", "AUX")


class _Segment(_ArmedCapture):
    """One stretch of storage between a start and a pause: at most ``capacity`` samples kept
    (the oldest overwritten in loop mode)."""

    def __init__(self, t0_s: float, rate_Hz: float, capacity: int, loop: bool) -> None:
        length_kB = math.ceil(capacity * 8 / KILOBYTE)
        super().__init__(t0_s, rate_Hz, length_kB, XY_CONFIG, loop)
        self.samples_per_buffer = capacity

    def xy(self) -> np.ndarray:
        """The samples kept, oldest first, as an (n, 2) float array."""
        table = self.data.reshape(-1, 2)
        n = min(self.samples, self.samples_per_buffer)
        if self.samples <= self.samples_per_buffer:
            return table[:n].astype(float)
        start = self.samples % self.samples_per_buffer
        order = np.r_[start:self.samples_per_buffer, 0:start]
        return table[order].astype(float)


class DataBufferCommands:
    """The SR830 data-buffer commands over the lab's lock-in; ``stored`` is the emulator's
    stored settings (``DDEF``), read when storage starts."""

    def __init__(self, lab: Any, stored: dict) -> None:
        self.lab = lab
        self.stored = stored
        self.can_sample = hasattr(lab.lockin, "start_capture") and hasattr(lab, "clock")
        self.reset()

    def reset(self) -> None:
        self.rate_index = 10  # 64 Hz
        self.loop = True
        self.trigger_starts = False
        self.fast = 0
        self._clear()

    def _clear(self) -> None:
        # Only our own storage: the lab's lock-in samples into one buffer at a time, and a
        # station serving an SR860 as well shares it (starting one stops the other).
        if self.can_sample and getattr(self, "_segment", None) is not None \
                and self.lab.lockin.capture_status() is self._segment:
            self.lab.lockin.stop_capture()
        self._done = np.zeros((0, 2))  # samples of finished segments, oldest first
        self._segment: _Segment | None = None
        self._started = False  # storing (or armed for TRIG samples at SRAT 14)
        self._displays: tuple[str, str] = ("X", "Y")
        self._full_scale_V = 1.0

    def handlers(self) -> dict[str, Handler]:
        return {
            "SRAT": Handler(self._int_query("rate_index"),
                             self._int_set("rate_index", 0, TRIGGERED_RATE)),
            "SEND": Handler(self._int_query("loop"), self._int_set("loop", 0, 1)),
            "TSTR": Handler(self._int_query("trigger_starts"),
                             self._int_set("trigger_starts", 0, 1)),
            "FAST": Handler(self._int_query("fast"), self._int_set("fast", 0, 2)),
            "TRIG": Handler(set=self._trigger),
            "STRT": Handler(set=self._start),
            "STRD": Handler(set=self._start_delayed),
            "PAUS": Handler(set=self._pause),
            "REST": Handler(set=self._reset_buffer),
            "SPTS": Handler(query=self._points_query),
            "TRCA": Handler(query=self._trace_ascii),
            "TRCB": Handler(query=self._trace_binary),
            "TRCL": Handler(query=self._trace_lia),
        }

    # --- settings -----------------------------------------------------------------------
    def _int_query(self, attribute: str):
        def query(args: list[str]) -> str:
            expect_args(args, 0)
            return str(int(getattr(self, attribute)))
        return query

    def _int_set(self, attribute: str, low: int, high: int):
        def set_(args: list[str]) -> None:
            expect_args(args, 1)
            value = int_arg(args[0], low, high, attribute)
            if attribute in ("rate_index", "loop") and self._started:
                # the real instrument resets the buffer when its timing changes
                self._clear()
            setattr(self, attribute, value if attribute in ("rate_index", "fast")
                    else bool(value))
        return set_

    # --- storage ------------------------------------------------------------------------
    def _rate_Hz(self) -> float:
        return LOWEST_RATE_HZ * 2**self.rate_index

    def _begin(self, delay_s: float = 0.0) -> None:
        if self._started:
            return
        if not self.can_sample:
            raise SRSArgumentError("this lab's lock-in has no output history to sample")
        displays = []
        for channel, choices in ((1, _CH1), (2, _CH2)):
            display = choices[int(self.stored[("DDEF", channel)][0])]
            if display is None:
                raise SRSArgumentError(f"CH{channel} shows noise, which is not emulated: "
                                       "storage not started")
            displays.append(display)
        self._displays = (displays[0], displays[1])
        self._full_scale_V = self.lab.lockin.sensitivity_V
        self._started = True
        if self.rate_index == TRIGGERED_RATE:
            return  # samples come with TRIG
        kept = len(self._done)
        capacity = BUFFER_POINTS if self.loop else BUFFER_POINTS - kept
        if capacity <= 0:
            return  # one shot and full: storage stays stopped
        self._segment = _Segment(self.lab.clock.now() + delay_s, self._rate_Hz(), capacity,
                                 self.loop)
        self.lab.lockin.start_capture(self._segment)

    def _start(self, args: list[str]) -> None:
        expect_args(args, 0)
        self._begin()

    def _start_delayed(self, args: list[str]) -> None:
        expect_args(args, 0)
        self._begin(FAST_START_DELAY_S)

    def _pause(self, args: list[str]) -> None:
        expect_args(args, 0)
        if self._segment is not None:
            self.lab.lockin.stop_capture()
            self._done = self._keep(np.vstack([self._done, self._segment.xy()]))
            self._segment = None
        self._started = False

    def _reset_buffer(self, args: list[str]) -> None:
        expect_args(args, 0)
        self._clear()

    def _trigger(self, args: list[str]) -> None:
        expect_args(args, 0)
        if not self._started and self.trigger_starts:
            self._begin()
            if self.rate_index != TRIGGERED_RATE:
                return
        if self._started and self.rate_index == TRIGGERED_RATE:
            if not self.loop and len(self._done) >= BUFFER_POINTS:
                return
            x, y = self.lab.lockin.read_xy_V()
            self._done = self._keep(np.vstack([self._done, [[x, y]]]))

    def _keep(self, xy: np.ndarray) -> np.ndarray:
        return xy[-BUFFER_POINTS:] if self.loop else xy[:BUFFER_POINTS]

    def _xy(self) -> np.ndarray:
        if self._segment is None:
            return self._done
        self.lab.lockin.capture_status()
        return self._keep(np.vstack([self._done, self._segment.xy()]))

    # --- read-out -----------------------------------------------------------------------
    def _points_query(self, args: list[str]) -> str:
        expect_args(args, 0)
        return str(len(self._xy()))

    def _trace(self, args: list[str], what: str) -> np.ndarray:
        expect_args(args, 3)
        display = int_arg(args[0], 1, 2, f"{what} display")
        first = int_arg(args[1], 0, BUFFER_POINTS - 1, f"{what} first bin")
        count = int_arg(args[2], 1, BUFFER_POINTS, f"{what} count")
        xy = self._xy()
        if first + count > len(xy):
            raise SRSArgumentError(f"{what} {first},{count}: only {len(xy)} points stored")
        # the displays saturate as the outputs do (OUTP?), at the full scale storage began with
        limit = OUTPUT_SATURATION * self._full_scale_V
        x = np.clip(xy[first:first + count, 0], -limit, limit)
        y = np.clip(xy[first:first + count, 1], -limit, limit)
        name = self._displays[display - 1]
        if name == "X":
            return x
        if name == "Y":
            return y
        if name == "R":
            return np.minimum(np.hypot(x, y), limit)
        if name == "THETA":
            return np.degrees(np.arctan2(y, x))
        return np.zeros(count)  # aux inputs: nothing is wired to them

    def _trace_ascii(self, args: list[str]) -> str:
        return ",".join(format_number(float(v)) for v in self._trace(args, "TRCA?"))

    def _trace_binary(self, args: list[str]) -> str:
        data = self._trace(args, "TRCB?").astype("<f4").tobytes()
        return BinaryBlock(data.decode("latin-1"))

    def _trace_lia(self, args: list[str]) -> str:
        values = self._trace(args, "TRCL?")
        return BinaryBlock(b"".join(lia_word(float(v)) for v in values).decode("latin-1"))


def lia_word(value: float) -> bytes:
    """One point in the SR830's LIA format: int16 mantissa m, int16 exponent e (little-endian),
    value = m x 2^(e - 124); the mantissa is kept in [2^14, 2^15) for full precision."""
    if value == 0.0 or not math.isfinite(value):
        return struct.pack("<hh", 0, 0)
    exponent = math.floor(math.log2(abs(value))) - 14 + 124
    mantissa = round(value / 2.0 ** (exponent - 124))
    if abs(mantissa) > 32767:  # rounding reached 2^15
        exponent += 1
        mantissa = round(value / 2.0 ** (exponent - 124))
    return struct.pack("<hh", mantissa, exponent)

