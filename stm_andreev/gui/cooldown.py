"""Reading the fridge for the cooldown dashboard: thermometers, film resistance, heater.

Qt-free. A :class:`StationSampler` reads through the station's own drivers (the real Lake Shore
372 driver, on hardware or on the simulated lab). The 372 measures one scanner channel at a
time and a channel reads valid only after its pause + dwell, so the sampler never waits: the
control input "A" (its own bridge) is read live at every call, and the scanner channels are
visited in turn, each read once its settling time has passed on the station clock, after which
the scanner moves on. :class:`SimulatedCooldown` starts a cooldown in the simulated lab and
moves the station's virtual clock forward at every tick, reading the channels as a real
client would while that time passes.

:class:`CooldownHistory` keeps the readings and derives the cooling rate, the estimated time to
base and the alarms.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

CONTROL_INPUT = "A"
#: Mixing-chamber readings used for the cooling rate: the last this many seconds.
RATE_WINDOW_S = 600.0
#: Heater output above this (%) raises an alarm: the loop has no headroom left.
HEATER_SATURATED_PCT = 95.0


class SamplerError(Exception):
    """The sampler cannot read the station (message names the channel and why)."""


@dataclass
class Sample:
    """One dashboard reading at station time ``time_s`` (s).

    ``temperatures_K``: thermometer name -> K for the channels read at this call (others are
    absent); ``film_ohm``: four-terminal film resistance (ohm) if read at this call;
    ``heater_pct``: control-heater output (% of range); ``errors``: channel -> why unreadable.
    """

    time_s: float
    temperatures_K: dict[str, float] = field(default_factory=dict)
    film_ohm: float | None = None
    heater_pct: float | None = None
    errors: dict[str, str] = field(default_factory=dict)


class StationSampler:
    """Reads a station's Lake Shore thermometers, film bridge and heater without waiting.

    :param station: a :class:`~stm_andreev.station.Station` (uses ``temperature``, ``bridge``,
        ``clock`` and the Lake Shore ``channels``/``control_channel``/``transport_channel``
        options of its station file).
    :param scan: move the scanner through the measurement channels (False: read only the
        control input, e.g. while a run is using the scanner).
    """

    def __init__(self, station, *, scan: bool = True) -> None:
        self.station = station
        self.clock = station.clock
        self.scan = scan
        options = station.config.instruments[station.config.roles.temperature].options
        self.channels: dict[str, str | int] = dict(options.channels)
        self.transport_name: str | None = getattr(options, "transport_channel", None)
        if station.bridge is None:
            self.transport_name = None
        self.live_names = [n for n, ch in self.channels.items() if ch == CONTROL_INPUT]
        self.scan_names = [n for n, ch in self.channels.items() if ch != CONTROL_INPUT]
        self._scan_index = -1
        self._due_s = math.inf

    @property
    def thermometer_names(self) -> list[str]:
        """Every thermometer this sampler reports (the film is reported as a resistance)."""
        return [n for n in self.channels if n != self.transport_name]

    def next_due_s(self) -> float:
        """Station time (s) at which the scanned channel becomes valid (inf: nothing pending)."""
        return self._due_s if self.scan and self.scan_names else math.inf

    def _move_scanner(self) -> None:
        self._scan_index = (self._scan_index + 1) % len(self.scan_names)
        name = self.scan_names[self._scan_index]
        wait = self.station.temperature.scan(name)
        self._due_s = self.clock.now() + wait

    def _read(self, name: str, sample: Sample) -> None:
        try:
            if name == self.transport_name:
                sample.film_ohm = float(self.station.bridge.resistance())
            else:
                sample.temperatures_K[name] = float(self.station.temperature.temperature(name))
        except Exception as exc:  # one bad channel must not blank the whole dashboard
            sample.errors[name] = f"{type(exc).__name__}: {exc}"

    def sample(self) -> Sample:
        """Read what can be read now: the control input, the settled scanner channel, heater."""
        now = self.clock.now()
        sample = Sample(now)
        for name in self.live_names:
            self._read(name, sample)
        if self.scan and self.scan_names:
            try:
                if self._scan_index < 0:
                    self._move_scanner()
                elif now >= self._due_s:
                    self._read(self.scan_names[self._scan_index], sample)
                    self._move_scanner()
            except Exception as exc:
                sample.errors["scanner"] = f"{type(exc).__name__}: {exc}"
        try:
            sample.heater_pct = float(self.station.temperature.heater_output())
        except Exception as exc:
            sample.errors["heater"] = f"{type(exc).__name__}: {exc}"
        return sample

    def tick(self) -> list[Sample]:
        """One dashboard tick on real time: read once."""
        return [self.sample()]


class SimulatedCooldown:
    """A cooldown in the simulated lab, run ``seconds_per_tick`` of fridge time per tick.

    :param station: a station with an in-process simulated lab and a virtual clock.
    :param sampler: reads the fridge (default: a scanning :class:`StationSampler`).
    :param seconds_per_tick: fridge time per :meth:`tick` (s, > 0).
    :param from_K: the cooldown's start temperature (K).
    """

    def __init__(
        self,
        station,
        sampler: StationSampler | None = None,
        *,
        seconds_per_tick: float = 60.0,
        from_K: float = 300.0,
    ) -> None:
        if station.lab is None or not hasattr(station.clock, "advance"):
            raise SamplerError(
                "a simulated cooldown needs the in-process simulated station (virtual clock); "
                f"station {station.config.name!r} has none"
            )
        if not seconds_per_tick > 0:
            raise ValueError(f"seconds_per_tick must be > 0, got {seconds_per_tick}")
        self.station = station
        self.sampler = sampler or StationSampler(station)
        self.seconds_per_tick = float(seconds_per_tick)
        self.from_K = from_K
        self.started = False

    @property
    def thermometer_names(self) -> list[str]:
        return self.sampler.thermometer_names

    def start(self) -> None:
        self.station.lab.fridge.start_cooldown(self.from_K)
        self.started = True

    def tick(self) -> list[Sample]:
        """Advance the fridge by ``seconds_per_tick``, reading channels as they settle."""
        if not self.started:
            self.start()
        clock = self.station.clock
        end = clock.now() + self.seconds_per_tick
        samples = [self.sampler.sample()]
        while clock.now() < end:
            step = min(self.sampler.next_due_s(), end) - clock.now()
            clock.advance(max(step, 0.0))
            samples.append(self.sampler.sample())
        return samples


@dataclass(frozen=True)
class AlarmBand:
    """A value's allowed band (``low`` .. ``high`` in its unit). ``armed_inside``: alarm only
    after the value has once been inside (a cooldown starts far above a base-temperature
    band)."""

    name: str
    low: float = -math.inf
    high: float = math.inf
    armed_inside: bool = True


class CooldownHistory:
    """Time series of thermometers (K), film resistance (ohm) and heater (%), with derived
    cooling rate, time to base and alarms.

    :param control_name: the thermometer whose rate and time to base are shown.
    :param base_K: the base temperature aimed at (K).
    :param bands: alarm bands by series name (thermometers, ``film`` or ``heater``).
    """

    def __init__(
        self,
        control_name: str,
        *,
        base_K: float = 0.06,
        bands: Mapping[str, AlarmBand] | None = None,
    ) -> None:
        self.control_name = control_name
        self.base_K = base_K
        self.bands = dict(bands or {})
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self.errors: dict[str, str] = {}
        self._armed: set[str] = set()
        self.alarms: dict[str, str] = {}

    def _append(self, name: str, t: float, value: float) -> None:
        ts, vs = self.series.setdefault(name, ([], []))
        ts.append(t)
        vs.append(value)
        band = self.bands.get(name)
        if band is None:
            return
        inside = band.low <= value <= band.high
        if inside:
            self._armed.add(name)
            self.alarms.pop(name, None)
        elif name in self._armed or not band.armed_inside:
            side = "above" if value > band.high else "below"
            limit = band.high if value > band.high else band.low
            self.alarms[name] = f"{name} = {value:.4g} {side} its band limit {limit:.4g}"

    def add(self, sample: Sample) -> None:
        for name, T in sample.temperatures_K.items():
            self._append(name, sample.time_s, T)
        if sample.film_ohm is not None:
            self._append("film", sample.time_s, sample.film_ohm)
        if sample.heater_pct is not None:
            self._append("heater", sample.time_s, sample.heater_pct)
            if sample.heater_pct >= HEATER_SATURATED_PCT:
                self.alarms["heater saturated"] = (
                    f"heater output {sample.heater_pct:.0f} % of its range: no headroom"
                )
            else:
                self.alarms.pop("heater saturated", None)
        for name in list(self.errors):
            if name in sample.temperatures_K or (name != "heater" and sample.film_ohm is not None
                                                 and name not in sample.errors):
                self.errors.pop(name, None)
        self.errors.update(sample.errors)

    def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        ts, vs = self.series.get(name, ([], []))
        return np.asarray(ts, dtype=float), np.asarray(vs, dtype=float)

    def latest(self, name: str) -> float | None:
        ts, vs = self.series.get(name, ([], []))
        return vs[-1] if vs else None

    def cooling_rate_K_per_min(self) -> float:
        """dT/dt of the control thermometer over the last RATE_WINDOW_S, K/min (NaN if < 2
        readings). Negative while cooling."""
        t, T = self.arrays(self.control_name)
        if t.size < 2:
            return math.nan
        recent = t >= t[-1] - RATE_WINDOW_S
        if recent.sum() < 2:
            recent = np.zeros_like(recent)
            recent[-2:] = True
        tt, TT = t[recent], T[recent]
        if np.ptp(tt) <= 0:
            return math.nan
        slope = np.polyfit(tt - tt[0], TT, 1)[0]
        return float(slope * 60.0)

    def time_to_base_s(self) -> float:
        """Estimated time until the control thermometer reaches ``base_K`` (s): the recent
        logarithmic cooling rate d(ln T)/dt extrapolated (a cooldown is close to exponential
        over each stage). 0 at base, NaN when not cooling."""
        t, T = self.arrays(self.control_name)
        if t.size and T[-1] <= self.base_K:
            return 0.0
        if t.size < 2:
            return math.nan
        recent = (t >= t[-1] - RATE_WINDOW_S) & (T > 0)
        if recent.sum() < 2 or np.ptp(t[recent]) <= 0:
            return math.nan
        k = np.polyfit(t[recent] - t[recent][0], np.log(T[recent]), 1)[0]
        if not k < 0:
            return math.nan
        return float(math.log(T[-1] / self.base_K) / -k)


@dataclass
class FridgeConnection:
    """Only the Lake Shore of a station: what the dashboard reads, without taking the lock-in
    or the STM controller away from a run (the Nanonis serves one client per port).

    Has the attributes :class:`StationSampler` uses: ``config``, ``clock``, ``temperature``,
    ``bridge``, ``lab`` (None).
    """

    config: object
    clock: object
    temperature: object
    bridge: object
    driver: object
    lab: None = None

    @classmethod
    def from_config(cls, config) -> FridgeConnection:
        """Connect the station's temperature-role instrument (raises StationError)."""
        # The station module's own builders, so addresses and VISA options are read one way.
        from stm_andreev.clock import WallClock
        from stm_andreev.station import (
            StationError,
            connect_instrument,
            temperature_controller,
            transport_bridge,
        )

        name = config.roles.temperature
        inst = config.instruments[name]
        if inst.simulated and config.simulation is not None and \
                config.simulation.transport == "inprocess":
            raise StationError(f"instruments.{name}: in-process simulated; build the Station")
        clock = WallClock()
        driver = connect_instrument(name, inst, None, clock)
        drivers = {name: driver}
        bridge = transport_bridge(config, drivers) if config.roles.transport_bridge == name \
            else None
        return cls(config, clock, temperature_controller(config, drivers), bridge, driver)

    def close(self) -> None:
        adapter = getattr(self.driver, "adapter", None)
        if adapter is not None:
            adapter.close()


class CooldownFileSampler:
    """Replays (and follows, while it grows) a cooldown log written by ``stm-andreev cooldown``
    or a ``kind: cooldown`` plan step, as dashboard samples.

    :param path: the cooldown file (HDF5, format ``stm_andreev.cooldown``).
    :param reader: reads the whole file into plain arrays (default:
        ``stm_andreev.storage.cooldown_file.read_cooldown``).
    """

    def __init__(self, path, reader=None) -> None:
        from pathlib import Path

        if reader is None:
            from stm_andreev.storage.cooldown_file import read_cooldown as reader
        self.path = Path(path)
        self._reader = reader
        self._seen = 0
        self.status = ""
        try:
            first = reader(self.path)
        except Exception as exc:
            raise SamplerError(f"{self.path}: not a readable cooldown file: {exc}") from exc
        self.thermometer_names: list[str] = list(first["thermometers"])
        self.events: list[tuple[float, str, str]] = []

    def tick(self) -> list[Sample]:
        """Samples for the readings confirmed since the last call (one per value, each with
        the time it was read)."""
        data = self._reader(self.path)
        self.status = data["status"]
        self.events = data["events"]
        cols = data["readings"]
        n = len(cols.get("time_s", ()))
        samples: list[Sample] = []
        for i in range(self._seen, n):
            for name in self.thermometer_names:
                T = float(cols.get(f"{name}_K", [math.nan] * n)[i])
                if math.isfinite(T):
                    t = float(cols.get(f"{name}_time_s", cols["time_s"])[i])
                    samples.append(Sample(t, {name: T}))
            R = float(cols.get("film_R_ohm", [math.nan] * n)[i])
            if math.isfinite(R):
                t = float(cols.get("film_time_s", cols["time_s"])[i])
                samples.append(Sample(t, film_ohm=R))
        self._seen = n
        samples.sort(key=lambda s: s.time_s)
        return samples
