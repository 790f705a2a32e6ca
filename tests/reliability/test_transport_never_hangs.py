"""Whatever comes back on the wire - random bytes, a truncated frame, a reply without its
terminator, silence - every driver call through the in-process transports ends within a
bounded time, either with a value or with one of the exceptions the engine retries
(:data:`stm_andreev.engine.links.LINK_ERRORS`). Anything else would stop an overnight run
(an exception the engine does not know) or freeze it (a hang)."""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stm_andreev.clock import VirtualClock
from stm_andreev.drivers.lakeshore372 import LakeShore372
from stm_andreev.drivers.lockin import SR830LockIn
from stm_andreev.drivers.nanonis.client import NanonisController
from stm_andreev.engine.links import LINK_ERRORS
from stm_andreev.simulators.emulator import NANONIS_HEADER_BYTES
from stm_andreev.simulators.transports.inprocess import EmulatorAdapter, EmulatorSocket

pytestmark = pytest.mark.faults

CALL_BOUND_S = 10.0  # wall-clock bound on one driver call; a healthy call takes milliseconds
EXAMPLES = 60


class CannedLine:
    """A line emulator that answers every query with the same text (or silence)."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def handle_line(self, line: str) -> str:
        return self.reply if "?" in line else ""

    def reset(self) -> None:
        pass

    def connected(self) -> None:
        pass


class CannedFrame:
    """A frame emulator that answers every request with the given bytes (any length)."""

    def __init__(self, reply: Callable[[bytes], bytes]) -> None:
        self.reply = reply

    def handle_frame(self, header: bytes, body: bytes) -> bytes:
        return self.reply(header)

    def reset(self) -> None:
        pass

    def connected(self) -> None:
        pass


def ends_in_time(call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a thread; fail the test if it has not ended after CALL_BOUND_S."""
    outcome: dict[str, BaseException | None] = {"error": None}
    done = threading.Event()

    def target() -> None:
        try:
            call()
        except BaseException as exc:  # judged by the caller
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    assert done.wait(CALL_BOUND_S), f"driver call hung for more than {CALL_BOUND_S} s"
    return outcome["error"]


def assert_link_error_or_value(error: BaseException | None) -> None:
    if error is not None:
        assert isinstance(error, LINK_ERRORS), f"{type(error).__name__}: {error}"


wire_text = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["", "\n", "1.0", "1.0,", ",", "nan", "inf", "1e999", "-", "\r\n", "0,0"]),
)
terminator = st.sampled_from(["\n", "\r\n", "", "\n\n"])


FIXTURES_OK = [HealthCheck.function_scoped_fixture]  # `outcome` only counts examples


def record(outcome, instrument: str) -> None:
    """Count one example into this test's reliability record."""
    outcome.fault, outcome.instrument = "random or truncated replies (hypothesis)", instrument
    outcome.spectra_planned = 0
    outcome.injections += 1
    outcome.happened = ("every driver call ended within the bound, with a value or a retried "
                        "link error")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=FIXTURES_OK)
@given(reply=wire_text, end=terminator, which=st.sampled_from(["snap", "sensitivity", "tc"]))
def test_lockin_reads_of_any_reply_end(outcome, reply, end, which):
    record(outcome, "lockin")
    clock = VirtualClock()
    lockin = SR830LockIn(EmulatorAdapter(CannedLine(reply + end), clock=clock, timeout_s=1.0))
    call = {
        "snap": lockin.snap_xy,
        "sensitivity": lambda: lockin.sensitivity,
        "tc": lambda: lockin.time_constant,
    }[which]
    assert_link_error_or_value(ends_in_time(call))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=FIXTURES_OK)
@given(reply=wire_text, end=terminator, which=st.sampled_from(["kelvin", "status", "range"]))
def test_lakeshore_reads_of_any_reply_end(outcome, reply, end, which):
    record(outcome, "fridge")
    clock = VirtualClock()
    ls = LakeShore372(EmulatorAdapter(CannedLine(reply + end), clock=clock, timeout_s=1.0))
    call = {
        "kelvin": lambda: ls.ch_A.kelvin,
        "status": lambda: ls.ch_A.reading_status,
        "range": lambda: ls.sample_heater.heater_range,
    }[which]
    assert_link_error_or_value(ends_in_time(call))


def frame_replies():
    """Reply frames: random bytes, a correct header with a lying or short body, truncations."""
    random_bytes = st.binary(max_size=120).map(lambda b: lambda header: b)

    @st.composite
    def framed(draw):
        body = draw(st.binary(max_size=40))
        announced = draw(st.one_of(st.just(len(body)), st.integers(-5, 200)))
        cut = draw(st.integers(0, NANONIS_HEADER_BYTES + len(body)))
        echo = draw(st.booleans())

        def reply(header: bytes) -> bytes:
            name = header[:32] if echo else b"Other.Command".ljust(32, b"\0")
            frame = name + struct.pack(">iI", announced, 0) + body
            return frame[:cut] if cut < len(frame) else frame

        return reply

    return st.one_of(random_bytes, framed())


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=FIXTURES_OK)
@given(reply=frame_replies(), which=st.sampled_from(["bias", "status", "gains"]))
def test_nanonis_reads_of_any_reply_end(outcome, reply, which):
    record(outcome, "stm")
    clock = VirtualClock()
    emulator = CannedFrame(reply)
    factory = EmulatorSocket.factory(emulator, clock=clock)
    error = ends_in_time(lambda: NanonisController(socket_factory=factory, timeout_s=1.0,
                                                   reconnect_attempts=1))
    assert error is None  # connecting sends nothing
    controller = NanonisController(socket_factory=factory, timeout_s=1.0, reconnect_attempts=1)
    call = {
        "bias": controller.get_bias,
        "status": controller.feedback_status,
        "gains": controller.current_gains,
    }[which]
    assert_link_error_or_value(ends_in_time(call))
