"""The Lake Shore 372 scanner and readings, on the lab clock.

The 372 measures one scanner channel at a time. After ``SCAN ch`` (or an autoscan step) a
channel's reading becomes valid only after its pause and dwell times (``INSET``); until then
``KRDG?``/``RDGR?``/``RDGST?`` return the last valid reading of that channel. A channel never
measured reads 0 with status ``R_UNDER | T_UNDER`` (a zero reading is below range), so a
client that reads too early gets a reading flagged invalid rather than a plausible number.

The control input ``A`` has its own bridge and is always live.

Time is evaluated lazily: every query brings the scanner up to ``clock.now()``. With autoscan
on, the channels whose dwell ended since the last query are sampled at the time of the query
(the lab state is only known "now"), which is what a client polling slower than the scan
sees anyway.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stm_andreev.drivers.lakeshore372_types import ReadingStatus, TempCoefficient

log = logging.getLogger(__name__)

MAX_RESISTANCE_OHM = 63.2e6  # top of the 372's resistance ranges
MAX_CURVE_TEMPERATURE_K = 400.0
NEVER_MEASURED = ReadingStatus.R_UNDER | ReadingStatus.T_UNDER
NO_CURVE = ReadingStatus.T_OVER | ReadingStatus.T_UNDER
OPEN_INPUT = ReadingStatus.CS_OVERLOAD | ReadingStatus.R_OVER
MEASUREMENT_CHANNELS = tuple(range(1, 17))


@dataclass
class InputSettings:
    """``INSET`` of one input (dwell 1-200 s, pause 3-200 s, curve 0-59)."""

    enabled: bool
    dwell_s: int
    pause_s: int
    curve: int
    tempco: TempCoefficient


@dataclass(frozen=True)
class Reading:
    """One measurement: resistance (ohm), temperature (K, 0 if none) and status bits."""

    resistance_ohm: float
    kelvin: float
    status: ReadingStatus
    time_s: float
    quadrature_ohm: float = 0.0


ZERO_READING = Reading(0.0, 0.0, NEVER_MEASURED, -math.inf)
QUADRATURE_FRACTION = 1e-3  # the out-of-phase part: lead capacitance, a permille of R


class Bridge:
    """Turns the fridge's true sensor resistances into 372 readings (noise, curve, status).

    :param fridge: the lab's fridge (``channels``, ``sensor_resistance_ohm``,
        ``calibration_temperature_K``).
    :param control_sensor: the stage wired to the control input ``A``.
    :param rng: noise source (seeded by the emulator).
    :param relative_noise: rms relative resistance noise (1e-4 = 100 ppm).
    :param absolute_noise_ohm: rms noise floor in ohm (what a superconducting film reads).
    """

    def __init__(
        self,
        fridge,
        control_sensor: str,
        rng: np.random.Generator,
        relative_noise: float = 1e-4,
        absolute_noise_ohm: float = 1e-3,
    ) -> None:
        self.fridge = fridge
        self.control_sensor = control_sensor
        self.rng = rng
        self.relative_noise = relative_noise
        self.absolute_noise_ohm = absolute_noise_ohm

    def sensor(self, channel: str | int) -> str | None:
        """The stage on an input, or None for an unconnected channel."""
        if channel == "A":
            return self.control_sensor
        return self.fridge.channels.get(channel)

    def measure(self, channel: str | int, curve: int, now_s: float) -> Reading:
        sensor = self.sensor(channel)
        if sensor is None:
            return Reading(0.0, 0.0, OPEN_INPUT, now_s)
        true_ohm = float(self.fridge.sensor_resistance_ohm(sensor))
        noise = self.rng.normal(0.0, 1.0, 3)
        ohms = true_ohm * (1.0 + self.relative_noise * noise[0])
        ohms += self.absolute_noise_ohm * noise[1]
        quadrature = QUADRATURE_FRACTION * true_ohm + self.absolute_noise_ohm * noise[2]
        if ohms > MAX_RESISTANCE_OHM:
            return Reading(MAX_RESISTANCE_OHM, 0.0, ReadingStatus.R_OVER, now_s)
        status = ReadingStatus(0)
        kelvin = 0.0
        if curve == 0:
            status |= NO_CURVE
        else:
            kelvin, status = self._kelvin(sensor, ohms)
        return Reading(ohms, kelvin, status, now_s, quadrature)

    def _kelvin(self, sensor: str, ohms: float) -> tuple[float, ReadingStatus]:
        try:
            kelvin = self.fridge.calibration_temperature_K(sensor, ohms)
        except (ValueError, ArithmeticError):
            # Below the curve's lowest resistance: hotter than the calibration covers.
            return 0.0, ReadingStatus.T_OVER
        if kelvin is None:  # the film: no calibration curve exists
            return 0.0, NO_CURVE
        if not math.isfinite(kelvin) or kelvin > MAX_CURVE_TEMPERATURE_K:
            return 0.0, ReadingStatus.T_OVER
        return float(kelvin), ReadingStatus(0)


    def resistance_for_kelvin(self, sensor: str, kelvin: float) -> float:
        """Invert the sensor's curve (ohm for a temperature in K) by bisection in log R.

        The lab exposes only T(R); R(T) is monotonic decreasing, so bisection is safe.
        """
        if kelvin <= 0:
            return MAX_RESISTANCE_OHM
        lo, hi = math.log(1e-3), math.log(MAX_RESISTANCE_OHM)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            try:
                at_mid = self.fridge.calibration_temperature_K(sensor, math.exp(mid))
            except (ValueError, ArithmeticError):
                at_mid = math.inf  # below the curve: hotter than any calibrated point
            if at_mid is None:
                raise ValueError(f"{sensor} has no calibration curve")
            if at_mid > kelvin:
                lo = mid
            else:
                hi = mid
            if hi - lo < 1e-12:
                break
        return math.exp(0.5 * (lo + hi))


class Scanner:
    """The scanner position, autoscan and the last valid reading of every channel.

    :param bridge: makes the readings.
    :param settings: the emulator's ``INSET`` table (shared, so ``INSET`` changes apply).
    :param now: the lab clock's ``now``.
    """

    def __init__(
        self,
        bridge: Bridge,
        settings: dict[str | int, InputSettings],
        now: Callable[[], float],
    ) -> None:
        self.bridge = bridge
        self.settings = settings
        self.now = now
        self.channel = 1
        self.autoscan = False
        self.entered_s = now()
        self.readings: dict[str | int, Reading] = {}

    def settled_on(self, channel: int) -> None:
        """Start as if the scanner had sat on ``channel`` for long: its reading is valid now.

        What a client finds when it connects to an instrument left running, as opposed to
        one just powered up.
        """
        self.channel = channel
        self.autoscan = False
        self.entered_s = -math.inf

    def select(self, channel: int, autoscan: bool) -> None:
        """``SCAN``: move to ``channel`` (1-16); its settling starts now."""
        self.advance()
        self.channel = channel
        self.autoscan = autoscan
        self.entered_s = self.now()

    def restart_if_current(self, channel: str | int) -> None:
        """A changed ``INSET`` on the scanned channel restarts its settling."""
        if channel == self.channel:
            self.advance()
            self.entered_s = self.now()

    def settle_s(self, channel: int) -> float:
        setup = self.settings[channel]
        return float(setup.pause_s + setup.dwell_s)

    def _next_enabled(self, channel: int) -> int | None:
        for step in range(1, 17):
            candidate = (channel - 1 + step) % 16 + 1
            if self.settings[candidate].enabled:
                return candidate
        return None

    def advance(self) -> None:
        """Bring the scanner up to ``now``: finish dwells, step autoscan, sample."""
        now = self.now()
        if not self.autoscan:
            if now >= self.entered_s + self.settle_s(self.channel):
                self._sample(self.channel, now)
            return
        enabled = [ch for ch in MEASUREMENT_CHANNELS if self.settings[ch].enabled]
        if not enabled:
            return
        cycle = sum(self.settle_s(ch) for ch in enabled)
        elapsed = now - self.entered_s
        if elapsed > 2 * cycle:
            # Whole cycles passed: every enabled channel got read; skip them in one step.
            for ch in enabled:
                self._sample(ch, now)
            self.entered_s += math.floor(elapsed / cycle - 1) * cycle
        while True:
            done = self.entered_s + self.settle_s(self.channel)
            if now < done:
                return
            self._sample(self.channel, now)
            following = self._next_enabled(self.channel)
            if following is None:
                return
            self.channel = following
            self.entered_s = done

    def _sample(self, channel: str | int, now: float) -> None:
        self.readings[channel] = self.bridge.measure(channel, self.settings[channel].curve, now)

    def reading(self, channel: str | int) -> Reading:
        """The reading a query returns: live on ``A``, else the last valid one."""
        if channel == "A":
            self._sample("A", self.now())
        else:
            self.advance()
        return self.readings.get(channel, ZERO_READING)
