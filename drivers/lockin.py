"""SR830 and SR860 lock-in drivers: pymeasure's classes plus what :class:`LockIn` needs.

``SR830LockIn(SR830)`` and ``SR860LockIn(SR860)`` reuse pymeasure's drivers unchanged except for
the few properties the framework relies on, which are re-declared here with strict validators
and strict reply parsing (pymeasure silently truncates out-of-range settings and returns raw
strings or wrong table entries for garbled replies):

* ``sensitivity`` (V rms full scale), ``time_constant`` (s): exact table values only;
* ``filter_slope``: dB/octave on both models (pymeasure's SR860 exposes the raw index 0-3);
* ``sine_voltage`` (V rms), ``frequency`` (Hz): strict ranges;
* ``x``, ``y``, ``magnitude`` (V rms), ``theta`` (deg): a garbled reply raises.

Added: :meth:`snap_xy`, :meth:`overloaded`, :meth:`settle_time`, :meth:`choose_sensitivity`,
:meth:`auto_range`, :meth:`route_xy_outputs` / :meth:`xy_outputs_routed` (X on the CH1 and Y
on the CH2 analog output, 10 V = full scale, for a controller recording them). Everything shared sits in :class:`SRSLockInMixin`, parametrised by the
model table (:mod:`stm_andreev.drivers.srs_tables`).

Workarounds for pymeasure 0.16 defects are noted where they apply (see ``SR860LockIn``).
For the TCP simulators use :meth:`SRSLockInMixin.over_tcp`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from pymeasure.instruments import Instrument
from pymeasure.instruments.srs import SR830, SR860
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from stm_andreev.drivers.lockin_capture import SR860CaptureMixin
from stm_andreev.drivers.lockin_filter import settle_time_s
from stm_andreev.drivers.srs_tables import (
    FILTER_SLOPES_DB,
    SR830_MODEL,
    SR860_MODEL,
    SRSModel,
    TableValueError,
    smallest_at_least,
    strict_table_value,
    table_index,
)

log = logging.getLogger(__name__)

#: Default fraction of full scale that a chosen sensitivity keeps the signal below.
DEFAULT_HEADROOM = 0.8
#: ``auto_range`` moves to a finer range when R falls below this fraction of full scale.
AUTO_RANGE_LOW_FRACTION = 0.1


class LockInError(Exception):
    """Base class of the lock-in driver errors."""


class LockInReplyError(LockInError):
    """The lock-in answered something that is not a valid reply to the query sent."""


class SensitivityRangeError(LockInError, ValueError):
    """An expected signal does not fit any full-scale sensitivity of the model."""


class AutoRangeError(LockInError):
    """Auto-ranging gave up: the signal stayed out of range after the allowed steps."""


# --- strict reply parsing -------------------------------------------------------------------


def _reply_float(value: Any, command: str) -> float:
    """pymeasure hands back the raw string when a cast fails; turn that into an error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LockInReplyError(f"reply to {command!r} is not a finite number: {value!r}")
    return float(value)


def _reply_index(value: Any, command: str, size: int) -> int:
    number = _reply_float(value, command)
    if number != int(number) or not 0 <= number < size:
        raise LockInReplyError(
            f"reply to {command!r} is not a setting index 0..{size - 1}: {value!r}"
        )
    return int(number)


def _single_value(command: str) -> Callable[[list[Any]], Any]:
    """get_process_list for one-value queries: a reply with commas is garbled."""

    def reject(values: list[Any]) -> Any:
        raise LockInReplyError(f"reply to {command!r} has {len(values)} fields, expected 1")

    return reject


def _parse_floats(reply: str, command: str, count: int) -> list[float]:
    fields = reply.strip().split(",")
    if len(fields) != count:
        raise LockInReplyError(f"reply to {command!r} has {len(fields)} fields, expected {count}")
    try:
        numbers = [float(f) for f in fields]
    except ValueError as exc:
        raise LockInReplyError(f"reply to {command!r} is not numeric: {reply!r}") from exc
    if not all(math.isfinite(n) for n in numbers):
        raise LockInReplyError(f"reply to {command!r} is not finite: {reply!r}")
    return numbers


# --- property factories (one declaration per setting, shared by both models) ----------------


def table_control(get_command: str, set_command: str, table: Sequence[float], docs: str) -> Any:
    """A setting whose wire value is an index into ``table``; only exact table values are set."""
    values = tuple(table)
    return Instrument.control(
        get_command,
        set_command,
        docs,
        validator=strict_table_value,
        values=values,
        set_process=lambda v: table_index(v, values),
        get_process=lambda v: values[_reply_index(v, get_command, len(values))],
        get_process_list=_single_value(get_command),
    )


def float_control(
    get_command: str, set_command: str, limits: tuple[float, float], docs: str
) -> Any:
    """A float setting with a strict range (raises ValueError outside, never clips)."""
    return Instrument.control(
        get_command,
        set_command,
        docs,
        validator=strict_range,
        values=list(limits),
        get_process=lambda v: _reply_float(v, get_command),
        get_process_list=_single_value(get_command),
    )


def float_measurement(command: str, docs: str) -> Any:
    """A float reading; a garbled reply raises :class:`LockInReplyError`."""
    return Instrument.measurement(
        command,
        docs,
        get_process=lambda v: _reply_float(v, command),
        get_process_list=_single_value(command),
    )


def slope_control(get_command: str, set_command: str) -> Any:
    """The output filter slope in dB/octave (wire index 0-3)."""
    return Instrument.control(
        get_command,
        set_command,
        """Control the output filter slope in dB/octave: 6, 12, 18 or 24 (strict).""",
        validator=strict_discrete_set,
        values=FILTER_SLOPES_DB,
        set_process=FILTER_SLOPES_DB.index,
        get_process=lambda v: FILTER_SLOPES_DB[
            _reply_index(v, get_command, len(FILTER_SLOPES_DB))
        ],
        get_process_list=_single_value(get_command),
    )


def choose_sensitivity(
    expected_V: float, model: SRSModel, headroom: float = DEFAULT_HEADROOM
) -> float:
    """Smallest full scale (V rms) of ``model`` keeping ``|expected_V|`` below ``headroom`` of it.

    ``headroom`` in (0, 1]. Raises :class:`SensitivityRangeError` when even 1 V is too small.
    """
    if not 0.0 < headroom <= 1.0:
        raise ValueError(f"headroom must be in (0, 1], got {headroom}")
    if not math.isfinite(expected_V):
        raise SensitivityRangeError(f"expected signal must be finite, got {expected_V!r}")
    try:
        return smallest_at_least(abs(expected_V) / headroom, model.sensitivities_V, "signal (V)")
    except TableValueError as exc:
        raise SensitivityRangeError(
            f"{model.name}: expected signal {expected_V:g} V does not fit within {headroom:.0%} "
            f"of any full scale: {exc}"
        ) from exc


class SRSLockInMixin:
    """What both SRS models add to pymeasure's drivers to satisfy :class:`LockIn`.

    Subclasses set ``MODEL`` (the model's tables), ``SNAP_XY_COMMAND`` and the output routing
    (``XY_OUTPUT_COMMANDS``, ``XY_OUTPUT_QUERIES`` and the reply each query gives when routed,
    ``XY_OUTPUT_REPLY``); R comes from the ``magnitude`` property, the status from ``LIAS?`` on
    both models. The pymeasure base class brings ``ask``/``write``.
    """

    MODEL: SRSModel
    SNAP_XY_COMMAND: str
    STATUS_COMMAND = "LIAS?"
    XY_OUTPUT_COMMANDS: tuple[str, str]
    XY_OUTPUT_QUERIES: tuple[str, str]
    XY_OUTPUT_REPLY: str

    # Provided by the pymeasure Instrument this mixes into.
    ask: Callable[..., str]
    write: Callable[[str], None]
    sensitivity: float
    time_constant: float
    filter_slope: int
    magnitude: float

    @classmethod
    def over_tcp(
        cls, port: int, host: str = "127.0.0.1", timeout_ms: int = 2000, **kwargs: Any
    ) -> Any:
        """Open the lock-in (or its simulator) on a raw TCP socket through pyvisa-py.

        ``port`` is the TCP port; replies end in LF, which pyvisa-py needs to end a read.
        """
        return cls(  # type: ignore[call-arg]
            f"TCPIP::{host}::{port}::SOCKET",
            visa_library="@py",
            read_termination="\n",
            write_termination="\n",
            timeout=timeout_ms,
            **kwargs,
        )

    def snap_xy(self) -> tuple[float, float]:
        """Measure X and Y (V rms) at one instant (one ``SNAP?``, so both share a time)."""
        reply = self.ask(self.SNAP_XY_COMMAND)
        x, y = _parse_floats(reply, self.SNAP_XY_COMMAND, 2)
        return x, y

    def route_xy_outputs(self) -> None:
        """Set the CH1 analog output to X and CH2 to Y (each 10 V at full scale)."""
        for command in self.XY_OUTPUT_COMMANDS:
            self.write(command)

    def xy_outputs_routed(self) -> bool:
        """Get whether CH1 outputs X and CH2 outputs Y as :meth:`route_xy_outputs` sets them."""
        routed = True
        for query in self.XY_OUTPUT_QUERIES:
            reply = self.ask(query).strip()
            if reply not in ("0", "1"):
                raise LockInReplyError(f"reply to {query!r} is not 0 or 1: {reply!r}")
            routed = routed and reply == self.XY_OUTPUT_REPLY
        return routed

    def status_bits(self) -> int:
        """Get the latched lock-in status register (``LIAS?``); reading clears it."""
        reply = self.ask(self.STATUS_COMMAND).strip()
        try:
            bits = int(reply)
        except ValueError as exc:
            raise LockInReplyError(
                f"reply to {self.STATUS_COMMAND!r} is not an integer: {reply!r}"
            ) from exc
        top = (1 << self.MODEL.status_bits) - 1
        if not 0 <= bits <= top:
            raise LockInReplyError(
                f"reply to {self.STATUS_COMMAND!r} is outside 0..{top}: {reply!r}"
            )
        return bits

    def overloaded(self) -> bool:
        """Get whether an input, filter or output overload latched since the last call."""
        bits = self.status_bits()
        if bits & self.MODEL.overload_mask:
            log.warning("%s overload, status bits 0x%X", self.MODEL.name, bits)
        return bool(bits & self.MODEL.overload_mask)

    def settle_time(self, fraction: float = 1e-3) -> float:
        """Get the wait (s) after a step for the filtered output to come within ``fraction``.

        Exact for the n-stage RC filter at the present time constant and slope
        (:func:`stm_andreev.drivers.lockin_filter.settle_time_s`); ``fraction`` in (0, 1).
        """
        return settle_time_s(self.time_constant, self.filter_slope, fraction)

    def choose_sensitivity(self, expected_V: float, headroom: float = DEFAULT_HEADROOM) -> float:
        """Smallest full scale (V rms) holding ``expected_V`` within ``headroom`` (no I/O)."""
        return choose_sensitivity(expected_V, self.MODEL, headroom)

    def _magnitude_in_range(self) -> tuple[float, bool]:
        self.status_bits()  # discard latches from before the present range
        r = self.magnitude
        return r, self.overloaded()

    def auto_range(
        self,
        max_steps: int = 5,
        headroom: float = DEFAULT_HEADROOM,
        low_fraction: float = AUTO_RANGE_LOW_FRACTION,
        sleep: Callable[[float], None] | None = None,
    ) -> float:
        """Step the sensitivity until R is between ``low_fraction`` and ``headroom`` of full scale.

        Reads R (V rms) and the overload bits; on overload or R above ``headroom`` x full scale
        it moves one range coarser, below ``low_fraction`` it jumps to the range
        :meth:`choose_sensitivity` gives for R. Each change is one step; after ``max_steps``
        changes without success it raises :class:`AutoRangeError`. ``sleep`` (e.g. the station
        clock's sleep) is called with :meth:`settle_time` (1 %) after every change, for
        instruments whose output re-settles on a range change. Returns the final full scale (V).
        """
        if max_steps < 0:
            raise ValueError(f"max_steps must be >= 0, got {max_steps}")
        sensitivity = self.sensitivity
        for step in range(max_steps + 1):
            r, overload = self._magnitude_in_range()
            if overload or r > headroom * sensitivity:
                target = self.MODEL.coarser_sensitivity(sensitivity)
                if target is None:
                    raise AutoRangeError(
                        f"{self.MODEL.name}: signal R = {r:g} V overloads the largest full scale "
                        f"{sensitivity:g} V"
                    )
            elif r < low_fraction * sensitivity:
                target = self.choose_sensitivity(r, headroom)
                if target >= sensitivity:
                    return sensitivity  # already the finest range that holds R
            else:
                return sensitivity
            if step == max_steps:
                break
            log.info("%s auto-range: R = %.3g V, %g V -> %g V", self.MODEL.name, r,
                     sensitivity, target)
            self.sensitivity = target
            sensitivity = target
            if sleep is not None:
                sleep(self.settle_time(1e-2))
        raise AutoRangeError(
            f"{self.MODEL.name}: no stable range after {max_steps} steps "
            f"(last R = {r:g} V at full scale {sensitivity:g} V)"
        )


class SR830LockIn(SRSLockInMixin, SR830):
    """SRS SR830 (pymeasure driver) satisfying :class:`stm_andreev.drivers.interfaces.LockIn`.

    pymeasure defects worked around or avoided: ``sensitivity``, ``time_constant``,
    ``sine_voltage`` and ``frequency`` silently truncate out-of-table/out-of-range values
    (re-declared strict); mapped getters index the table with whatever integer comes back,
    so a reply ``-1`` reads as 1 V (re-declared with range-checked parsing); failed float casts
    come back as strings (re-declared to raise). Its ``AUXV1,%f;`` set commands carry a trailing
    ``;`` that the instrument (and our emulator) ignore as an empty segment.
    """

    MODEL = SR830_MODEL
    SNAP_XY_COMMAND = "SNAP?1,2"
    # FPOP i,j: output i shows display i (j = 0) or X / Y (j = 1), whatever the display shows.
    XY_OUTPUT_COMMANDS = ("FPOP 1,1", "FPOP 2,1")
    XY_OUTPUT_QUERIES = ("FPOP? 1", "FPOP? 2")
    XY_OUTPUT_REPLY = "1"

    sensitivity = table_control(
        "SENS?", "SENS%d", SR830_MODEL.sensitivities_V,
        """Control the full-scale sensitivity in V rms: 2e-9 ... 1 in 1-2-5 steps (exact).""",
    )
    time_constant = table_control(
        "OFLT?", "OFLT%d", SR830_MODEL.time_constants_s,
        """Control the output time constant in s: 1e-5 ... 3e4 in 1-3 steps (exact).""",
    )
    filter_slope = slope_control("OFSL?", "OFSL%d")
    sine_voltage = float_control(
        "SLVL?", "SLVL%0.3f", SR830_MODEL.sine_range_V,
        """Control the sine-out amplitude in V rms, 0.004 ... 5 (2 mV resolution).""",
    )
    frequency = float_control(
        "FREQ?", "FREQ%0.5e", SR830_MODEL.frequency_range_Hz,
        """Control the internal reference frequency in Hz, 0.001 ... 102000.""",
    )
    x = float_measurement("OUTP?1", """Measure X in V rms.""")
    y = float_measurement("OUTP?2", """Measure Y in V rms.""")
    magnitude = float_measurement("OUTP?3", """Measure R in V rms.""")
    theta = float_measurement("OUTP?4", """Measure the phase theta in degrees.""")


class SR860LockIn(SRSLockInMixin, SR860CaptureMixin, SR860):
    """SRS SR860 (pymeasure driver) satisfying :class:`stm_andreev.drivers.interfaces.LockIn`.

    pymeasure defects worked around: ``filter_slope`` is a raw index 0-3 in pymeasure while the
    interface and the SR830 use dB/octave (re-declared in dB); ``filter_advanced`` queries
    ``ADVFILT?`` but sets with the invalid mnemonic ``ADVFIL %d`` (re-declared as ``ADVFILT``);
    ``reference_externalinput`` sets with the malformed ``REFZ&d`` (re-declared ``REFZ %d``);
    ``horizontal_time_div`` queries ``GSPD?`` but sets ``GSDP %i`` (re-declared ``GSPD``);
    ``id`` is missing (pymeasure's SCPI default raises for this non-SCPI class; added);
    plus the SR830 list (truncating validators, unchecked table indexes, string fallbacks).
    The capture buffer, which pymeasure lacks, comes from :class:`SR860CaptureMixin`.
    """

    MODEL = SR860_MODEL
    SNAP_XY_COMMAND = "SNAP? 0,1"
    # COUT i,j: output i (0 = OCH1, 1 = OCH2) carries X / Y (j = 0, XY) or R / theta (1,
    # RTHeta); the numeric form, like the driver's other commands (the tokens mean the same).
    XY_OUTPUT_COMMANDS = ("COUT 0,0", "COUT 1,0")
    XY_OUTPUT_QUERIES = ("COUT? 0", "COUT? 1")
    XY_OUTPUT_REPLY = "0"

    sensitivity = table_control(
        "SCAL?", "SCAL %d", SR860_MODEL.sensitivities_V,
        """Control the full-scale sensitivity in V rms: 1 ... 1e-9 in 1-2-5 steps (exact).""",
    )
    time_constant = table_control(
        "OFLT?", "OFLT %d", SR860_MODEL.time_constants_s,
        """Control the output time constant in s: 1e-6 ... 3e4 in 1-3 steps (exact).""",
    )
    filter_slope = slope_control("OFSL?", "OFSL %d")
    sine_voltage = float_control(
        "SLVL?", "SLVL %0.9e", SR860_MODEL.sine_range_V,
        """Control the sine-out amplitude in V rms, 1e-9 ... 2.""",
    )
    frequency = float_control(
        "FREQ?", "FREQ %0.6e", SR860_MODEL.frequency_range_Hz,
        """Control the internal reference frequency in Hz, 0.001 ... 500000.""",
    )
    id = Instrument.measurement(
        "*IDN?", """Get the identification string of the instrument.""", cast=str, maxsplit=0
    )
    filter_advanced = Instrument.control(
        "ADVFILT?", "ADVFILT %d",
        """Control the advanced filter: 'Off' or 'On'.""",
        validator=strict_discrete_set,
        values=SR860.INPUT_FILTER,
        map_values=True,
    )
    reference_externalinput = Instrument.control(
        "REFZ?", "REFZ %d",
        """Control the external reference input impedance: '50OHMS' or '1MEG'.""",
        validator=strict_discrete_set,
        values=SR860.INPUT_REFERENCEEXTERNALINPUT,
        map_values=True,
    )
    horizontal_time_div = Instrument.control(
        "GSPD?", "GSPD %i",
        """Control the strip-chart horizontal time/div index 0-16.""",
        validator=strict_discrete_set,
        values=range(0, 17),
    )
    x = float_measurement("OUTP? 0", """Measure X in V rms.""")
    y = float_measurement("OUTP? 1", """Measure Y in V rms.""")
    magnitude = float_measurement("OUTP? 2", """Measure R in V rms.""")
    theta = float_measurement("OUTP? 3", """Measure the phase theta in degrees.""")
