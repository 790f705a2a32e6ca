"""Instrument entries of a station file: driver, address, simulated flag and per-driver options.

``instruments.<name>`` is a union tagged by ``driver``; each driver has its own options model,
so a Lake Shore channel map or a Nanonis port list is checked where it is written. Addresses are
checked against the forms the driver can use (:mod:`stm_andreev.config.address`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from stm_andreev.config.address import Address, AddressError, parse_address
from stm_andreev.config.base import Port, PositiveFloat, Strict
from stm_andreev.config.errors import KeyedValueError

# Names of instruments and thermometer channels: they appear in key paths and in roles.
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class VisaOptions(Strict):
    """Connection options common to VISA instruments."""

    visa_library: str | None = Field(
        None, description="pyvisa backend, e.g. '@py' for pyvisa-py (needed for TCP sockets)")
    timeout_s: PositiveFloat = Field(5.0, le=600, description="I/O timeout in s")
    read_termination: str | None = None
    write_termination: str | None = None


    def visa_kwargs(self, interface: str | None = None) -> dict[str, Any]:
        """Keyword arguments for pymeasure's VISAAdapter / pyvisa ``open_resource``.

        ``timeout`` in ms as pyvisa wants it; unset options are left out, so pyvisa's own
        defaults apply; ``baud_rate`` only for serial (``asrl``) interfaces.
        """
        kwargs: dict[str, Any] = {"timeout": round(self.timeout_s * 1000)}
        for key in ("visa_library", "read_termination", "write_termination"):
            if getattr(self, key) is not None:
                kwargs[key] = getattr(self, key)
        baud = getattr(self, "baud_rate", None)
        if baud is not None and interface == "asrl":
            kwargs["baud_rate"] = baud
        return kwargs


class LockInOptions(VisaOptions):
    """SR830 / SR860 options."""


class SR570Options(VisaOptions):
    """SR570 current preamplifier (listen-only RS-232)."""

    baud_rate: Literal[1200, 2400, 4800, 9600] = 9600


LakeShoreChannel = int | Literal["A"]


class LakeShoreOptions(VisaOptions):
    """Lake Shore 372 options: which measurement channel is which thermometer.

    ``channels`` maps a name to a scanner channel 1-16 (or ``A``, the control input);
    ``control_channel`` is the thermometer the sample-heater loop regulates on;
    ``transport_channel`` (optional) measures the film four-terminal for R(T).
    """

    channels: dict[str, LakeShoreChannel] = Field(
        default_factory=lambda: {"mixing_chamber": 6})
    control_channel: str = "mixing_chamber"
    transport_channel: str | None = None
    heater_resistance_ohm: PositiveFloat = Field(120.0, le=100_000)
    baud_rate: Literal[9600, 19200, 38400, 57600] = 57600

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[str, Any]) -> dict[str, Any]:
        problems = []
        first: dict[Any, str] = {}
        for name, channel in value.items():
            if not NAME_RE.match(name):
                problems.append(((name,), "channel names are letters, digits, _ and -"))
            if isinstance(channel, int) and not 1 <= channel <= 16:
                problems.append(((name,), f"channel must be 1..16 or 'A'; got {channel}"))
            if channel in first:
                problems.append(((name,), f"channel {channel} is already '{first[channel]}'"))
            first.setdefault(channel, name)
        if not value:
            problems.append(((), "at least one thermometer channel is needed"))
        if problems:
            raise KeyedValueError(problems)
        return value

    @model_validator(mode="after")
    def _named_channels_exist(self) -> LakeShoreOptions:
        problems = [((key,), f"{getattr(self, key)!r} is not in channels "
                             f"({', '.join(self.channels)})")
                    for key in ("control_channel", "transport_channel")
                    if getattr(self, key) is not None and getattr(self, key) not in self.channels]
        if problems:
            raise KeyedValueError(problems)
        return self


class NanonisOptions(Strict):
    """Nanonis options: the TCP ports the controller listens on (one connection per port).

    ``ports`` lists every port to open; it must include the address port. Long commands
    (bias spectroscopy, withdraw) block their port, so Stop goes out on another one.
    ``lockin_x_signal`` / ``lockin_y_signal``: the controller signals (names as in its signal
    list) cabled to the external lock-in's CH1 (X) and CH2 (Y) outputs, which a
    ``controller_lockin`` sweep records.
    """

    ports: list[Port] | None = Field(None, min_length=1, max_length=4)
    timeout_s: PositiveFloat = Field(10.0, le=3600)
    lockin_x_signal: str = Field("Input 1 (V)", min_length=1, max_length=200)
    lockin_y_signal: str = Field("Input 2 (V)", min_length=1, max_length=200)

    @field_validator("ports")
    @classmethod
    def _unique(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError(f"ports must be different from each other; got {value}")
        return value

    @field_validator("lockin_x_signal", "lockin_y_signal")
    @classmethod
    def _signal_name(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError(f"a signal name as the controller lists it, without leading or "
                             f"trailing blanks; got {value!r}")
        return value

    @model_validator(mode="after")
    def _two_signals(self) -> NanonisOptions:
        if self.lockin_x_signal == self.lockin_y_signal:
            raise KeyedValueError([(("lockin_y_signal",), (
                f"must differ from lockin_x_signal ({self.lockin_x_signal!r}): X and Y come "
                "from two outputs"))])
        return self


class _Instrument(Strict):
    """One instrument. ``address`` may be left out only when simulated in-process."""

    driver: str
    address: str | None = None
    simulated: bool = False

    @field_validator("address")
    @classmethod
    def _address_form(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_address(value, cls.union_tag or "")
            except AddressError as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def parsed_address(self) -> Address | None:
        """The address with its interface kind, host and port (None when not given)."""
        return None if self.address is None else parse_address(self.address, self.driver)


class SR830Config(_Instrument):
    union_tag: ClassVar[str | None] = "sr830"
    driver: Literal["sr830"]
    options: LockInOptions = Field(default_factory=LockInOptions)


class SR860Config(_Instrument):
    union_tag: ClassVar[str | None] = "sr860"
    driver: Literal["sr860"]
    options: LockInOptions = Field(default_factory=LockInOptions)


class LakeShore372Config(_Instrument):
    union_tag: ClassVar[str | None] = "lakeshore372"
    driver: Literal["lakeshore372"]
    options: LakeShoreOptions = Field(default_factory=LakeShoreOptions)


class NanonisConfig(_Instrument):
    union_tag: ClassVar[str | None] = "nanonis"
    driver: Literal["nanonis"]
    options: NanonisOptions = Field(default_factory=NanonisOptions)

    @model_validator(mode="after")
    def _address_port_listed(self) -> NanonisConfig:
        addr = self.parsed_address
        if addr is not None and self.options.ports and addr.port not in self.options.ports:
            raise KeyedValueError([(("options", "ports"), (
                f"must include the address port {addr.port}; got {self.options.ports}"))])
        return self

    @property
    def ports(self) -> list[int]:
        """All ports to open: ``options.ports``, else the address port and the next three."""
        if self.options.ports:
            return list(self.options.ports)
        base = self.parsed_address.port if self.parsed_address else 6501
        return [base + i for i in range(4) if base + i <= 65535]


class SR570Config(_Instrument):
    union_tag: ClassVar[str | None] = "sr570"
    driver: Literal["sr570"]
    options: SR570Options = Field(default_factory=SR570Options)


InstrumentConfig = Annotated[
    SR830Config | SR860Config | LakeShore372Config | NanonisConfig | SR570Config,
    Field(discriminator="driver"),
]


@dataclass(frozen=True)
class DriverKind:
    """Everything the project knows about one kind of instrument, in one row: its station-file
    model, the roles it can play, the driver that talks to it and the emulator that stands in
    for it. Classes are named as ``"module:attr"`` and imported only when used, so reading a
    station file imports no driver and no simulator."""

    config: type[_Instrument]
    roles: tuple[str, ...]
    factory: str  # the driver class
    emulator: str | None = None  # under stm_andreev.simulators.emulators; None: not simulated
    clients_per_port: int = 1  # what the real instrument accepts at once
    default_ports: tuple[int, ...] = ()  # `stm-andreev simulate` without a station file
    default_name: str | None = None  # its name there
    framed: bool = False  # binary frames (the Nanonis), not text lines

    @property
    def name(self) -> str:
        return str(self.config.union_tag)


DRIVER_KINDS: dict[str, DriverKind] = {kind.name: kind for kind in (
    DriverKind(SR830Config, ("lockin", "transport_bridge"),
               "stm_andreev.drivers.lockin:SR830LockIn", "srs:SR830Emulator",
               default_ports=(5025,), default_name="lockin"),
    DriverKind(SR860Config, ("lockin", "transport_bridge"),
               "stm_andreev.drivers.lockin:SR860LockIn", "srs:SR860Emulator",
               default_ports=(5026,), default_name="lockin2"),
    # Two clients: the 372's Ethernet port takes more than one (a GUI beside the run).
    DriverKind(LakeShore372Config, ("temperature", "transport_bridge"),
               "stm_andreev.drivers.lakeshore372:LakeShore372",
               "lakeshore372:LakeShore372Emulator", clients_per_port=2,
               default_ports=(7777,), default_name="fridge"),
    DriverKind(NanonisConfig, ("feedback", "preamp"),
               "stm_andreev.drivers.nanonis.client:NanonisController",
               "nanonis:NanonisEmulator", default_ports=(6501, 6502, 6503, 6504),
               default_name="stm", framed=True),
    DriverKind(SR570Config, ("preamp",), "pymeasure.instruments.srs:SR570"),
)}
DRIVERS = tuple(DRIVER_KINDS)

