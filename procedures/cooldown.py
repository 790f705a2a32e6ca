"""The cooldown monitor: fridge thermometers and the film's R(T) logged while the fridge cools.

A plan step ``kind: cooldown`` (:class:`~stm_andreev.config.plan.CooldownStep`: ``target_K``,
``interval_s``, ``max_duration_s``) takes no spectra. Every ``interval_s`` it reads one
*cycle*:

1. every thermometer the station names on the Lake Shore (``options.channels`` of the
   temperature instrument, the film's transport channel excepted) that sits on the scanner:
   the scanner is moved to it and its pause + dwell (``INSET``, read from the instrument) is
   waited on the station clock before the reading, since a reading taken earlier is the
   previous channel's held value;
2. the film's four-terminal resistance through ``station.bridge`` (scanned the same way when
   the bridge is a Lake Shore input), the R(T) of the paper's Fig. S1;
3. last, the thermometers on inputs that need no scanner (the control input ``A``), so the
   film resistance and the mixing-chamber temperature of one cycle are read within
   milliseconds of each other.

Each reading keeps its own time stamp. The monitor stops when the control thermometer
(``station.mixing_chamber_K``) is at or below ``target_K``, when ``max_duration_s`` has passed,
or when ``check`` raises (operator abort). A scanner cycle longer than ``interval_s`` simply
makes the readings back to back.

The tip is withdrawn and the sample heater switched off at the start: the scanner moves by
microns as it contracts, and a heater left regulating would fight the cooldown.

A reading the instrument flags invalid (``RDGST?``: overload, out of range) is stored as NaN,
logged and reported through ``event``; it never ends a two-day cooldown. Errors of the types in
``retry_on`` (dropped links) are retried after ``station.reconnect()`` up to
``max_failures`` cycles in a row. The procedure writes nothing itself: every cycle goes to
``record`` (the command layer stores it; see docs/run-file-example.md for the file).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stm_andreev.drivers.lakeshore372_types import LakeShoreReadingError

from .plan import Point, plan_points

log = logging.getLogger(__name__)

FILM = "film"
#: cycles in a row that may fail on a link error before the monitor gives up
MAX_FAILURES = 5

EventSink = Callable[[str, str], None]


class CooldownError(Exception):
    """The cooldown monitor cannot run or cannot go on (the message says why)."""


@dataclass(frozen=True)
class Thermometer:
    """One thermometer: its name in the station file and its Lake Shore input."""

    name: str
    channel: str | int

    @property
    def scanned(self) -> bool:
        """Whether the scanner must move to it (every input but the control input A)."""
        return self.channel != "A"


@dataclass
class CooldownReading:
    """One cycle. Temperatures in K, resistance in ohm, times in s on the station clock.

    A reading that failed is NaN; ``film_R_ohm`` is NaN when the station has no bridge.
    """

    time_s: float
    temperatures_K: dict[str, float]
    read_at_s: dict[str, float]
    film_R_ohm: float = math.nan
    film_time_s: float = math.nan
    control_K: float = math.nan


@dataclass
class CooldownResult:
    """How the monitor ended: ``reason`` is ``target_reached`` or ``max_duration``."""

    reason: str
    readings: int
    duration_s: float
    final_K: float
    cycle_s: float = math.nan
    invalid_readings: int = 0


# ------------------------------------------------------------------------------ the plan
def split_plan(plan) -> tuple[list[Any], list[Point]]:
    """(leading cooldown steps, spectrum points of the rest) of a validated plan.

    Points keep the step indices of the plan file. The plan's own validation has already
    refused a cooldown step after a spectrum step (see ``PlanConfig``).
    """
    lead = 0
    while lead < len(plan.steps) and plan.steps[lead].kind == "cooldown":
        lead += 1
    return list(plan.steps[:lead]), plan_points(plan, first_step=lead)


# ------------------------------------------------------------------------------ readings
def thermometers(station) -> list[Thermometer]:
    """Every thermometer of the station's temperature instrument, in the station file's order,
    without the film's transport channel (a resistance, not a thermometer)."""
    cfg = station.config
    options = cfg.instruments[cfg.roles.temperature].options
    transport = getattr(options, "transport_channel", None)
    return [
        Thermometer(name, channel)
        for name, channel in dict(options.channels).items()
        if name != transport
    ]


def _film_scanner(station) -> Callable[[], float] | None:
    """A function moving the scanner to the film and returning its settle wait, or None when
    the bridge needs no scanning (another instrument, or the control input)."""
    bridge = station.bridge
    if bridge is None:
        return None
    own = getattr(bridge, "scan", None)
    if callable(own):
        return own
    channel = getattr(bridge, "channel", None)
    instrument = getattr(bridge, "ls", None)
    # Only a bridge input on the temperature controller's own Lake Shore shares its scanner.
    shared = instrument is not None and instrument is getattr(station.temperature, "ls", None)
    if channel is None or channel == "A" or not shared:
        return None
    return lambda: station.temperature.scan(channel)


class CooldownMonitor:
    """Reads cycles from ``station`` and hands them to ``record`` (see module docstring).

    :param station: a connected Station (``temperature``, ``bridge``, ``feedback``, ``clock``).
    :param record: called with each :class:`CooldownReading` as soon as it is complete.
    :param event: called with (kind, message) for everything worth the run's event log.
    :param check: called between readings; raising from it (abort) stops the monitor.
    :param retry_on: exception types that mean a lost link (retried after a reconnect).
    :param fatal: exception types among those that are not retried (an instrument refusing a
        command says the same thing every time).
    """

    def __init__(
        self,
        station,
        record: Callable[[CooldownReading], None],
        *,
        event: EventSink | None = None,
        check: Callable[[], None] | None = None,
        retry_on: tuple[type[BaseException], ...] = (),
        fatal: tuple[type[BaseException], ...] = (),
        max_failures: int = MAX_FAILURES,
    ) -> None:
        self.station = station
        self.record = record
        self.event = event or (lambda kind, message: log.info("%s: %s", kind, message))
        self.check = check or (lambda: None)
        self.retry_on = retry_on
        self.fatal = fatal
        self.max_failures = max_failures
        self.thermometers = thermometers(station)
        self._scan_film = _film_scanner(station)
        self._invalid = 0

    @property
    def columns(self) -> list[str]:
        """Names of the temperature columns, in reading order of the file."""
        return [t.name for t in self.thermometers]

    # ---------------------------------------------------------------- one cycle
    def read_cycle(self) -> CooldownReading:
        """Scanned thermometers, then the film, then the unscanned inputs (module docstring)."""
        clock = self.station.clock
        temps: dict[str, float] = {}
        times: dict[str, float] = {}

        def read(th: Thermometer) -> None:
            temps[th.name] = self._valid(th.name, lambda: self._kelvin(th.channel))
            times[th.name] = clock.now()

        for th in (t for t in self.thermometers if t.scanned):
            clock.sleep(self.station.temperature.scan(th.channel))
            read(th)
        film_R, film_t = self._read_film()
        for th in (t for t in self.thermometers if not t.scanned):
            read(th)
        control_name = getattr(self.station, "control_channel", None)
        if control_name in temps:
            control = temps[control_name]
        else:
            control = self._valid("control thermometer", self.station.mixing_chamber_K)
        return CooldownReading(
            time_s=clock.now(),
            temperatures_K=temps,
            read_at_s=times,
            film_R_ohm=film_R,
            film_time_s=film_t,
            control_K=control,
        )

    def _kelvin(self, channel: str | int) -> float:
        return float(self.station.temperature.temperature(channel))

    def _read_film(self) -> tuple[float, float]:
        bridge = self.station.bridge
        if bridge is None:
            return math.nan, math.nan
        if self._scan_film is not None:
            self.station.clock.sleep(self._scan_film())
        R = self._valid(FILM, bridge.resistance)
        return R, self.station.clock.now()

    def _valid(self, what: str, read: Callable[[], float]) -> float:
        try:
            return float(read())
        except LakeShoreReadingError as exc:
            self._invalid += 1
            self.event("invalid_reading", f"{what}: {exc}; stored as NaN")
            return math.nan

    # ---------------------------------------------------------------- the loop
    def prepare(self) -> None:
        """Tip withdrawn, sample heater off (module docstring)."""
        station = self.station
        station.feedback.withdraw()
        station.temperature.heater_off()
        self.event(
            "cooldown_prepare",
            "tip withdrawn and sample heater off for the cooldown; logging "
            + ", ".join(self.columns + ([FILM] if station.bridge is not None else [])),
        )

    def run(self, step) -> CooldownResult:
        """Log cycles until the target, ``max_duration_s`` or an abort (raised through)."""
        clock = self.station.clock
        start = clock.now()
        deadline = start + step.max_duration_s
        self.prepare()
        self.event(
            "cooldown_start",
            f"logging every {step.interval_s:g} s until {step.target_K:g} K "
            f"(at most {step.max_duration_s:g} s)",
        )
        readings = 0
        failures = 0
        cycle_s = math.nan
        warned_slow = False
        while True:
            self.check()
            cycle_start = clock.now()
            try:
                reading = self.read_cycle()
            except self.retry_on as exc:
                if isinstance(exc, self.fatal):
                    raise
                failures += 1
                self.event("link_error", f"{type(exc).__name__}: {exc} (cycle try {failures})")
                if failures >= self.max_failures:
                    raise CooldownError(
                        f"instrument link lost {failures} cycles in a row: {exc}"
                    ) from exc
                self.station.reconnect()
                continue
            failures = 0
            self.record(reading)
            readings += 1
            cycle_s = reading.time_s - cycle_start
            if cycle_s > step.interval_s and not warned_slow:
                warned_slow = True
                self.event(
                    "cooldown_cycle",
                    f"one scanner cycle takes {cycle_s:.0f} s, longer than interval_s "
                    f"({step.interval_s:g} s): readings follow back to back",
                )
            now = clock.now()
            if reading.control_K <= step.target_K:
                reason = "target_reached"
                break
            if now >= deadline:
                reason = "max_duration"
                break
            wait = min(cycle_start + step.interval_s, deadline) - now
            if wait > 0:
                clock.sleep(wait)
        result = CooldownResult(
            reason=reason,
            readings=readings,
            duration_s=clock.now() - start,
            final_K=reading.control_K,
            cycle_s=cycle_s,
            invalid_readings=self._invalid,
        )
        self.event(
            "cooldown_end",
            f"{reason.replace('_', ' ')}: {result.final_K:.4g} K after "
            f"{result.duration_s:.0f} s, {readings} readings",
        )
        return result
