"""Exceptions shared by the transports that carry emulator traffic (in-process and TCP)."""

from __future__ import annotations


class TransportError(Exception):
    """Base class of every error raised by a simulator transport."""


class ConnectionDropped(TransportError):
    """Raised by an emulator (or its fault wrapper) to make the transport hang up.

    The in-process transports turn it into the error a real connection loss produces on the
    client side (a VISA connection-lost error, or EOF on a socket); the TCP servers close the
    client's connection. The command that triggered it is not executed.
    """


class TransportClosedError(TransportError, ConnectionError):
    """An operation was attempted on a transport that was closed (by the client or the peer)."""


class FrameError(TransportError, ValueError):
    """A Nanonis request frame is malformed (for example a negative announced body size)."""


class ServerError(TransportError):
    """A TCP server could not be started or is used in a state that does not allow it."""
