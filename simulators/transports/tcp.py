"""Loopback TCP servers in front of the emulators, for pyvisa-py and the vendors' own clients.

* :class:`LineServer` serves an ASCII instrument (SR830, SR860, Lake Shore 372) on one port,
  to at most ``max_clients`` clients at a time (the Lake Shore 372 allows two). Input lines end
  in LF, CR or CRLF (blank lines are dropped); each line goes to ``emulator.handle_line`` and
  the reply is sent back exactly as the emulator wrote it. One command executes at a time, as
  in the instrument.
* :class:`FrameServer` serves the Nanonis binary protocol on several ports (the controller
  listens on 6501-6504), one connection per port. Ports are served concurrently, commands on
  one port serially, so a long ``BiasSpectr.Start`` on one port does not block a ``Stop``
  sent on another. Each reply frame goes out in one ``sendall`` (``nanonis_spm`` reads the
  header with one ``recv``).

Servers bind 127.0.0.1 unless told otherwise; port 0 picks a free port (read it back from
:attr:`LineServer.port` / :attr:`FrameServer.ports`). ``close()`` stops accepting, hangs up on
every client and joins every thread; the servers are context managers. Nothing polls: accept
threads wait in ``select`` together with a wake-up socket, client threads in a plain blocking
``recv`` that ``close()`` ends by shutting the connection down (``recv`` then returns EOF).
Client threads do no ``select`` per message: that syscall (and the GIL release around it)
cost a few microseconds of every loopback round trip of a few tens.
"""

from __future__ import annotations

import logging
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence

from stm_andreev.simulators.emulator import NANONIS_HEADER_BYTES, FrameEmulator, LineEmulator
from stm_andreev.simulators.transports.errors import ConnectionDropped, ServerError
from stm_andreev.simulators.transports.inprocess import WIRE_ENCODING, split_lines

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
RECV_BYTES = 65536
JOIN_TIMEOUT_S = 5.0  # bounded wait for a worker still inside a long emulator call
MAX_LINE_CHARS = 1 << 20  # an unterminated line this long is garbage: hang up
# A Nanonis request body larger than this is garbage (the largest real request, a bias sweep's
# settings, is well under a kilobyte): hang up instead of buffering what the header announces.
MAX_FRAME_BODY_BYTES = 1 << 20
# When every client slot is taken, a client silent for this long (wall s) gives its slot to the
# newcomer: a half-open or forgotten connection must not lock the instrument out for good.
IDLE_EVICT_S = 10.0


class _Hangup(Exception):
    """Internal: the client went away or the server is closing."""


class _TcpServer:
    """Listeners, per-client threads and clean shutdown shared by both servers."""

    def __init__(
        self, name: str, host: str, ports: Sequence[int], max_clients_per_port: int
    ) -> None:
        if max_clients_per_port < 1:
            raise ValueError(f"max_clients must be at least 1, got {max_clients_per_port}")
        self.name = name
        self.host = host
        self._requested_ports = tuple(ports)
        self._max_clients = max_clients_per_port
        self._listeners: list[socket.socket] = []
        self._clients: dict[int, list[socket.socket]] = {}
        self._last_seen: dict[socket.socket, float] = {}  # monotonic time of a client's last data
        self.idle_evict_s = IDLE_EVICT_S
        # A client's silence is measured in wall time (it is real I/O); tests replace the clock.
        self.idle_clock: Callable[[], float] = time.monotonic
        self._accept_threads: list[threading.Thread] = []
        self._client_threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._started = False
        self._closed = False

    # lifecycle
    def start(self):
        """Bind and listen on every port and start serving; returns ``self``.

        Raises:
            ServerError: already started or closed, or a port cannot be bound (in use).
        """
        if self._started or self._closed:
            raise ServerError(f"{self.name} server was already started")
        self._started = True
        try:
            for port in self._requested_ports:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                # Lets `stm-andreev simulate` restart on fixed ports at once after a stop.
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self._listeners.append(listener)
                listener.bind((self.host, port))
                listener.listen(4)
        except OSError as exc:
            self.close()
            raise ServerError(
                f"{self.name}: cannot listen on {self.host}:{port}: {exc.strerror or exc}"
            ) from exc
        for index, listener in enumerate(self._listeners):
            self._clients[index] = []
            self._spawn(self._accept_loop, index, listener, kind="accept")
        log.info("%s listening on %s", self.name, self.addresses)
        return self

    def close(self) -> None:
        """Stop accepting, hang up on every client and join every thread (idempotent)."""
        with self._lock:
            if self._closed:
                return
            # Under the lock: the accept threads register a client only while this is False,
            # so every connection they hand on is in the snapshot below and gets shut down.
            self._closed = True
            clients = [c for conns in self._clients.values() for c in conns]
        try:
            self._wake_w.send(b"x")  # never read: stays readable for every select
        except OSError:
            pass
        for conn in clients:
            _shutdown(conn)
        # Accept threads first: once they are gone no client thread can appear.
        for threads in (self._accept_threads, self._client_threads):
            with self._lock:
                snapshot = list(threads)
            for thread in snapshot:
                thread.join(JOIN_TIMEOUT_S)
                if thread.is_alive():
                    log.warning("%s: thread %s still busy after %.0f s", self.name,
                                thread.name, JOIN_TIMEOUT_S)
        for listener in self._listeners:
            listener.close()
        self._wake_r.close()
        self._wake_w.close()
        log.info("%s closed", self.name)

    def __enter__(self):
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of every listener, in the order the ports were requested."""
        if not self._listeners or self._closed:
            raise ServerError(f"{self.name} server is not running")
        return [listener.getsockname()[:2] for listener in self._listeners]

    @property
    def threads(self) -> list[threading.Thread]:
        """Threads this server started and that may still run (for tests of a clean shutdown)."""
        with self._lock:
            return [*self._accept_threads, *self._client_threads]

    def client_count(self) -> int:
        """Connections being served right now."""
        with self._lock:
            return sum(len(conns) for conns in self._clients.values())

    # internals
    def _spawn(self, target: Callable, *args, kind: str) -> None:
        threads = self._accept_threads if kind == "accept" else self._client_threads
        with self._lock:
            # Started under the lock: a thread created but not yet started is not alive, and
            # another accept thread pruning finished ones would drop it from the list.
            threads[:] = [t for t in threads if t.is_alive()]
            thread = threading.Thread(
                target=target, args=args, name=f"{self.name}-{kind}-{len(threads)}", daemon=True
            )
            threads.append(thread)
            thread.start()

    def _accept_loop(self, index: int, listener: socket.socket) -> None:
        while True:
            readable, _, _ = select.select([listener, self._wake_r], [], [])
            if self._wake_r in readable or self._closed:
                return
            try:
                conn, peer = listener.accept()
            except OSError:
                return
            evicted = None
            with self._lock:
                closing = self._closed
                busy = len(self._clients[index]) >= self._max_clients
                if busy and not closing:
                    evicted = self._idlest(index)
                    if evicted is not None:
                        self._clients[index].remove(evicted)
                        busy = False
                if not (closing or busy):
                    self._clients[index].append(conn)
                    self._last_seen[conn] = self.idle_clock()
            if evicted is not None:
                log.warning("%s: client idle for more than %g s hung up to free a slot",
                            self.name, self.idle_evict_s)
                _shutdown(evicted)  # its thread sees EOF and ends
            if closing:
                conn.close()
                return
            if busy:
                # The instrument refuses further connections: accept, then hang up at once.
                log.warning("%s: refused %s:%d, %d client(s) already connected", self.name,
                            *peer[:2], self._max_clients)
                conn.close()
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._spawn(self._client_thread, index, conn, peer[:2], kind="client")

    def _idlest(self, index: int) -> socket.socket | None:
        """(Under the lock) the longest-silent client of listener ``index`` if it has been
        silent for more than ``idle_evict_s``, else None."""
        now = self.idle_clock()
        idle = [(self._last_seen.get(c, now), c) for c in self._clients[index]]
        idle = [(t, c) for t, c in idle if now - t > self.idle_evict_s]
        return min(idle, key=lambda tc: tc[0])[1] if idle else None

    def _client_thread(self, index: int, conn: socket.socket, peer: tuple[str, int]) -> None:
        # peer comes from accept(): getpeername() fails once close() has shut the socket down
        log.info("%s: client %s:%d connected", self.name, *peer)
        try:
            self._serve(conn)
        except _Hangup:
            pass
        except ConnectionDropped as exc:
            log.warning("%s: dropping client %s:%d (%s)", self.name, *peer, exc)
        except OSError as exc:
            log.info("%s: client %s:%d: %s", self.name, *peer, exc)
        except Exception:
            # An emulator bug: show it loudly, hang up on this client, keep serving others.
            log.exception("%s: emulator failed serving %s:%d; hanging up", self.name, *peer)
        finally:
            with self._lock:
                if conn in self._clients[index]:
                    self._clients[index].remove(conn)
                self._last_seen.pop(conn, None)
            _shutdown(conn)
            conn.close()
            log.info("%s: client %s:%d gone", self.name, *peer)

    def _recv(self, conn: socket.socket) -> bytes:
        """Wait for data from the client; raise _Hangup on EOF (also what close() causes)."""
        data = conn.recv(RECV_BYTES)
        if not data:
            raise _Hangup
        self._last_seen[conn] = self.idle_clock()
        return data

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError


def _shutdown(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already disconnected


class LineServer(_TcpServer):
    """TCP server for an ASCII (line) instrument; see the module docstring.

    Args:
        emulator: the instrument (possibly fault-wrapped).
        host: interface to bind (default loopback only).
        port: TCP port, 0 for a free one.
        max_clients: simultaneous connections accepted (Lake Shore 372: 2); more are hung up on.
        name: label for logs and threads (default: the emulator's name).
    """

    def __init__(
        self,
        emulator: LineEmulator,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        max_clients: int = 2,
        name: str | None = None,
    ) -> None:
        super().__init__(name or emulator.name, host, (port,), max_clients)
        self.emulator = emulator
        # A real instrument executes one command at a time, whichever client sent it.
        self._emulator_lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.addresses[0][1]

    @property
    def address(self) -> tuple[str, int]:
        return self.addresses[0]

    @property
    def visa_address(self) -> str:
        """The pyvisa resource name, e.g. ``TCPIP::127.0.0.1::5025::SOCKET``."""
        host, port = self.address
        return f"TCPIP::{host}::{port}::SOCKET"

    def _serve(self, conn: socket.socket) -> None:
        self.emulator.connected()
        pending = ""
        while True:
            # One recv per chunk (usually one command line), one sendall per reply: no other
            # syscall per line (see the module docstring).
            data = conn.recv(RECV_BYTES)
            if not data:
                return
            self._last_seen[conn] = self.idle_clock()
            text = data.decode(WIRE_ENCODING)
            if pending:
                text = pending + text
            if "\r" in text or text.count("\n") != 1 or not text.endswith("\n"):
                lines, pending = split_lines(text)
            else:  # the usual chunk: exactly one LF-terminated line
                lines, pending = ([text[:-1]] if text.strip() else []), ""
            if len(pending) > MAX_LINE_CHARS:
                log.warning("%s: %d characters without a line end; hanging up", self.name,
                            len(pending))
                return
            for line in lines:
                with self._emulator_lock:
                    reply = self.emulator.handle_line(line)
                if reply:
                    conn.sendall(reply.encode(WIRE_ENCODING))


class FrameServer(_TcpServer):
    """TCP server for the Nanonis binary protocol on several ports; see the module docstring.

    Args:
        emulator: the Nanonis emulator (thread-safe; possibly fault-wrapped).
        host: interface to bind (default loopback only).
        ports: one TCP port per listener (0 for a free one); the real controller has four.
        name: label for logs and threads (default: the emulator's name).
    """

    def __init__(
        self,
        emulator: FrameEmulator,
        host: str = DEFAULT_HOST,
        ports: Sequence[int] = (0, 0, 0, 0),
        *,
        name: str | None = None,
    ) -> None:
        if not ports:
            raise ValueError("a frame server needs at least one port")
        super().__init__(name or emulator.name, host, ports, 1)
        self.emulator = emulator

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(port for _, port in self.addresses)

    def _read_exactly(self, conn: socket.socket, buffer: bytearray, size: int) -> bytes:
        while len(buffer) < size:
            buffer += self._recv(conn)
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    def _serve(self, conn: socket.socket) -> None:
        self.emulator.connected()
        buffer = bytearray()
        while True:
            header = self._read_exactly(conn, buffer, NANONIS_HEADER_BYTES)
            (body_size,) = struct.unpack_from(">i", header, 32)
            if body_size < 0 or body_size > MAX_FRAME_BODY_BYTES:
                name = header[:32].rstrip(b"\0").decode("ascii", "replace")
                log.warning("%s: request %r announces %d body bytes; hanging up", self.name,
                            name, body_size)
                return
            body = self._read_exactly(conn, buffer, body_size)
            reply = self.emulator.handle_frame(header, body)
            if reply:
                conn.sendall(reply)
