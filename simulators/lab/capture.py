"""The SR860's capture buffer as the lab fills it: filtered outputs sampled at a fixed rate.

The lock-in (:class:`~stm_andreev.simulators.lab.electronics.LockIn`) runs its output filter
through the lab's input segments whenever it is read or its input changes; while a capture is
armed it stops the filter at every sample time on the way and hands the output (with the
same filtered noise a reading at that instant would get) to :meth:`CaptureBuffer.record`. So
a capture taken during a bias sweep shows each step's filter response, exactly as a reading
would, without the emulator having to poll in simulated time.

Layout as on the instrument: float32 values, little-endian, per sample the configured
quantities in order (X; X Y; R theta; X Y R theta, theta in degrees). A one-shot capture stops
when the buffer is full; a continuous one wraps around and overwrites the oldest samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

#: CAPTURECFG index -> quantities per sample
CAPTURE_CONFIGS: tuple[tuple[str, ...], ...] = (
    ("X",),
    ("X", "Y"),
    ("R", "THETA"),
    ("X", "Y", "R", "THETA"),
)
BYTES_PER_VALUE = 4  # float32
KILOBYTE = 1024


class CaptureBuffer:
    """One armed capture: sample times from ``t0_s`` at ``rate_Hz``, values in a float32 buffer.

    ``length_kB``: buffer size in kilobytes; ``config``: CAPTURECFG index (0-3);
    ``continuous``: wrap around instead of stopping when full.
    """

    def __init__(self, t0_s: float, rate_Hz: float, length_kB: int, config: int,
                 continuous: bool) -> None:
        if not rate_Hz > 0:
            raise ValueError(f"capture rate must be positive, got {rate_Hz!r} Hz")
        self.t0_s = float(t0_s)
        self.rate_Hz = float(rate_Hz)
        self.quantities = CAPTURE_CONFIGS[config]
        self.continuous = bool(continuous)
        self.data = np.zeros(length_kB * KILOBYTE // BYTES_PER_VALUE, dtype="<f4")
        self.samples_per_buffer = self.data.size // len(self.quantities)
        self.samples = 0  # taken since the start (continuous: may exceed the buffer)
        self.running = True

    @property
    def bytes_written(self) -> int:
        """Bytes holding captured samples (at most the buffer size)."""
        stored = min(self.samples, self.samples_per_buffer)
        return stored * len(self.quantities) * BYTES_PER_VALUE

    def stop(self) -> None:
        self.running = False

    def times_in(self, start_s: float, end_s: float) -> Iterator[float]:
        """Sample times in (start_s, end_s] still to be taken, in order."""
        if not self.running:
            return
        # sample k (k >= 1) is taken at t0 + k / rate: the first one period after the start
        k = max(self.samples + 1, math.floor((start_s - self.t0_s) * self.rate_Hz) + 1)
        while self.running:
            t = self.t0_s + k / self.rate_Hz
            if t > end_s:
                return
            if t > start_s:
                yield t
            k += 1

    def record(self, t_s: float, xy_V: complex) -> None:
        """Store the sample due at ``t_s`` (the lock-in output X + iY, V)."""
        k = round((t_s - self.t0_s) * self.rate_Hz)
        self.samples = k
        slot = (k - 1) % self.samples_per_buffer
        values = {
            "X": xy_V.real,
            "Y": xy_V.imag,
            "R": abs(xy_V),
            "THETA": math.degrees(math.atan2(xy_V.imag, xy_V.real)),
        }
        n = len(self.quantities)
        self.data[slot * n:(slot + 1) * n] = [values[q] for q in self.quantities]
        if not self.continuous and self.samples >= self.samples_per_buffer:
            self.running = False  # one-shot: full

    def read_kB(self, offset_kB: int, length_kB: int) -> bytes:
        """Raw buffer bytes [offset, offset + length) in kB, as CAPTUREGET? sends them."""
        raw = self.data.tobytes()
        return raw[offset_kB * KILOBYTE:(offset_kB + length_kB) * KILOBYTE]
