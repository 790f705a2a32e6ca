"""Loopback TCP servers: exact bytes over plain sockets, pyvisa-py, concurrency, shutdown."""

from __future__ import annotations

import socket
import struct
import threading

import pytest
import pyvisa

from stm_andreev.simulators.transports import tcp
from stm_andreev.simulators.transports.errors import ServerError
from stm_andreev.simulators.transports.tcp import FrameServer, LineServer
from tests.simulators.test_transport_doubles import (
    EchoFrameEmulator,
    EchoLineEmulator,
    JoinedLineEmulator,
    parse_reply,
    request_frame,
)

pytestmark = pytest.mark.tcp
TIMEOUT_S = 3.0


def connect(address: tuple[str, int]) -> socket.socket:
    return socket.create_connection(address, timeout=TIMEOUT_S)


def recv_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"server hung up after {data!r}")
        data += chunk
    return data


def assert_hung_up(sock: socket.socket) -> None:
    """The server closed the connection: EOF, or a reset if it never accepted it."""
    try:
        assert sock.recv(16) == b""
    except ConnectionResetError:
        pass


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"server hung up after {data!r}")
        data += chunk
    return data


def recv_frame(sock: socket.socket) -> bytes:
    header = recv_exactly(sock, 40)
    (size,) = struct.unpack_from(">i", header, 32)
    return header + recv_exactly(sock, size)


def test_line_server_exact_bytes_over_a_plain_socket():
    emulator = JoinedLineEmulator()
    with LineServer(emulator) as server, connect(server.address) as sock:
        assert server.host == "127.0.0.1" and server.port > 0
        sock.sendall(b"\nVAL 2;VAL?;LIAS?\r\n")
        assert recv_until(sock, b"\r\n") == b"2;0\r\n"
        # a line split over two packets, CR-terminated
        sock.sendall(b"VA")
        sock.sendall(b"L?\r")
        assert recv_until(sock, b"\r\n") == b"2\r\n"
    assert emulator.lines == ["VAL 2;VAL?;LIAS?", "VAL?"]
    assert emulator.connections == 1


def test_line_server_chunking_and_line_ends():
    """Lines whole, several per chunk, split, blank, and ended by LF, CR or CRLF.

    Waiting for each reply keeps the chunks apart on the wire (the silent ones may still
    merge with the next, which the server must handle all the same).
    """
    emulator = EchoLineEmulator()
    exchanges = [(b"VAL 1\n", b""), (b"   \n", b""), (b"\n", b""), (b"VAL?\nVAL?\n", b"1\n1\n"),
                 (b"VAL 2\r\nVA", b""), (b"L?\n", b"2\n"), (b"VAL?\r", b"2\n"),
                 (b"\nVAL?", b""), (b"\r\n", b"2\n"), (b" \t\r\n", b""), (b"VAL?\n", b"2\n")]
    with LineServer(emulator) as server, connect(server.address) as sock:
        for chunk, reply in exchanges:
            sock.sendall(chunk)
            if reply:
                assert recv_exactly(sock, len(reply)) == reply
    assert emulator.lines == ["VAL 1", "VAL?", "VAL?", "VAL 2", "VAL?", "VAL?", "VAL?",
                              "VAL?"]


def test_line_server_hangs_up_on_an_endless_line(monkeypatch):
    monkeypatch.setattr(tcp, "MAX_LINE_CHARS", 1000)
    with LineServer(EchoLineEmulator()) as server, connect(server.address) as sock:
        sock.sendall(b"VAL?\n")
        assert recv_until(sock, b"\n") == b"0\n"
        sock.sendall(b"x" * 1001)
        assert_hung_up(sock)


def test_line_server_with_pyvisa_py():
    rm = pyvisa.ResourceManager("@py")
    with LineServer(EchoLineEmulator()) as server:
        assert server.visa_address == f"TCPIP::127.0.0.1::{server.port}::SOCKET"
        inst = rm.open_resource(server.visa_address, read_termination="\n",
                                write_termination="\n", timeout=int(TIMEOUT_S * 1000))
        try:
            inst.write("VAL 7.5")
            assert inst.query("VAL?") == "7.5"
            assert inst.query("*IDN?") == "TEST,ECHO,0,1.0"
            inst.timeout = 200  # ms: a silent command must time out, not hang
            with pytest.raises(pyvisa.errors.VisaIOError):
                inst.query("VAL 1")
        finally:
            inst.close()
    rm.close()


def test_line_server_refuses_clients_beyond_max_clients():
    with LineServer(EchoLineEmulator(), max_clients=1) as server:
        with connect(server.address) as first, connect(server.address) as second:
            assert second.recv(16) == b""  # hung up on at once
            first.sendall(b"VAL?\n")
            assert recv_until(first, b"\n") == b"0\n"


def test_two_clients_share_one_instrument():
    with LineServer(EchoLineEmulator()) as server:
        with connect(server.address) as a, connect(server.address) as b:
            a.sendall(b"VAL 3;VAL?\n")
            assert recv_until(a, b"\n") == b"3\n"  # a's set has executed ...
            b.sendall(b"VAL?\n")
            assert recv_until(b, b"\n") == b"3\n"  # ... and b sees it


def test_frame_server_answers_with_exact_bytes():
    with FrameServer(EchoFrameEmulator(), ports=(0,)) as server:
        (port,) = server.ports
        with connect(("127.0.0.1", port)) as sock:
            frame = request_frame("Bias.Set", struct.pack(">f", 0.5))
            sock.sendall(frame[:20])
            sock.sendall(frame[20:])
            reply = recv_frame(sock)
    assert reply == (b"Bias.Set".ljust(32, b"\0") + bytes.fromhex("0000000c 00000000 3f000000")
                     + bytes(8))


def test_frame_server_serves_ports_concurrently():
    emulator = EchoFrameEmulator()
    with FrameServer(emulator) as server:
        assert len(set(server.ports)) == 4
        busy = connect(("127.0.0.1", server.ports[0]))
        other = connect(("127.0.0.1", server.ports[1]))
        try:
            busy.sendall(request_frame("Wait.Block"))
            other.sendall(request_frame("BiasSpectr.Stop"))
            # port 2 answers while port 1 is still inside its long command
            assert parse_reply(recv_frame(other))[0] == "BiasSpectr.Stop"
            assert not emulator.release.is_set()
            emulator.release.set()
            assert parse_reply(recv_frame(busy))[0] == "Wait.Block"
        finally:
            busy.close()
            other.close()


def test_frame_server_one_connection_per_port():
    with FrameServer(EchoFrameEmulator(), ports=(0,)) as server:
        address = server.addresses[0]
        with connect(address) as first, connect(address) as second:
            assert second.recv(16) == b""
            first.sendall(request_frame("A.Get"))
            assert parse_reply(recv_frame(first))[0] == "A.Get"


def test_frame_server_hangs_up_on_a_negative_body_size():
    with FrameServer(EchoFrameEmulator(), ports=(0,)) as server:
        with connect(server.addresses[0]) as sock:
            sock.sendall(b"Bad".ljust(32, b"\0") + struct.pack(">iHH", -1, 1, 0))
            assert sock.recv(16) == b""


def test_no_reply_when_the_request_asks_for_none():
    with FrameServer(EchoFrameEmulator(), ports=(0,)) as server:
        with connect(server.addresses[0]) as sock:
            sock.sendall(request_frame("Bias.Set", b"\0\0\0\0", respond=False))
            sock.sendall(request_frame("Bias.Get"))
            assert parse_reply(recv_frame(sock))[0] == "Bias.Get"


def test_close_joins_every_thread_and_disconnects_clients():
    before = set(threading.enumerate())
    line = LineServer(EchoLineEmulator()).start()
    frame = FrameServer(EchoFrameEmulator()).start()
    clients = [connect(line.address), connect(line.address),
               *(connect(("127.0.0.1", p)) for p in frame.ports)]
    clients[0].sendall(b"VAL?\n")
    assert recv_until(clients[0], b"\n") == b"0\n"
    line.close()
    frame.close()
    line.close()  # idempotent
    for client in clients:
        assert_hung_up(client)
        client.close()
    assert not [t for t in line.threads + frame.threads if t.is_alive()]
    assert set(threading.enumerate()) <= before
    with pytest.raises(ServerError):
        line.addresses  # noqa: B018


def test_port_in_use_is_a_clear_error():
    with LineServer(EchoLineEmulator()) as first:
        with pytest.raises(ServerError, match="cannot listen"):
            LineServer(EchoLineEmulator(), port=first.port).start()


def test_start_twice_is_refused():
    server = LineServer(EchoLineEmulator()).start()
    try:
        with pytest.raises(ServerError):
            server.start()
    finally:
        server.close()


def test_an_emulator_bug_hangs_up_on_that_client_only(caplog):
    class Broken(EchoLineEmulator):
        def handle_line(self, line):
            if line == "BOOM":
                raise RuntimeError("emulator bug")
            return super().handle_line(line)

    with LineServer(Broken()) as server:
        with connect(server.address) as bad, connect(server.address) as good:
            bad.sendall(b"BOOM\n")
            assert bad.recv(16) == b""
            good.sendall(b"VAL?\n")
            assert recv_until(good, b"\n") == b"0\n"
    assert "emulator failed" in caplog.text
