"""Vocabulary of the Lake Shore Model 372 protocol: enums, reply records, errors, parsers.

Shared by the driver (drivers/lakeshore372.py) and the emulator
(simulators/emulators/lakeshore372.py) so both sides of the wire agree on every code.

Parsers are strict: the reply must look exactly like a Lake Shore number (``+1.00000E-01``,
``5``, ``A``); anything else raises :class:`LakeShoreReplyError` (a ``ValueError``) naming
the reply, never a silently half-parsed value. Python's own ``float()`` is too lenient for that
(it accepts ``nan``, ``inf`` and ``1_0``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from enum import IntEnum, IntFlag
from typing import Any, NamedTuple, TypeVar

E = TypeVar("E", bound=IntEnum)
F = TypeVar("F", bound=IntFlag)

INPUT_IDS: tuple[str | int, ...] = ("A", *range(1, 17))
"""Input channels: "A" is the control input, 1-16 the scanner's measurement channels."""

OUTPUT_IDS: tuple[int, ...] = (0, 1, 2)
"""Outputs: 0 sample heater, 1 warm-up heater, 2 analog/still heater."""


class LakeShoreError(Exception):
    """Base of every error the Lake Shore 372 driver raises."""


class LakeShoreReplyError(LakeShoreError, ValueError):
    """The instrument answered something that is not the expected reply (garbled or truncated)."""

    def __init__(self, what: str, reply: str) -> None:
        super().__init__(f"Lake Shore 372: cannot parse {what} from reply {reply!r}")
        self.reply = reply


class LakeShoreCommandError(LakeShoreError):
    """``*ESR?`` reported a query, execution or command error after a command."""

    def __init__(self, command: str | None, bits: StandardEvent) -> None:
        names = ", ".join(
            flag.name.lower().replace("_", " ") for flag in ERROR_EVENTS if flag in bits
        )
        super().__init__(
            f"Lake Shore 372 rejected {command!r}: *ESR? = {int(bits)} ({names})"
        )
        self.command = command
        self.bits = bits


class LakeShoreReadingError(LakeShoreError):
    """A reading came with status bits saying it is not a valid measurement (overload, range)."""

    def __init__(self, channel: str | int, status: ReadingStatus) -> None:
        names = ", ".join(flag.name for flag in ReadingStatus if flag in status)
        hint = ""
        if status == ReadingStatus.R_UNDER | ReadingStatus.T_UNDER:
            hint = "; a channel the scanner has not measured yet reads 0 with these bits"
        super().__init__(
            f"Lake Shore 372 channel {channel}: reading invalid, "
            f"RDGST? = {int(status)} ({names}{hint})"
        )
        self.channel = channel
        self.status = status


class StandardEvent(IntFlag):
    """``*ESR?`` standard event status register (bit values)."""

    OPERATION_COMPLETE = 1
    QUERY_ERROR = 4  # bit 2
    EXECUTION_ERROR = 16  # bit 4
    COMMAND_ERROR = 32  # bit 5
    POWER_ON = 128  # bit 7


ERROR_EVENTS = (
    StandardEvent.QUERY_ERROR,
    StandardEvent.EXECUTION_ERROR,
    StandardEvent.COMMAND_ERROR,
)
ERROR_MASK = StandardEvent(sum(ERROR_EVENTS))


class ReadingStatus(IntFlag):
    """``RDGST?`` reading status bits; 0 means a valid reading."""

    CS_OVERLOAD = 1
    VCM_OVERLOAD = 2
    VMIX_OVERLOAD = 4
    VDIF_OVERLOAD = 8
    R_OVER = 16
    R_UNDER = 32
    T_OVER = 64
    T_UNDER = 128


RESISTANCE_INVALID = (
    ReadingStatus.CS_OVERLOAD
    | ReadingStatus.VCM_OVERLOAD
    | ReadingStatus.VMIX_OVERLOAD
    | ReadingStatus.VDIF_OVERLOAD
    | ReadingStatus.R_OVER
    | ReadingStatus.R_UNDER
)
"""Bits that make the resistance reading meaningless (the temperature bits do not)."""

TEMPERATURE_INVALID = RESISTANCE_INVALID | ReadingStatus.T_OVER | ReadingStatus.T_UNDER


class HeaterRange(IntEnum):
    """Sample-heater (output 0) current ranges; ``HEATER_RANGE_CURRENT_A`` gives the amps."""

    OFF = 0
    I_31_6_uA = 1
    I_100_uA = 2
    I_316_uA = 3
    I_1_mA = 4
    I_3_16_mA = 5
    I_10_mA = 6
    I_31_6_mA = 7
    I_100_mA = 8


HEATER_RANGE_CURRENT_A: dict[HeaterRange, float] = {
    HeaterRange.OFF: 0.0,
    HeaterRange.I_31_6_uA: 31.6e-6,
    HeaterRange.I_100_uA: 100e-6,
    HeaterRange.I_316_uA: 316e-6,
    HeaterRange.I_1_mA: 1e-3,
    HeaterRange.I_3_16_mA: 3.16e-3,
    HeaterRange.I_10_mA: 10e-3,
    HeaterRange.I_31_6_mA: 31.6e-3,
    HeaterRange.I_100_mA: 100e-3,
}


class OutputMode(IntEnum):
    """``OUTMODE`` control modes."""

    OFF = 0
    MONITOR_OUT = 1
    OPEN_LOOP = 2
    ZONE = 3
    STILL = 4
    CLOSED_LOOP = 5
    WARM_UP = 6


class Polarity(IntEnum):
    """``OUTMODE`` output polarity."""

    UNIPOLAR = 0
    BIPOLAR = 1


class TempCoefficient(IntEnum):
    """``INSET`` temperature coefficient used for control when no curve is assigned."""

    NEGATIVE = 1
    POSITIVE = 2


class ExcitationMode(IntEnum):
    """``INTYPE`` excitation mode."""

    VOLTAGE = 0
    CURRENT = 1


class AutoRange(IntEnum):
    """``INTYPE`` autorange mode."""

    OFF = 0
    CURRENT = 1
    ROX102B = 2


class SensorUnits(IntEnum):
    """``INTYPE`` preferred units; they are also the units of a setpoint on that input."""

    KELVIN = 1
    OHM = 2


class Identity(NamedTuple):
    """``*IDN?`` reply: ``LSCI,MODEL372,<serial>,<firmware>``."""

    manufacturer: str
    model: str
    serial: str
    firmware: str


class InputSetup(NamedTuple):
    """``INSET`` of one input: enabled, dwell (1-200 s), pause (3-200 s), curve (0-59), tempco."""

    enabled: bool
    dwell_s: int
    pause_s: int
    curve: int
    tempco: TempCoefficient


class SensorSetup(NamedTuple):
    """``INTYPE`` of one input: excitation mode, excitation range code (1-22; 1-6 on input A),
    autorange, resistance range code (1-22; ignored on input A), current source shunted,
    units."""

    mode: ExcitationMode
    excitation: int
    autorange: AutoRange
    resistance_range: int
    shunted: bool
    units: SensorUnits


class Scanner(NamedTuple):
    """``SCAN``: the measurement channel the scanner sits on (1-16) and autoscan on/off."""

    channel: int
    autoscan: bool


class OutputSetup(NamedTuple):
    """``OUTMODE`` of one output: mode, controlling input ("A" or 1-16), power-up enable,
    polarity, reading filter, autoscan setpoint delay (1-255 s)."""

    mode: OutputMode
    input: str | int
    powerup_enabled: bool
    polarity: Polarity
    filtered: bool
    delay_s: int


class PID(NamedTuple):
    """``PID``: gain P (0-1000), integral I (0-10000 s), derivative D (0-2500 s)."""

    P: float
    I: float
    D: float


class Ramp(NamedTuple):
    """``RAMP``: setpoint ramping on/off and its rate in K/min (0.001-100)."""

    enabled: bool
    rate_K_per_min: float


_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INT = re.compile(r"[+-]?\d+")


def parse_float(reply: str, what: str = "a number") -> float:
    """Parse one Lake Shore number (``+1.00000E-01``, ``12.5``, ``-3``)."""
    text = reply.strip()
    if not _FLOAT.fullmatch(text):
        raise LakeShoreReplyError(what, reply)
    value = float(text)
    if not math.isfinite(value):  # "1E999" matches the pattern but overflows
        raise LakeShoreReplyError(what, reply)
    return value


def parse_int(reply: str, what: str = "an integer") -> int:
    """Parse one integer field (leading zeros and sign allowed, nothing else)."""
    text = reply.strip()
    if not _INT.fullmatch(text):
        raise LakeShoreReplyError(what, reply)
    return int(text)


def parse_bool(reply: str, what: str = "an on/off flag") -> bool:
    """Parse a 0/1 flag."""
    value = parse_int(reply, what)
    if value not in (0, 1):
        raise LakeShoreReplyError(what, reply)
    return bool(value)


def parse_enum(reply: str, enum: type[E], what: str | None = None) -> E:
    """Parse an integer code into ``enum``; unknown codes are reply errors."""
    label = what or enum.__name__
    value = parse_int(reply, label)
    try:
        return enum(value)
    except ValueError:
        raise LakeShoreReplyError(label, reply) from None


def parse_flags(reply: str, flags: type[F]) -> F:
    """Parse a status byte (0-255) into ``flags``; bits outside the register are reply errors."""
    value = parse_int(reply, flags.__name__)
    known = sum(int(member) for member in flags)
    if value < 0 or value & ~known:
        raise LakeShoreReplyError(flags.__name__, reply)
    return flags(value)


def parse_input_id(reply: str) -> str | int:
    """Parse an input channel designation: ``A`` or 1-16 (0 means none, allowed for OUTMODE)."""
    text = reply.strip()
    if text.upper() == "A":
        return "A"
    value = parse_int(text, "an input channel")
    if not 0 <= value <= 16:
        raise LakeShoreReplyError("an input channel", reply)
    return value


def split_fields(reply: str, count: int, what: str) -> list[str]:
    """Split a comma-separated reply into exactly ``count`` fields."""
    fields = reply.strip().split(",")
    if len(fields) != count:
        raise LakeShoreReplyError(f"{what} ({count} fields)", reply)
    return fields


def parse_identity(reply: str) -> Identity:
    fields = split_fields(reply, 4, "*IDN?")
    if not all(field.strip() for field in fields):
        raise LakeShoreReplyError("*IDN?", reply)
    return Identity(*(field.strip() for field in fields))


def parse_record(reply: str, what: str, parsers: tuple[Callable[[str], Any], ...]) -> list[Any]:
    """Parse a comma-separated reply field by field; an error names the field and the reply."""
    fields = split_fields(reply, len(parsers), what)
    values = []
    for index, (field, parse) in enumerate(zip(fields, parsers, strict=True)):
        try:
            values.append(parse(field))
        except LakeShoreReplyError:
            raise LakeShoreReplyError(f"{what} field {index + 1}", reply) from None
    return values


def parse_input_setup(reply: str) -> InputSetup:
    parsers = (parse_bool, parse_int, parse_int, parse_int,
               lambda field: parse_enum(field, TempCoefficient))
    return InputSetup(*parse_record(reply, "INSET?", parsers))


def parse_sensor_setup(reply: str) -> SensorSetup:
    parsers = (
        lambda field: parse_enum(field, ExcitationMode),
        parse_int,
        lambda field: parse_enum(field, AutoRange),
        parse_int,
        parse_bool,
        lambda field: parse_enum(field, SensorUnits),
    )
    return SensorSetup(*parse_record(reply, "INTYPE?", parsers))


def parse_scanner(reply: str) -> Scanner:
    def channel(field: str) -> int:
        number = parse_int(field)
        if not 1 <= number <= 16:
            raise LakeShoreReplyError("a scanner channel", field)
        return number

    return Scanner(*parse_record(reply, "SCAN?", (channel, parse_bool)))


def parse_output_setup(reply: str) -> OutputSetup:
    parsers = (
        lambda field: parse_enum(field, OutputMode),
        parse_input_id,
        parse_bool,
        lambda field: parse_enum(field, Polarity),
        parse_bool,
        parse_int,
    )
    return OutputSetup(*parse_record(reply, "OUTMODE?", parsers))


def parse_pid(reply: str) -> PID:
    return PID(*parse_record(reply, "PID?", (parse_float,) * 3))


def parse_ramp(reply: str) -> Ramp:
    return Ramp(*parse_record(reply, "RAMP?", (parse_bool, parse_float)))


def format_number(value: float) -> str:
    """Lake Shore reply format for a real number: ``+1.00000E-01``."""
    return f"{value:+.5E}"
