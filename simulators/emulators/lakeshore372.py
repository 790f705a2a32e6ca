"""Lake Shore Model 372 emulator: the real ASCII protocol over the VirtualLab's fridge.

Wire rules (docs/protocols.md section 3): several commands per line separated by ``;``
(a leading ``:`` on a segment, as the vendor client's ``;:`` joins produce, is ignored); the
replies of all queries of one line are joined by ``;`` into one line ending in CRLF; set
commands give no reply; arguments are separated by commas or spaces; mnemonics are
case-insensitive. Errors never produce a reply, they set ``*ESR?`` bits (read-and-clear):
an unknown mnemonic sets bit 5 (command error), a bad argument to a set command bit 4
(execution error), a bad argument to a query bit 2 (query error). So the vendor client's
``CMD;*ESR?`` gets ``0`` or the error bits back.

Inputs come from :mod:`.lakeshore372_scanner` (pause + dwell before a scanned reading is
valid, autoscan). Output 0, the sample heater, drives ``lab.fridge`` (mode, control input,
range, setpoint, PID, ramp, manual output; ``HTR?`` is the fridge's heater output). Outputs
1 and 2 (warm-up and still heaters) keep their settings here: the simulated fridge has no
warm-up or still heater, so ``AOUT?`` reports the open-loop manual output when on, else 0.

Output 0's settings live in the fridge, not in a copy here, so the lab (a station, a fault
injector) and the emulator never disagree; only its power-up, polarity, filter and delay
fields are kept here. A control input without a thermometer (0 or an unconnected channel) is
an execution error in closed-loop and zone modes, where the real 372 would control on an open
input. ``INTYPE`` is stored and validated; its units field matters (a setpoint on an input in
ohm units is a resistance, converted through the sensor's curve) and its excitation sets
``RDGPWR?``, but ranges do not change the simulated readings.

Attaching to a lab finds the scanner settled on ``scan_channel`` (an instrument left running);
``reset()`` and ``*RST`` start from factory defaults, heaters off.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stm_andreev.drivers.lakeshore372_types import (
    HeaterRange,
    OutputMode,
    Polarity,
    StandardEvent,
    TempCoefficient,
    format_number,
)

from .lakeshore372_scanner import (
    MAX_RESISTANCE_OHM,
    MEASUREMENT_CHANNELS,
    Bridge,
    InputSettings,
    Scanner,
)
from .lakeshore372_settings import SETTINGS, SettingError, StoredSettings

log = logging.getLogger(__name__)

INPUTS: tuple[str | int, ...] = ("A", *MEASUREMENT_CHANNELS)
SAMPLE_HEATER = 0
AUX_OUTPUTS = (1, 2)
LOOP_MODES = (OutputMode.CLOSED_LOOP, OutputMode.ZONE)
DEFAULT_PID = (10.0, 20.0, 0.0)
# INTYPE fields: excitation mode (0 voltage, 1 current), excitation range, autorange (0 off,
# 1 current, 2 ROX102B), resistance range, current source shunted, units (1 K, 2 ohm).
MEASUREMENT_INTYPE = (0, 3, 1, 22, 0, 1)
CONTROL_INTYPE = (1, 2, 0, 0, 0, 1)
INTYPE_LIMITS = ((0, 1), (1, 22), (0, 2), (0, 22), (0, 1), (1, 2))
UNITS_OHM = 2
OHM_SEARCH_STEPS = 200
DEFAULT_DWELL_S = 10
DEFAULT_PAUSE_S = 3

_SEGMENT = re.compile(r"^\s*:?\s*([*A-Za-z][A-Za-z0-9]*\??)\s*(.*?)\s*$", re.DOTALL)


class CommandError(Exception):
    """Unknown mnemonic (ESR bit 5)."""


class ArgumentError(Exception):
    """Bad or missing argument (ESR bit 4 for a set command, bit 2 for a query)."""


@dataclass
class OutputSettings:
    """One output's ``OUTMODE``, ``RANGE``, ``SETP``, ``PID``, ``RAMP`` and ``MOUT``."""

    mode: int = int(OutputMode.OFF)
    input: str | int = "A"
    powerup: int = 0
    polarity: int = int(Polarity.UNIPOLAR)
    filtered: int = 0
    delay_s: int = 1
    range: int = 0
    setpoint_K: float = 0.0
    pid: tuple[float, float, float] = DEFAULT_PID
    ramp: tuple[int, float] = (0, 1.0)
    manual_pct: float = 0.0


# ------------------------------------------------------------------------- argument parsing


def _split_args(text: str) -> list[str]:
    if not text:
        return []
    if "," in text:
        return [part.strip() for part in text.split(",")]
    return text.split()


def _want(args: list[str], count: int, min_count: int | None = None) -> list[str]:
    low = count if min_count is None else min_count
    if not low <= len(args) <= count:
        raise ArgumentError(f"expected {count} arguments, got {len(args)}")
    return args


def _int(text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ArgumentError(f"not an integer: {text!r}") from None
    if not low <= value <= high:
        raise ArgumentError(f"{value} outside {low}..{high}")
    return value


def _float(text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ArgumentError(f"not a number: {text!r}") from None
    if not low <= value <= high:  # also rejects nan
        raise ArgumentError(f"{value} outside {low}..{high}")
    return value


def range_full_scale_ohm(code: int) -> float:
    """Full scale of INTYPE resistance range ``code`` (1: 2 mohm ... 22: 63.2 Mohm)."""
    return 2e-3 * 10.0 ** ((code - 1) / 2.0)


def excitation_power_W(channel: str | int, mode: int, code: int, ohms: float) -> float:
    """Power in the sensor (W) for an INTYPE excitation: I^2 R (current) or V^2 / R (voltage).

    Range codes step in half decades: current from 1 pA (316 pA on input A), voltage from
    2 uV.
    """
    half_decades = 10.0 ** ((code - 1) / 2.0)
    if channel == "A" or mode == 1:
        first_A = 316e-12 if channel == "A" else 1e-12
        return (first_A * half_decades) ** 2 * max(ohms, 0.0)
    if ohms <= 0:
        return 0.0
    return (2e-6 * half_decades) ** 2 / ohms


def _input_id(text: str, allow_none: bool = False) -> str | int:
    if text.strip().upper() == "A":
        return "A"
    return _int(text, 0 if allow_none else 1, 16)


class LakeShore372Emulator:
    """A Lake Shore 372 on the virtual lab's fridge (a LineEmulator).

    :param lab: the VirtualLab (uses ``lab.fridge``, ``lab.clock``, ``lab.lock``).
    :param serial: serial number in ``*IDN?``.
    :param firmware: firmware version in ``*IDN?``.
    :param seed: seed of the reading noise.
    :param control_sensor: the fridge stage wired to the control input ``A``.
    :param scan_channel: the channel (1-16) the scanner has been sitting on when the emulator
        attaches to the lab, so its reading is valid at once; after a power cycle the scanner
        starts on channel 1 and settles like any other selection.
    """

    name = "lakeshore372"

    def __init__(
        self,
        lab,
        *,
        serial: str = "LSA372SIM",
        firmware: str = "1.5",
        seed: int = 0,
        control_sensor: str = "mixing chamber",
        scan_channel: int = 6,
    ) -> None:
        if not 1 <= scan_channel <= 16:
            raise ValueError(f"scan_channel must be 1-16, got {scan_channel}")
        self.lab = lab
        self.fridge = lab.fridge
        self.serial = serial
        self.firmware = firmware
        self.bridge = Bridge(self.fridge, control_sensor, np.random.default_rng(seed))
        self.connections = 0
        self._queries: dict[str, Callable[[list[str]], str]] = {
            "*IDN?": self._q_idn,
            "*ESR?": self._q_esr,
            "*OPC?": lambda args: "1",
            "*ESE?": lambda args: str(self._ese),
            "*STB?": lambda args: "0",
            "EMUL?": lambda args: str(self._emulation),
            "KRDG?": self._q_kelvin,
            "RDGK?": self._q_kelvin,  # Model 370 name
            "RDGR?": self._q_resistance,
            "RDGST?": self._q_status,
            "RDGPWR?": self._q_power,
            "QRDG?": self._q_quadrature,
            "INSET?": self._q_inset,
            "INTYPE?": self._q_intype,
            "SCAN?": self._q_scan,
            "OUTMODE?": self._q_outmode,
            "RANGE?": self._q_range,
            "SETP?": self._q_setpoint,
            "PID?": self._q_pid,
            "RAMP?": self._q_ramp,
            "RAMPST?": self._q_ramp_status,
            "MOUT?": self._q_manual,
            "HTR?": self._q_heater,
            "AOUT?": self._q_aux_output,
            "SRDG?": self._q_resistance,  # sensor units: ohm on every 372 input
            "HTRST?": self._q_heater_status,
            "CRVHDR?": self._q_curve_header,
            "ALARMST?": self._q_alarm_status,
            "RELAYST?": lambda args: (_int(_want(args, 1)[0], 1, 2), "0")[1],
            "OPST?": lambda args: (_want(args, 0), "0")[1],
            "OPSTR?": lambda args: (_want(args, 0), "0")[1],
            "*TST?": lambda args: (_want(args, 0), "0")[1],
            **{f"{name}?": self._stored_query(name) for name in (*SETTINGS, "HTRSET")},
        }
        self._sets: dict[str, Callable[[list[str]], None]] = {
            "*CLS": self._s_cls,
            "*RST": lambda args: self._power_up(push_heater=True),
            "*ESE": self._s_ese,
            "EMUL": self._s_emul,
            "INSET": self._s_inset,
            "INTYPE": self._s_intype,
            "SCAN": self._s_scan,
            "OUTMODE": self._s_outmode,
            "RANGE": self._s_range,
            "SETP": self._s_setpoint,
            "PID": self._s_pid,
            "RAMP": self._s_ramp,
            "MOUT": self._s_manual,
            "*WAI": lambda args: None,  # every command completes before the next is read
            "ALMRST": lambda args: None,  # alarms are not latched: ALARMST? is live
            "CRVHDR": self._s_curve_header,
            **{name: self._stored_set(name) for name in (*SETTINGS, "HTRSET")},
        }
        # Attaching to a running fridge keeps its heater state: the 372's settings are the
        # fridge's; only reset() (a power cycle) or *RST forces the factory defaults on it.
        self._power_up(push_heater=False)
        self.scanner.settled_on(scan_channel)

    # ------------------------------------------------------------------ LineEmulator

    def connected(self) -> None:
        """A client connected; the 372 keeps its state across connections."""
        self.connections += 1

    def reset(self) -> None:
        """Power cycle: every setting back to factory defaults, heaters off."""
        with self.lab.lock:
            self._power_up(push_heater=True)

    def handle_line(self, line: str) -> str:
        """Execute one input line; return the joined query replies + CRLF, or ""."""
        replies: list[str] = []
        with self.lab.lock:
            for segment in line.split(";"):
                if not segment.strip() or segment.strip() == ":":
                    continue
                reply = self._execute(segment)
                if reply is not None:
                    replies.append(reply)
        return ";".join(replies) + "\r\n" if replies else ""

    # ------------------------------------------------------------------ dispatch

    def _execute(self, segment: str) -> str | None:
        match = _SEGMENT.match(segment)
        mnemonic = match.group(1).upper() if match else segment.strip()
        args = _split_args(match.group(2)) if match else []
        is_query = mnemonic.endswith("?")
        try:
            if is_query:
                handler = self._queries.get(mnemonic)
                if handler is None:
                    raise CommandError(mnemonic)
                return handler(args)
            setter = self._sets.get(mnemonic)
            if setter is None:
                raise CommandError(mnemonic)
            setter(args)
        except CommandError:
            log.info("LS372 emulator: unknown command %r", segment)
            self._esr |= StandardEvent.COMMAND_ERROR
        except (ArgumentError, ValueError) as exc:
            # ValueError: the lab refused a value the 372 would take (e.g. its own limits).
            log.info("LS372 emulator: bad argument in %r: %s", segment, exc)
            self._esr |= StandardEvent.QUERY_ERROR if is_query else StandardEvent.EXECUTION_ERROR
        return None

    # ------------------------------------------------------------------ state

    def _power_up(self, push_heater: bool) -> None:
        self._esr = StandardEvent.POWER_ON
        self._ese = 0
        self._emulation = 0
        self.inputs: dict[str | int, InputSettings] = {}
        for channel in INPUTS:
            sensor = self.bridge.sensor(channel)
            has_curve = sensor is not None and sensor != "film"
            self.inputs[channel] = InputSettings(
                enabled=sensor is not None,
                dwell_s=DEFAULT_DWELL_S,
                pause_s=DEFAULT_PAUSE_S,
                curve=(channel if channel != "A" else 1) if has_curve else 0,
                tempco=TempCoefficient.NEGATIVE,
            )
        self.intypes: dict[str | int, tuple[int, ...]] = {
            channel: self._control_intype() if channel == "A" else MEASUREMENT_INTYPE
            for channel in INPUTS
        }
        self.stored = StoredSettings(self._power_on_name)
        self.curve_headers: dict[int, tuple[str, str, int, float, int]] = {}
        self.scanner = Scanner(self.bridge, self.inputs, self.lab.clock.now)
        self.outputs = {output: OutputSettings() for output in (SAMPLE_HEATER, *AUX_OUTPUTS)}
        if push_heater:
            self._push_sample_heater()

    def _push_sample_heater(self) -> None:
        """Factory defaults of output 0 into the fridge, heater range last."""
        out = self.outputs[SAMPLE_HEATER]
        fridge = self.fridge
        fridge.heater_range = 0
        fridge.output_mode = out.mode
        fridge.control_channel = out.input
        fridge.setpoint_K = out.setpoint_K
        fridge.pid = out.pid
        fridge.ramp = (bool(out.ramp[0]), out.ramp[1])
        fridge.manual_output_pct = out.manual_pct
        fridge.heater_range = out.range

    def _sample_heater_settings(self) -> OutputSettings:
        """Output 0 as the fridge has it (local fields for what the fridge does not model)."""
        local = self.outputs[SAMPLE_HEATER]
        fridge = self.fridge
        on, rate = fridge.ramp
        return OutputSettings(
            mode=int(fridge.output_mode),
            input=fridge.control_channel,
            powerup=local.powerup,
            polarity=local.polarity,
            filtered=local.filtered,
            delay_s=local.delay_s,
            range=int(fridge.heater_range),
            setpoint_K=float(fridge.setpoint_K),
            pid=tuple(fridge.pid),
            ramp=(int(on), float(rate)),
            manual_pct=float(fridge.manual_output_pct),
        )

    def _settings(self, output: int) -> OutputSettings:
        if output == SAMPLE_HEATER:
            return self._sample_heater_settings()
        return self.outputs[output]

    # ------------------------------------------------------------------ helpers

    def _ohm_controlled_sensor(self) -> str | None:
        """The control sensor of output 0 if its input reads in ohm (INTYPE units 2)."""
        source = self.fridge.control_channel
        if self.intypes[source][5] != UNITS_OHM:
            return None
        return self.bridge.sensor(source)

    def _input(self, args: list[str]) -> str | int:
        return _input_id(_want(args, 1)[0])

    def _output(self, args: list[str]) -> int:
        if not args:
            raise ArgumentError("missing output number")
        return _int(args[0], 0, 2)

    # ------------------------------------------------------------------ queries

    def _control_intype(self) -> tuple[int, ...]:
        """Control input A: current excitation, and the resistance range holding its sensor's
        present resistance (the manual's table has no range 0; a reading on range 0 would be
        meaningless to a client looking the range up)."""
        sensor = self.bridge.sensor("A")
        ohms = self.fridge.sensor_resistance_ohm(sensor) if sensor else 0.0
        code = next((k for k in range(1, 23) if range_full_scale_ohm(k) >= ohms), 22)
        mode, excitation, autorange, _, shunted, units = CONTROL_INTYPE
        return (mode, excitation, autorange, code, shunted, units)

    def _power_on_name(self, channel: str | int) -> str:
        sensor = self.bridge.sensor(channel)
        if sensor is not None:
            return sensor.title()
        return "Control" if channel == "A" else f"Channel {int(channel):02d}"

    def _stored_query(self, name: str) -> Callable[[list[str]], str]:
        def query(args: list[str]) -> str:
            try:
                return self.stored.query(name, args)
            except SettingError as exc:
                raise ArgumentError(str(exc)) from None
        return query

    def _stored_set(self, name: str) -> Callable[[list[str]], None]:
        def set_(args: list[str]) -> None:
            try:
                self.stored.set(name, args)
            except SettingError as exc:
                raise ArgumentError(str(exc)) from None
        return set_

    def _q_heater_status(self, args: list[str]) -> str:
        _int(_want(args, 1)[0], 0, 1)
        return "0"  # the simulated heaters are never open or shorted

    def _q_alarm_status(self, args: list[str]) -> str:
        """``<high>,<low>`` (1 = alarm): live, from ``ALARM`` and the present reading."""
        channel = self._input(args)
        on, source, high, low, _, _, _, _ = self.stored.values[("ALARM", channel)]
        if not on:
            return "0,0"
        reading = self.scanner.reading(channel)
        value = reading.kelvin if int(source) == 1 else reading.resistance_ohm
        return f"{int(value > float(high))},{int(value < float(low))}"

    def _q_curve_header(self, args: list[str]) -> str:
        """``<name>,<SN>,<format>,<limit>,<coefficient>``: the curves of the wired sensors
        are the simulation's own (log ohm / K, negative coefficient); user curves 21-59 read
        back what CRVHDR stored; a curve nobody wrote is blank."""
        curve = _int(_want(args, 1)[0], 1, 59)
        header = self.curve_headers.get(curve)
        if header is None:
            for channel, settings in self.inputs.items():
                sensor = self.bridge.sensor(channel)
                if settings.curve == curve and sensor is not None and sensor != "film":
                    header = (f"SIM {sensor}"[:15], f"SIM{curve:02d}", 4, 300.0, 1)
                    break
            else:
                header = ("", "", 0, 0.0, 0)
        name, serial, fmt, limit, coefficient = header
        return f"{name:<15},{serial:<10},{fmt},{limit:+08.3f},{coefficient}"

    def _s_curve_header(self, args: list[str]) -> None:
        curve, name, serial, fmt, limit, coefficient = _want(args, 6)
        number = _int(curve, 21, 59)
        clean = [text.strip().strip('"') for text in (name, serial)]
        if len(clean[0]) > 15 or len(clean[1]) > 10:
            raise ArgumentError("curve name is at most 15 characters, serial number 10")
        fmt_code = _int(fmt, 3, 7)
        if fmt_code not in (3, 4, 7):
            raise ArgumentError(f"curve format {fmt_code} is not 3, 4 or 7")
        self.curve_headers[number] = (clean[0], clean[1], fmt_code,
                                      _float(limit, 0.0, 9999.0), _int(coefficient, 1, 2))

    def _q_idn(self, args: list[str]) -> str:
        return f"LSCI,MODEL372,{self.serial},{self.firmware}"

    def _q_esr(self, args: list[str]) -> str:
        value, self._esr = int(self._esr), StandardEvent(0)
        return str(value)

    def _q_kelvin(self, args: list[str]) -> str:
        return format_number(self.scanner.reading(self._input(args)).kelvin)

    def _q_resistance(self, args: list[str]) -> str:
        return format_number(self.scanner.reading(self._input(args)).resistance_ohm)

    def _q_power(self, args: list[str]) -> str:
        channel = self._input(args)
        reading = self.scanner.reading(channel)
        mode, excitation, *_ = self.intypes[channel]
        return format_number(excitation_power_W(channel, mode, excitation,
                                                reading.resistance_ohm))

    def _q_quadrature(self, args: list[str]) -> str:
        channel = self._input(args)
        if channel == "A":
            raise ArgumentError("the control input has no quadrature reading")
        return format_number(self.scanner.reading(channel).quadrature_ohm)

    def _q_status(self, args: list[str]) -> str:
        return f"{int(self.scanner.reading(self._input(args)).status):03d}"

    def _q_inset(self, args: list[str]) -> str:
        s = self.inputs[self._input(args)]
        return f"{int(s.enabled)},{s.dwell_s},{s.pause_s},{s.curve},{int(s.tempco)}"

    def _q_intype(self, args: list[str]) -> str:
        return ",".join(str(value) for value in self.intypes[self._input(args)])

    def _q_scan(self, args: list[str]) -> str:
        _want(args, 0)
        self.scanner.advance()
        return f"{self.scanner.channel:02d},{int(self.scanner.autoscan)}"

    def _q_outmode(self, args: list[str]) -> str:
        out = self._settings(self._output(_want(args, 1)))
        return f"{out.mode},{out.input},{out.powerup},{out.polarity},{out.filtered},{out.delay_s}"

    def _q_range(self, args: list[str]) -> str:
        return str(self._settings(self._output(_want(args, 1))).range)

    def _q_setpoint(self, args: list[str]) -> str:
        output = self._output(_want(args, 1))
        setpoint = self._settings(output).setpoint_K
        sensor = self._ohm_controlled_sensor() if output == SAMPLE_HEATER else None
        if sensor is not None:
            setpoint = self.bridge.resistance_for_kelvin(sensor, setpoint)
        return format_number(setpoint)

    def _q_pid(self, args: list[str]) -> str:
        pid = self._settings(self._output(_want(args, 1))).pid
        return ",".join(format_number(term) for term in pid)

    def _q_ramp(self, args: list[str]) -> str:
        on, rate = self._settings(self._output(_want(args, 1))).ramp
        return f"{on},{format_number(rate)}"

    def _q_ramp_status(self, args: list[str]) -> str:
        output = self._output(_want(args, 1))
        if output != SAMPLE_HEATER:
            return "0"
        return str(int(bool(self.fridge.ramping())))

    def _q_manual(self, args: list[str]) -> str:
        return format_number(self._settings(self._output(_want(args, 1))).manual_pct)

    def _q_heater(self, args: list[str]) -> str:
        if args and self._output(_want(args, 1)) != SAMPLE_HEATER:
            raise ArgumentError("HTR? reads the sample heater only (AOUT? for outputs 1, 2)")
        fridge = self.fridge
        if fridge.heater_range == 0 and fridge.output_mode != OutputMode.ZONE:
            # The fridge updates its output only when time advances; the 372's output drops
            # the instant its range is switched off.
            return format_number(0.0)
        return format_number(float(fridge.heater_output_pct()))

    def _q_aux_output(self, args: list[str]) -> str:
        output = self._output(_want(args, 1))
        if output == SAMPLE_HEATER:
            raise ArgumentError("AOUT? reads outputs 1 and 2")
        out = self.outputs[output]
        on = out.range and out.mode == OutputMode.OPEN_LOOP
        return format_number(out.manual_pct if on else 0.0)

    # ------------------------------------------------------------------ set commands

    def _s_cls(self, args: list[str]) -> None:
        self._esr = StandardEvent(0)

    def _s_ese(self, args: list[str]) -> None:
        self._ese = _int(_want(args, 1)[0], 0, 255)

    def _s_emul(self, args: list[str]) -> None:
        # Model 370 emulation changes the command set; only "off" is simulated.
        self._emulation = _int(_want(args, 1)[0], 0, 0)

    def _s_inset(self, args: list[str]) -> None:
        channel = _input_id(_want(args, 6)[0])
        enabled = _int(args[1], 0, 1)
        settings = InputSettings(
            enabled=bool(enabled),
            dwell_s=_int(args[2], 1, 200),
            pause_s=_int(args[3], 3, 200),
            curve=_int(args[4], 0, 59),
            tempco=TempCoefficient(_int(args[5], 1, 2)),
        )
        self.scanner.advance()
        self.inputs[channel] = settings
        self.scanner.restart_if_current(channel)

    def _s_intype(self, args: list[str]) -> None:
        channel = _input_id(_want(args, 7)[0])
        values = tuple(
            _int(text, low, high) for text, (low, high) in zip(args[1:], INTYPE_LIMITS, strict=True)
        )
        if channel == "A" and values[3] == 0:
            # the vendor client sends 0 for the control input's range: it keeps its own
            values = (*values[:3], self.intypes["A"][3], *values[4:])
        self.intypes[channel] = values

    def _s_scan(self, args: list[str]) -> None:
        channel, autoscan = _want(args, 2)
        self.scanner.select(_int(channel, 1, 16), bool(_int(autoscan, 0, 1)))

    def _s_outmode(self, args: list[str]) -> None:
        output = self._output(_want(args, 7))
        mode = _int(args[1], 0, 6)
        source = _input_id(args[2], allow_none=True)
        new = dict(
            powerup=_int(args[3], 0, 1),
            polarity=_int(args[4], 0, 1),
            filtered=_int(args[5], 0, 1),
            delay_s=_int(args[6], 1, 255),
        )
        out = self.outputs[output]
        if output == SAMPLE_HEATER:
            wired = source == "A" or source in self.fridge.channels
            if mode in LOOP_MODES and not wired:
                raise ArgumentError(f"control input {source} has no thermometer")
            if wired:
                self.fridge.control_channel = source
            self.fridge.output_mode = mode
        else:
            new.update(mode=mode, input=source)
        for key, value in new.items():
            setattr(out, key, value)

    def _s_range(self, args: list[str]) -> None:
        output = self._output(_want(args, 2))
        if output == SAMPLE_HEATER:
            self.fridge.heater_range = _int(args[1], 0, max(HeaterRange))
        else:
            self.outputs[output].range = _int(args[1], 0, 1)

    def _s_setpoint(self, args: list[str]) -> None:
        output = self._output(_want(args, 2))
        sensor = self._ohm_controlled_sensor() if output == SAMPLE_HEATER else None
        if sensor is not None:
            # Control input in ohm units (INTYPE): the setpoint is a sensor resistance.
            ohms = _float(args[1], 0.0, MAX_RESISTANCE_OHM)
            kelvin = self.fridge.calibration_temperature_K(sensor, ohms)
            if kelvin is None:
                raise ArgumentError(f"{sensor} has no curve to turn ohms into kelvin")
            self.fridge.setpoint_K = kelvin
            return
        value = _float(args[1], 0.0, 400.0)
        if output == SAMPLE_HEATER:
            self.fridge.setpoint_K = value
        else:
            self.outputs[output].setpoint_K = value

    def _s_pid(self, args: list[str]) -> None:
        output = self._output(_want(args, 4))
        pid = (
            _float(args[1], 0.0, 1000.0),
            _float(args[2], 0.0, 10000.0),
            _float(args[3], 0.0, 2500.0),
        )
        if output == SAMPLE_HEATER:
            self.fridge.pid = pid
        else:
            self.outputs[output].pid = pid

    def _s_ramp(self, args: list[str]) -> None:
        output = self._output(_want(args, 3))
        ramp = (_int(args[1], 0, 1), _float(args[2], 0.001, 100.0))
        if output == SAMPLE_HEATER:
            self.fridge.ramp = (bool(ramp[0]), ramp[1])
        else:
            self.outputs[output].ramp = ramp

    def _s_manual(self, args: list[str]) -> None:
        output = self._output(_want(args, 2))
        value = _float(args[1], 0.0, 100.0)
        if output == SAMPLE_HEATER:
            self.fridge.manual_output_pct = value
        else:
            self.outputs[output].manual_pct = value
