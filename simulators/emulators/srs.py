"""SR830 and SR860 lock-in emulators over the :class:`VirtualLab`'s lock-in: one engine, two tables.

Wire rules (docs/protocols.md section 2): mnemonics are case-insensitive, spaces optional, arguments
comma-separated; several commands per line are separated by ``;`` and empty segments (the
trailing ``;`` pymeasure's SR830 driver sends) are ignored. Every query reply is one line ending
in LF, except a binary block (:class:`BinaryBlock`, SR860 ``CAPTUREGET?``), which the manual
sends without a terminator. An unknown command or a bad argument gets no reply: it only sets a bit of the standard
event status register (``*ESR?``: bit 4 execution error = bad argument, bit 5 command error =
unknown command or wrong query/set form) and is kept in :attr:`SRSLockInEmulator.command_errors`.

Physics settings (sensitivity, time constant, slope, sine amplitude, frequency, phase,
harmonic) are read from and written to ``lab.lockin``, so the simulated signal follows them and
a change made elsewhere (the Nanonis ``LockIn.*`` commands) is what ``SLVL?`` reports. Other
settings are remembered and validated (:mod:`stm_andreev.simulators.emulators.srs_models`).

Outputs: X and Y come from ``lab.lockin.read_xy_V()`` at the lab clock's present time (so a
read right after a bias step returns the old value filtered). They saturate at
:data:`OUTPUT_SATURATION` x full scale, latching the output-overload status bit; the lab's input
and filter overload bits latch in ``LIAS?`` whenever the emulator is addressed (the real
instrument latches continuously; the emulator can only look when asked), and so do the
overloads the lab saw while the STM controller read the analog outputs in between.
``LIAS?`` is read-and-clear, also per bit (``LIAS? i``).

Analog outputs: what CH1 and CH2 carry (SR830 ``FPOP``/``DDEF``, SR860 ``COUT``) is kept as a
stored setting and handed to ``lab.lockin.output_sources``, where the Nanonis emulator's
``Input 1 (V)``/``Input 2 (V)`` read it. The SR860 also takes the ``COUT`` tokens
(``COUT OCH1, XY``).
"""

from __future__ import annotations

import logging
import math
import re
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from stm_andreev.drivers.lockin_filter import enbw_Hz
from stm_andreev.drivers.srs_tables import (
    FILTER_SLOPES_DB,
    OUTPUT_SATURATION,
    TableValueError,
    smallest_at_least,
)
from stm_andreev.simulators.emulators.srs_models import (
    PARAMETERS,
    SR830_EMULATED,
    SR860_EMULATED,
    EmulatedModel,
    StoredSetting,
    token_forms,
)

from .srs_buffer import DataBufferCommands
from .srs_capture import CaptureCommands
from .srs_grammar import (
    BinaryBlock,
    Handler,
    SRSArgumentError,
    SRSCommandError,
    expect_args,
    float_arg,
    format_number,
    int_arg,
    no_argument_query,
)

log = logging.getLogger(__name__)

#: Fraction of full scale that the auto-gain / auto-scale action leaves R at, at most.
AUTO_GAIN_HEADROOM = 0.8
#: Standard event status bits.
ESR_EXECUTION_ERROR = 1 << 4
ESR_COMMAND_ERROR = 1 << 5
ESR_POWER_ON = 1 << 7
#: Lab overload bits (``lab.lockin.overload_bits()``).
LAB_INPUT, LAB_FILTER, LAB_OUTPUT = 1, 2, 4
#: How many recent command errors :attr:`SRSLockInEmulator.command_errors` keeps.
ERROR_HISTORY = 100
#: Bounds of the line-plan and output-reply caches (a client sending ever new lines, e.g. a
#: frequency sweep, only makes them start over); longer lines are parsed every time.
PLAN_CACHE_SIZE = 256
PLAN_CACHE_MAX_LINE = 200
REPLY_CACHE_SIZE = 32

_KNOWN_PARAMETERS = frozenset(PARAMETERS)
#: SR860 ``IRNG 0-4`` input ranges (V)
_INPUT_RANGES_V = (1.0, 0.3, 0.1, 0.03, 0.01)
_XY = ("X", "Y")

# Mnemonic letters, then digits that belong to it (SCNAUX1) or start the argument (TSTR1,
# as pymeasure writes it), then the query mark and the arguments.
_SEGMENT_RE = re.compile(r"^\s*(\*?[A-Za-z]+)(\d*)\s*(\?)?\s*(.*?)\s*$", re.DOTALL)


#: One segment of a line, ready to run: (its text, for error messages; a call taking no
#: argument; whether it is a query, whose reply is sent; whether it only reads the outputs).
_Step = tuple[str, Callable[[], Any], bool, bool]


def _same_reading(old: tuple, new: tuple) -> bool:
    """Same instant, same settings object, same stored settings, equal raw lab state."""
    return (old[0] == new[0] and old[1] is new[1] and old[2] == new[2]
            and old[3] == new[3])


def _raise(kind: type[Exception], message: str) -> None:
    raise kind(message)


def _call_with_list(function: Callable[[list[str]], Any], args: tuple[str, ...]) -> Any:
    return function(list(args))


def _nearest_index(value: float, table: tuple[float, ...]) -> int:
    return min(range(len(table)), key=lambda i: abs(math.log(table[i] / value)))


def _wrap_phase(phase_deg: float) -> float:
    return (phase_deg + 180.0) % 360.0 - 180.0


def _tokens(names: tuple[str, ...], first: int) -> dict[str, int]:
    """Every accepted upper-case spelling of the SR860 tokens ``names`` -> value (``first``,
    ``first + 1``, ...)."""
    return {form: first + i for i, name in enumerate(names) for form in token_forms(name)}


class SRSLockInEmulator:
    """A :class:`~stm_andreev.simulators.emulator.LineEmulator` for one SRS lock-in model.

    Args:
        lab: the :class:`VirtualLab` (uses ``lab.lock``, ``lab.lockin``).
        model: the model's data (:data:`SR830_EMULATED` or :data:`SR860_EMULATED`).
        serial: serial number reported by ``*IDN?`` (default: the model's).
    """

    def __init__(self, lab: Any, model: EmulatedModel, serial: str | None = None) -> None:
        self.lab = lab
        self.model = model
        self.name = model.spec.name
        self.serial = serial if serial is not None else model.spec.serial
        self.command_errors: deque[str] = deque(maxlen=ERROR_HISTORY)
        # (a subclass may have made it already, to hand it to its own command sets)
        self._stored: dict[tuple[str, int | None], list[float]] = getattr(self, "_stored", {})
        # Bumped on every write to _stored: part of the key of the cached output replies.
        self._stored_version = 0
        # line -> its segments ready to run: see handle_line
        self._plans: dict[str, tuple[_Step, ...]] = {}
        # line -> (reading key, status bits it latched, reply), for lines of output queries
        # only: see handle_line. Needs the VirtualLab's clock and raw lock-in state.
        self._line_replies: dict[str, tuple[tuple, int, str]] = {}
        self._clock = getattr(lab, "clock", None)
        self._raw_state = getattr(lab, "_lockin_raw_state", None)
        # overloads the lab latched while someone else read its analog outputs (stand-ins: none)
        self._take_latched = getattr(lab.lockin, "take_latched_overloads", None)
        # output parameters -> (inputs they were computed from, reply text): see _values_text
        self._replies: dict[tuple[str, ...], tuple[tuple[float, ...], str]] = {}
        self._lias = 0
        self._esr = 0
        self._errs = 0
        # (X, Y) read together with the overload bits of the line being run, not yet used
        self._pending_xy: tuple[float, float] | None = None
        # status enable registers -> width in bits (they gate the serial-poll summary bits)
        self._enable_widths = {"LIAE": model.spec.status_bits, "ERRE": 8, "*ESE": 8, "*SRE": 8}
        self._enable = dict.fromkeys(self._enable_widths, 0)
        self._handlers = self._build_handlers()
        # Precomputed for _sample (called on every output query): the LIAS? bits of X and Y
        # overloads, the stored AUXV keys of the aux outputs and the DDEF key of each display.
        spec = model.spec
        self._output_overload_bits = tuple(
            1 << spec.output_overload_bits[index % len(spec.output_overload_bits)]
            for index in range(2)
        )
        self._aux_out_keys = tuple(
            (f"AUXOUT{i + 1}", ("AUXV", spec.output_base + i)) for i in range(2)
        )
        self._display_keys = tuple(
            (channel, ("DDEF", int(channel[-1])), choices)
            for channel, choices in model.display_channels.items()
        )
        self._model_bits = tuple(self._lab_bits_as_model(bits) for bits in range(8))
        # The lab's lock-in already is in its power-on state; writing the physics defaults here
        # would undo settings another emulator (the Nanonis LockIn.*) made before this one.
        with self.lab.lock:
            self._restore_defaults(physics=False)

    # --- LineEmulator -----------------------------------------------------------------------

    def handle_line(self, line: str) -> str:
        """Execute one input line; return the replies (one LF-terminated line per query)."""
        with self.lab.lock:
            if self._take_latched is not None:
                self._lias |= self._model_bits[self._take_latched() & 0b111]
            plan = self._plans.get(line)
            if plan is None:
                plan = self._plan(line)
            if not (plan and all(step[3] for step in plan)) or self._raw_state is None:
                return self._run(plan)[0]
            # Only output queries (a SNAP? poll): at the same instant and lab state the lab
            # would give the same X, Y and overload bits, so the same reply and status bits.
            key = self._reading_key()
            hit = self._line_replies.get(line)
            if hit is not None and _same_reading(hit[0], key):
                self._lias |= hit[1]
                return hit[2]
            saved, self._lias = self._lias, 0  # unobservable: no status query in this line
            try:
                reply, failed = self._run(plan, one_reading=True)
            finally:
                self._pending_xy = None
                latched = self._lias
                self._lias = saved | latched
            if not failed:
                # Keyed after the run: the reading advanced the lab to the present instant.
                if len(self._line_replies) >= REPLY_CACHE_SIZE:
                    self._line_replies.clear()
                self._line_replies[line] = (self._reading_key(), latched, reply)
            return reply

    def _run(self, plan: tuple[_Step, ...], one_reading: bool = False) -> tuple[str, bool]:
        """Latch the lab's overloads, run the steps; return the replies and whether any failed.

        ``one_reading``: the plan only reads outputs, so nothing changes the lab between the
        latch and the first output query: one lab reading serves both (see
        :meth:`_latch_lab_overloads`).
        """
        replies: list[str] = []
        failed = False
        self._latch_lab_overloads(one_reading)
        for segment, call, is_query, _ in plan:
            try:
                reply = call()
            except SRSCommandError as exc:
                self._error(ESR_COMMAND_ERROR, segment, exc)
                failed = True
            except SRSArgumentError as exc:
                self._error(ESR_EXECUTION_ERROR, segment, exc)
                failed = True
            else:
                if is_query:
                    replies.append(reply if type(reply) is BinaryBlock else reply + "\n")
        return "".join(replies), failed

    def _reading_key(self) -> tuple:
        """What the lab's lock-in reading depends on at this instant, with the stored settings.

        At one clock time the lab's reading (X, Y, overload bits; the noise included, it is
        drawn once per instant) is a function of the lab's raw lock-in state and the lock-in
        settings: the filter history before this instant cannot change any more. The raw state
        is the lab's own cache key for its lock-in snapshot (``_lockin_raw_state``, documented
        as every input of that snapshot); settings objects are immutable and replaced by every
        change, so they are compared by identity (equal ones may differ in a zero's sign).
        """
        assert self._clock is not None and self._raw_state is not None
        return (self._clock.now(), self.lab.lockin.settings, self._stored_version,
                self._raw_state())

    def reset(self) -> None:
        """Power cycle: every setting back to its default, status cleared, power-on bit set."""
        with self.lab.lock:
            self.lab.lockin.reset_settings()
            self._restore_defaults()
            self._lias = 0
            self._errs = 0
            self._enable = dict.fromkeys(self._enable_widths, 0)
            self._esr = ESR_POWER_ON
        log.info("%s emulator power-cycled", self.name)

    def connected(self) -> None:
        """A client connected: the SRS lock-ins keep their state across connections."""
        log.debug("%s emulator: client connected", self.name)

    # --- dispatch ---------------------------------------------------------------------------

    def _plan(self, line: str) -> tuple[_Step, ...]:
        """The line's non-blank segments, each parsed once and bound to its arguments.

        A driver sends the same few lines over and over, and parsing is a pure function of the
        text (the handler table is fixed), so the plan of a short line is kept. Only the parse
        is kept, never a result: a malformed segment raises (and counts) every time it runs.
        """
        plan = tuple(self._step(segment) for segment in line.split(";") if segment.strip())
        if len(line) <= PLAN_CACHE_MAX_LINE:
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[line] = plan
        return plan

    def _step(self, segment: str) -> _Step:
        try:
            function, is_query, args = self._parse(segment)
        except (SRSCommandError, SRSArgumentError) as exc:
            return segment, partial(_raise, type(exc), str(exc)), False, False
        if function == self._snap:
            # The usual output poll: resolve its parameters now (when they are valid).
            try:
                parameters = self._snap_parameters(list(args))
            except SRSArgumentError:
                pass
            else:
                return segment, partial(self._values_text, parameters), True, True
        # A fresh list per call: a handler may keep or change its arguments.
        return segment, partial(_call_with_list, function, args), is_query, False

    def _parse(self, segment: str) -> tuple[Callable[[list[str]], Any], bool, tuple[str, ...]]:
        match = _SEGMENT_RE.match(segment)
        if match is None:
            raise SRSCommandError(f"not a command: {segment!r}")
        mnemonic, digits, question, rest = match.groups()
        mnemonic = mnemonic.upper()
        if digits:
            if question or mnemonic + digits in self._handlers:
                mnemonic += digits
            else:
                rest = digits + rest
        args = tuple(a.strip() for a in rest.split(",")) if rest else ()
        if any(a == "" for a in args):
            raise SRSArgumentError(f"empty argument in {segment!r}")
        handler = self._handlers.get(mnemonic)
        if handler is None:
            raise SRSCommandError(f"unknown command {mnemonic!r}")
        if question:
            if handler.query is None:
                raise SRSCommandError(f"{mnemonic} cannot be queried")
            return handler.query, True, args
        if handler.set is None:
            raise SRSCommandError(f"{mnemonic} is a query only")
        return handler.set, False, args

    def _error(self, bit: int, segment: str, exc: Exception) -> None:
        self._esr |= bit
        message = f"{segment.strip()!r}: {exc}"
        self.command_errors.append(message)
        log.info("%s rejected %s", self.name, message)

    def _build_handlers(self) -> dict[str, Handler]:
        spec = self.model.spec
        handlers: dict[str, Handler] = {
            name: self._stored_handler(name, setting)
            for name, setting in self.model.stored.items()
        }
        handlers.update(self._physics_handlers())
        handlers.update({name: self._enable_handler(name) for name in self._enable_widths})
        handlers.update({
            "*IDN": Handler(query=self._idn),
            "*RST": Handler(set=self._rst),
            "*CLS": Handler(set=self._cls),
            "*OPC": no_argument_query(lambda: "1"),
            "*ESR": Handler(query=self._register_query("_esr", 7)),
            "*STB": Handler(query=self._stb),
            "ERRS": Handler(query=self._register_query("_errs", 7)),
            "LIAS": Handler(query=self._register_query("_lias", spec.status_bits - 1)),
            "OUTP": Handler(query=self._outp),
            "SNAP": Handler(query=self._snap),
            "OAUX": Handler(query=self._oaux),
            "APHS": Handler(set=self._auto_phase),
        })
        optional = {
            "AGAN": Handler(set=self._auto_gain),
            "ASCL": Handler(set=self._auto_gain),
            "SNAPD": Handler(query=self._snapd),
            "CUROVLDSTAT": Handler(query=self._current_overload),
            "ENBW": Handler(query=self._enbw),
            "FREQDET": no_argument_query(self._freq_text),
            # no external reference is connected; the internal timebase is in use
            "FREQEXT": no_argument_query(lambda: format_number(0.0)),
            "TBSTAT": no_argument_query(lambda: "1"),
            "OUTR": Handler(query=self._outr),
            "AOFF": Handler(set=self._auto_offset_830),
            # auto reserve: the simulated input has no dynamic-reserve physics (RMOD stored)
            "ARSV": Handler(set=lambda args: expect_args(args, 0)),
            "SSET": Handler(set=self._save_setup),
            "RSET": Handler(set=self._recall_setup),
            "ILVL": no_argument_query(self._input_level),
            # auto range: the simulated input never needs another range (see ILVL?)
            "ARNG": Handler(set=lambda args: expect_args(args, 0)),
            "OAUT": Handler(set=self._auto_offset),
            "*TST": no_argument_query(lambda: "0"),  # self test passed
        }
        handlers.update({name: optional[name] for name in self.model.optional_commands})
        self._setups: dict[int, tuple[dict, dict]] = {}
        handlers.update({alias: handlers[name] for alias, name in self.model.aliases.items()})
        return handlers

    # --- physics settings (live in lab.lockin) ----------------------------------------------

    def _physics_handlers(self) -> dict[str, Handler]:
        spec = self.model.spec
        lockin = self.lab.lockin

        def table_setting(attribute: str, table: tuple[float, ...], what: str) -> Handler:
            def query(args: list[str]) -> str:
                expect_args(args, 0)
                return str(_nearest_index(getattr(lockin, attribute), table))

            def set_(args: list[str]) -> None:
                expect_args(args, 1)
                self._write_lab(attribute, table[int_arg(args[0], 0, len(table) - 1, what)])

            return Handler(query, set_)


        def slvl_set(args: list[str]) -> None:
            expect_args(args, 1)
            self._write_lab("amplitude_Vrms", float_arg(args[0], *spec.sine_range_V, "SLVL"))

        def freq_set(args: list[str]) -> None:
            expect_args(args, 1)
            frequency = float_arg(args[0], *spec.frequency_range_Hz, "FREQ")
            self._check_detection_frequency(frequency, lockin.harmonic)
            self._write_lab("frequency_Hz", frequency)

        def phas_set(args: list[str]) -> None:
            expect_args(args, 1)
            phase = float_arg(args[0], *self.model.phase_range_deg, "PHAS")
            self._write_lab("phase_deg", _wrap_phase(phase))

        def harm_set(args: list[str]) -> None:
            expect_args(args, 1)
            harmonic = int_arg(args[0], 1, spec.harmonic_max, "HARM")
            self._check_detection_frequency(lockin.frequency_Hz, harmonic)
            self._write_lab("harmonic", harmonic)

        def slope_query(args: list[str]) -> str:
            expect_args(args, 0)
            return str(FILTER_SLOPES_DB.index(int(lockin.filter_slope_db)))

        def slope_set(args: list[str]) -> None:
            expect_args(args, 1)
            self._write_lab("filter_slope_db", FILTER_SLOPES_DB[int_arg(args[0], 0, 3, "OFSL")])

        def reader(fmt: str, attribute: str) -> Callable[[list[str]], str]:
            def query(args: list[str]) -> str:
                expect_args(args, 0)
                return fmt.format(getattr(lockin, attribute))

            return query

        handlers = {
            spec.sensitivity_command: table_setting(
                "sensitivity_V", spec.sensitivities_V, spec.sensitivity_command),
            "OFLT": table_setting("time_constant_s", spec.time_constants_s, "OFLT"),
            "OFSL": Handler(slope_query, slope_set),
            "SLVL": Handler(reader(self.model.formats["SLVL"], "amplitude_Vrms"), slvl_set),
            "FREQ": Handler(query=no_argument_query(self._freq_text).query, set=freq_set),
            "PHAS": Handler(reader(self.model.formats["PHAS"], "phase_deg"), phas_set),
            "HARM": Handler(reader("{:d}", "harmonic"), harm_set),
        }
        return handlers

    def _write_lab(self, attribute: str, value: float) -> None:
        try:
            setattr(self.lab.lockin, attribute, value)
        except ValueError as exc:  # the lab refuses what the physics cannot do
            raise SRSArgumentError(f"{attribute} = {value!r} refused: {exc}") from exc

    def _check_detection_frequency(self, frequency_Hz: float, harmonic: int) -> None:
        limit = self.model.spec.frequency_range_Hz[1]
        if frequency_Hz * harmonic > limit:
            raise SRSArgumentError(
                f"harmonic {harmonic} x {frequency_Hz:g} Hz exceeds the {limit:g} Hz limit"
            )

    def _freq_text(self) -> str:
        return f"{self.lab.lockin.frequency_Hz:.10g}"

    # --- stored settings --------------------------------------------------------------------

    def _stored_handler(self, name: str, setting: StoredSetting) -> Handler:
        channel_tokens = _tokens(setting.channel_tokens, setting.channels.start
                                 if setting.channels is not None else 0)
        field_tokens = [_tokens(f.tokens, int(f.low)) for f in setting.fields]
        reroutes = name in self.model.output_settings

        def channel_of(args: list[str]) -> int | None:
            if setting.channels is None:
                return None
            token = channel_tokens.get(args[0].upper())
            if token is not None:
                return token
            return int_arg(args[0], setting.channels.start, setting.channels.stop - 1,
                        f"{name} channel")

        def query(args: list[str]) -> str:
            expect_args(args, 1 if setting.channels is not None else 0)
            values = self._stored[(name, channel_of(args))]
            return ",".join(
                str(int(v)) if f.kind is int else f"{v:.6g}"
                for f, v in zip(setting.fields, values, strict=True)
            )

        def set_(args: list[str]) -> None:
            offset = 0 if setting.channels is None else 1
            expect_args(args, offset + len(setting.fields))
            channel = channel_of(args)
            values: list[float] = []
            for f, tokens, text in zip(setting.fields, field_tokens, args[offset:], strict=True):
                token = tokens.get(text.upper())
                parse = int_arg if f.kind is int else float_arg
                values.append(token if token is not None
                              else parse(text, f.low, f.high, name))  # type: ignore[arg-type]
            self._stored[(name, channel)] = values
            self._stored_version += 1
            if reroutes:
                self._route_outputs()

        return Handler(query, set_)

    def _route_outputs(self) -> None:
        """Tell the lab what the analog outputs carry now (the stored settings decide)."""
        if self.model.output_sources is not None:
            self._write_lab("output_sources", self.model.output_sources(self._stored))

    def _restore_defaults(self, physics: bool = True) -> None:
        for name, setting in self.model.stored.items():
            channels = setting.channels if setting.channels is not None else [None]
            for channel in channels:
                self._stored[(name, channel)] = setting.defaults(channel)
        self._stored_version += 1
        if physics:
            for attribute, value in self.model.defaults.items():
                setattr(self.lab.lockin, attribute, value)
            self._route_outputs()

    def _rst(self, args: list[str]) -> None:
        expect_args(args, 0)
        self._restore_defaults()

    def _cls(self, args: list[str]) -> None:
        expect_args(args, 0)
        self._lias = self._esr = self._errs = 0

    def _idn(self, args: list[str]) -> str:
        expect_args(args, 0)
        return f"Stanford_Research_Systems,{self.name},{self.serial},{self.model.spec.firmware}"

    # --- status -----------------------------------------------------------------------------

    def _lab_bits_as_model(self, lab_bits: int) -> int:
        spec = self.model.spec
        bits = 0
        if lab_bits & LAB_INPUT:
            bits |= 1 << spec.input_overload_bit
        if lab_bits & LAB_FILTER:
            bits |= 1 << spec.filter_overload_bit
        if lab_bits & LAB_OUTPUT:
            bits |= 1 << spec.output_overload_bits[0]
        return bits

    def _latch_lab_overloads(self, keep_reading: bool = False) -> None:
        # Runs on every line: the lab's three overload bits map through a table built once.
        lockin = self.lab.lockin
        read = getattr(lockin, "read", None) if keep_reading else None
        if read is None:
            self._lias |= self._model_bits[lockin.overload_bits() & 0b111]
            return
        # X and Y of the same instant are kept for the line's first output query
        # (_read_inputs): on a running clock a second lab read would find the clock moved on
        # and advance the whole lab again; on a stopped one it would give the same values.
        x, y, bits = read()
        self._lias |= self._model_bits[bits & 0b111]
        self._pending_xy = (x, y)

    def _register_query(self, attribute: str, top_bit: int) -> Callable[[list[str]], str]:
        """Read-and-clear status register: whole (no argument) or one bit (``LIAS? i``)."""

        def query(args: list[str]) -> str:
            expect_args(args, 0, 1)
            value = getattr(self, attribute)
            if args:
                bit = int_arg(args[0], 0, top_bit, attribute.strip("_").upper())
                setattr(self, attribute, value & ~(1 << bit))
                return str((value >> bit) & 1)
            setattr(self, attribute, 0)
            return str(value)

        return query

    def _enable_handler(self, name: str) -> Handler:
        """Enable register: ``LIAE j`` sets all bits, ``LIAE i,j`` bit i; ``LIAE? [i]`` reads."""
        top_bit = self._enable_widths[name] - 1

        def query(args: list[str]) -> str:
            expect_args(args, 0, 1)
            value = self._enable[name]
            if args:
                return str((value >> int_arg(args[0], 0, top_bit, f"{name} bit")) & 1)
            return str(value)

        def set_(args: list[str]) -> None:
            expect_args(args, 1, 2)
            if len(args) == 1:
                self._enable[name] = int_arg(args[0], 0, (1 << (top_bit + 1)) - 1, name)
                return
            bit = int_arg(args[0], 0, top_bit, f"{name} bit")
            if int_arg(args[1], 0, 1, f"{name} bit value"):
                self._enable[name] |= 1 << bit
            else:
                self._enable[name] &= ~(1 << bit)

        return Handler(query, set_)

    def _stb(self, args: list[str]) -> str:
        """Serial-poll status: bit 2 ERR, bit 3 LIA, bit 5 ESB (each gated by its enable)."""
        expect_args(args, 0)
        status = 0
        for bit, register, enable in ((2, self._errs, "ERRE"), (3, self._lias, "LIAE"),
                                      (5, self._esr, "*ESE")):
            if register & self._enable[enable]:
                status |= 1 << bit
        return str(status)

    def _current_overload(self, args: list[str]) -> str:
        """SR860 ``CUROVLDSTAT?``: overloads now (not latched)."""
        expect_args(args, 0)
        sample = self._sample()
        bits = self._lab_bits_as_model(self.lab.lockin.overload_bits()) & 0b1_0011
        fs = self.lab.lockin.sensitivity_V
        for bit, name in enumerate(("X", "Y")):
            if abs(sample[name]) > fs:
                bits |= 1 << bit
        return str(bits)

    def _enbw(self, args: list[str]) -> str:
        expect_args(args, 0)
        lockin = self.lab.lockin
        return format_number(enbw_Hz(lockin.time_constant_s, int(lockin.filter_slope_db)))

    # --- outputs ----------------------------------------------------------------------------

    def _read_inputs(self) -> tuple[float, ...]:
        """Read X, Y from the lab now (latching output overloads); return all outputs depend on.

        That is (x, y, sensitivity, phase, sine amplitude, frequency, version of the stored
        settings). The lab is read on every output query (the first of an output-only line
        takes the reading made with the line's overload latch, at the same instant), so its
        clock, noise and filter advance exactly as they would without the reply cache in
        :meth:`_values_text`.
        """
        lockin = self.lab.lockin
        pending = self._pending_xy
        if pending is None:
            x, y = lockin.read_xy_V()
        else:
            x, y = pending
            self._pending_xy = None
        fs = lockin.sensitivity_V
        output_bits = self._output_overload_bits
        if abs(x) > fs:
            self._lias |= output_bits[0]
        if abs(y) > fs:
            self._lias |= output_bits[1]
        return (x, y, fs, lockin.phase_deg, lockin.amplitude_Vrms, lockin.frequency_Hz,
                self._stored_version)

    def _table(self, inputs: tuple[float, ...]) -> dict[str, float]:
        """Every output parameter, with output saturation, from :meth:`_read_inputs`."""
        x, y, fs, phase_deg, amplitude_Vrms, frequency_Hz, _ = inputs
        limit = OUTPUT_SATURATION * fs
        r = math.hypot(x, y)
        stored = self._stored
        values = {
            "X": max(-limit, min(limit, x)),
            "Y": max(-limit, min(limit, y)),
            "R": min(limit, r),
            "THETA": math.degrees(math.atan2(y, x)),
            "PHASE": phase_deg,
            "SINE": amplitude_Vrms,
            "DCLEVEL": stored.get(("SOFF", None), [0.0])[0],
            "FREQ": frequency_Hz,
            "FREQEXT": 0.0,  # no external reference is connected
            # nothing is wired to the aux inputs
            "AUXIN1": 0.0, "AUXIN2": 0.0, "AUXIN3": 0.0, "AUXIN4": 0.0,
        }
        # Key tuples built once in __init__.
        for name, key in self._aux_out_keys:
            values[name] = stored[key][0]
        for channel, key, choices in self._display_keys:
            values[channel] = values.get(choices[int(stored[key][0])], math.nan)
        return values

    def _sample(self) -> dict[str, float]:
        """All output parameters at this instant (one lab read), with output saturation."""
        return self._table(self._read_inputs())

    def _values_text(self, parameters: tuple[str, ...]) -> str:
        inputs = self._read_inputs()
        # The reply is a pure function of (parameters, inputs): a poll at an unchanged lab
        # state (same instant, or a settled signal without noise) reuses the formatted text.
        # Equal is not enough: -0.0 == 0.0 but prints "-0.000000e+00". X and Y must be equal
        # and nonzero (a NaN never equals itself); the settings the very same float objects
        # (the lab hands out the stored ones while they are unchanged; a stand-in that builds
        # new ones just never hits the cache).
        x, y, fs, phase, sine, freq, version = inputs
        cached = self._replies.get(parameters)
        if cached is not None:
            old_x, old_y, old_fs, old_phase, old_sine, old_freq, old_version = cached[0]
            if (x == old_x and y == old_y and x and y and fs is old_fs and phase is old_phase
                    and sine is old_sine and freq is old_freq and version == old_version):
                return cached[1]
        if parameters == _XY:
            # The usual poll: X and Y clipped as _table clips them, without the whole table.
            limit = OUTPUT_SATURATION * fs
            text = f"{format_number(max(-limit, min(limit, x)))},{format_number(max(-limit, min(limit, y)))}"
            self._store_reply(parameters, inputs, text)
            return text
        sample = self._table(inputs)
        out = []
        for parameter in parameters:
            value = sample.get(parameter, math.nan)
            if math.isnan(value):
                raise SRSArgumentError(f"{parameter} is not emulated")
            out.append(format_number(value))
        text = ",".join(out)
        self._store_reply(parameters, inputs, text)
        return text

    def _store_reply(self, parameters: tuple[str, ...], inputs: tuple, text: str) -> None:
        if len(self._replies) >= REPLY_CACHE_SIZE:
            self._replies.clear()
        self._replies[parameters] = (inputs, text)

    def _parameter(self, table: dict[str, str], text: str, what: str) -> str:
        parameter = table.get(text.upper())
        if parameter is None or parameter not in _KNOWN_PARAMETERS:
            raise SRSArgumentError(f"{what}: {text!r} is not one of {sorted(table)}")
        return parameter

    def _outp(self, args: list[str]) -> str:
        expect_args(args, 1)
        return self._values_text((self._parameter(self.model.outputs, args[0], "OUTP?"),))

    def _snap(self, args: list[str]) -> str:
        return self._values_text(self._snap_parameters(args))

    def _snap_parameters(self, args: list[str]) -> tuple[str, ...]:
        counts = self.model.snap_count
        expect_args(args, counts.start, counts.stop - 1)
        return tuple(self._parameter(self.model.snap, a, "SNAP?") for a in args)

    def _snapd(self, args: list[str]) -> str:
        expect_args(args, 0)
        names = tuple(self.model.snap[str(int(self._stored[("CDSP", ch)][0]))]
                      for ch in range(4))
        return self._values_text(names)

    def _outr(self, args: list[str]) -> str:
        """SR860 ``OUTR? i``: the value data channel i (0-3 or DAT1-DAT4) shows (``CDSP``)."""
        expect_args(args, 1)
        text = args[0].upper()
        channel = int(text[3:]) - 1 if text in ("DAT1", "DAT2", "DAT3", "DAT4") else \
            int_arg(args[0], 0, 3, "OUTR? channel")
        return self._values_text(
            (self.model.snap[str(int(self._stored[("CDSP", channel)][0]))],))

    def _outr_display(self, args: list[str]) -> str:
        """SR830 ``OUTR? i``: what display CH1 (i=1) or CH2 (i=2) shows (``DDEF``)."""
        expect_args(args, 1)
        return self._values_text((f"CH{int_arg(args[0], 1, 2, 'OUTR? display')}",))

    def _auto_offset_830(self, args: list[str]) -> None:
        """SR830 ``AOFF i`` (1 X, 2 Y, 3 R): that output's ``OEXP`` offset set to minus its
        present value in percent of full scale (expand kept). Stored only: offsets do not
        alter the outputs here."""
        expect_args(args, 1)
        channel = int_arg(args[0], 1, 3, "AOFF channel")
        x, y = self.lab.lockin.read_xy_V()
        value = (x, y, math.hypot(x, y))[channel - 1]
        percent = max(-105.0, min(105.0, -100.0 * value / self.lab.lockin.sensitivity_V))
        self._stored[("OEXP", channel)] = [round(percent, 2), self._stored[("OEXP", channel)][1]]
        self._stored_version += 1

    def _save_setup(self, args: list[str]) -> None:
        """SR830 ``SSET i``: settings memory i (1-9) keeps every setting, physics included."""
        expect_args(args, 1)
        lockin = self.lab.lockin
        physics = {name: getattr(lockin, name) for name in self.model.defaults}
        self._setups[int_arg(args[0], 1, 9, "SSET")] = (
            {key: list(values) for key, values in self._stored.items()}, physics)

    def _recall_setup(self, args: list[str]) -> None:
        """SR830 ``RSET i``: back to the settings saved with ``SSET i`` (execution error if
        nothing was saved there since power-on: the simulated memory is not kept)."""
        expect_args(args, 1)
        number = int_arg(args[0], 1, 9, "RSET")
        if number not in self._setups:
            raise SRSArgumentError(f"RSET {number}: nothing saved there")
        stored, physics = self._setups[number]
        self._stored.update({key: list(values) for key, values in stored.items()})
        self._stored_version += 1
        for name, value in physics.items():
            self._write_lab(name, value)
        self._route_outputs()

    def _input_level(self) -> str:
        """SR860 ``ILVL?``: input strength 0-4 (4: input overload), from R against the input
        range (``IRNG``). The manual gives no thresholds; these (1 %, 10 %, 50 % of the range)
        only order the levels the way the front-panel bar does."""
        if self.lab.lockin.overload_bits() & LAB_INPUT:
            return "4"
        x, y = self.lab.lockin.read_xy_V()
        fraction = math.hypot(x, y) / _INPUT_RANGES_V[int(self._stored[("IRNG", None)][0])]
        return str(sum(fraction > level for level in (0.01, 0.1, 0.5)))

    def _auto_offset(self, args: list[str]) -> None:
        """SR860 ``OAUT i``: offset of X, Y or R (0-2 or X, Y, R) on, at minus its present
        value in percent of full scale. Stored only: offsets do not alter the outputs here."""
        expect_args(args, 1)
        channel = {"X": 0, "Y": 1, "R": 2}.get(args[0].upper())
        if channel is None:
            channel = int_arg(args[0], 0, 2, "OAUT channel")
        x, y = self.lab.lockin.read_xy_V()
        value = (x, y, math.hypot(x, y))[channel]
        percent = max(-999.99, min(999.99, -100.0 * value / self.lab.lockin.sensitivity_V))
        self._stored[("COFA", channel)] = [1]
        self._stored[("COFP", channel)] = [round(percent, 2)]
        self._stored_version += 1

    def _oaux(self, args: list[str]) -> str:
        expect_args(args, 1)
        channels = self.model.aux_in_channels
        int_arg(args[0], channels.start, channels.stop - 1, "OAUX? channel")
        return format_number(0.0)  # nothing is wired to the aux inputs

    # --- auto functions ---------------------------------------------------------------------

    def _auto_gain(self, args: list[str]) -> None:
        """AGAN / ASCL: the finest full scale keeping the present R below 80 % of it."""
        expect_args(args, 0)
        x, y = self.lab.lockin.read_xy_V()
        try:
            target = smallest_at_least(math.hypot(x, y) / AUTO_GAIN_HEADROOM,
                                       self.model.spec.sensitivities_V)
        except TableValueError:
            target = max(self.model.spec.sensitivities_V)
        self._write_lab("sensitivity_V", target)

    def _auto_phase(self, args: list[str]) -> None:
        """APHS: shift the reference phase by the present theta so Y goes to zero."""
        expect_args(args, 0)
        x, y = self.lab.lockin.read_xy_V()
        phase = self.lab.lockin.phase_deg + math.degrees(math.atan2(y, x))
        self._write_lab("phase_deg", _wrap_phase(phase))


class SR830Emulator(SRSLockInEmulator):
    """SR830 on the wire (1-based outputs, ``SENS 0-26``, ``OFLT 0-19``, the data buffer of
    :mod:`~stm_andreev.simulators.emulators.srs_buffer`)."""

    def __init__(self, lab: Any, serial: str | None = None) -> None:
        self._stored = {}
        self._buffer = DataBufferCommands(lab, self._stored)
        super().__init__(lab, SR830_EMULATED, serial)

    def _build_handlers(self) -> dict[str, Handler]:
        return {**super()._build_handlers(), **self._buffer.handlers(),
                "OUTR": Handler(query=self._outr_display)}

    def reset(self) -> None:
        """Power cycle, the data buffer included."""
        with self.lab.lock:
            super().reset()
            self._buffer.reset()


class SR860Emulator(SRSLockInEmulator):
    """SR860 on the wire (0-based outputs, ``SCAL 0-27``, ``OFLT 0-21``, ``SNAPD?``, the
    capture buffer of :mod:`~stm_andreev.simulators.emulators.srs_capture`)."""

    def __init__(self, lab: Any, serial: str | None = None) -> None:
        self._capture = CaptureCommands(lab)
        super().__init__(lab, SR860_EMULATED, serial)

    def _build_handlers(self) -> dict[str, Handler]:
        return {**super()._build_handlers(), **self._capture.handlers()}

    def reset(self) -> None:
        """Power cycle, the capture buffer included."""
        with self.lab.lock:
            super().reset()
            self._capture.reset()
