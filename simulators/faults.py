"""Fault injection for the simulated station, driven by configuration and seeded.

A :class:`FaultPlan` is data, typically a ``faults:`` list in a station file::

    - {kind: drop_connection, instrument: lockin, after_commands: 40}
    - {kind: garble, instrument: lakeshore, probability: 0.01}
    - {kind: delay, instrument: nanonis, after_commands: 5, delay_s: 3.0}
    - {kind: temperature_spike, at_time_s: 3600, delta_K: 0.05, duration_s: 120}
    - {kind: tip_change, at_time_s: 7200}

Wire faults act on one instrument's traffic; they are applied by :class:`FaultyEmulator`, a
wrapper that satisfies the same :class:`~stm_andreev.simulators.emulator.LineEmulator` or
:class:`~stm_andreev.simulators.emulator.FrameEmulator` protocol as the emulator it wraps, so
the in-process and the TCP transports both get faults without knowing about them.

=================  ======================================================================
kind               effect on the message that triggers it
=================  ======================================================================
drop_connection    not executed; the transport hangs up (:class:`ConnectionDropped`)
delay              executed; the reply comes ``delay_s`` later on the station clock
stall              not executed, no reply: the client times out
garble             executed; the reply's characters are corrupted (terminators and frame
                   lengths are kept, so the stream stays in step and the value fails to parse)
error_status       executed; ``bits`` are OR-ed into the next status query's answer
                   (LIAS?, ERRS?, *ESR?, *STB?, RDGST?; latched until read), or, for the
                   Nanonis, the reply's error block reports an error
restart            the emulator is power-cycled (``reset()``) before the message executes
temperature_spike  lab level: ``lab.fridge.spike(delta_K, duration_s)``
tip_change         lab level: ``lab.tip_change()``
=================  ======================================================================

Triggers: ``after_commands: N`` (due at the N+1-th message of that instrument, or of all
instruments for lab faults) or ``at_time_s: t`` (due at the first message at or after station
time t), and/or ``probability: p``. Once due, a fault hits ``count`` consecutive messages (default
1), or every message for ``duration_s`` of station time if that is given (a stall of 30 s, a slow
link for 10 min); with ``probability`` it hits each message from then on (within ``duration_s``
if given) with probability p, and with ``probability`` alone it does so from the start. Lab faults
need ``after_commands`` or ``at_time_s``, fire once, and are checked whenever any wrapped
instrument handles a message. Random draws come from one :class:`random.Random` per instrument
seeded from the plan's seed and the instrument name, so a run is reproducible.

The faults are the station file's own fault models (``stm_andreev.config.faults``, one schema);
:meth:`FaultPlan.from_config` accepts those objects as well as plain dicts.
"""

from __future__ import annotations

import logging
import random
import re
import struct
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from stm_andreev.clock import Clock
from stm_andreev.config.errors import format_key_path, problems_from_validation_error
from stm_andreev.config.faults import FaultConfig
from stm_andreev.simulators.emulator import NANONIS_HEADER_BYTES, FrameEmulator, LineEmulator
from stm_andreev.simulators.transports.errors import ConnectionDropped

log = logging.getLogger(__name__)

# Status queries error_status ORs its bits into, as mnemonic -> (bit_indexed, default_bits).
# bit_indexed: an argument is a bit index and the answer is that one bit (SRS LIAS? i, ERRS? i,
# IEEE *ESR? i); otherwise an argument selects a channel and the answer is the whole word
# (Lake Shore RDGST? ch). default_bits are set when the fault gives none: an input overload
# (LIAS?), a DSP error (ERRS?), an execution error (*ESR?), the event summary bit (*STB?), a
# current-source overload (RDGST?).
STATUS_QUERIES: dict[str, tuple[bool, int]] = {
    "LIAS?": (True, 0b1),
    "ERRS?": (True, 0b100_0000),
    "*ESR?": (True, 0b1_0000),
    "*STB?": (True, 0b10_0000),
    "RDGST?": (False, 0b1),
    "CUROVLDSTAT?": (False, 0b1),
}
# Characters a garbled reply is made of: none can appear in a number or a list of numbers, so
# a garbled value never parses as a wrong but plausible reading.
GARBLE_ALPHABET = "#%&@!?~^`|$"
_QUERY_RE = re.compile(r"^\s*(\*?[A-Za-z][A-Za-z0-9]*\?)\s*(.*?)\s*$")
_REPLY_SPLIT_RE = re.compile(r"(;|\r\n|\n|\r)")
INJECTED_ERROR_TEXT = "Injected fault: error status"
_DEFAULT_BITS = -1  # armed by an error_status fault without bits: use the query's default


class FaultConfigError(ValueError):
    """A fault plan is invalid (unknown kind, missing field, no trigger, unknown instrument)."""


#: One fault of a plan: the station file's fault models (``stm_andreev.config.faults``), the
#: one schema. Times in seconds of station clock, temperatures in kelvin.
FaultSpec = FaultConfig
_FAULT = TypeAdapter(FaultConfig)


def fault_spec(**fields: Any) -> FaultSpec:
    """A validated fault from keyword fields (``kind`` selects the model)."""
    return _FAULT.validate_python(fields)


class FaultPlan(BaseModel):
    """A seeded list of faults: build with :meth:`from_config`, apply with a FaultInjector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    faults: tuple[FaultConfig, ...] = ()

    @classmethod
    def from_config(
        cls,
        data: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None,
        *,
        seed: int | None = None,
    ) -> FaultPlan:
        """Build a plan from a list of fault dicts or ``{seed: ..., faults: [...]}``.

        Raises :class:`FaultConfigError` naming the offending entry and key.
        """
        if data is None:
            body: dict[str, Any] = {"faults": []}
        elif isinstance(data, Mapping):
            body = dict(data)
        else:
            body = {"faults": list(data)}
        body["faults"] = list(body.get("faults", []))
        if seed is not None:
            body["seed"] = seed
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            # The station file's own wording: each problem with its key path.
            problems = "; ".join(
                f"{format_key_path(p.path) or 'plan'}: {p.message}"
                for p in problems_from_validation_error(exc, cls, body)
            )
            raise FaultConfigError(f"invalid fault plan: {problems}") from exc

    def for_instrument(self, instrument: str) -> list[FaultSpec]:
        """The wire faults aimed at ``instrument``."""
        return [f for f in self.faults if not f.is_lab_fault and f.instrument == instrument]

    @property
    def lab_faults(self) -> list[FaultSpec]:
        return [f for f in self.faults if f.is_lab_fault]

    def instruments(self) -> set[str]:
        """Names of the instruments the wire faults aim at."""
        return {f.instrument for f in self.faults if not f.is_lab_fault}

    def check_instruments(self, known: Iterable[str]) -> None:
        """Raise :class:`FaultConfigError` if a fault aims at an instrument not in ``known``."""
        known = set(known)
        unknown = sorted(self.instruments() - known)
        if unknown:
            raise FaultConfigError(
                f"faults aim at unknown instrument(s) {', '.join(unknown)}; "
                f"the station has {', '.join(sorted(known))}"
            )


class _Trigger:
    """Runtime state of one fault: decides, message by message, whether it hits."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self.due = spec.after_commands is None and spec.at_time_s is None
        self.since_s: float | None = None
        self.remaining = spec.count

    def active(self, message_number: int, now_s: float, rng: random.Random) -> bool:
        spec = self.spec
        if not self.due:
            if spec.after_commands is not None:
                self.due = message_number > spec.after_commands
            else:
                self.due = now_s >= spec.at_time_s
            if not self.due:
                return False
        if self.since_s is None:
            self.since_s = now_s
        # Not every kind has a window (tip_change has none).
        duration_s = getattr(spec, "duration_s", None)
        if duration_s is not None and now_s >= self.since_s + duration_s:
            return False
        if spec.probability is not None:
            return rng.random() < spec.probability
        if duration_s is not None:
            return True
        if self.remaining > 0:
            self.remaining -= 1
            return True
        return False


class LabFaultSchedule:
    """The lab-level faults of a plan, shared by every wrapped emulator of one station.

    Each fault fires once, on the first message (from any instrument) at which it is due.
    """

    def __init__(self, faults: Iterable[FaultSpec], lab: Any, clock: Clock) -> None:
        self._pending = [_Trigger(f) for f in faults if f.is_lab_fault]
        self._lab = lab
        self._clock = clock
        self._messages = 0
        self._lock = threading.Lock()
        self.fired: list[tuple[float, FaultSpec]] = []

    def check(self) -> None:
        """Count one message and fire the lab faults that are due."""
        with self._lock:
            self._messages += 1
            now = self._clock.now()
            due = [t for t in self._pending if t.active(self._messages, now, _NO_RANDOM)]
            self._pending = [t for t in self._pending if t not in due]
            for trigger in due:
                self.fired.append((now, trigger.spec))
        for trigger in due:
            self._fire(trigger.spec, now)

    def _fire(self, spec: FaultSpec, now: float) -> None:
        log.warning("fault injected at t=%.3f s: %s", now, spec.kind)
        if spec.kind == "temperature_spike":
            self._lab.fridge.spike(spec.delta_K, spec.duration_s)
        elif spec.kind == "tip_change":
            self._lab.tip_change()


class _NoRandom(random.Random):
    """Stands in for an rng where no fault may draw (lab faults have no probability trigger)."""

    def random(self) -> float:  # pragma: no cover - guarded by FaultSpec validation
        raise AssertionError("lab faults have no probability trigger")


_NO_RANDOM = _NoRandom()


def instrument_rng(seed: int, instrument: str) -> random.Random:
    """The reproducible random stream of one instrument's faults."""
    return random.Random(f"{seed}:{instrument}")


class FaultyEmulator:
    """Wraps an emulator and injects wire faults into its traffic.

    ``FaultyEmulator(emulator, faults, rng)`` returns a :class:`FaultyLineEmulator` for a line
    emulator and a :class:`FaultyFrameEmulator` for a frame emulator, so that a transport that
    checks the protocol (``isinstance(e, FrameEmulator)``) sees exactly one of them.

    Args:
        emulator: the instrument emulator to wrap.
        faults: the wire faults aimed at this instrument (lab faults are ignored here; they
            live in ``lab_schedule``).
        rng: random stream for probability triggers and garbling (seeded by the caller).
        clock: station clock, for ``delay`` and ``at_time_s`` triggers; without one, time
            triggers never fire and delays are refused.
        lab_schedule: lab-level faults checked on every message.
    """

    def __new__(cls, emulator: Any, *args: Any, **kwargs: Any) -> FaultyEmulator:
        if cls is FaultyEmulator:
            if hasattr(emulator, "handle_frame"):
                cls = FaultyFrameEmulator
            elif hasattr(emulator, "handle_line"):
                cls = FaultyLineEmulator
            else:
                raise TypeError(
                    f"{type(emulator).__name__} is neither a line nor a frame emulator"
                )
        return super().__new__(cls)

    def __init__(
        self,
        emulator: LineEmulator | FrameEmulator,
        faults: Iterable[FaultSpec],
        rng: random.Random | None = None,
        *,
        clock: Clock | None = None,
        lab_schedule: LabFaultSchedule | None = None,
    ) -> None:
        self.inner = emulator
        self.name = emulator.name
        self._triggers = [_Trigger(f) for f in faults if not f.is_lab_fault]
        if clock is None and any(f.kind == "delay" or f.at_time_s is not None
                                 for f in (t.spec for t in self._triggers)):
            raise FaultConfigError(f"{self.name}: delay and at_time_s faults need a clock")
        self._rng = rng if rng is not None else random.Random(0)
        self._clock = clock
        self._lab_schedule = lab_schedule
        self._lock = threading.Lock()
        self._messages = 0
        self._armed_bits = 0
        self.injected: list[tuple[int, str]] = []  # (message number, kind), for tests and logs

    def reset(self) -> None:
        self.inner.reset()

    def connected(self) -> None:
        self.inner.connected()

    def __getattr__(self, name: str) -> Any:
        # Anything beyond the emulator protocol (status history, the lab...) is the wrapped
        # emulator's, so tests and tools can look through the wrapper.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _begin(self) -> list[FaultSpec]:
        """Count a message, fire due lab faults, and return the wire faults hitting it."""
        if self._lab_schedule is not None:
            self._lab_schedule.check()
        with self._lock:
            self._messages += 1
            now = self._clock.now() if self._clock is not None else 0.0
            active = [
                t.spec for t in self._triggers if t.active(self._messages, now, self._rng)
            ]
            for spec in active:
                self.injected.append((self._messages, spec.kind))
                log.warning("%s: fault injected on message %d: %s", self.name, self._messages,
                            spec.kind)
                if spec.kind == "error_status":
                    if spec.bits is None or self._armed_bits == _DEFAULT_BITS:
                        self._armed_bits = _DEFAULT_BITS
                    else:
                        self._armed_bits |= spec.bits
        kinds = {spec.kind for spec in active}
        if "drop_connection" in kinds:
            raise ConnectionDropped(f"{self.name}: injected connection drop")
        if "restart" in kinds:
            self.inner.reset()
        return active

    def _delay(self, active: list[FaultSpec]) -> None:
        delay_s = sum(spec.delay_s for spec in active if spec.kind == "delay")
        if delay_s > 0:
            self._clock.sleep(delay_s)

    @property
    def messages(self) -> int:
        """Messages handled so far (including the ones a fault swallowed)."""
        return self._messages


class FaultyLineEmulator(FaultyEmulator):
    """Fault wrapper for the ASCII instruments (see :class:`FaultyEmulator`)."""

    def handle_line(self, line: str) -> str:
        active = self._begin()
        kinds = {spec.kind for spec in active}
        if "stall" in kinds:
            return ""
        reply = self.inner.handle_line(line)
        self._delay(active)
        if self._armed_bits:
            reply = self._report_status(line, reply)
        if "garble" in kinds and reply:
            reply = garble_text(reply, self._rng)
        return reply

    def _report_status(self, line: str, reply: str) -> str:
        """OR the armed status bits into the first status query answered in ``reply``."""
        queries = [s for s in line.split(";") if "?" in s]
        parts = _REPLY_SPLIT_RE.split(reply)
        value_slots = [i for i in range(0, len(parts), 2) if parts[i].strip()]
        if len(value_slots) != len(queries):
            return reply  # cannot pair answers with queries: keep the bits armed
        for query, slot in zip(queries, value_slots, strict=True):
            match = _QUERY_RE.match(query)
            if match is None:
                continue
            mnemonic, argument = match.group(1).upper(), match.group(2)
            if mnemonic not in STATUS_QUERIES:
                continue
            try:
                value = int(parts[slot].strip())
            except ValueError:
                continue
            with self._lock:
                bits, self._armed_bits = self._armed_bits, 0
            bit_indexed, default_bits = STATUS_QUERIES[mnemonic]
            bits = bits if bits != _DEFAULT_BITS else default_bits
            if bit_indexed and argument.isdigit():
                value |= (bits >> int(argument)) & 1
            else:
                value |= bits
            # keep the instrument's zero padding (the Lake Shore answers RDGST? with "000")
            parts[slot] = str(value).zfill(len(parts[slot].strip()))
            return "".join(parts)
        return reply


class FaultyFrameEmulator(FaultyEmulator):
    """Fault wrapper for the Nanonis binary protocol (see :class:`FaultyEmulator`)."""

    def handle_frame(self, header: bytes, body: bytes) -> bytes:
        active = self._begin()
        kinds = {spec.kind for spec in active}
        if "stall" in kinds:
            return b""
        reply = self.inner.handle_frame(header, body)
        self._delay(active)
        if self._armed_bits and reply:
            with self._lock:
                self._armed_bits = 0
            reply = with_error_block(reply, INJECTED_ERROR_TEXT)
        if "garble" in kinds and reply:
            reply = garble_frame(reply, self._rng)
        return reply


def garble_text(reply: str, rng: random.Random) -> str:
    """Corrupt the characters of every reply line, keeping separators and terminators.

    At least one character per value is replaced from :data:`GARBLE_ALPHABET`.
    """
    parts = _REPLY_SPLIT_RE.split(reply)
    for i in range(0, len(parts), 2):
        text = list(parts[i])
        if not text:
            continue
        forced = rng.randrange(len(text))
        for j in range(len(text)):
            if j == forced or rng.random() < 0.5:
                text[j] = rng.choice(GARBLE_ALPHABET)
        parts[i] = "".join(text)
    return "".join(parts)


def garble_frame(reply: bytes, rng: random.Random) -> bytes:
    """Corrupt a Nanonis reply frame: the echoed name and a few body bytes.

    The body-size field is kept so the client stays in step with the stream; a client that
    checks the echoed name (as ``nanonis_spm`` does) detects the corruption.
    """
    data = bytearray(reply)
    data[0] ^= 0x80 | rng.randrange(1, 0x80)
    body_start = NANONIS_HEADER_BYTES
    for _ in range(max(1, (len(data) - body_start) // 16)):
        if len(data) > body_start:
            data[rng.randrange(body_start, len(data))] ^= rng.randrange(1, 256)
    return bytes(data)


def with_error_block(reply: bytes, description: str) -> bytes:
    """Return ``reply`` with its (empty) Nanonis error block replaced by an error.

    A reply whose error block already reports something is returned unchanged.
    """
    if len(reply) < NANONIS_HEADER_BYTES + 8 or reply[-8:] != bytes(8):
        return reply
    text = description.encode("ascii")
    body = reply[NANONIS_HEADER_BYTES:-8] + struct.pack(">Ii", 1, len(text)) + text
    header = reply[:32] + struct.pack(">i", len(body)) + reply[36:NANONIS_HEADER_BYTES]
    return header + body


class FaultInjector:
    """Applies one :class:`FaultPlan` to the emulators of one station.

    Args:
        plan: the faults.
        clock: the station clock (times of ``at_time_s`` triggers and of delays).
        lab: the :class:`~stm_andreev.simulators.lab.VirtualLab` lab faults act on (needed
            only if the plan has lab faults).
    """

    def __init__(self, plan: FaultPlan, *, clock: Clock, lab: Any = None) -> None:
        if plan.lab_faults and lab is None:
            raise FaultConfigError("the plan has lab faults but no lab was given")
        self.plan = plan
        self.clock = clock
        self.lab_schedule = LabFaultSchedule(plan.lab_faults, lab, clock)

    def wrap(self, emulator: LineEmulator | FrameEmulator, instrument: str) -> FaultyEmulator:
        """Wrap ``emulator`` (the station's ``instrument``) with its faults and the lab faults."""
        return FaultyEmulator(
            emulator,
            self.plan.for_instrument(instrument),
            instrument_rng(self.plan.seed, instrument),
            clock=self.clock,
            lab_schedule=self.lab_schedule,
        )
