"""The simulators' TCP servers against forgotten and hostile clients."""

from __future__ import annotations

import socket
import struct

import pytest

from stm_andreev.simulators.transports.tcp import FrameServer, LineServer

pytestmark = [pytest.mark.hostile, pytest.mark.tcp]

WAIT_S = 30.0  # bound on every wait for a server thread (wall s)


class Echo:
    name = "echo"

    def connected(self) -> None:
        pass

    def handle_line(self, line: str) -> str:
        return f"{line}\n"

    def handle_frame(self, header: bytes, body: bytes) -> bytes:
        return header[:32] + struct.pack(">i", 0) + bytes(4)


def test_a_silent_client_gives_its_slot_to_a_new_one():
    """A half-open client kept every new one refused; now, with every slot taken, a client
    silent for longer than idle_evict_s is hung up on and the newcomer served."""
    now = [0.0]
    with LineServer(Echo(), max_clients=1) as server:
        server.idle_evict_s = 0.2
        server.idle_clock = lambda: now[0]
        forgotten = socket.create_connection(server.address, timeout=WAIT_S)
        forgotten.sendall(b"hello\n")
        assert forgotten.recv(100) == b"hello\n"
        now[0] += 0.5  # the forgotten client stays silent past idle_evict_s
        with socket.create_connection(server.address, timeout=WAIT_S) as newcomer:
            newcomer.sendall(b"*IDN?\n")
            assert newcomer.recv(100) == b"*IDN?\n"
        assert forgotten.recv(100) == b""  # hung up on
        forgotten.close()


def test_a_busy_client_keeps_its_slot():
    with LineServer(Echo(), max_clients=1) as server:
        with socket.create_connection(server.address, timeout=WAIT_S) as active:
            active.sendall(b"a\n")
            assert active.recv(100) == b"a\n"
            with socket.create_connection(server.address, timeout=WAIT_S) as other:
                assert other.recv(100) == b""  # refused: the slot holder is not idle
            active.sendall(b"b\n")
            assert active.recv(100) == b"b\n"


def test_a_huge_announced_frame_is_refused_not_buffered():
    """A Nanonis header announcing a 2 GiB body: the server hangs up instead of waiting for
    (and buffering) it."""
    with FrameServer(Echo(), ports=(0,)) as server:
        with socket.create_connection(server.addresses[0], timeout=WAIT_S) as client:
            header = b"Bias.Get".ljust(32, b"\0") + struct.pack(">i", 2**31 - 1) + bytes(4)
            client.sendall(header + b"x" * 1000)
            assert client.recv(100) == b""
