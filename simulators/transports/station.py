"""Every TCP server of a simulated station, on one virtual lab: what ``stm-andreev simulate`` runs.

The lab runs on a :class:`~stm_andreev.clock.ScaledClock` (wall time ``speedup`` times faster),
so clients on the wall clock see the fridge and the feedback evolve at a sensible pace. Each
instrument gets its emulator, wrapped with its faults when the plan has any, and its server:
:class:`~.tcp.LineServer` for the SR830 / SR860 / Lake Shore 372 and :class:`~.tcp.FrameServer`
for the Nanonis.

Build it from a station file (:meth:`SimulatedStationServers.from_station`) or from a list of
:class:`ServedInstrument` (:meth:`SimulatedStationServers.build` or the constructor)::

    with SimulatedStationServers.build(sample="InO-2", speedup=100) as station:
        print(station.describe())
"""

from __future__ import annotations

import copy
import importlib
import inspect
import logging
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from stm_andreev.clock import Clock, ScaledClock
from stm_andreev.config.instruments import DRIVER_KINDS, DriverKind
from stm_andreev.simulators.faults import FaultInjector, FaultPlan
from stm_andreev.simulators.transports.errors import ServerError
from stm_andreev.simulators.transports.tcp import DEFAULT_HOST, FrameServer, LineServer

log = logging.getLogger(__name__)

# driver -> its row of the one driver table (emulator, clients per port, default ports and
# name); only the kinds that have an emulator are served.
SIMULATED: dict[str, DriverKind] = {
    name: kind for name, kind in DRIVER_KINDS.items() if kind.emulator is not None
}


class StationServerError(ServerError):
    """The simulated station cannot be built (unknown driver, missing emulator, bad config)."""


@dataclass(frozen=True)
class ServedInstrument:
    """One instrument to serve: station name, driver (see :data:`EMULATORS`), TCP ports.

    Ports are 0 for a free one; the Nanonis takes 1-4 ports, the others exactly one.
    """

    name: str
    driver: str
    ports: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.driver not in SIMULATED:
            raise StationServerError(
                f"{self.name}: no emulator for driver {self.driver!r}; "
                f"simulated drivers are {', '.join(SIMULATED)}"
            )
        most = len(SIMULATED[self.driver].default_ports)
        if not 1 <= len(self.ports) <= most:
            raise StationServerError(
                f"{self.name}: a {self.driver} is served on 1 to {most} port(s), "
                f"got {list(self.ports)}"
            )


def emulator_class(driver: str) -> type:
    """The emulator class for ``driver`` (imported on first use)."""
    target = SIMULATED[driver].emulator
    module_name, class_name = target.split(":")
    module_path = f"stm_andreev.simulators.emulators.{module_name}"
    try:
        module = importlib.import_module(module_path)
        return getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        raise StationServerError(f"the {driver} emulator {module_path}.{class_name} is not "
                                 f"available: {exc}") from exc


def emulator_seed(station_seed: int, instrument: str) -> int:
    """The noise seed of one instrument's emulator: stable for a (station seed, name) pair,
    different between instruments, independent of the order they are listed in."""
    return (station_seed * 1_000_003 + zlib.crc32(instrument.encode())) % 2**32


def make_emulator(driver: str, lab: Any, *, seed: int) -> Any:
    """An emulator for ``driver`` on ``lab``; ``seed`` goes to those that draw their own noise
    (the lock-ins take theirs from the lab)."""
    cls = emulator_class(driver)
    if "seed" in inspect.signature(cls).parameters:
        return cls(lab, seed=seed)
    return cls(lab)


def default_instruments(*, sr860: bool = False, ephemeral: bool = False) -> list[ServedInstrument]:
    """SR830, Lake Shore 372 and Nanonis (plus an SR860 if asked) on the default ports.

    ``ephemeral``: every port 0 (free ports; for tests and parallel runs).
    """
    drivers = ["sr830", *(["sr860"] if sr860 else []), "lakeshore372", "nanonis"]
    return [
        ServedInstrument(
            SIMULATED[d].default_name, d,
            tuple(0 for _ in SIMULATED[d].default_ports) if ephemeral
            else SIMULATED[d].default_ports,
        )
        for d in drivers
    ]


def make_lab(
    sample: Any = "InO-2",
    *,
    clock: Clock,
    seed: int = 0,
    tip_xy_m: tuple[float, float] = (0.0, 0.0),
    modulation_divider: float | None = None,
    surface: Any = None,
    drift: Any = None,
):
    """A :class:`~stm_andreev.simulators.lab.VirtualLab` on ``clock``.

    ``modulation_divider`` is the station file's (junction modulation = sine output /
    divider, 1-1e6); the lab takes the inverse factor. ``surface`` and ``drift`` are the
    station file's ``simulation.surface`` / ``simulation.drift`` sections (None: a flat,
    still sample), seeded with ``seed``.
    """
    from stm_andreev.simulators.lab import Surface, ThermalDrift, VirtualLab

    kwargs: dict[str, Any] = {"clock": clock, "seed": seed, "tip_xy_m": tuple(tip_xy_m)}
    if modulation_divider is not None:
        kwargs["modulation_divider"] = 1.0 / modulation_divider
    if surface is not None:
        kwargs["surface"] = Surface(surface.rms_m, surface.correlation_length_m, seed)
    if drift is not None:
        kwargs["drift"] = ThermalDrift(
            tuple(v / 3600.0 for v in drift.velocity_m_per_h), drift.wander_m,
            drift.wander_period_s, seed, start_s=clock.now())
    return VirtualLab(sample, **kwargs)


class SimulatedStationServers:
    """The TCP servers of one simulated station sharing one lab.

    Args:
        lab: the virtual lab every emulator reads and writes.
        instruments: what to serve (see :func:`default_instruments`).
        host: interface to bind (loopback by default; anything else exposes the simulator).
        faults: fault plan; its instruments must be among ``instruments``.
        seed: seeds the emulators' own noise (through :func:`emulator_seed`).
    """

    def __init__(
        self,
        lab: Any,
        instruments: Iterable[ServedInstrument],
        *,
        host: str = DEFAULT_HOST,
        faults: FaultPlan | None = None,
        seed: int = 0,
    ) -> None:
        self.lab = lab
        self.clock: Clock = lab.clock
        self.host = host
        self.instruments = list(instruments)
        names = [i.name for i in self.instruments]
        if len(set(names)) != len(names):
            raise StationServerError(f"instrument names must be unique, got {names}")
        self.faults = faults or FaultPlan()
        self.faults.check_instruments(names)
        self.injector = (
            FaultInjector(self.faults, clock=self.clock, lab=lab) if self.faults.faults else None
        )
        self.emulators: dict[str, Any] = {}
        self.servers: dict[str, LineServer | FrameServer] = {}
        for inst in self.instruments:
            emulator = make_emulator(inst.driver, lab, seed=emulator_seed(seed, inst.name))
            self.emulators[inst.name] = emulator
            served = self.injector.wrap(emulator, inst.name) if self.injector else emulator
            if inst.driver == "nanonis":
                self.servers[inst.name] = FrameServer(served, host, inst.ports, name=inst.name)
            else:
                self.servers[inst.name] = LineServer(
                    served, host, inst.ports[0], max_clients=SIMULATED[inst.driver].clients_per_port,
                    name=inst.name,
                )

    @classmethod
    def build(
        cls,
        *,
        sample: Any = "InO-2",
        speedup: float = 1.0,
        seed: int = 0,
        host: str = DEFAULT_HOST,
        instruments: Sequence[ServedInstrument] | None = None,
        faults: FaultPlan | None = None,
        tip_xy_m: tuple[float, float] = (0.0, 0.0),
    ) -> SimulatedStationServers:
        """A lab on a fresh ``ScaledClock(speedup)`` and servers for ``instruments``
        (default: :func:`default_instruments`)."""
        lab = make_lab(sample, clock=ScaledClock(speedup), seed=seed, tip_xy_m=tip_xy_m)
        return cls(lab, instruments or default_instruments(), host=host, faults=faults,
                   seed=seed)

    @classmethod
    def from_station(
        cls,
        station: Any,
        *,
        host: str | None = None,
        speedup: float | None = None,
        seed: int | None = None,
        free_ports: bool = False,
    ) -> SimulatedStationServers:
        """Servers for every simulated instrument of a validated station file.

        Ports and host come from the instruments' addresses (``host`` overrides the host to
        bind; ``free_ports`` replaces every port by a free one, for tests and parallel runs),
        sample, seed, speed-up, divider and faults from its ``simulation:`` section.
        """
        sim = station.simulation
        if sim is None:
            raise StationServerError(f"station {station.name!r} has no simulation: section")
        served: list[ServedInstrument] = []
        hosts: set[str] = set()
        for name, inst in station.instruments.items():
            if not inst.simulated:
                continue
            address = inst.parsed_address
            if address is None or address.port is None:
                hint = (" (this station simulates in process: simulation.transport is "
                        "inprocess; serve a station with TCP addresses, such as "
                        "configs/simulated-tcp.yaml)" if inst.address is None else "")
                raise StationServerError(
                    f"instruments.{name}.address: a TCP address (host and port) is needed "
                    f"to serve it, got {inst.address!r}{hint}"
                )
            hosts.add(address.host)
            ports = tuple(inst.ports) if inst.driver == "nanonis" else (address.port,)
            if free_ports:
                ports = tuple(0 for _ in ports)
            served.append(ServedInstrument(name, inst.driver, ports))
        if not served:
            raise StationServerError(f"station {station.name!r} has no simulated instrument")
        if host is None:
            if len(hosts) > 1:
                raise StationServerError(
                    f"simulated instruments use several hosts ({', '.join(sorted(hosts))}); "
                    "pass the host to bind"
                )
            host = hosts.pop()
        seed = sim.seed if seed is None else seed
        lab = make_lab(
            sample_for_lab(sim.sample),
            clock=ScaledClock(sim.speedup if speedup is None else speedup),
            seed=seed,
            tip_xy_m=tuple(sim.tip_xy_m),
            modulation_divider=sim.modulation_divider,
            surface=sim.surface,
            drift=sim.drift,
        )
        plan = FaultPlan.from_config(sim.faults, seed=seed)
        return cls(lab, served, host=host, faults=plan, seed=seed)

    # lifecycle
    def start(self) -> SimulatedStationServers:
        """Start every server (all or none: a failure closes the ones already started)."""
        if not self.host.startswith("127.") and self.host != "localhost":
            log.warning("binding %s: the simulated instruments are reachable from the network",
                        self.host)
        try:
            for server in self.servers.values():
                server.start()
        except Exception:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Close every server and join its threads (idempotent)."""
        for server in self.servers.values():
            server.close()

    def __enter__(self) -> SimulatedStationServers:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    # addresses
    def address_of(self, name: str) -> str:
        """How a client reaches ``name``: a VISA resource for the line instruments,
        ``host:port`` (``host:first-last`` for consecutive ports) for the Nanonis."""
        server = self.servers[name]
        if isinstance(server, LineServer):
            return server.visa_address
        ports = server.ports
        if len(ports) > 1 and list(ports) == list(range(ports[0], ports[0] + len(ports))):
            return f"{server.host}:{ports[0]}-{ports[-1]}"
        return f"{server.host}:" + ",".join(str(p) for p in ports)

    def addresses(self) -> dict[str, str]:
        """``{instrument name: address}`` of every served instrument."""
        return {name: self.address_of(name) for name in self.servers}

    def point_station_at(self, data: dict[str, Any]) -> dict[str, Any]:
        """A copy of station-file ``data`` (parsed YAML) whose served instruments' addresses
        (and the Nanonis' port list) are these servers' (for a client of free ports)."""
        out = copy.deepcopy(data)
        for name, inst in out["instruments"].items():
            server = self.servers.get(name)
            if server is None:
                continue
            if isinstance(server, LineServer):
                inst["address"] = server.visa_address
            else:
                inst["address"] = f"{server.host}:{server.ports[0]}"
                inst.setdefault("options", {})["ports"] = list(server.ports)
        return out

    def describe(self) -> str:
        """One line per instrument: name, driver, address (what ``simulate`` prints)."""
        width = max(len(name) for name in self.servers)
        lines = [
            f"{inst.name:<{width}}  {inst.driver:<12}  {self.address_of(inst.name)}"
            for inst in self.instruments
        ]
        lines += [f"fault: {spec.summary()}" for spec in self.faults.faults]
        return "\n".join(lines)


def sample_for_lab(sample: Any) -> Any:
    """The station file's sample as the lab takes it: a preset name or SampleParameters.

    A custom sample carries every model key itself or names the preset it starts from (see
    :mod:`stm_andreev.config.sample`); nothing is taken from another film silently.
    """
    if isinstance(sample, str):
        return sample
    return sample.to_parameters()
