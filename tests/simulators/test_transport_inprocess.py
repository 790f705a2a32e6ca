"""The in-process transports: EmulatorAdapter (pymeasure) and EmulatorSocket (Nanonis frames)."""

from __future__ import annotations

import socket
import struct

import pytest
from pymeasure.instruments import Instrument
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from stm_andreev.clock import VirtualClock
from stm_andreev.simulators.transports.errors import FrameError, TransportClosedError
from stm_andreev.simulators.transports.inprocess import (
    EmulatorAdapter,
    EmulatorSocket,
    split_lines,
)
from tests.simulators.test_transport_doubles import (
    EchoFrameEmulator,
    EchoLineEmulator,
    JoinedLineEmulator,
    parse_reply,
    request_frame,
)


def test_split_lines_accepts_lf_cr_crlf_and_drops_blank_lines():
    assert split_lines("A\r\nB\rC\n\n  \nD") == (["A", "B", "C"], "D")
    assert split_lines("") == ([], "")


def test_write_feeds_one_line_per_terminator_and_reads_one_line_each():
    emulator = EchoLineEmulator()
    adapter = EmulatorAdapter(emulator)
    adapter.write("VAL 2.5")
    adapter.write_bytes(b"VAL?\r\n\r\n*IDN?\r")
    assert emulator.lines == ["VAL 2.5", "VAL?", "*IDN?"]
    assert adapter.read() == "2.5"
    assert adapter.read() == "TEST,ECHO,0,1.0"


def test_write_bytes_waits_for_the_terminator():
    emulator = EchoLineEmulator()
    adapter = EmulatorAdapter(emulator)
    adapter.write_bytes(b"VA")
    assert emulator.lines == []
    adapter.write_bytes(b"L?\n")
    assert emulator.lines == ["VAL?"]


def test_several_queries_on_one_line_give_one_read_each():
    adapter = EmulatorAdapter(EchoLineEmulator())
    adapter.write("VAL 3;VAL?;LIAS?;")
    assert [adapter.read(), adapter.read()] == ["3", "0"]


def test_crlf_replies_lose_the_whole_terminator_by_default():
    adapter = EmulatorAdapter(JoinedLineEmulator())
    adapter.write("VAL 1;VAL?;LIAS?")
    assert adapter.read() == "1;0"


def test_explicit_read_termination_behaves_like_pyvisa():
    adapter = EmulatorAdapter(JoinedLineEmulator(), read_termination="\n")
    adapter.write("VAL?")
    assert adapter.read() == "0\r"  # pyvisa strips only the termination it was given


def test_read_with_nothing_pending_times_out_like_pyvisa_and_costs_the_timeout():
    clock = VirtualClock()
    adapter = EmulatorAdapter(EchoLineEmulator(), clock=clock, timeout_s=1.5)
    adapter.write("VAL 1")  # a set command: silent
    with pytest.raises(VisaIOError) as info:
        adapter.read()
    assert info.value.error_code == StatusCode.error_timeout
    assert clock.now() == pytest.approx(1.5)


def test_a_reply_later_than_the_timeout_is_stale():
    clock = VirtualClock()
    emulator = EchoLineEmulator(clock=clock, slow_s=5.0)
    adapter = EmulatorAdapter(emulator, clock=clock, timeout_s=1.0)
    adapter.write("SLOW?")
    with pytest.raises(VisaIOError):
        adapter.read()
    adapter.write("VAL?")
    # the late answer is still queued ahead of the new one, as on a real link
    assert adapter.read() == "done"
    assert adapter.read() == "0"


def test_replies_queued_before_a_late_one_are_read_normally():
    clock = VirtualClock()
    adapter = EmulatorAdapter(EchoLineEmulator(clock=clock, slow_s=5.0), clock=clock,
                              timeout_s=1.0)
    adapter.write("VAL?")
    adapter.write("SLOW?")
    assert adapter.read() == "0"
    with pytest.raises(VisaIOError):
        adapter.read()  # the client stops waiting for the slow answer ...
    assert adapter.read() == "done"  # ... which is read later, stale
    assert clock.now() == pytest.approx(5.0)  # the late read cost no extra time


def test_late_frame_reply_times_out_once_then_is_stale():
    clock = VirtualClock()

    class Slow(EchoFrameEmulator):
        def handle_frame(self, header, body):
            if header.startswith(b"Slow"):
                clock.sleep(10.0)
            return super().handle_frame(header, body)

    sock = EmulatorSocket(Slow(), clock=clock, timeout_s=2.0)
    sock.sendall(request_frame("Fast.Get") + request_frame("Slow.Get"))
    assert parse_reply(sock.recv(48))[0] == "Fast.Get"
    with pytest.raises(socket.timeout):
        sock.recv(48)
    assert parse_reply(sock.recv(48))[0] == "Slow.Get"


def test_a_slow_reply_within_the_timeout_is_fine():
    clock = VirtualClock()
    adapter = EmulatorAdapter(EchoLineEmulator(clock=clock, slow_s=0.5), clock=clock,
                              timeout_s=1.0)
    adapter.write("SLOW?")
    assert adapter.read() == "done"


def test_read_bytes_and_flush():
    adapter = EmulatorAdapter(EchoLineEmulator())
    adapter.write("VAL 12;VAL?;*IDN?")
    assert adapter.read_bytes(2) == b"12"
    assert adapter.read_bytes(10, break_on_termchar=True) == b"\n"
    assert adapter.read_bytes(-1) == b"TEST,ECHO,0,1.0\n"
    assert adapter.read_bytes(-1) == b""
    with pytest.raises(VisaIOError):
        adapter.read_bytes(1)
    adapter.write("VAL?")
    adapter.flush_read_buffer()
    with pytest.raises(VisaIOError):
        adapter.read()


def test_binary_bytes_survive_the_text_interface():
    class Binary(EchoLineEmulator):
        def handle_line(self, line):
            return struct.pack("<2f", 1.0, -2.0).decode("latin-1")

    adapter = EmulatorAdapter(Binary())
    adapter.write("CAPTUREGET? 0,1")
    assert struct.unpack("<2f", adapter.read_bytes(8)) == (1.0, -2.0)


def test_pymeasure_instrument_runs_on_the_adapter():
    emulator = EchoLineEmulator()
    instrument = Instrument(EmulatorAdapter(emulator), "echo", includeSCPI=False)
    instrument.write("VAL 4.25")
    assert instrument.values("VAL?") == [4.25]
    assert instrument.ask("*IDN?") == "TEST,ECHO,0,1.0"


def test_closed_adapter_refuses_io():
    adapter = EmulatorAdapter(EchoLineEmulator())
    adapter.close()
    with pytest.raises(TransportClosedError):
        adapter.write("VAL?")
    with pytest.raises(TransportClosedError):
        adapter.reopen()


def test_adapter_validates_its_arguments():
    with pytest.raises(ValueError, match="timeout_s"):
        EmulatorAdapter(EchoLineEmulator(), timeout_s=0)
    with pytest.raises(ValueError, match="read_termination"):
        EmulatorAdapter(EchoLineEmulator(), read_termination="")


def test_connected_is_called_per_connection():
    emulator = EchoLineEmulator()
    adapter = EmulatorAdapter(emulator)
    assert emulator.connections == 1
    adapter.reopen()
    assert emulator.connections == 2


# ---- EmulatorSocket -------------------------------------------------------------------------


def test_socket_assembles_frames_from_pieces_and_answers():
    emulator = EchoFrameEmulator()
    sock = EmulatorSocket(emulator)
    frame = request_frame("Bias.Set", struct.pack(">f", 0.5))
    sock.sendall(frame[:10])
    sock.sendall(frame[10:41])
    assert emulator.frames == []
    assert sock.send(frame[41:]) == len(frame) - 41
    assert emulator.frames == ["Bias.Set"]
    reply = sock.recv(40) + sock.recv(1024)
    assert parse_reply(reply) == ("Bias.Set", struct.pack(">f", 0.5) + bytes(8))


def test_socket_exact_reply_bytes_for_two_frames_in_one_send():
    sock = EmulatorSocket(EchoFrameEmulator())
    sock.sendall(request_frame("A.Get") + request_frame("B.Set", b"\x01", respond=False))
    expected = b"A.Get".ljust(32, b"\0") + bytes.fromhex("00000008 00000000") + bytes(8)
    assert sock.recv(4096) == expected


def test_socket_recv_with_nothing_pending_times_out_on_the_clock():
    clock = VirtualClock()
    sock = EmulatorSocket(EchoFrameEmulator(), clock=clock, timeout_s=3.0)
    with pytest.raises(socket.timeout):
        sock.recv(40)
    assert clock.now() == pytest.approx(3.0)


def test_socket_rejects_a_negative_body_size():
    sock = EmulatorSocket(EchoFrameEmulator())
    bad = b"Bias.Set".ljust(32, b"\0") + struct.pack(">iHH", -4, 1, 0)
    with pytest.raises(FrameError, match="negative body size"):
        sock.sendall(bad)


def test_socket_factory_connects_each_call():
    emulator = EchoFrameEmulator()
    factory = EmulatorSocket.factory(emulator)
    with factory("127.0.0.1", 6501, 1.0) as first, factory("127.0.0.1", 6502, 1.0):
        assert first.gettimeout() == 1.0
    assert emulator.connections == 2
    with pytest.raises(TransportClosedError):
        first.sendall(request_frame("A.Get"))


def test_socket_settimeout_validates():
    sock = EmulatorSocket(EchoFrameEmulator())
    with pytest.raises(ValueError):
        sock.settimeout(0)
    sock.settimeout(None)
    assert sock.gettimeout() > 0
