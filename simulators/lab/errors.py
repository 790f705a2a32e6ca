"""Exceptions raised by the virtual lab. All derive from :class:`LabError`."""

from __future__ import annotations


class LabError(Exception):
    """Something asked of the virtual lab is impossible or out of range."""


class LabValueError(LabError, ValueError):
    """A setting outside its allowed range or set (the message names the setting and range)."""


class UnknownSensorError(LabError, KeyError):
    """A sensor name or Lake Shore channel that the simulated fridge does not have."""

    def __str__(self) -> str:
        # KeyError quotes its argument; a sentence reads better.
        return str(self.args[0]) if self.args else ""


class FeedbackError(LabError):
    """A tip-height operation that the STM controller refuses (e.g. setting z with feedback on)."""
