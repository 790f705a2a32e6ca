"""Clocks: every wait in the framework goes through one of these.

On hardware the station uses :class:`WallClock`. In the in-process simulation it uses
:class:`VirtualClock`, whose ``sleep`` jumps simulated time ahead instantly, so an overnight
plan dry-runs in seconds and no test depends on wall time. TCP simulators and the GUI's
cooldown view use :class:`ScaledClock`, a wall clock running ``speedup`` times faster.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Time source in seconds (arbitrary origin) with a matching sleep."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    """Real time: monotonic seconds and ``time.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """Simulated time that advances only when someone sleeps (deterministic).

    Thread-safe so that several emulators served from threads can share one clock.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time ({seconds} s)")
        with self._lock:
            self._t += float(seconds)

    def advance(self, seconds: float) -> None:
        """Alias of :meth:`sleep`, reads better in tests that move time on."""
        self.sleep(seconds)


class ScaledClock:
    """Wall clock running ``speedup`` times faster than real time (speedup >= 1 or < 1)."""

    def __init__(self, speedup: float = 1.0, start: float = 0.0) -> None:
        if speedup <= 0:
            raise ValueError(f"clock speed-up must be positive, got {speedup}")
        self.speedup = float(speedup)
        self._t0 = float(start)
        self._m0 = time.monotonic()

    def now(self) -> float:
        return self._t0 + (time.monotonic() - self._m0) * self.speedup

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speedup)
