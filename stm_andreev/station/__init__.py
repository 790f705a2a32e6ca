"""The station: validated configuration turned into connected drivers, limits and a clock.

One code path for every instrument: the *driver* is always the real one (pymeasure SR830/SR860
subclasses, the Lake Shore 372 and Nanonis drivers); only what sits under it changes.

* real instruments: the driver opens the address of the station file (VISA or TCP);
* ``simulation.transport: tcp``: the same addresses, served by ``stm-andreev simulate``;
* ``simulation.transport: inprocess``: the driver talks to the emulator through an in-process
  adapter (pymeasure ``Adapter`` or a socket-like object) on one :class:`VirtualLab`, with the
  faults of the station file wrapped around the emulators.

Build with :meth:`Station.from_config`; the configuration is fully validated before anything
is contacted (:func:`stm_andreev.config.load_station`).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stm_andreev.clock import Clock, ScaledClock, VirtualClock, WallClock
from stm_andreev.config import StationConfig
from stm_andreev.config.instruments import DRIVER_KINDS
from stm_andreev.drivers.interfaces import (
    FeedbackController,
    LockIn,
    SweepStopper,
    TemperatureController,
    TransportBridge,
)
from stm_andreev.link_reset import flush_link
from stm_andreev.station.stop_link import SweepStopLink, stop_ports

log = logging.getLogger(__name__)

# Lake Shore sample-heater output used for the control loop.
CONTROL_OUTPUT = 0


class StationError(Exception):
    """The station cannot be built or an instrument cannot be reached (message names which)."""


@dataclass
class Station:
    """Connected instruments by role, with the limits and the clock every wait goes through."""

    config: StationConfig
    clock: Clock
    lockin: LockIn
    feedback: FeedbackController
    temperature: TemperatureController
    bridge: TransportBridge | None
    drivers: dict[str, Any]
    lab: Any = None  # the VirtualLab of an in-process simulation, else None
    source_text: str = ""
    stop_link: SweepStopLink | None = None  # see sweep_stopper()
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def limits(self):
        return self.config.limits

    @property
    def simulated(self) -> bool:
        return self.lab is not None

    @property
    def modulation_divider(self) -> float:
        """Lock-in sine output / junction modulation (the bias divider on the cryostat line)."""
        sim = self.config.simulation
        return sim.modulation_divider if sim is not None else 1000.0

    @property
    def lockin_output_signals(self) -> tuple[str, str]:
        """The feedback controller's signals cabled to the lock-in's X (CH1) and Y (CH2)
        outputs, from its ``options.lockin_x_signal`` / ``lockin_y_signal``."""
        options = self.config.instruments[self.config.roles.feedback].options
        return options.lockin_x_signal, options.lockin_y_signal

    def sweep_stopper(self) -> SweepStopper | None:
        """The feedback controller's second link, which stops its running bias sweep (opened
        on first use), or None if it cannot be opened (then logged once)."""
        return self.stop_link.get() if self.stop_link is not None else None

    @property
    def control_channel(self) -> str:
        return self._lakeshore_options().control_channel

    def _lakeshore_options(self):
        return self.config.instruments[self.config.roles.temperature].options

    # ----------------------------------------------------------------------- building
    @classmethod
    def from_config(cls, config: StationConfig, *, source_text: str = "") -> Station:
        """Connect every instrument of ``config`` (already validated)."""
        from stm_andreev.visa_timeouts import use_monotonic_timeouts

        use_monotonic_timeouts()  # a wall-clock step must not stretch or cut a VISA read
        clock = _make_clock(config)
        lab = None
        emulators: dict[str, Any] = {}
        sim = config.simulation
        inprocess = [
            n
            for n, i in config.instruments.items()
            if i.simulated and sim is not None and sim.transport == "inprocess"
        ]
        if inprocess:
            lab = _make_lab(config, clock)
            emulators = _make_emulators(config, inprocess, lab, clock)
        drivers = {}
        closers: list[Callable[[], None]] = []
        try:
            for name, inst in config.instruments.items():
                drivers[name] = connect_instrument(name, inst, emulators.get(name), clock)
                closers.append(_closer_for(drivers[name]))
            feedback = config.roles.feedback
            stop_link = stop_link_for(
                feedback, config.instruments[feedback], emulators.get(feedback), clock
            )
            closers.append(stop_link.close)
            station = cls(
                config=config,
                clock=clock,
                lockin=drivers[config.roles.lockin],
                feedback=drivers[config.roles.feedback],
                temperature=temperature_controller(config, drivers),
                bridge=transport_bridge(config, drivers),
                drivers=drivers,
                lab=lab,
                source_text=source_text,
                stop_link=stop_link,
                _closers=closers,
            )
        except Exception:
            for close in closers:
                close()
            raise
        return station

    @staticmethod
    def connections(config: StationConfig) -> list[Connection]:
        """What :meth:`from_config` would open, for every non-in-process instrument, without
        opening anything (for ``check-config`` and for checking a real lab's file offline)."""
        sim = config.simulation
        return [
            connection_for(name, inst)
            for name, inst in config.instruments.items()
            if not (inst.simulated and sim is not None and sim.transport == "inprocess")
        ]

    @classmethod
    def load(cls, path: str) -> Station:
        """Load, validate and connect the station file at ``path`` (or a name in configs/)."""
        from stm_andreev.config import load_station, resolve_config_path

        config = load_station(path)
        text = resolve_config_path(path).read_text(encoding="utf-8")
        return cls.from_config(config, source_text=text)

    def close(self) -> None:
        for close in self._closers:
            try:
                close()
            except Exception:  # closing is best effort: the run file is already safe
                log.exception("closing an instrument failed")
        self._closers.clear()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reconnect(self) -> None:
        """Re-open every instrument link after a dropped connection (before a retry).

        pymeasure instruments get their adapter re-opened (VISA resources re-opened, the
        in-process adapter reset); the Nanonis driver reconnects by itself on its next command.
        Bounded in wall time (:func:`~stm_andreev.link_reset.flush_link`): a link that cannot
        be re-opened is logged and left for the next command to fail, which the engine counts
        against its bounded retries.
        """
        for name, driver in self.drivers.items():
            adapter = getattr(driver, "adapter", None)
            try:
                if hasattr(adapter, "reopen"):
                    adapter.reopen()
                elif adapter is not None and hasattr(adapter, "connection"):
                    adapter.connection.close()
                    adapter.connection = adapter.manager.open_resource(
                        adapter.resource_name, **getattr(adapter, "_open_kwargs", {})
                    )
                flush_link(adapter)
            except Exception as exc:
                log.warning("reconnecting %s failed: %s", name, exc)

    # -------------------------------------------------------------------- reading state
    def mixing_chamber_K(self) -> float:
        """Temperature of the control thermometer (K): the channel the heater loop regulates on
        (the Lake Shore control input "A" reads continuously, with no scanner wait)."""
        from stm_andreev.drivers.lakeshore372_types import LakeShoreReadingError

        try:
            return float(self.temperature.temperature(self.control_channel))
        except LakeShoreReadingError:
            # A scanner channel reads valid only while the scanner sits on it: move it back
            # (something else, e.g. a cooldown log, may have cycled it) and wait its settle.
            scan = getattr(self.temperature, "scan", None)
            if scan is None:
                raise
            self.clock.sleep(scan(self.control_channel))
            return float(self.temperature.temperature(self.control_channel))

    def film_resistance_ohm(self) -> float:
        """Four-terminal film resistance (ohm) through the transport bridge.

        On a Lake Shore scanner channel the scanner is moved there and its settle waited on the
        station clock; the control thermometer is re-scanned when next read.
        """
        if self.bridge is None:
            raise StationError(
                "no transport_bridge role (or transport_channel) in the station file"
            )
        scan = getattr(self.temperature, "scan", None)
        channel = getattr(self.bridge, "channel", None)
        if scan is not None and channel is not None:
            self.clock.sleep(scan(channel))
        return float(self.bridge.resistance())

    def snapshot(self) -> dict[str, Any]:
        """Every instrument setting the station can read, as plain data (for the run file)."""
        snap: dict[str, Any] = {"station": self.config.name, "clock": type(self.clock).__name__}
        lockin = self.lockin
        snap["lockin"] = _read_all(
            {
                "sensitivity_V": lambda: lockin.sensitivity,
                "time_constant_s": lambda: lockin.time_constant,
                "filter_slope_dB_per_oct": lambda: lockin.filter_slope,
                "sine_voltage_Vrms": lambda: lockin.sine_voltage,
                "frequency_Hz": lambda: lockin.frequency,
            }
        )
        fb = self.feedback
        snap["feedback"] = _read_all(
            {
                "bias_V": fb.get_bias,
                "setpoint_A": fb.get_setpoint,
                "feedback_on": fb.get_feedback,
                "z_m": fb.get_z,
                "status": fb.feedback_status,
                "tip_xy_m": fb.get_tip_position,
                "current_gain_V_per_A": getattr(fb, "get_current_gain", lambda: None),
            }
        )
        channels = self._lakeshore_options().channels
        snap["temperatures_K"] = _read_all(
            {
                name: (lambda n=name: self.temperature.temperature(n))
                for name in channels
                if name != self._lakeshore_options().transport_channel
            }
        )
        snap["heater_output_percent"] = _read_all({"value": self.temperature.heater_output})
        snap["limits"] = self.config.limits.model_dump(mode="json")
        snap["modulation_divider"] = self.modulation_divider
        if self.lab is not None:
            snap["simulation"] = self.config.simulation.model_dump(mode="json")
        return snap


# --------------------------------------------------------------------------- helpers
def _make_clock(config: StationConfig) -> Clock:
    sim = config.simulation
    all_simulated = all(i.simulated for i in config.instruments.values())
    if sim is None or not all_simulated:
        return WallClock()
    if sim.clock == "virtual":
        return VirtualClock()
    return ScaledClock(sim.speedup)


def _make_lab(config: StationConfig, clock: Clock):
    # The same construction as `stm-andreev simulate`, so a station file gives the same lab
    # (and the same noise) in-process and over TCP.
    from stm_andreev.simulators.transports.station import make_lab, sample_for_lab

    sim = config.simulation
    return make_lab(
        sample_for_lab(sim.sample),
        clock=clock,
        seed=sim.seed,
        tip_xy_m=tuple(sim.tip_xy_m),
        modulation_divider=sim.modulation_divider,
        surface=sim.surface,
        drift=sim.drift,
    )


def _make_emulators(config: StationConfig, names: list[str], lab, clock: Clock) -> dict[str, Any]:
    from stm_andreev.simulators.faults import FaultInjector, FaultPlan
    from stm_andreev.simulators.transports.station import emulator_seed, make_emulator

    sim = config.simulation
    injector = None
    if sim.faults:
        plan = FaultPlan.from_config(list(sim.faults), seed=sim.seed)
        injector = FaultInjector(plan, clock=clock, lab=lab)
    emulators = {}
    for name in names:
        emulator = make_emulator(
            config.instruments[name].driver, lab, seed=emulator_seed(sim.seed, name)
        )
        emulators[name] = injector.wrap(emulator, name) if injector is not None else emulator
    return emulators


@dataclass(frozen=True)
class Connection:
    """How one instrument will be reached: driver class, target and keyword arguments."""

    name: str
    driver: str
    factory: Callable[..., Any]
    target: Any  # VISA resource string, in-process adapter, or None for the Nanonis
    kwargs: dict[str, Any]

    def describe(self) -> str:
        where = self.kwargs.get("host") and f"{self.kwargs['host']}:{self.kwargs['port']}"
        where = where or (self.target if isinstance(self.target, str) else "in-process emulator")
        return f"{self.name}: {getattr(self.factory, '__name__', self.factory)} at {where}"

    def open(self):
        try:
            if self.target is None:
                return self.factory(**self.kwargs)
            return self.factory(self.target, **self.kwargs)
        except Exception as exc:
            raise StationError(
                f"instruments.{self.name}: cannot connect the {self.driver} "
                f"({self.describe()}): {exc}"
            ) from exc


def connection_for(name: str, inst, emulator=None, clock: Clock | None = None) -> Connection:
    """The :class:`Connection` of one instrument, on its emulator or its address; connects nothing."""
    kind = DRIVER_KINDS.get(inst.driver)
    if kind is None:
        raise StationError(f"instruments.{name}: unknown driver {inst.driver!r}")
    module, _, attr = kind.factory.partition(":")
    factory = getattr(importlib.import_module(module), attr)
    if kind.framed:
        if emulator is not None:
            from stm_andreev.simulators.transports.inprocess import EmulatorSocket

            kwargs = {"socket_factory": EmulatorSocket.factory(emulator, clock=clock)}
        else:
            addr = inst.parsed_address
            kwargs = {"host": addr.host, "port": addr.port, "timeout_s": inst.options.timeout_s}
        return Connection(name, inst.driver, factory, None, kwargs)
    return Connection(
        name,
        inst.driver,
        factory,
        _visa_target(inst, emulator, clock),
        _visa_kwargs(inst, emulator),
    )


def connect_instrument(name: str, inst, emulator=None, clock: Clock | None = None):
    """The driver of one instrument, connected."""
    return connection_for(name, inst, emulator, clock).open()


def stop_link_for(name: str, inst, emulator=None, clock: Clock | None = None) -> SweepStopLink:
    """The Nanonis controller's stop link: the same connection as its driver's on each of its
    other ports (in process: another socket onto the same emulator); opens nothing."""
    main = connection_for(name, inst, emulator, clock)
    address = inst.parsed_address
    ports = stop_ports(inst.ports, address.port if address is not None else None)
    return SweepStopLink(
        name, [dataclasses.replace(main, kwargs={**main.kwargs, "port": p}) for p in ports]
    )


def _visa_target(inst, emulator, clock: Clock):
    if emulator is None:
        return inst.address
    from stm_andreev.simulators.transports.inprocess import EmulatorAdapter

    return EmulatorAdapter(emulator, clock=clock)


def _visa_kwargs(inst, emulator) -> dict[str, Any]:
    if emulator is not None:
        return {}
    parsed = inst.parsed_address
    interface = getattr(parsed, "interface", None)
    return inst.options.visa_kwargs(interface)


def _closer_for(driver) -> Callable[[], None]:
    if hasattr(driver, "close"):
        return driver.close
    adapter = getattr(driver, "adapter", None)
    return adapter.close if adapter is not None else (lambda: None)


def temperature_controller(
    config: StationConfig, drivers: dict[str, Any]
) -> TemperatureController:
    from stm_andreev.drivers.lakeshore372_adapters import LakeShoreTemperatureControl

    options = config.instruments[config.roles.temperature].options
    return LakeShoreTemperatureControl(
        drivers[config.roles.temperature],
        control_output=CONTROL_OUTPUT,
        channels=dict(options.channels),
    )


def transport_bridge(config: StationConfig, drivers: dict[str, Any]) -> TransportBridge | None:
    from stm_andreev.drivers.lakeshore372_adapters import LakeShoreTransportBridge

    role = config.roles.transport_bridge
    if role is None:
        return None
    options = config.instruments[role].options
    channel_name = getattr(options, "transport_channel", None)
    if channel_name is None:
        return None
    return LakeShoreTransportBridge(drivers[role], options.channels[channel_name])


def _read_all(getters: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    out = {}
    for key, get in getters.items():
        try:
            value = get()
        except Exception as exc:  # a snapshot records what it can and says what it could not
            value = f"unreadable: {exc}"
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[key] = list(value) if isinstance(value, tuple) else value
    return out
