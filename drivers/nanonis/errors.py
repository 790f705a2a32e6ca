"""Exceptions of the Nanonis TCP protocol, shared by the driver and the emulator.

Every failure the wire can produce maps to one of these, so a caller can tell a garbled frame
(:class:`NanonisProtocolError`) from a command the controller refused
(:class:`NanonisCommandError`), a silent controller (:class:`NanonisTimeout`) and a link that
is gone (:class:`NanonisConnectionError`).
"""

from __future__ import annotations


class NanonisError(Exception):
    """Base class of every Nanonis protocol or driver error."""


class NanonisProtocolError(NanonisError):
    """A frame is malformed: truncated, wrong sizes, bad name echo, trailing bytes."""


class NanonisCommandError(NanonisError):
    """The controller answered with an error block (status 1).

    ``command`` is the command name (e.g. ``"ZCtrl.ZPosSet"``), ``message`` the controller's
    description; ``str(exc)`` names both.
    """

    def __init__(self, command: str, message: str) -> None:
        self.command = command
        self.message = message
        if not message:
            text = f"{command}: error status 1"
        elif message.startswith(command):
            text = message  # the controller already named the command
        else:
            text = f"{command}: {message}"
        super().__init__(text)

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.command, self.message))


class NanonisTimeout(NanonisError, TimeoutError):
    """No complete reply arrived within the timeout."""


class NanonisConnectionError(NanonisError, ConnectionError):
    """The connection could not be opened or was lost and could not be re-established."""


class NanonisValueError(NanonisError, ValueError):
    """An argument is out of range or of the wrong kind for the command (nothing was sent)."""
