"""Fault injection: every kind, observed from a client, in-process and over TCP."""

from __future__ import annotations

import random
import socket
import struct

import pytest
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.faults import (
    FaultConfigError,
    FaultInjector,
    FaultPlan,
    FaultyEmulator,
    FaultyFrameEmulator,
    FaultyLineEmulator,
    garble_text,
    with_error_block,
)
from stm_andreev.simulators.transports.inprocess import EmulatorAdapter, EmulatorSocket
from stm_andreev.simulators.transports.tcp import FrameServer, LineServer
from tests.simulators.test_transport_doubles import (
    EchoFrameEmulator,
    EchoLineEmulator,
    JoinedLineEmulator,
    parse_reply,
    request_frame,
)
from tests.simulators.test_transport_tcp import connect, recv_frame, recv_until

pytestmark = pytest.mark.faults


class FakeFridge:
    def __init__(self) -> None:
        self.spikes: list[tuple[float, float]] = []

    def spike(self, delta_K: float, duration_s: float) -> None:
        self.spikes.append((delta_K, duration_s))


class FakeLab:
    """Records the lab-level faults (the VirtualLab's spike and tip_change)."""

    def __init__(self) -> None:
        self.fridge = FakeFridge()
        self.tip_changes = 0

    def tip_change(self) -> None:
        self.tip_changes += 1


def wrapped_adapter(faults: list[dict], *, clock=None, emulator=None, timeout_s=1.0):
    clock = clock or VirtualClock()
    emulator = emulator or EchoLineEmulator()
    plan = FaultPlan.from_config(faults, seed=1)
    faulty = FaultInjector(plan, clock=clock).wrap(emulator, "lockin")
    return EmulatorAdapter(faulty, clock=clock, timeout_s=timeout_s), emulator, clock


def ask(adapter: EmulatorAdapter, command: str) -> str:
    adapter.write(command)
    return adapter.read()


# ---- the plan -------------------------------------------------------------------------------


def test_plan_from_a_list_of_dicts_and_from_a_mapping():
    plan = FaultPlan.from_config(
        {"seed": 4, "faults": [{"kind": "drop_connection", "instrument": "lockin",
                                "after_commands": 40},
                               {"kind": "tip_change", "at_time_s": 60}]}
    )
    assert plan.seed == 4
    assert [f.kind for f in plan.for_instrument("lockin")] == ["drop_connection"]
    assert [f.kind for f in plan.lab_faults] == ["tip_change"]
    assert plan.instruments() == {"lockin"}
    assert FaultPlan.from_config(None).faults == ()


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "delay", "instrument": "lockin", "after_commands": 1}, r"delay_s: missing"),
        ({"kind": "stall", "instrument": "lockin"}, "needs a trigger"),
        ({"kind": "stall", "instrument": "lockin", "after_commands": 1, "at_time_s": 2},
         "not both"),
        ({"kind": "garble", "after_commands": 1}, r"instrument: missing"),
        ({"kind": "tip_change", "probability": 0.5}, r"probability: unknown key"),
        ({"kind": "temperature_spike", "at_time_s": 1, "delta_K": 0.1}, r"duration_s: missing"),
        ({"kind": "melt", "instrument": "lockin", "after_commands": 1}, "faults.0.kind"),
        ({"kind": "garble", "instrument": "lockin", "probability": 2}, "probability"),
        ({"kind": "garble", "instrument": "lockin", "after_commands": 1, "colour": 1},
         "colour"),
    ],
)
def test_invalid_plans_name_the_problem(fault, message):
    with pytest.raises(FaultConfigError, match=message):
        FaultPlan.from_config([fault])


def test_unknown_instruments_are_reported():
    plan = FaultPlan.from_config([{"kind": "stall", "instrument": "lockn", "after_commands": 1}])
    with pytest.raises(FaultConfigError, match="lockn"):
        plan.check_instruments(["lockin", "nanonis"])


def test_station_schema_fault_objects_are_accepted():
    from stm_andreev.config.station import DelayFault, TipChangeFault

    given = [
        DelayFault(kind="delay", instrument="lockin", after_commands=2, delay_s=1.5),
        TipChangeFault(kind="tip_change", at_time_s=10.0),
    ]
    plan = FaultPlan.from_config(given)
    # one schema: the simulator runs the station file's own fault objects
    assert list(plan.faults) == given
    assert plan.faults[0].delay_s == 1.5
    assert plan.faults[1].is_lab_fault and plan.lab_faults == [given[1]]
    assert plan.faults[1].summary() == "tip_change lab at t=10 s"


def test_wrapper_matches_the_emulator_family():
    line = FaultyEmulator(EchoLineEmulator(), [])
    frame = FaultyEmulator(EchoFrameEmulator(), [])
    assert isinstance(line, FaultyLineEmulator) and not hasattr(line, "handle_frame")
    assert isinstance(frame, FaultyFrameEmulator) and not hasattr(frame, "handle_line")
    with pytest.raises(TypeError):
        FaultyEmulator(object(), [])


def test_wrapper_looks_through_to_the_emulator():
    inner = EchoLineEmulator()
    wrapped = FaultyEmulator(inner, [])
    wrapped.handle_line("VAL 2")
    assert (wrapped.name, wrapped.value, wrapped.lines) == ("echo", 2.0, ["VAL 2"])
    wrapped.reset()
    assert inner.resets == 1


# ---- each kind, in-process ------------------------------------------------------------------


def test_drop_connection_after_n_commands():
    adapter, emulator, _ = wrapped_adapter(
        [{"kind": "drop_connection", "instrument": "lockin", "after_commands": 2}])
    adapter.write("VAL 1")
    assert ask(adapter, "VAL?") == "1"
    with pytest.raises(VisaIOError) as info:
        adapter.write("VAL 5")
    assert info.value.error_code == StatusCode.error_connection_lost
    assert emulator.lines == ["VAL 1", "VAL?"]  # the dropped command never executed
    with pytest.raises(VisaIOError):
        ask(adapter, "VAL?")
    adapter.reopen()
    assert ask(adapter, "VAL?") == "1"


def test_delay_moves_the_clock_and_a_late_reply_times_out():
    adapter, _, clock = wrapped_adapter(
        [{"kind": "delay", "instrument": "lockin", "after_commands": 0, "delay_s": 0.5},
         {"kind": "delay", "instrument": "lockin", "after_commands": 1, "delay_s": 5.0}],
        timeout_s=1.0)
    assert ask(adapter, "VAL?") == "0"
    assert clock.now() == pytest.approx(0.5)
    with pytest.raises(VisaIOError):
        ask(adapter, "*IDN?")  # 5 s late: the client gave up after 1 s
    assert adapter.read() == "TEST,ECHO,0,1.0"  # ... and the stale reply is still there


def test_stall_swallows_the_command_and_costs_the_timeout():
    adapter, emulator, clock = wrapped_adapter(
        [{"kind": "stall", "instrument": "lockin", "after_commands": 1, "count": 2}],
        timeout_s=2.0)
    assert ask(adapter, "VAL?") == "0"
    for _ in range(2):
        with pytest.raises(VisaIOError) as info:
            ask(adapter, "VAL?")
        assert info.value.error_code == StatusCode.error_timeout
    assert clock.now() == pytest.approx(4.0)
    assert ask(adapter, "VAL?") == "0"
    assert emulator.lines == ["VAL?", "VAL?"]


def test_stall_for_a_duration_of_station_time():
    adapter, _, clock = wrapped_adapter(
        [{"kind": "stall", "instrument": "lockin", "at_time_s": 10.0, "duration_s": 5.0}],
        timeout_s=2.0)
    assert ask(adapter, "VAL?") == "0"
    clock.advance(10.0)
    for _ in range(3):  # t = 10, 12, 14: inside the window
        with pytest.raises(VisaIOError):
            ask(adapter, "VAL?")
    assert ask(adapter, "VAL?") == "0"  # t = 16


def test_garble_corrupts_the_value_but_keeps_the_line():
    adapter, _, _ = wrapped_adapter(
        [{"kind": "garble", "instrument": "lockin", "after_commands": 1}])
    adapter.write("VAL 12.5")
    garbled = ask(adapter, "VAL?")
    assert garbled != "12.5" and len(garbled) == 4
    with pytest.raises(ValueError):
        float(garbled)
    assert ask(adapter, "VAL?") == "12.5"  # the stream stayed in step


def test_garble_keeps_separators_and_terminators():
    text = garble_text("+1.0E-01;0\r\n", random.Random(3))
    assert text[-2:] == "\r\n" and text.count(";") == 1 and len(text) == 12
    assert text != "+1.0E-01;0\r\n"


def test_garble_with_probability_is_seeded():
    def run(seed: int) -> list[str]:
        faulty = FaultyEmulator(
            EchoLineEmulator(),
            FaultPlan.from_config([{"kind": "garble", "instrument": "x",
                                    "probability": 0.3}]).faults,
            random.Random(seed),
        )
        return [faulty.handle_line("VAL?") for _ in range(40)]

    first = run(7)
    assert first == run(7)
    assert 3 <= sum(reply != "0\n" for reply in first) <= 25
    assert first != run(8)


def test_error_status_sets_the_next_status_query_once():
    adapter, _, _ = wrapped_adapter(
        [{"kind": "error_status", "instrument": "lockin", "after_commands": 0, "bits": 0b101}])
    adapter.write("VAL 1")  # fires here, reported by the next status query
    assert ask(adapter, "LIAS? 2") == "1"
    assert ask(adapter, "LIAS?") == "0"  # latched bits cleared by the read


def test_error_status_default_bits_per_query_and_lake_shore_joined_replies():
    adapter, _, _ = wrapped_adapter(
        [{"kind": "error_status", "instrument": "lockin", "after_commands": 0}],
        emulator=JoinedLineEmulator())
    assert ask(adapter, "VAL?;LIAS?") == "0;1"  # LIAS? bit 0: input overload


def test_restart_loses_the_settings():
    adapter, emulator, _ = wrapped_adapter(
        [{"kind": "restart", "instrument": "lockin", "after_commands": 2}])
    adapter.write("VAL 9")
    assert ask(adapter, "VAL?") == "9"
    assert ask(adapter, "VAL?") == "0"
    assert emulator.resets == 1


def test_lab_faults_fire_once_on_the_next_command_of_any_instrument():
    clock = VirtualClock()
    lab = FakeLab()
    plan = FaultPlan.from_config([
        {"kind": "temperature_spike", "at_time_s": 100, "delta_K": 0.05, "duration_s": 30},
        {"kind": "tip_change", "after_commands": 3},
    ])
    injector = FaultInjector(plan, clock=clock, lab=lab)
    lockin = EmulatorAdapter(injector.wrap(EchoLineEmulator(), "lockin"), clock=clock)
    nanonis = EmulatorSocket(injector.wrap(EchoFrameEmulator(), "nanonis"), clock=clock)
    lockin.write("VAL 1")
    nanonis.sendall(request_frame("Bias.Get"))
    lockin.write("VAL 2")
    assert (lab.tip_changes, lab.fridge.spikes) == (0, [])
    nanonis.sendall(request_frame("Bias.Get"))  # 4th message of the station
    assert lab.tip_changes == 1
    clock.advance(100)
    lockin.write("VAL 3")
    lockin.write("VAL 4")
    assert lab.fridge.spikes == [(0.05, 30.0)]
    assert lab.tip_changes == 1
    assert [spec.kind for _, spec in injector.lab_schedule.fired] == [
        "tip_change", "temperature_spike"]


def test_lab_faults_need_a_lab():
    plan = FaultPlan.from_config([{"kind": "tip_change", "at_time_s": 1}])
    with pytest.raises(FaultConfigError, match="lab"):
        FaultInjector(plan, clock=VirtualClock())


def test_time_faults_need_a_clock():
    specs = FaultPlan.from_config([{"kind": "stall", "instrument": "x", "at_time_s": 1}]).faults
    with pytest.raises(FaultConfigError, match="clock"):
        FaultyEmulator(EchoLineEmulator(), specs)


# ---- frames, in-process ---------------------------------------------------------------------


def frame_socket(faults: list[dict], clock=None):
    clock = clock or VirtualClock()
    plan = FaultPlan.from_config(faults, seed=2)
    emulator = EchoFrameEmulator()
    sock = EmulatorSocket(FaultInjector(plan, clock=clock).wrap(emulator, "nanonis"),
                          clock=clock, timeout_s=1.0)
    return sock, emulator, clock


def test_frame_drop_reads_eof_then_the_pipe_is_broken():
    sock, emulator, _ = frame_socket(
        [{"kind": "drop_connection", "instrument": "nanonis", "after_commands": 0}])
    sock.sendall(request_frame("Bias.Get"))
    assert sock.recv(40) == b""
    assert emulator.frames == []
    with pytest.raises(BrokenPipeError):
        sock.sendall(request_frame("Bias.Get"))


def test_frame_stall_times_out():
    sock, _, clock = frame_socket(
        [{"kind": "stall", "instrument": "nanonis", "after_commands": 0}])
    sock.sendall(request_frame("Bias.Get"))
    with pytest.raises(socket.timeout):
        sock.recv(40)
    assert clock.now() == pytest.approx(1.0)


def test_frame_error_status_fills_the_error_block():
    sock, _, _ = frame_socket(
        [{"kind": "error_status", "instrument": "nanonis", "after_commands": 0}])
    sock.sendall(request_frame("Bias.Get", struct.pack(">f", 1.0)))
    name, body = parse_reply(sock.recv(4096))
    text = b"Injected fault: error status"
    assert name == "Bias.Get"
    assert body == struct.pack(">fIi", 1.0, 1, len(text)) + text


def test_with_error_block_keeps_an_existing_error():
    reply = b"X".ljust(32, b"\0") + struct.pack(">iI", 10, 0) + struct.pack(">Ii", 1, 2) + b"no"
    assert with_error_block(reply, "other") == reply


def test_frame_garble_corrupts_name_and_keeps_length():
    sock, _, _ = frame_socket([{"kind": "garble", "instrument": "nanonis", "after_commands": 0}])
    sock.sendall(request_frame("Bias.Get", bytes(16)))
    reply = sock.recv(4096)
    assert len(reply) == 40 + 24 and struct.unpack_from(">i", reply, 32) == (24,)
    assert not reply.startswith(b"Bias.Get")


def test_frame_restart_and_delay():
    sock, emulator, clock = frame_socket(
        [{"kind": "restart", "instrument": "nanonis", "after_commands": 1},
         {"kind": "delay", "instrument": "nanonis", "after_commands": 1, "delay_s": 0.25}])
    sock.sendall(request_frame("A.Get"))
    sock.recv(4096)
    sock.sendall(request_frame("A.Get"))
    assert parse_reply(sock.recv(4096))[0] == "A.Get"
    assert emulator.resets == 1
    assert clock.now() == pytest.approx(0.25)


# ---- over TCP -------------------------------------------------------------------------------


@pytest.mark.tcp
def test_tcp_line_faults_drop_stall_garble():
    clock = VirtualClock()
    plan = FaultPlan.from_config([
        {"kind": "garble", "instrument": "lockin", "after_commands": 0},
        {"kind": "stall", "instrument": "lockin", "after_commands": 1},
        {"kind": "drop_connection", "instrument": "lockin", "after_commands": 3},
    ])
    emulator = FaultInjector(plan, clock=clock).wrap(EchoLineEmulator(), "lockin")
    with LineServer(emulator) as server, connect(server.address) as sock:
        sock.sendall(b"VAL?\n")
        garbled = recv_until(sock, b"\n")
        assert garbled != b"0\n" and len(garbled) == 2
        sock.settimeout(0.2)
        sock.sendall(b"VAL?\n")  # stalled: no answer
        with pytest.raises(socket.timeout):
            sock.recv(16)
        sock.settimeout(3.0)
        sock.sendall(b"VAL?\n")
        assert recv_until(sock, b"\n") == b"0\n"
        sock.sendall(b"VAL?\n")  # the 4th: the server hangs up
        assert sock.recv(16) == b""
        with connect(server.address) as again:  # reconnecting works
            again.sendall(b"VAL?\n")
            assert recv_until(again, b"\n") == b"0\n"


@pytest.mark.tcp
def test_tcp_frame_faults_error_status_and_drop():
    clock = VirtualClock()
    plan = FaultPlan.from_config([
        {"kind": "error_status", "instrument": "nanonis", "after_commands": 0},
        {"kind": "drop_connection", "instrument": "nanonis", "after_commands": 1},
    ])
    emulator = FaultInjector(plan, clock=clock).wrap(EchoFrameEmulator(), "nanonis")
    with FrameServer(emulator, ports=(0, 0)) as server:
        first = connect(("127.0.0.1", server.ports[0]))
        try:
            first.sendall(request_frame("Bias.Get"))
            _, body = parse_reply(recv_frame(first))
            assert struct.unpack_from(">I", body, 0) == (1,)
            first.sendall(request_frame("Bias.Get"))
            assert first.recv(16) == b""
        finally:
            first.close()
        with connect(("127.0.0.1", server.ports[1])) as second:
            second.sendall(request_frame("Bias.Get"))
            assert parse_reply(recv_frame(second)) == ("Bias.Get", bytes(8))


@pytest.mark.tcp
def test_tcp_delay_and_restart():
    clock = VirtualClock()
    plan = FaultPlan.from_config([
        {"kind": "delay", "instrument": "lockin", "after_commands": 1, "delay_s": 30.0},
        {"kind": "restart", "instrument": "lockin", "after_commands": 2},
    ])
    inner = EchoLineEmulator()
    emulator = FaultInjector(plan, clock=clock).wrap(inner, "lockin")
    with LineServer(emulator) as server, connect(server.address) as sock:
        sock.sendall(b"VAL 5\n")
        sock.sendall(b"VAL?\n")  # delayed: answered once 30 s of station time have passed
        assert recv_until(sock, b"\n") == b"5\n"
        assert clock.now() == pytest.approx(30.0)
        sock.sendall(b"VAL?\n")  # the instrument was power-cycled first
        assert recv_until(sock, b"\n") == b"0\n"
    assert inner.resets == 1
