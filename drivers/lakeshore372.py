"""Lake Shore Model 372 AC resistance bridge and temperature controller (pymeasure driver).

One declaration per setting, pymeasure style. Input channels ``"A"`` (control input) and 1-16
(scanner) are ``ls.channels[...]`` / ``ls.ch_A``, ``ls.ch_6``; outputs are ``ls.sample_heater``
(0), ``ls.warmup_heater`` (1) and ``ls.still_heater`` (2), also ``ls.outputs[0..2]``.

Every set command is followed by ``*ESR?`` (read-and-clear); a query, execution or command error
bit raises :class:`LakeShoreCommandError` naming the command, because the 372 itself stays
silent on a rejected command and the next reading would otherwise silently use old settings.
Queries are not followed by ``*ESR?``: a rejected query produces no reply, which already fails
loudly as a timeout. Replies are parsed strictly (:mod:`.lakeshore372_types`).

Connection: ``LakeShore372.tcp_resource(host)`` gives ``TCPIP::host::7777::SOCKET`` (use it
with ``visa_library="@py"``); serial (USB) defaults to 57600 baud, 7 data bits, odd parity,
1 stop bit. Replies end in CRLF.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pymeasure.instruments import Channel, Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range
from pyvisa.constants import Parity, StopBits

from .lakeshore372_types import (
    ERROR_MASK,
    INPUT_IDS,
    PID,
    AutoRange,
    ExcitationMode,
    HeaterRange,
    Identity,
    InputSetup,
    LakeShoreCommandError,
    LakeShoreError,
    LakeShoreReadingError,
    LakeShoreReplyError,
    OutputMode,
    OutputSetup,
    Polarity,
    Ramp,
    ReadingStatus,
    Scanner,
    SensorSetup,
    SensorUnits,
    StandardEvent,
    TempCoefficient,
    parse_bool,
    parse_enum,
    parse_flags,
    parse_float,
    parse_identity,
    parse_input_setup,
    parse_output_setup,
    parse_pid,
    parse_ramp,
    parse_scanner,
    parse_sensor_setup,
)

__all__ = [
    "LakeShore372",
    "InputChannel",
    "OutputChannel",
    "SampleHeaterOutput",
    "AuxHeaterOutput",
    "LakeShoreError",
    "LakeShoreCommandError",
    "LakeShoreReplyError",
    "LakeShoreReadingError",
    "HeaterRange",
    "OutputMode",
    "Polarity",
    "TempCoefficient",
    "ReadingStatus",
    "StandardEvent",
    "Identity",
    "InputSetup",
    "OutputSetup",
    "Scanner",
    "SensorSetup",
    "SensorUnits",
    "ExcitationMode",
    "AutoRange",
    "PID",
    "Ramp",
    "strict_int_range",
    "strict_record",
]

log = logging.getLogger(__name__)

TCP_PORT = 7777
SERIAL_SETTINGS: dict[str, Any] = {
    "baud_rate": 57600,
    "data_bits": 7,
    "parity": Parity.odd,
    "stop_bits": StopBits.one,
}


def strict_int_range(value: Any, values: Sequence[int]) -> int:
    """Validate an integer (bools and non-integral numbers rejected) within ``values``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"Value {value!r} is not an integer")
    return int(strict_range(value, values))


def strict_bool(value: Any, values: Any = None) -> int:
    """Validate an on/off flag (True/False or 0/1) and return 0 or 1 for the wire."""
    return int(strict_discrete_set(value, (False, True)))


Field = tuple[str, Callable[[Any, Any], Any], Any]


def strict_record(value: Any, fields: Sequence[Field]) -> tuple[Any, ...]:
    """Validate a multi-argument setting field by field; return the wire values.

    ``fields`` is a table of ``(name, validator, allowed values)``. Bools and enums are turned
    into ints; a wrong field count or a bad field raises ValueError naming the field.
    """
    if not isinstance(value, (tuple, list)) or len(value) != len(fields):
        names = ", ".join(name for name, _, _ in fields)
        raise ValueError(f"expected {len(fields)} values ({names}), got {value!r}")
    wire = []
    for item, (name, validator, allowed) in zip(value, fields, strict=True):
        try:
            checked = validator(item, allowed)
        except (ValueError, TypeError) as exc:  # TypeError: a string compared with a range
            raise ValueError(f"{name}: {exc}") from None
        wire.append(int(checked) if isinstance(checked, (bool, numbers.Integral)) else checked)
    return tuple(wire)


def _plain(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Enums to ints (bools stay bools) so a snapshot is plain JSON data."""
    return {
        prefix + key: value if isinstance(value, (bool, str, float)) else int(value)
        for key, value in record.items()
    }


def _enum_values(enum: type) -> tuple[int, ...]:
    return tuple(int(member) for member in enum)


def _measure(command: str, docs: str, parse: Callable[[str], Any]) -> property:
    """A read-only property: the whole reply goes, unsplit, through the strict ``parse``."""
    return Instrument.measurement(command, docs, cast=str, maxsplit=0, get_process=parse)


def _control(
    get_command: str,
    set_command: str,
    docs: str,
    parse: Callable[[str], Any],
    validator: Callable[[Any, Any], Any],
    values: Any,
) -> property:
    """A read/write property whose set is checked through ``*ESR?``."""
    return Instrument.control(
        get_command,
        set_command,
        docs,
        validator=validator,
        values=values,
        cast=str,
        maxsplit=0,
        get_process=parse,
        check_set_errors=True,
    )


INPUT_SETUP_FIELDS: tuple[Field, ...] = (
    ("enabled", strict_bool, None),
    ("dwell_s", strict_int_range, (1, 200)),
    ("pause_s", strict_int_range, (3, 200)),
    ("curve", strict_int_range, (0, 59)),
    ("tempco", strict_discrete_set, _enum_values(TempCoefficient)),
)

SENSOR_SETUP_FIELDS: tuple[Field, ...] = (
    ("mode", strict_discrete_set, _enum_values(ExcitationMode)),
    ("excitation", strict_int_range, (1, 22)),
    ("autorange", strict_discrete_set, _enum_values(AutoRange)),
    ("resistance_range", strict_int_range, (0, 22)),
    ("shunted", strict_bool, None),
    ("units", strict_discrete_set, _enum_values(SensorUnits)),
)

SCANNER_FIELDS: tuple[Field, ...] = (
    ("channel", strict_int_range, (1, 16)),
    ("autoscan", strict_bool, None),
)

OUTPUT_SETUP_FIELDS: tuple[Field, ...] = (
    ("mode", strict_discrete_set, _enum_values(OutputMode)),
    ("input", strict_discrete_set, (*INPUT_IDS, 0)),
    ("powerup_enabled", strict_bool, None),
    ("polarity", strict_discrete_set, _enum_values(Polarity)),
    ("filtered", strict_bool, None),
    ("delay_s", strict_int_range, (1, 255)),
)

PID_FIELDS: tuple[Field, ...] = (
    ("P", strict_range, (0.0, 1000.0)),
    ("I", strict_range, (0.0, 10000.0)),
    ("D", strict_range, (0.0, 2500.0)),
)

RAMP_FIELDS: tuple[Field, ...] = (
    ("enabled", strict_bool, None),
    ("rate_K_per_min", strict_range, (0.001, 100.0)),
)


class InputChannel(Channel):
    """One input: ``"A"`` (control input) or a scanner channel 1-16."""

    kelvin = _measure(
        "KRDG? {ch}",
        """Measure the temperature in K through the channel's curve (0 when no curve, 0-2000 K).""",
        lambda reply: parse_float(reply, "KRDG? kelvin"),
    )

    resistance = _measure(
        "RDGR? {ch}",
        """Measure the four-terminal resistance in ohm (0-63.2 Mohm).""",
        lambda reply: parse_float(reply, "RDGR? resistance"),
    )

    excitation_power = _measure(
        "RDGPWR? {ch}",
        """Measure the excitation power dissipated in the sensor in W (0-1e-3 W).""",
        lambda reply: parse_float(reply, "RDGPWR? power"),
    )

    quadrature = _measure(
        "QRDG? {ch}",
        """Measure the quadrature (out-of-phase) reading in ohm (0-63.2 Mohm; channels 1-16,
        not input A).""",
        lambda reply: parse_float(reply, "QRDG? quadrature"),
    )

    reading_status = _measure(
        "RDGST? {ch}",
        """Get the reading status bits, a ReadingStatus flag (0-255 bits; 0 = valid reading).""",
        lambda reply: parse_flags(reply, ReadingStatus),
    )

    setup = _control(
        "INSET? {ch}",
        "INSET {ch},%d,%d,%d,%d,%d",
        """Control the input setup, an InputSetup record: enabled (bool), dwell_s (1-200 s),
        pause_s (3-200 s), curve (0-59, 0 = none), tempco (1 negative, 2 positive codes).""",
        parse_input_setup,
        strict_record,
        INPUT_SETUP_FIELDS,
    )

    sensor_setup = _control(
        "INTYPE? {ch}",
        "INTYPE {ch},%d,%d,%d,%d,%d,%d",
        """Control the sensor excitation, a SensorSetup record: mode (0 voltage, 1 current
        codes), excitation range code (1-22), autorange (0 off, 1 current, 2 ROX102B codes),
        resistance_range code (0-22), shunted (bool), units (1 K, 2 ohm codes; a setpoint on
        this input is in these units).""",
        parse_sensor_setup,
        strict_record,
        SENSOR_SETUP_FIELDS,
    )


class OutputChannel(Channel):
    """Settings common to the three outputs (0 sample, 1 warm-up, 2 analog/still heater)."""

    setup = _control(
        "OUTMODE? {ch}",
        "OUTMODE {ch},%d,%s,%d,%d,%d,%d",
        """Control the output mode, an OutputSetup record: mode (OutputMode codes 0-6, 5 closed
        loop), input ("A" or 1-16, 0 none), powerup_enabled (bool), polarity (0 unipolar,
        1 bipolar codes), filtered (bool), delay_s (1-255 s).""",
        parse_output_setup,
        strict_record,
        OUTPUT_SETUP_FIELDS,
    )

    setpoint = _control(
        "SETP? {ch}",
        "SETP {ch},%g",
        """Control the control-loop setpoint in K (0-400 K). The 372 takes it in the control
        input's INTYPE units: keep that input in kelvin (SensorUnits.KELVIN) when using this.""",
        lambda reply: parse_float(reply, "SETP? setpoint"),
        strict_range,
        (0.0, 400.0),
    )

    pid = _control(
        "PID? {ch}",
        "PID {ch},%g,%g,%g",
        """Control the PID parameters, a PID record: P gain (0-1000), I (0-10000 s),
        D (0-2500 s).""",
        parse_pid,
        strict_record,
        PID_FIELDS,
    )

    ramp = _control(
        "RAMP? {ch}",
        "RAMP {ch},%d,%g",
        """Control setpoint ramping, a Ramp record: enabled (bool) and rate_K_per_min
        (0.001-100 K/min).""",
        parse_ramp,
        strict_record,
        RAMP_FIELDS,
    )

    ramping = _measure(
        "RAMPST? {ch}",
        """Get whether the setpoint is still ramping (bool, 0/1 flag).""",
        lambda reply: parse_bool(reply, "RAMPST? status"),
    )

    manual_output = _control(
        "MOUT? {ch}",
        "MOUT {ch},%g",
        """Control the open-loop manual output in % of full scale (0-100 %).""",
        lambda reply: parse_float(reply, "MOUT? manual output"),
        strict_range,
        (0.0, 100.0),
    )


class SampleHeaterOutput(OutputChannel):
    """Output 0, the sample heater: eight current ranges."""

    heater_range = _control(
        "RANGE? {ch}",
        "RANGE {ch},%d",
        """Control the sample-heater current range, a HeaterRange code (0 off, 1 31.6 uA,
        2 100 uA, 3 316 uA, 4 1 mA, 5 3.16 mA, 6 10 mA, 7 31.6 mA, 8 100 mA).""",
        lambda reply: parse_enum(reply, HeaterRange),
        strict_discrete_set,
        _enum_values(HeaterRange),
    )


class AuxHeaterOutput(OutputChannel):
    """Outputs 1 (warm-up heater) and 2 (analog/still heater): range is only off/on."""

    heater_range = _control(
        "RANGE? {ch}",
        "RANGE {ch},%d",
        """Control whether the output is on (bool, 0 off / 1 on codes).""",
        lambda reply: parse_bool(reply, "RANGE? on/off"),
        strict_bool,
        None,
    )

    output = _measure(
        "AOUT? {ch}",
        """Measure the output in % of full scale (0-100 %).""",
        lambda reply: parse_float(reply, "AOUT? output"),
    )


class LakeShore372(Instrument):
    """Lake Shore Model 372 AC resistance bridge and temperature controller.

    :param adapter: a pymeasure adapter or a VISA resource name (see :meth:`tcp_resource`).
    :param name: instrument name in logs.
    :param kwargs: passed to the VISA adapter (defaults: CRLF terminations, 2 s timeout,
        57600 baud 7O1 on serial).
    """

    channels = Instrument.MultiChannelCreator(InputChannel, list(INPUT_IDS), prefix="ch_")
    sample_heater = Instrument.ChannelCreator(SampleHeaterOutput, 0, collection="outputs")
    warmup_heater = Instrument.ChannelCreator(AuxHeaterOutput, 1, collection="outputs")
    still_heater = Instrument.ChannelCreator(AuxHeaterOutput, 2, collection="outputs")

    def __init__(self, adapter: Any, name: str = "Lake Shore 372", **kwargs: Any) -> None:
        kwargs.setdefault("read_termination", "\r\n")
        kwargs.setdefault("write_termination", "\r\n")
        kwargs.setdefault("timeout", 2000)
        kwargs.setdefault("asrl", dict(SERIAL_SETTINGS))
        self._last_command: str | None = None
        super().__init__(adapter, name, includeSCPI=False, **kwargs)

    @staticmethod
    def tcp_resource(host: str, port: int = TCP_PORT) -> str:
        """VISA resource name of the Ethernet port (pair with ``visa_library="@py"``)."""
        return f"TCPIP::{host}::{port}::SOCKET"

    identity = _measure(
        "*IDN?",
        """Get the identification, an Identity record (manufacturer, model, serial, firmware;
        4 fields).""",
        parse_identity,
    )

    standard_event_status = _measure(
        "*ESR?",
        """Get and clear the standard event status register, a StandardEvent flag (0-255 bits:
        2 query error, 4 execution error, 5 command error).""",
        lambda reply: parse_flags(reply, StandardEvent),
    )

    scanner = _control(
        "SCAN?",
        "SCAN %d,%d",
        """Control the scanner, a Scanner record: channel (1-16) and autoscan (bool).""",
        parse_scanner,
        strict_record,
        SCANNER_FIELDS,
    )

    sample_heater_output = _measure(
        "HTR?",
        """Measure the sample-heater output in % of the present range (0-100 %).""",
        lambda reply: parse_float(reply, "HTR? heater output"),
    )

    @property
    def id(self) -> str:
        """Get the identification string ``LSCI,MODEL372,<serial>,<firmware>`` (4 fields)."""
        return ",".join(self.identity)

    def write(self, command: str, **kwargs: Any) -> None:
        """Send one command line (the terminator is appended by the adapter)."""
        self._last_command = command
        super().write(command, **kwargs)

    def write_checked(self, command: str) -> None:
        """Send a set command not declared as a property, then check ``*ESR?``."""
        self.write(command)
        self.check_errors()

    def check_errors(self) -> list[str]:
        """Read ``*ESR?`` (clearing it) and raise LakeShoreCommandError on an error bit.

        :returns: an empty list when no error bit is set (pymeasure's convention).
        """
        command = self._last_command
        status = self.standard_event_status
        errors = status & ERROR_MASK
        if errors:
            raise LakeShoreCommandError(command, StandardEvent(errors))
        return []

    def clear(self) -> None:
        """Clear the status registers (``*CLS``)."""
        self.write_checked("*CLS")

    def reset(self) -> None:
        """Reset the instrument to power-up settings (``*RST``)."""
        self.write_checked("*RST")

    def snapshot(self, inputs: Iterable[str | int] | None = None) -> dict[str, Any]:
        """Get every setting as plain data for a run file (ints, floats, bools, strings).

        :param inputs: the inputs whose INSET/INTYPE to include ("A", 1-16); default all 17.
        """
        outputs = {}
        for name in ("sample_heater", "warmup_heater", "still_heater"):
            output = getattr(self, name)
            outputs[name] = {
                **_plain(output.setup._asdict()),
                "heater_range": int(output.heater_range),
                "setpoint_K": output.setpoint,
                "pid": list(output.pid),
                **_plain(output.ramp._asdict(), prefix="ramp_"),
                "manual_output_pct": output.manual_output,
            }
        chosen = list(INPUT_IDS if inputs is None else inputs)
        scanner = self.scanner
        return {
            "identity": self.id,
            "scanner_channel": scanner.channel,
            "autoscan": scanner.autoscan,
            "sample_heater_output_pct": self.sample_heater_output,
            "outputs": outputs,
            "inputs": {
                str(channel): {
                    **_plain(self.channels[channel].setup._asdict()),
                    **_plain(self.channels[channel].sensor_setup._asdict()),
                }
                for channel in chosen
            },
        }

    def heaters_off(self) -> None:
        """Switch all three heater outputs off (range 0), sample heater first."""
        for output in (self.sample_heater, self.warmup_heater, self.still_heater):
            output.heater_range = 0
