"""Re-opening an instrument link after a failure, in bounded wall time.

pymeasure's ``flush_read_buffer`` on a pyvisa-py TCP socket ends in the session's ``clear``,
which loops ``select``/``recv`` while the socket is readable. A socket the instrument has
closed (it accepted the connection, then hung up: its client slots are taken) is readable
for ever with ``recv`` returning ``b""``, so that loop never ends: the run spun at 100 % CPU
and ignored SIGTERM. Here stale bytes are drained with a wall-clock budget, and an end of file
is reported as the lost link it is, so the engine counts it against its bounded retries.
"""

from __future__ import annotations

import select
import socket
import time
from typing import Any

#: Wall seconds a drain may take: stale replies are a few lines; a link that keeps talking
#: for longer than this is not one a retry can trust.
DRAIN_BUDGET_S = 0.5
#: Wall seconds the first look waits: an instrument that refuses a client (all slots taken)
#: accepts and closes within milliseconds; seeing that here names the problem at once.
FIRST_WAIT_S = 0.05


class LinkClosedError(ConnectionError):
    """The instrument closed the connection (accepted it, then hung up)."""


def visa_socket(adapter: Any) -> socket.socket | None:
    """The raw socket under a pymeasure VISA adapter on a pyvisa-py TCPIP SOCKET resource,
    else None (serial, GPIB, in-process adapters)."""
    connection = getattr(adapter, "connection", None)
    library = getattr(connection, "visalib", None)
    sessions = getattr(library, "sessions", None)
    if not isinstance(sessions, dict):
        return None
    session = sessions.get(getattr(connection, "session", None))
    sock = getattr(session, "interface", None)
    return sock if isinstance(sock, socket.socket) else None


def drain_socket(sock: socket.socket, budget_s: float = DRAIN_BUDGET_S) -> int:
    """Discard what is waiting on ``sock`` (bytes dropped), within ``budget_s`` wall seconds.

    :raises LinkClosedError: the peer has closed the connection.
    :raises TimeoutError: data kept arriving for the whole budget.
    """
    deadline = time.monotonic() + budget_s
    dropped = 0
    wait = min(FIRST_WAIT_S, budget_s)
    while True:
        readable, _, _ = select.select([sock], [], [], wait)
        wait = 0.0
        if not readable:
            return dropped
        try:
            data = sock.recv(4096)
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise LinkClosedError(f"the instrument reset the connection ({exc})") from exc
        if not data:
            raise LinkClosedError("the instrument accepted the connection, then closed it")
        dropped += len(data)
        if time.monotonic() > deadline:
            raise TimeoutError(f"stale data kept arriving for {budget_s:g} s")


def flush_link(adapter: Any, budget_s: float = DRAIN_BUDGET_S) -> None:
    """Drop stale replies on ``adapter``'s link, in bounded time.

    A pyvisa-py TCP socket is drained here (its own ``clear`` can spin for ever, see the module
    docstring), together with the session's buffer of bytes already received; every other
    adapter uses its own ``flush_read_buffer`` (bounded: serial flushes are driver calls, the
    in-process adapter holds a list).
    """
    sock = visa_socket(adapter)
    if sock is None:
        if hasattr(adapter, "flush_read_buffer"):
            adapter.flush_read_buffer()
        return
    connection = adapter.connection
    session = connection.visalib.sessions[connection.session]
    pending = getattr(session, "_pending_buffer", None)
    if isinstance(pending, bytearray):
        pending.clear()
    drain_socket(sock, budget_s)
