"""Nanonis SPM controller: binary TCP codec, command table and driver."""

from .client import DEFAULT_SPECTRUM_CHANNELS, NanonisController, parse_gain_V_per_A
from .commands import COMMANDS, Command, Field, get_command
from .errors import (
    NanonisCommandError,
    NanonisConnectionError,
    NanonisError,
    NanonisProtocolError,
    NanonisTimeout,
    NanonisValueError,
)

__all__ = [
    "COMMANDS",
    "DEFAULT_SPECTRUM_CHANNELS",
    "Command",
    "Field",
    "NanonisCommandError",
    "NanonisConnectionError",
    "NanonisController",
    "NanonisError",
    "NanonisProtocolError",
    "NanonisTimeout",
    "NanonisValueError",
    "get_command",
    "parse_gain_V_per_A",
]
